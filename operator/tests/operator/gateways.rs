//! The `WebhookGateway` reconcile against the fake API server: children applied with one field
//! manager, nothing written when nothing changed, drift and unwanted children corrected, and
//! readiness rolled up from the Deployment and the database.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use serde_json::json;
use webhook_crds::{Conditions, WebhookGateway};
use webhook_operator::gateway_controller;

use crate::fixture::{Fixture, GATEWAY, NAMESPACE, webhook};
use crate::support;

async fn reconcile(fixture: &Fixture) -> Action {
    gateway_controller::reconcile(Arc::new(fixture.gateway()), fixture.context.clone())
        .await
        .expect("reconcile succeeds")
}

fn stored_condition(fixture: &Fixture, kind: &str) -> Condition {
    let gateway = fixture.gateway();
    gateway
        .status
        .as_ref()
        .expect("status written")
        .conditions
        .condition(kind)
        .unwrap_or_else(|| panic!("no {kind} condition"))
        .clone()
}

fn condition(fixture: &Fixture, kind: &str) -> (String, String) {
    let condition = stored_condition(fixture, kind);
    (condition.status, condition.reason)
}

fn make_available(fixture: &Fixture, replicas: i64) {
    fixture
        .api
        .modify::<Deployment>(NAMESPACE, GATEWAY, |object| {
            object["status"] = json!({"availableReplicas": replicas, "readyReplicas": replicas});
        });
}

/// The `kind/name` of every apply among the recorded writes.
fn applied(fixture: &Fixture) -> Vec<String> {
    let mut applied: Vec<String> = fixture
        .api
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == http::Method::PATCH && r.query.contains("fieldManager=webhook-operator")
        })
        .map(|r| {
            let mut parts = r.path.rsplit('/');
            let name = parts.next().unwrap().to_owned();
            format!("{}/{name}", parts.next().unwrap())
        })
        .collect();
    applied.sort();
    applied
}

#[tokio::test]
async fn first_reconcile_applies_every_child_and_reports_not_ready_until_pods_are_available() {
    let fixture = Fixture::new().await;

    let action = reconcile(&fixture).await;

    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let mut expected: Vec<String> = [
        "deployments/hooks",
        "services/hooks",
        "poddisruptionbudgets/hooks",
        "ingresses/hooks",
        "networkpolicies/hooks-ingress",
        "networkpolicies/hooks-egress-dns",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(
        crate::EGRESS_ROWS
            .iter()
            .map(|d| format!("networkpolicies/hooks-egress-{d}")),
    )
    .collect();
    expected.sort();
    assert_eq!(applied(&fixture), expected);
    for request in fixture.api.writes() {
        if request.query.contains("fieldManager") {
            assert!(request.query.contains("force=true"), "{request:?}");
        }
    }

    let deployment = fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap();
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], fixture.gateway().metadata.uid.unwrap());
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        crate::fixture::IMAGE
    );

    assert_eq!(
        condition(&fixture, "Ready"),
        ("False".into(), "ReplicasUnavailable".into())
    );
    assert_eq!(
        condition(&fixture, "DatabaseReachable"),
        ("True".into(), "Connected".into())
    );
    let status = fixture.gateway().status.unwrap();
    assert_eq!(status.conditions[0].type_, "Ready");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        status.public_url.as_deref(),
        Some("https://hooks.example.com")
    );
}

#[tokio::test]
async fn ready_follows_the_deployment_and_a_steady_gateway_costs_no_writes() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    make_available(&fixture, 2);
    fixture.take_writes();

    let action = reconcile(&fixture).await;

    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    assert_eq!(
        fixture.take_writes(),
        [
            "PATCH /apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhookgateways/hooks/status",
            "POST /apis/events.k8s.io/v1/namespaces/payments/events",
        ]
    );
    assert_eq!(
        condition(&fixture, "Ready"),
        ("True".into(), "Ready".into())
    );
    assert_eq!(
        fixture.gateway().status.unwrap().available_replicas,
        Some(2)
    );

    reconcile(&fixture).await;
    assert_eq!(fixture.take_writes(), Vec::<String>::new());

    make_available(&fixture, 0);
    reconcile(&fixture).await;
    assert_eq!(
        condition(&fixture, "Ready"),
        ("False".into(), "ReplicasUnavailable".into())
    );
}

#[tokio::test]
async fn a_child_changed_by_hand_is_put_back() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    fixture
        .api
        .modify::<Deployment>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["replicas"] = json!(9);
        });
    fixture.api.modify::<Service>(NAMESPACE, GATEWAY, |object| {
        object["spec"]["clusterIP"] = json!("10.96.0.17");
    });
    fixture.api.clear_requests();

    reconcile(&fixture).await;

    assert_eq!(
        applied(&fixture),
        ["deployments/hooks"],
        "the defaulted Service is left alone"
    );
    let deployment = fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
}

fn secret_versions_annotation(fixture: &Fixture) -> serde_json::Value {
    fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap()["spec"]["template"]["metadata"]
        ["annotations"][webhook_operator::render::SECRET_VERSIONS]
        .clone()
}

#[tokio::test]
async fn a_changed_secret_rolls_the_gateway_pods_and_nothing_else() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    make_available(&fixture, 2);
    reconcile(&fixture).await;
    let before = secret_versions_annotation(&fixture);
    assert!(before.is_string(), "the pod template is marked: {before}");
    fixture.api.clear_requests();

    reconcile(&fixture).await;
    assert_eq!(
        fixture.take_writes(),
        Vec::<String>::new(),
        "unchanged Secrets"
    );

    fixture.api.insert(&crate::fixture::secret(
        "gateway-sealing",
        "keys",
        crate::support::sealing_keys(),
    ));
    reconcile(&fixture).await;

    assert_eq!(applied(&fixture), ["deployments/hooks"]);
    let after = secret_versions_annotation(&fixture);
    assert!(after.is_string());
    assert_ne!(before, after, "the pod template did not change");
    fixture.api.clear_requests();
    reconcile(&fixture).await;
    assert_eq!(fixture.take_writes(), Vec::<String>::new());
}

/// The field manager and path of every server-side apply, in order.
fn applies(fixture: &Fixture) -> Vec<(String, String)> {
    fixture
        .api
        .requests()
        .into_iter()
        .filter(|r| r.method == http::Method::PATCH && !r.path.ends_with("/status"))
        .filter_map(|r| {
            let manager = r
                .query
                .split('&')
                .find_map(|pair| pair.strip_prefix("fieldManager="))?
                .to_owned();
            Some((manager, r.path.rsplit('/').nth(1).unwrap().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn autoscaling_hands_the_pod_count_to_an_autoscaler_and_back() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"].as_object_mut().unwrap().remove("replicas");
            object["spec"]["autoscaling"] = json!({"maxReplicas": 6});
            object["spec"]["resources"] = json!({"requests": {"cpu": "250m"}});
            object["metadata"]["generation"] = json!(2);
        });
    let versions_before = fixture.api.history::<Deployment>(NAMESPACE, GATEWAY).len();
    fixture.api.clear_requests();

    reconcile(&fixture).await;

    let sequence = applies(&fixture);
    let handover = sequence
        .iter()
        .position(|(m, p)| m == gateway_controller::HANDOVER_MANAGER && p == "deployments")
        .expect("the live pod count is handed over");
    let own = sequence
        .iter()
        .position(|(m, p)| m == "webhook-operator" && p == "deployments")
        .expect("the Deployment is applied");
    assert!(handover < own, "{sequence:?}");
    assert!(sequence.contains(&(
        "webhook-operator".to_owned(),
        "horizontalpodautoscalers".to_owned()
    )));
    let stored = fixture.api.history::<Deployment>(NAMESPACE, GATEWAY);
    assert_eq!(
        stored[versions_before]["spec"],
        json!({"replicas": 2}),
        "the handover keeps the live count"
    );
    let deployment = fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap();
    assert!(
        deployment["spec"]["replicas"].is_null(),
        "the operator gave the count up"
    );
    let hpa = fixture
        .api
        .get::<HorizontalPodAutoscaler>(NAMESPACE, GATEWAY)
        .expect("autoscaler applied");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], GATEWAY);
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );

    // The autoscaler scaled to 4; nothing of the operator's changed, so nothing is written.
    fixture
        .api
        .modify::<Deployment>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["replicas"] = json!(4);
        });
    make_available(&fixture, 4);
    reconcile(&fixture).await;
    fixture.take_writes();
    reconcile(&fixture).await;
    assert_eq!(fixture.take_writes(), Vec::<String>::new());
    assert_eq!(
        stored_condition(&fixture, "Available").message,
        "4 of 4 gateway pods available"
    );

    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"]
                .as_object_mut()
                .unwrap()
                .remove("autoscaling");
            object["spec"]["replicas"] = json!(3);
            object["metadata"]["generation"] = json!(3);
        });
    reconcile(&fixture).await;
    assert!(
        fixture
            .api
            .get::<HorizontalPodAutoscaler>(NAMESPACE, GATEWAY)
            .is_none(),
        "the autoscaler is pruned"
    );
    assert_eq!(
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap()["spec"]["replicas"],
        3
    );
}

#[tokio::test]
async fn a_gateway_in_use_is_deleted_only_after_its_webhooks() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    assert!(
        fixture
            .gateway()
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&gateway_controller::FINALIZER.to_owned())
    );
    fixture.api.insert(&webhook("orders", json!({})));
    fixture.api.insert(&webhook(
        "elsewhere",
        json!({"gatewayRef": {"name": "other"}}),
    ));
    fixture
        .delete("/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhookgateways/hooks")
        .await;
    fixture.take_writes();

    let action = reconcile(&fixture).await;

    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert!(
        fixture
            .api
            .get::<WebhookGateway>(NAMESPACE, GATEWAY)
            .is_some()
    );
    let ready = stored_condition(&fixture, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "WebhooksRemaining")
    );
    assert!(ready.message.contains("orders"), "{}", ready.message);
    assert!(!ready.message.contains("elsewhere"), "{}", ready.message);
    assert_eq!(
        fixture.take_writes(),
        ["PATCH /apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhookgateways/hooks/status"],
        "nothing but the status while it waits"
    );

    fixture
        .delete("/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhooks/orders")
        .await;
    let action = reconcile(&fixture).await;

    assert_eq!(action, Action::await_change());
    assert!(
        fixture
            .api
            .get::<WebhookGateway>(NAMESPACE, GATEWAY)
            .is_none(),
        "the finalizer was released"
    );
}

#[tokio::test]
async fn a_spec_change_applies_only_what_it_changes_and_prunes_what_is_no_longer_wanted() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    let unrelated = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "hooks-extra", "namespace": NAMESPACE, "labels": webhook_operator::render::child_labels(GATEWAY)},
        "spec": {"podSelector": {}},
    });
    let unrelated: NetworkPolicy = serde_json::from_value(unrelated).unwrap();
    fixture.api.insert(&unrelated);
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["ingress"]["enabled"] = json!(false);
            object["spec"]["networkPolicy"] = json!({"egress": {"spicedb": {"enabled": false}}});
            object["metadata"]["generation"] = json!(2);
        });
    fixture.api.clear_requests();

    reconcile(&fixture).await;

    assert_eq!(
        applied(&fixture),
        ["deployments/hooks"],
        "pod labels changed"
    );
    let deletes: Vec<String> = fixture
        .api
        .writes()
        .into_iter()
        .filter(|r| r.method == http::Method::DELETE)
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(deletes, ["hooks", "hooks-egress-spicedb"]);
    assert!(fixture.api.get::<Ingress>(NAMESPACE, GATEWAY).is_none());
    assert!(
        fixture
            .api
            .get::<NetworkPolicy>(NAMESPACE, "hooks-extra")
            .is_some(),
        "an object the gateway does not own is never deleted"
    );
    let deployment = fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap();
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert!(labels["flowx.ai/egress-s-spicedb"].is_null());
    assert_eq!(labels["flowx.ai/egress-s-kafka"], "true");
    assert_eq!(
        fixture.gateway().status.unwrap().observed_generation,
        Some(2)
    );
}

#[tokio::test]
async fn an_unreachable_database_makes_the_gateway_not_ready() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    make_available(&fixture, 2);
    reconcile(&fixture).await;
    assert_eq!(condition(&fixture, "Ready").0, "True");

    let dead = format!(
        "jdbc:postgresql://127.0.0.1:{}/nothing",
        support::free_port()
    );
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["database"]["url"] = json!(dead);
        });
    let action = reconcile(&fixture).await;

    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    assert_eq!(
        condition(&fixture, "DatabaseReachable"),
        ("False".into(), "DatabaseUnavailable".into())
    );
    assert_eq!(
        condition(&fixture, "Ready"),
        ("False".into(), "DatabaseUnavailable".into())
    );
    assert_eq!(condition(&fixture, "Available").0, "True");
    let events = fixture
        .api
        .list::<k8s_openapi::api::events::v1::Event>(NAMESPACE);
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"DatabaseUnavailable"), "{reasons:?}");
}

#[tokio::test]
async fn a_missing_database_secret_is_reported() {
    let fixture = Fixture::new().await;
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["database"]["passwordSecretRef"] =
                json!({"name": "nope", "key": "password"});
        });

    reconcile(&fixture).await;

    assert_eq!(
        condition(&fixture, "DatabaseReachable"),
        ("False".into(), "SecretMissing".into())
    );
    assert_eq!(condition(&fixture, "Ready").1, "SecretMissing");
    assert!(
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).is_some(),
        "children are applied regardless"
    );
}

#[tokio::test]
async fn the_transition_time_moves_only_when_readiness_changes() {
    let fixture = Fixture::new().await;
    reconcile(&fixture).await;
    let first = stored_condition(&fixture, "Ready");
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, GATEWAY, |object| {
            object["spec"]["replicas"] = json!(3);
            object["metadata"]["generation"] = json!(2);
        });

    reconcile(&fixture).await;

    let second = stored_condition(&fixture, "Ready");
    assert_eq!(second.status, "False");
    assert_eq!(second.observed_generation, Some(2));
    assert_eq!(second.last_transition_time, first.last_transition_time);
    assert!(second.message.contains("of 3"), "{}", second.message);
}
