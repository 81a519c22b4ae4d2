//! The render step: what a `WebhookGateway` becomes, as snapshots of representative specs and as
//! the properties every rendering must have.

use serde_json::Value;
use webhook_crds::WebhookGateway;
use webhook_operator::render::{self, Child, Defaults};

const IMAGE: &str = "registry.example/webhook-gateway:test";

const MINIMAL: &str = r#"
apiVersion: webhooks.flowx.ai/v1alpha1
kind: WebhookGateway
metadata: {name: hooks, namespace: flowx, uid: 0b7e-hooks}
spec:
  database:
    url: jdbc:postgresql://postgresql:5432/webhook_gateway
    passwordSecretRef: {name: db, key: password}
  kafka: {bootstrapServers: "kafka:9092"}
  redis: {host: redis}
"#;

/// Policies and ingress switched off, two egress rows off, one with custom ports and CIDRs.
const TRIMMED: &str = r#"
apiVersion: webhooks.flowx.ai/v1alpha1
kind: WebhookGateway
metadata: {name: edge, namespace: flowx, uid: 0b7e-edge}
spec:
  replicas: 1
  ingress: {enabled: false, host: edge.example.com}
  database:
    url: jdbc:postgresql://postgresql:5432/webhook_gateway
    username: gateway
    passwordSecretRef: {name: db, key: password}
  kafka: {bootstrapServers: "kafka:9092"}
  redis: {host: redis, port: 6380}
  networkPolicy:
    egress:
      spicedb: {enabled: false}
      organizationManager: {enabled: false}
      kafka:
        cidrs: ["10.20.0.0/16"]
        ports: [9093, 9094]
  monitoring: {scrape: false}
"#;

fn gateway(yaml: &str) -> WebhookGateway {
    serde_yaml::from_str(yaml).expect("test gateway parses")
}

fn example_gateway() -> WebhookGateway {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/kubernetes/webhookgateway.yaml"
    );
    let mut gateway: WebhookGateway =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    gateway.metadata.namespace = Some("flowx".into());
    gateway.metadata.uid = Some("0b7e-example".into());
    gateway
}

fn rendered(gateway: &WebhookGateway) -> Vec<Child> {
    render::render(
        gateway,
        &Defaults {
            image: IMAGE.to_owned(),
        },
    )
}

fn objects(children: &[Child]) -> Vec<Value> {
    children.iter().map(|c| c.object.clone()).collect()
}

fn find<'a>(children: &'a [Child], kind: &str, name: &str) -> &'a Value {
    &children
        .iter()
        .find(|c| c.kind() == kind && c.name == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
        .object
}

fn names(children: &[Child], kind: &str) -> Vec<String> {
    children
        .iter()
        .filter(|c| c.kind() == kind)
        .map(|c| c.name.clone())
        .collect()
}

fn env<'a>(deployment: &'a Value, name: &str) -> Option<&'a Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
}

#[test]
fn snapshot_of_a_minimal_gateway() {
    insta::assert_yaml_snapshot!("minimal", objects(&rendered(&gateway(MINIMAL))));
}

#[test]
fn snapshot_of_the_example_gateway() {
    insta::assert_yaml_snapshot!("example", objects(&rendered(&example_gateway())));
}

#[test]
fn snapshot_of_a_gateway_with_rows_switched_off() {
    insta::assert_yaml_snapshot!("trimmed", objects(&rendered(&gateway(TRIMMED))));
}

#[test]
fn every_child_is_owned_by_the_gateway_and_labelled_for_pruning() {
    for gateway in [gateway(MINIMAL), gateway(TRIMMED), example_gateway()] {
        let uid = gateway.metadata.uid.clone().unwrap();
        for child in rendered(&gateway) {
            let owners = child.object["metadata"]["ownerReferences"]
                .as_array()
                .unwrap();
            assert_eq!(owners.len(), 1, "{}/{}", child.kind(), child.name);
            assert_eq!(owners[0]["uid"], uid);
            assert_eq!(owners[0]["kind"], "WebhookGateway");
            assert_eq!(owners[0]["controller"], true);
            let labels = &child.object["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/managed-by"], "webhook-operator");
            assert_eq!(
                labels["app.kubernetes.io/instance"],
                gateway.metadata.name.clone().unwrap()
            );
        }
    }
}

#[test]
fn one_egress_policy_per_enabled_row_selecting_pods_by_its_label() {
    let all = crate::EGRESS_ROWS;
    let cases = [
        (gateway(MINIMAL), all.to_vec()),
        (
            gateway(TRIMMED),
            all.iter()
                .copied()
                .filter(|d| !["spicedb", "organization-manager"].contains(d))
                .collect(),
        ),
    ];
    for (gateway, enabled) in cases {
        let name = gateway.metadata.name.clone().unwrap();
        let children = rendered(&gateway);
        let deployment = find(&children, "Deployment", &name);
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        let mut expected: Vec<String> =
            vec![format!("{name}-ingress"), format!("{name}-egress-dns")];
        for destination in all {
            let label = format!("flowx.ai/egress-s-{destination}");
            if enabled.contains(&destination) {
                assert_eq!(pod_labels[&label], "true", "{name}: pod label {label}");
                let policy = find(
                    &children,
                    "NetworkPolicy",
                    &format!("{name}-egress-{destination}"),
                );
                assert_eq!(policy["spec"]["podSelector"]["matchLabels"][&label], "true");
                assert_eq!(policy["spec"]["policyTypes"], serde_json::json!(["Egress"]));
                expected.push(format!("{name}-egress-{destination}"));
            } else {
                assert!(
                    pod_labels[&label].is_null(),
                    "{name}: {label} should be absent"
                );
            }
        }
        let mut actual = names(&children, "NetworkPolicy");
        actual.sort();
        expected.sort();
        assert_eq!(actual, expected);
    }
}

#[test]
fn egress_rows_use_default_ports_unless_configured() {
    let children = rendered(&gateway(MINIMAL));
    let ports = |destination: &str| -> Vec<i64> {
        find(
            &children,
            "NetworkPolicy",
            &format!("hooks-egress-{destination}"),
        )["spec"]["egress"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ports("kafka"), [9092]);
    assert_eq!(ports("postgresql"), [5432]);
    assert_eq!(ports("redis"), [6379]);
    assert_eq!(ports("spicedb"), [50051]);

    let trimmed = rendered(&gateway(TRIMMED));
    let kafka = &find(&trimmed, "NetworkPolicy", "edge-egress-kafka")["spec"]["egress"][0];
    assert_eq!(kafka["ports"][0]["port"], 9093);
    assert_eq!(kafka["ports"][1]["port"], 9094);
    assert_eq!(kafka["to"][0]["ipBlock"]["cidr"], "10.20.0.0/16");
}

#[test]
fn ingress_is_allowed_only_to_the_http_port_from_the_configured_peers() {
    let children = rendered(&example_gateway());
    let policy = find(&children, "NetworkPolicy", "webhook-gateway-ingress");
    let rule = &policy["spec"]["ingress"][0];
    assert_eq!(
        rule["ports"],
        serde_json::json!([{"protocol": "TCP", "port": 8080}])
    );
    let from = rule["from"].as_array().unwrap();
    assert_eq!(from.len(), 2);
    assert_eq!(
        from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "ingress-nginx"
    );
    assert_eq!(
        from[1]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "prometheus"
    );
}

#[test]
fn the_ingress_exposes_only_webhooks() {
    let children = rendered(&example_gateway());
    let ingress = find(&children, "Ingress", "webhook-gateway");
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["host"], "hooks.example.com");
    let paths = rules[0]["http"]["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0]["path"], "/webhooks");
    assert_eq!(paths[0]["pathType"], "Prefix");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "hooks-example-com-tls"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-production"
    );

    assert!(names(&rendered(&gateway(MINIMAL)), "Ingress").is_empty());
    assert!(names(&rendered(&gateway(TRIMMED)), "Ingress").is_empty());
    assert!(names(&rendered(&gateway(TRIMMED)), "NetworkPolicy").len() > 2);
}

#[test]
fn network_policies_can_be_switched_off() {
    let mut gateway = gateway(MINIMAL);
    gateway.spec.network_policy = Some(webhook_crds::gateway::NetworkPolicySettings {
        enabled: Some(false),
        ..Default::default()
    });
    let children = rendered(&gateway);
    assert!(names(&children, "NetworkPolicy").is_empty());
    let deployment = find(&children, "Deployment", "hooks");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["flowx.ai/egress-s-kafka"], "true",
        "the egress labels stay for cluster-wide policies"
    );
}

#[test]
fn the_deployment_runs_the_gateway_as_the_setup_guide_describes() {
    let children = rendered(&example_gateway());
    let deployment = find(&children, "Deployment", "webhook-gateway");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = container[probe]["httpGet"]["path"].as_str().unwrap();
        assert!(path.starts_with("/actuator/health"), "{probe}: {path}");
    }
    assert!(
        deployment["spec"]["replicas"].is_null(),
        "the example's autoscaler sets the pod count"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/scrape"],
        "true"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/path"],
        "/actuator/prometheus"
    );
    assert_eq!(pod["metadata"]["labels"]["flowx.ai/scrape"], "true");

    let value = |name: &str| {
        env(deployment, name)
            .and_then(|e| e["value"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        value("SPRING_DATASOURCE_URL").as_deref(),
        Some("jdbc:postgresql://postgresql.data.svc:5432/webhook_gateway")
    );
    assert_eq!(
        value("SPRING_KAFKA_SECURITY_PROTOCOL").as_deref(),
        Some("SASL_PLAINTEXT")
    );
    assert_eq!(
        value("KAFKA_TOPIC_NAMING_ENVIRONMENT").as_deref(),
        Some("prod.")
    );
    assert_eq!(
        value("SPRING_DATA_REDIS_HOST").as_deref(),
        Some("redis-master.data.svc")
    );
    assert_eq!(value("REDIS_TTL").as_deref(), Some("5000000"));
    assert_eq!(value("SECURITY_TYPE").as_deref(), Some("oauth2"));
    assert_eq!(
        value("FLOWX_LIB_CASCLIENT_SPICEDB_PORT").as_deref(),
        Some("50051")
    );
    assert_eq!(
        value("WEBHOOK_GATEWAY_PUBLIC_URL").as_deref(),
        Some("https://hooks.example.com")
    );
    assert_eq!(
        value("WEBHOOK_GATEWAY_MAX_BODY_BYTES").as_deref(),
        Some("524288")
    );

    let secret = |name: &str| env(deployment, name).map(|e| e["valueFrom"]["secretKeyRef"].clone());
    assert_eq!(
        secret("SPRING_DATASOURCE_PASSWORD"),
        Some(serde_json::json!({"name": "webhook-gateway-db", "key": "password"}))
    );
    assert_eq!(
        secret("WEBHOOK_GATEWAY_SEALING_KEYS"),
        Some(serde_json::json!({"name": "webhook-gateway-sealing", "key": "keys"}))
    );
}

#[test]
fn secrets_reach_the_pod_only_by_reference() {
    for gateway in [gateway(MINIMAL), example_gateway()] {
        let children = rendered(&gateway);
        let deployment = find(
            &children,
            "Deployment",
            gateway.metadata.name.as_deref().unwrap(),
        );
        for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
        {
            let name = entry["name"].as_str().unwrap();
            let secret_like = ["PASSWORD", "SECRET", "TOKEN", "SEALING_KEYS"]
                .iter()
                .any(|word| name.contains(word))
                && !name.ends_with("_URI");
            if secret_like {
                assert!(entry["value"].is_null(), "{name} carries a literal value");
                assert!(
                    entry["valueFrom"]["secretKeyRef"].is_object(),
                    "{name} is not a secretKeyRef"
                );
            }
        }
    }
}

#[test]
fn the_referenced_secrets_are_those_the_environment_reads() {
    for gateway in [gateway(MINIMAL), gateway(TRIMMED), example_gateway()] {
        let children = rendered(&gateway);
        let deployment = find(
            &children,
            "Deployment",
            gateway.metadata.name.as_deref().unwrap(),
        );
        let from_env: std::collections::BTreeSet<String> =
            deployment["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str())
                .map(str::to_owned)
                .collect();
        assert_eq!(render::referenced_secrets(&gateway.spec), from_env);
    }
    assert!(
        render::referenced_secrets(&example_gateway().spec).len() > 2,
        "the example should reference several Secrets"
    );
}

#[test]
fn secret_versions_mark_only_the_pod_template() {
    let gateway = gateway(MINIMAL);
    let defaults = Defaults {
        image: IMAGE.to_owned(),
    };
    let with = |version: Option<&str>| {
        let versions =
            render::SecretVersions::from([("db".to_owned(), version.map(str::to_owned))]);
        render::render_with_secrets(&gateway, &defaults, &versions)
    };
    let annotation = |children: &[Child]| {
        find(children, "Deployment", "hooks")["spec"]["template"]["metadata"]["annotations"]
            [render::SECRET_VERSIONS]
            .clone()
    };
    let plain = rendered(&gateway);
    let first = with(Some("41"));
    let same = with(Some("41"));
    let rotated = with(Some("57"));
    let missing = with(None);

    assert!(
        annotation(&plain).is_null(),
        "nothing to mark without versions"
    );
    assert!(annotation(&first).is_string());
    assert_eq!(annotation(&first), annotation(&same));
    assert_ne!(annotation(&first), annotation(&rotated));
    assert_ne!(annotation(&first), annotation(&missing));
    assert_ne!(annotation(&rotated), annotation(&missing));
    for (a, b) in first.iter().zip(&rotated) {
        if a.kind() != "Deployment" {
            assert_eq!(a, b, "{}/{} changed with a Secret", a.kind(), a.name);
        }
    }
    let mut unmarked = find(&first, "Deployment", "hooks").clone();
    let plain_deployment = find(&plain, "Deployment", "hooks");
    unmarked["spec"]["template"]["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(render::SECRET_VERSIONS);
    unmarked["metadata"]["annotations"][render::SPEC_HASH] =
        plain_deployment["metadata"]["annotations"][render::SPEC_HASH].clone();
    assert_eq!(&unmarked, plain_deployment);
}

#[test]
fn a_fixed_pod_count_or_an_autoscaler_never_both() {
    let fixed = rendered(&gateway(MINIMAL));
    assert_eq!(find(&fixed, "Deployment", "hooks")["spec"]["replicas"], 2);
    assert!(names(&fixed, "HorizontalPodAutoscaler").is_empty());

    let scaled = rendered(&example_gateway());
    let deployment = find(&scaled, "Deployment", "webhook-gateway");
    assert!(deployment["spec"]["replicas"].is_null());
    let hpa = find(&scaled, "HorizontalPodAutoscaler", "webhook-gateway");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "webhook-gateway"})
    );
    assert_eq!(hpa["spec"]["minReplicas"], 3);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"],
        serde_json::json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}})
    );
    assert!(
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
            .is_string(),
        "utilization is measured against the CPU request"
    );
}

#[test]
fn extra_env_overrides_a_derived_variable_without_duplicating_it() {
    let mut gateway = gateway(MINIMAL);
    gateway
        .spec
        .extra_env
        .insert("SPRING_DATA_REDIS_HOST".into(), "redis-replica".into());
    let children = rendered(&gateway);
    let deployment = find(&children, "Deployment", "hooks");
    let entries: Vec<&Value> = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "SPRING_DATA_REDIS_HOST")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["value"], "redis-replica");
}

#[test]
fn the_spec_hash_follows_the_spec() {
    let first = rendered(&gateway(MINIMAL));
    let again = rendered(&gateway(MINIMAL));
    let mut changed = gateway(MINIMAL);
    changed.spec.replicas = Some(5);
    let changed = rendered(&changed);
    let hash = |children: &[Child], kind: &str| {
        children
            .iter()
            .find(|c| c.kind() == kind)
            .unwrap()
            .spec_hash()
            .to_owned()
    };
    assert_eq!(hash(&first, "Deployment"), hash(&again, "Deployment"));
    assert_ne!(hash(&first, "Deployment"), hash(&changed, "Deployment"));
    assert_eq!(hash(&first, "Service"), hash(&changed, "Service"));
}

#[test]
fn contains_ignores_added_fields_but_not_changed_ones() {
    let wanted = serde_json::json!({"spec": {"replicas": 2, "ports": [{"port": 8080}]}});
    let defaulted = serde_json::json!({
        "spec": {"replicas": 2, "ports": [{"port": 8080, "protocol": "TCP"}], "revisionHistoryLimit": 10},
        "status": {"availableReplicas": 2},
    });
    assert!(render::contains(&defaulted, &wanted));
    let scaled = serde_json::json!({"spec": {"replicas": 7, "ports": [{"port": 8080}]}});
    assert!(!render::contains(&scaled, &wanted));
    let extra_port =
        serde_json::json!({"spec": {"replicas": 2, "ports": [{"port": 8080}, {"port": 9090}]}});
    assert!(!render::contains(&extra_port, &wanted));
}

fn render_command(yaml: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, yaml).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_webhook-operator"))
        .args(["render", "-f"])
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn the_render_command_prints_every_child() {
    let output = render_command(MINIMAL);
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed.matches("\nkind: NetworkPolicy\n").count(), 9);
    assert_eq!(printed.matches("\nkind: Deployment\n").count(), 1);
}

#[test]
fn the_render_command_refuses_what_is_not_a_gateway_and_names_the_file() {
    for (yaml, problem) in [
        (
            "kind: Webhook\nspec: {}\n",
            "holds a Webhook, not a WebhookGateway",
        ),
        (
            "kind: WebhookGateway\nspec: {}\n",
            "not a valid WebhookGateway",
        ),
        ("kind: [unclosed\n", "not YAML"),
    ] {
        let output = render_command(yaml);
        assert!(!output.status.success(), "{yaml}");
        assert!(output.stdout.is_empty(), "{yaml}: printed something");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("gateway.yaml: "), "{stderr}");
        assert!(stderr.contains(problem), "{stderr}");
    }
}
