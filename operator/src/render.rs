//! The pure step of the `WebhookGateway` reconcile: one resource in, the Kubernetes objects
//! that run it out. Nothing here talks to the API server, so the output can be checked in
//! snapshot tests and validated offline (`webhook-operator render`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::Resource;
use kube::api::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webhook_crds::gateway::{EgressDestination, PeerSelector};
use webhook_crds::{SecretKeyRef, WebhookGateway, WebhookGatewaySpec};

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "webhook-operator";
/// Value of `app.kubernetes.io/managed-by` on every child.
pub const MANAGED_BY: &str = "webhook-operator";
/// Annotation holding the hash of what the operator last applied to a child.
pub const SPEC_HASH: &str = "webhooks.flowx.ai/spec-hash";
/// Pod-template annotation holding a digest of the versions of every Secret the gateway's
/// environment takes a value from: a changed Secret changes it, which rolls the pods so they
/// read the new value.
pub const SECRET_VERSIONS: &str = "webhooks.flowx.ai/secret-versions";
/// The gateway's HTTP port, for callers, probes and scrapes alike.
pub const HTTP_PORT: i32 = 8080;
/// Gateway pods when the resource names no count, and the autoscaler's default minimum.
pub const DEFAULT_REPLICAS: i32 = 2;
const DEFAULT_CPU_TARGET: i32 = 70;

/// A child object of a gateway, ready to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    pub resource: ApiResource,
    pub name: String,
    /// The whole object, `apiVersion` to `spec`, with the [`SPEC_HASH`] annotation set.
    pub object: Value,
}

impl Child {
    fn new<K: Resource<DynamicType = ()>>(object: Value) -> Self {
        let resource = ApiResource::erase::<K>(&());
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut object = object;
        let hash = hex::encode(Sha256::digest(object.to_string().as_bytes()));
        object["metadata"]["annotations"][SPEC_HASH] = Value::String(hash);
        Self {
            resource,
            name,
            object,
        }
    }

    /// The hash the operator writes on the object.
    pub fn spec_hash(&self) -> &str {
        self.object["metadata"]["annotations"][SPEC_HASH]
            .as_str()
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        &self.resource.kind
    }
}

/// Whether `actual` holds every field of `wanted` with the same value. What the API server
/// or other managers added (defaults, status, annotations) is ignored; a field the operator set
/// and someone changed is not. Lists must match item by item.
pub fn contains(actual: &Value, wanted: &Value) -> bool {
    match (actual, wanted) {
        (Value::Object(actual), Value::Object(wanted)) => wanted.iter().all(|(key, value)| {
            actual
                .get(key)
                .is_some_and(|present| contains(present, value))
        }),
        (Value::Array(actual), Value::Array(wanted)) => {
            actual.len() == wanted.len() && actual.iter().zip(wanted).all(|(a, w)| contains(a, w))
        }
        _ => actual == wanted,
    }
}

/// Everything the operator itself decides rather than the resource.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Gateway image for resources that name none.
    pub image: String,
}

/// Labels selecting the gateway pods of `name`.
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "webhook-gateway".to_owned(),
        ),
        ("app.kubernetes.io/instance".to_owned(), name.to_owned()),
    ])
}

/// Labels on every child of the gateway `name`; the operator finds its children by them.
pub fn child_labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(name);
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        MANAGED_BY.to_owned(),
    );
    labels.insert("app.kubernetes.io/part-of".to_owned(), "flowx".to_owned());
    labels
}

/// The label selector string matching [`child_labels`].
pub fn child_selector(name: &str) -> String {
    child_labels(name)
        .into_iter()
        .filter(|(key, _)| key != "app.kubernetes.io/part-of")
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The URL external systems call, without a trailing slash.
pub fn public_url(spec: &WebhookGatewaySpec) -> Option<String> {
    spec.public_url
        .clone()
        .or_else(|| {
            spec.ingress
                .as_ref()
                .filter(|i| i.enabled.unwrap_or(true))
                .map(|i| format!("https://{}", i.host))
        })
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// One egress destination of the setup guide's table.
struct Destination {
    /// Suffix of the `flowx.ai/egress-s-<name>` label and of the policy name.
    name: &'static str,
    default_ports: &'static [i32],
}

const DESTINATIONS: [Destination; 7] = [
    Destination {
        name: "kafka",
        default_ports: &[9092],
    },
    Destination {
        name: "postgresql",
        default_ports: &[5432],
    },
    Destination {
        name: "redis",
        default_ports: &[6379],
    },
    Destination {
        name: "keycloak",
        default_ports: &[8080, 443],
    },
    Destination {
        name: "spicedb",
        default_ports: &[50051],
    },
    Destination {
        name: "organization-manager",
        default_ports: &[80],
    },
    Destination {
        name: "authorization-system",
        default_ports: &[80],
    },
];

fn destination<'a>(spec: &'a WebhookGatewaySpec, name: &str) -> Option<&'a EgressDestination> {
    let egress = spec.network_policy.as_ref()?.egress.as_ref()?;
    match name {
        "kafka" => egress.kafka.as_ref(),
        "postgresql" => egress.postgresql.as_ref(),
        "redis" => egress.redis.as_ref(),
        "keycloak" => egress.keycloak.as_ref(),
        "spicedb" => egress.spicedb.as_ref(),
        "organization-manager" => egress.organization_manager.as_ref(),
        "authorization-system" => egress.authorization_system.as_ref(),
        _ => None,
    }
}

fn destination_enabled(spec: &WebhookGatewaySpec, name: &str) -> bool {
    destination(spec, name)
        .and_then(|d| d.enabled)
        .unwrap_or(true)
}

/// The `resourceVersion` of each Secret a gateway references, by name; `None` for a Secret
/// that does not exist.
pub type SecretVersions = BTreeMap<String, Option<String>>;

/// The names of the Secrets `spec` takes values from, in its namespace.
pub fn referenced_secrets(spec: &WebhookGatewaySpec) -> BTreeSet<String> {
    let security = spec.security.as_ref();
    [
        Some(&spec.database.password_secret_ref),
        spec.kafka.oauth.as_ref().map(|o| &o.client_secret_ref),
        spec.redis.password_secret_ref.as_ref(),
        security.and_then(|s| s.client_secret_ref.as_ref()),
        security.and_then(|s| s.service_account_client_secret_ref.as_ref()),
        spec.spicedb
            .as_ref()
            .and_then(|s| s.token_secret_ref.as_ref()),
        spec.sealing.as_ref().map(|s| &s.keys_secret_ref),
    ]
    .into_iter()
    .flatten()
    .map(|reference| reference.name.clone())
    .collect()
}

/// The children of `gateway`, in the order they are applied, as they stand on their own.
pub fn render(gateway: &WebhookGateway, defaults: &Defaults) -> Vec<Child> {
    render_with_secrets(gateway, defaults, &SecretVersions::new())
}

/// The children of `gateway`, with the pod template marked by the `versions` of the Secrets it
/// references (none when `versions` is empty).
pub fn render_with_secrets(
    gateway: &WebhookGateway,
    defaults: &Defaults,
    versions: &SecretVersions,
) -> Vec<Child> {
    let name = gateway.metadata.name.as_deref().unwrap_or_default();
    let namespace = gateway.metadata.namespace.as_deref().unwrap_or("default");
    let owner = gateway.controller_owner_ref(&());
    let spec = &gateway.spec;
    let meta = |child_name: &str| {
        json!({
            "name": child_name,
            "namespace": namespace,
            "labels": child_labels(name),
            "ownerReferences": owner.iter().collect::<Vec<&OwnerReference>>(),
        })
    };

    let mut children = vec![
        Child::new::<Deployment>(deployment(name, spec, defaults, versions, meta(name))),
        Child::new::<Service>(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(name),
            "spec": {
                "type": "ClusterIP",
                "selector": selector_labels(name),
                "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        })),
        Child::new::<PodDisruptionBudget>(json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(name),
            "spec": {
                "maxUnavailable": 1,
                "selector": {"matchLabels": selector_labels(name)},
            },
        })),
    ];
    if let Some(autoscaling) = &spec.autoscaling {
        children.push(Child::new::<HorizontalPodAutoscaler>(json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta(name),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": autoscaling.min_replicas.unwrap_or(DEFAULT_REPLICAS),
                "maxReplicas": autoscaling.max_replicas,
                "metrics": [{
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscaling
                                .target_cpu_utilization_percentage
                                .unwrap_or(DEFAULT_CPU_TARGET),
                        },
                    },
                }],
            },
        })));
    }
    if let Some(ingress) = spec.ingress.as_ref().filter(|i| i.enabled.unwrap_or(true)) {
        let mut metadata = meta(name);
        if !ingress.annotations.is_empty() {
            metadata["annotations"] = json!(ingress.annotations);
        }
        let mut ingress_spec = json!({
            "rules": [{
                "host": ingress.host,
                "http": {"paths": [{
                    "path": "/webhooks",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": name, "port": {"name": "http"}}},
                }]},
            }],
        });
        if let Some(class) = &ingress.class_name {
            ingress_spec["ingressClassName"] = json!(class);
        }
        if let Some(tls) = &ingress.tls_secret_name {
            ingress_spec["tls"] = json!([{"hosts": [ingress.host], "secretName": tls}]);
        }
        children.push(Child::new::<Ingress>(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": ingress_spec,
        })));
    }
    let policies_on = spec
        .network_policy
        .as_ref()
        .and_then(|p| p.enabled)
        .unwrap_or(true);
    if policies_on {
        children.extend(network_policies(name, spec, &meta));
    }
    children
}

fn deployment(
    name: &str,
    spec: &WebhookGatewaySpec,
    defaults: &Defaults,
    versions: &SecretVersions,
    metadata: Value,
) -> Value {
    let mut pod_labels = selector_labels(name);
    // The label the setup guide's troubleshooting commands select gateway pods by.
    pod_labels.insert("app".to_owned(), name.to_owned());
    for destination in &DESTINATIONS {
        if destination_enabled(spec, destination.name) {
            pod_labels.insert(
                format!("flowx.ai/egress-s-{}", destination.name),
                "true".to_owned(),
            );
        }
    }
    let monitoring = spec.monitoring.as_ref();
    for (key, value) in monitoring.map(|m| &m.pod_labels).into_iter().flatten() {
        pod_labels
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    let mut pod_annotations = BTreeMap::new();
    if monitoring.and_then(|m| m.scrape).unwrap_or(true) {
        pod_annotations.insert("prometheus.io/scrape", "true".to_owned());
        pod_annotations.insert("prometheus.io/port", HTTP_PORT.to_string());
        pod_annotations.insert("prometheus.io/path", "/actuator/prometheus".to_owned());
    }
    if !versions.is_empty() {
        let listing: String = versions
            .iter()
            .map(|(secret, version)| format!("{secret}={}\n", version.as_deref().unwrap_or("")))
            .collect();
        pod_annotations.insert(
            SECRET_VERSIONS,
            hex::encode(Sha256::digest(listing.as_bytes())),
        );
    }
    let probe = |path: &str, failures: i32| {
        json!({
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": failures,
        })
    };
    let mut container = json!({
        "name": "gateway",
        "image": spec.image.as_deref().unwrap_or(&defaults.image),
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": environment(spec),
        "startupProbe": probe("/actuator/health/liveness", 30),
        "livenessProbe": probe("/actuator/health/liveness", 3),
        "readinessProbe": probe("/actuator/health/readiness", 3),
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
    });
    if let Some(policy) = &spec.image_pull_policy {
        container["imagePullPolicy"] = json!(policy);
    }
    if let Some(resources) = &spec.resources {
        container["resources"] = json!(resources);
    }
    let mut pod_spec = json!({
        "containers": [container],
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        // The gateway's default shutdown (2 s before the listener closes, up to 30 s for calls
        // in flight) fits inside it, so no accepted call is cut off by SIGKILL.
        "terminationGracePeriodSeconds": 40,
    });
    if !spec.image_pull_secrets.is_empty() {
        pod_spec["imagePullSecrets"] = spec
            .image_pull_secrets
            .iter()
            .map(|name| json!({"name": name}))
            .collect();
    }
    let mut template_metadata = json!({"labels": pod_labels});
    if !pod_annotations.is_empty() {
        template_metadata["annotations"] = json!(pod_annotations);
    }
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": selector_labels(name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": template_metadata, "spec": pod_spec},
        },
    });
    // With an autoscaler the number of pods is its to set, so the operator leaves it alone.
    if spec.autoscaling.is_none() {
        deployment["spec"]["replicas"] = json!(spec.replicas.unwrap_or(DEFAULT_REPLICAS));
    }
    deployment
}

/// The gateway's environment, named as the setup guide names it; secrets by reference only.
pub fn environment(spec: &WebhookGatewaySpec) -> Vec<Value> {
    let mut env = Environment::default();
    let database = &spec.database;
    env.value("SPRING_DATASOURCE_URL", Some(&database.url));
    env.value("SPRING_DATASOURCE_USERNAME", database.username.as_ref());
    env.secret(
        "SPRING_DATASOURCE_PASSWORD",
        Some(&database.password_secret_ref),
    );
    env.value(
        "WEBHOOK_GATEWAY_DB_POOL_SIZE",
        database.pool_size.map(|n| n.to_string()).as_ref(),
    );

    let kafka = &spec.kafka;
    env.value(
        "SPRING_KAFKA_BOOTSTRAP_SERVERS",
        Some(&kafka.bootstrap_servers),
    );
    env.value(
        "SPRING_KAFKA_SECURITY_PROTOCOL",
        Some(&kafka.security_protocol),
    );
    if let Some(oauth) = &kafka.oauth {
        env.value("KAFKA_OAUTH_CLIENT_ID", Some(&oauth.client_id));
        env.secret("KAFKA_OAUTH_CLIENT_SECRET", Some(&oauth.client_secret_ref));
        env.value(
            "KAFKA_OAUTH_TOKEN_ENDPOINT_URI",
            Some(&oauth.token_endpoint_uri),
        );
    }
    env.value(
        "KAFKA_AUTHEXCEPTIONRETRYINTERVAL",
        kafka
            .auth_exception_retry_interval_seconds
            .map(|n| n.to_string())
            .as_ref(),
    );
    if let Some(naming) = &kafka.topic_naming {
        env.value("KAFKA_TOPIC_NAMING_PACKAGE", naming.package.as_ref());
        env.value(
            "KAFKA_TOPIC_NAMING_ENVIRONMENT",
            naming.environment.as_ref(),
        );
        env.value("KAFKA_TOPIC_NAMING_VERSION", naming.version.as_ref());
        env.value("KAFKA_TOPIC_NAMING_SEPARATOR", naming.separator.as_ref());
        env.value("KAFKA_TOPIC_NAMING_SEPARATOR2", naming.separator2.as_ref());
    }
    env.value(
        "KAFKA_TOPIC_PROCESS_START_OUT",
        kafka.process_start_topic.as_ref(),
    );

    let redis = &spec.redis;
    env.value("SPRING_DATA_REDIS_HOST", Some(&redis.host));
    env.value(
        "SPRING_DATA_REDIS_PORT",
        redis.port.map(|n| n.to_string()).as_ref(),
    );
    env.secret(
        "SPRING_DATA_REDIS_PASSWORD",
        redis.password_secret_ref.as_ref(),
    );
    env.value(
        "REDIS_TTL",
        redis.ttl_millis.map(|n| n.to_string()).as_ref(),
    );

    if let Some(security) = &spec.security {
        env.value("SECURITY_TYPE", Some(&security.type_));
        env.value(
            "SECURITY_OAUTH2_BASE_SERVER_URL",
            Some(&security.base_server_url),
        );
        env.value("SECURITY_OAUTH2_REALM", Some(&security.realm));
        env.value(
            "SECURITY_OAUTH2_CLIENT_CLIENT_ID",
            security.client_id.as_ref(),
        );
        env.secret(
            "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
            security.client_secret_ref.as_ref(),
        );
        env.value(
            "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID",
            security.service_account_client_id.as_ref(),
        );
        env.secret(
            "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
            security.service_account_client_secret_ref.as_ref(),
        );
        env.value("WEBHOOK_GATEWAY_API_AUDIENCE", security.audience.as_ref());
    }
    if let Some(spicedb) = &spec.spicedb {
        env.value("FLOWX_LIB_CASCLIENT_SPICEDB_HOST", Some(&spicedb.host));
        env.value(
            "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
            spicedb.port.map(|n| n.to_string()).as_ref(),
        );
        env.secret(
            "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
            spicedb.token_secret_ref.as_ref(),
        );
    }
    if let Some(services) = &spec.services {
        env.value(
            "FLOWX_LIB_SECURITY_SERVICES_ORGANIZATIONMANAGER_BASEURL",
            services.organization_manager_url.as_ref(),
        );
        env.value(
            "FLOWX_LIB_CASCLIENT_SERVICES_AUTHORIZATIONSYSTEM_BASEURL",
            services.authorization_system_url.as_ref(),
        );
    }
    if let Some(sealing) = &spec.sealing {
        env.secret(
            "WEBHOOK_GATEWAY_SEALING_KEYS",
            Some(&sealing.keys_secret_ref),
        );
        env.value(
            "WEBHOOK_GATEWAY_SEALING_KEY_ID",
            sealing.current_key_id.as_ref(),
        );
    }
    env.value("WEBHOOK_GATEWAY_PUBLIC_URL", public_url(spec).as_ref());
    if let Some(logging) = &spec.logging {
        env.value("LOGGING_LEVEL_ROOT", logging.root.as_ref());
        env.value("LOGGING_LEVEL_APP", logging.app.as_ref());
    }
    for (name, value) in &spec.extra_env {
        env.value(name, Some(value));
    }
    env.0
}

#[derive(Default)]
struct Environment(Vec<Value>);

impl Environment {
    /// Sets `name`, replacing an earlier entry so `extraEnv` can override a derived value.
    fn push(&mut self, name: &str, entry: Value) {
        self.0.retain(|e| e["name"] != name);
        self.0.push(entry);
    }

    fn value(&mut self, name: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.push(name, json!({"name": name, "value": value}));
        }
    }

    fn secret(&mut self, name: &str, reference: Option<&SecretKeyRef>) {
        if let Some(reference) = reference {
            self.push(
                name,
                json!({"name": name, "valueFrom": {"secretKeyRef": {"name": reference.name, "key": reference.key}}}),
            );
        }
    }
}

fn peer(selector: &PeerSelector) -> Value {
    let mut peer = json!({});
    if let Some(namespaces) = &selector.namespace_selector {
        peer["namespaceSelector"] = json!(namespaces);
    }
    if let Some(pods) = &selector.pod_selector {
        peer["podSelector"] = json!(pods);
    }
    peer
}

fn namespace_named(namespace: &str) -> PeerSelector {
    PeerSelector {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                namespace.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        pod_selector: None,
    }
}

fn network_policies(
    name: &str,
    spec: &WebhookGatewaySpec,
    meta: &dyn Fn(&str) -> Value,
) -> Vec<Child> {
    let settings = spec.network_policy.clone().unwrap_or_default();
    let ingress_controller = settings
        .ingress_controller
        .unwrap_or_else(|| namespace_named("ingress-nginx"));
    let monitoring = settings
        .monitoring
        .unwrap_or_else(|| namespace_named("monitoring"));
    let dns = settings
        .dns
        .unwrap_or_else(|| namespace_named("kube-system"));
    let http = json!([{"protocol": "TCP", "port": HTTP_PORT}]);
    let policy = |policy_name: String, pods: Value, body: Value| {
        let mut spec = json!({"podSelector": {"matchLabels": pods}});
        for (key, value) in body.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        Child::new::<NetworkPolicy>(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(&policy_name),
            "spec": spec,
        }))
    };

    let mut policies = vec![
        policy(
            format!("{name}-ingress"),
            json!(selector_labels(name)),
            json!({
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [peer(&ingress_controller), peer(&monitoring)], "ports": http}],
            }),
        ),
        policy(
            format!("{name}-egress-dns"),
            json!(selector_labels(name)),
            json!({
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [peer(&dns)],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            }),
        ),
    ];
    for destination in &DESTINATIONS {
        if !destination_enabled(spec, destination.name) {
            continue;
        }
        let custom = self::destination(spec, destination.name);
        let ports: Vec<i32> = custom
            .map(|d| d.ports.clone())
            .filter(|ports| !ports.is_empty())
            .unwrap_or_else(|| destination.default_ports.to_vec());
        let mut rule = json!({
            "ports": ports.iter().map(|port| json!({"protocol": "TCP", "port": port})).collect::<Vec<_>>(),
        });
        let mut peers: Vec<Value> = custom
            .map(|d| d.to.iter().map(peer).collect())
            .unwrap_or_default();
        peers.extend(
            custom
                .map(|d| d.cidrs.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|cidr| json!({"ipBlock": {"cidr": cidr}})),
        );
        if !peers.is_empty() {
            rule["to"] = Value::Array(peers);
        }
        let mut pods = selector_labels(name);
        pods.insert(
            format!("flowx.ai/egress-s-{}", destination.name),
            "true".to_owned(),
        );
        policies.push(policy(
            format!("{name}-egress-{}", destination.name),
            json!(pods),
            json!({"policyTypes": ["Egress"], "egress": [rule]}),
        ));
    }
    policies
}
