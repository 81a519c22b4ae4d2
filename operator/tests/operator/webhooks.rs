//! The `Webhook` reconcile against the fake API server and a real PostgreSQL database: the
//! requests it makes, the rows it writes, the conditions it reports.

use std::time::Duration;

use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use serde_json::json;
use webhook_crds::{Conditions, Webhook, WebhookGateway};
use webhook_gateway::auth::api_key;
use webhook_operator::Error;
use webhook_operator::context::secret_key;
use webhook_operator::webhook_controller::{self, FINALIZER};

use crate::fixture::{Fixture, NAMESPACE, secret, webhook};
use crate::support::{self, Gateway};

const WEBHOOKS: &str = "/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhooks";
const SECRETS: &str = "/api/v1/namespaces/payments/secrets";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/payments/events";

async fn reconcile(fixture: &Fixture, name: &str) -> Result<Action, Error> {
    let webhook = fixture.webhook(name).expect("webhook stored");
    webhook_controller::reconcile(std::sync::Arc::new(webhook), fixture.context.clone()).await
}

/// The stored revision of each registration; it grows with every write.
async fn revisions(fixture: &Fixture, ids: &[&str]) -> Vec<i64> {
    let mut revisions = Vec::new();
    for id in ids {
        let record = fixture.store().record(id).await.unwrap().unwrap();
        revisions.push(record.registration.revision);
    }
    revisions
}

fn condition(webhook: &Webhook, kind: &str) -> (String, String, String) {
    let status = webhook.status.as_ref().expect("status written");
    let condition = status
        .conditions
        .condition(kind)
        .unwrap_or_else(|| panic!("no {kind} condition"));
    (
        condition.status.clone(),
        condition.reason.clone(),
        condition.message.clone(),
    )
}

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_generates_the_key_and_registers() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));

    let action = reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    assert_eq!(
        fixture.take_writes(),
        [
            format!("PATCH {WEBHOOKS}/orders"),
            format!("PATCH {SECRETS}/orders-webhook-credentials"),
            format!("PATCH {WEBHOOKS}/orders/status"),
            format!("POST {EVENTS}"),
        ]
    );
    let stored = fixture.webhook("orders").unwrap();
    assert_eq!(stored.metadata.finalizers, Some(vec![FINALIZER.to_owned()]));
    let status = stored.status.clone().unwrap();
    assert_eq!(
        status.url.as_deref(),
        Some("https://hooks.example.com/webhooks/orders")
    );
    assert_eq!(status.webhook_id.as_deref(), Some("orders"));
    assert_eq!(
        status.credential_secret.as_deref(),
        Some("orders-webhook-credentials")
    );
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.conditions[0].type_, "Ready");
    assert_eq!(condition(&stored, "Ready").0, "True");
    assert_eq!(condition(&stored, "Registered").0, "True");
    assert_eq!(condition(&stored, "CredentialReady").0, "True");

    let generated: Secret = serde_json::from_value(
        fixture
            .api
            .get::<Secret>(NAMESPACE, "orders-webhook-credentials")
            .unwrap(),
    )
    .unwrap();
    let key = secret_key(&generated, "credential").unwrap();
    assert!(key.starts_with("whk_"), "generated key {key:?}");
    let owner = &generated.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Webhook", "orders")
    );
    let printed = serde_json::to_string(&fixture.api.get::<Webhook>(NAMESPACE, "orders")).unwrap();
    assert!(!printed.contains(&key), "the key leaked into the Webhook");

    let row = fixture.store().managed("orders").await.unwrap().unwrap();
    assert!(row.is_owned_by("payments/orders"));
    assert_eq!(row.credentials.len(), 1);
    assert_eq!(
        row.credentials[0].secret_hash.as_deref(),
        Some(api_key::hash(&key).as_slice())
    );
}

#[tokio::test]
async fn a_second_reconcile_without_changes_writes_nothing() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    fixture.api.insert(&secret(
        "stripe-signing",
        "secret",
        "whsec_c3RyaXBlLXRlc3Qtc2VjcmV0",
    ));
    fixture.api.insert(&webhook(
        "stripe",
        json!({"auth": {"type": "stripe", "secretRef": {"name": "stripe-signing", "key": "secret"}}}),
    ));
    for name in ["orders", "stripe"] {
        reconcile(&fixture, name).await.unwrap();
    }
    let before = revisions(&fixture, &["orders", "stripe"]).await;
    fixture.take_writes();

    for name in ["orders", "stripe"] {
        let action = reconcile(&fixture, name).await.unwrap();
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    }

    assert_eq!(fixture.take_writes(), Vec::<String>::new());
    let after = revisions(&fixture, &["orders", "stripe"]).await;
    assert_eq!(before, after, "the rows were rewritten");
}

#[tokio::test]
async fn a_spec_change_updates_the_row_and_the_observed_generation() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    reconcile(&fixture, "orders").await.unwrap();
    let ready_since = condition(&fixture.webhook("orders").unwrap(), "Ready");
    fixture.take_writes();

    fixture
        .api
        .modify::<Webhook>(NAMESPACE, "orders", |object| {
            object["spec"]["active"] = json!(false);
            object["spec"]["target"]["startEvent"] = json!("payment_refunded");
            object["metadata"]["generation"] = json!(2);
        });
    reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(
        fixture.take_writes(),
        [format!("PATCH {WEBHOOKS}/orders/status")]
    );
    let record = fixture
        .store()
        .record("orders")
        .await
        .unwrap()
        .unwrap()
        .registration;
    assert!(!record.active);
    assert_eq!(record.start_event.as_deref(), Some("payment_refunded"));
    let stored = fixture.webhook("orders").unwrap();
    assert_eq!(stored.status.as_ref().unwrap().observed_generation, Some(2));
    let ready = stored
        .status
        .as_ref()
        .unwrap()
        .conditions
        .condition("Ready")
        .unwrap()
        .clone();
    assert_eq!(ready.observed_generation, Some(2));
    assert_eq!(ready.status, ready_since.0, "still Ready");
}

#[tokio::test]
async fn deletion_removes_the_row_then_the_finalizer() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    reconcile(&fixture, "orders").await.unwrap();
    assert!(fixture.store().managed("orders").await.unwrap().is_some());

    fixture
        .api
        .client()
        .request::<serde_json::Value>(
            http::Request::delete(format!("{WEBHOOKS}/orders"))
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(
        fixture.webhook("orders").is_some(),
        "the finalizer holds the resource"
    );
    fixture.take_writes();

    let action = reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(action, Action::await_change());
    assert_eq!(fixture.take_writes(), [format!("PATCH {WEBHOOKS}/orders")]);
    assert!(fixture.store().managed("orders").await.unwrap().is_none());
    assert!(fixture.webhook("orders").is_none(), "the resource is gone");
}

#[tokio::test]
async fn a_registration_becomes_unreachable_to_callers_once_the_webhook_is_deleted() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&secret(
        "orders-key",
        "key",
        "whk_orders-key-for-the-deletion-test",
    ));
    fixture.api.insert(&webhook(
        "orders",
        json!({"auth": {"secretRef": {"name": "orders-key", "key": "key"}}}),
    ));
    reconcile(&fixture, "orders").await.unwrap();
    let topic = support::create_topic(&support::stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let gateway = Gateway::start(Gateway::stack_env(&fixture.database, &topic)).await;
    let key = "whk_orders-key-for-the-deletion-test";
    assert_eq!(
        support::post(&gateway, "orders", key, "{}").await.status(),
        202
    );

    fixture
        .api
        .modify::<Webhook>(NAMESPACE, "orders", |object| {
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
        });
    reconcile(&fixture, "orders").await.unwrap();

    let gone = support::eventually(Duration::from_secs(10), || async {
        support::post(&gateway, "orders", key, "{}").await.status() == 404
    })
    .await;
    assert!(gone, "the gateway still accepts the deleted webhook");
}

#[tokio::test]
async fn a_missing_gateway_is_reported_and_retried() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook(
        "orders",
        json!({"gatewayRef": {"name": "no-such-gateway"}}),
    ));

    let action = reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let stored = fixture.webhook("orders").unwrap();
    let (status, reason, message) = condition(&stored, "Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "GatewayNotFound")
    );
    assert!(message.contains("payments/no-such-gateway"), "{message}");
    assert_eq!(condition(&stored, "Registered").1, "GatewayNotFound");
    assert!(stored.status.unwrap().url.is_none());
    let events = fixture
        .api
        .list::<k8s_openapi::api::events::v1::Event>(NAMESPACE);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "GatewayNotFound");
    assert_eq!(events[0]["type"], "Warning");
}

#[tokio::test]
async fn a_missing_secret_is_reported_without_a_registration() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook(
        "github",
        json!({"auth": {"type": "github", "secretRef": {"name": "github-secret", "key": "secret"}}}),
    ));

    reconcile(&fixture, "github").await.unwrap();

    let stored = fixture.webhook("github").unwrap();
    assert_eq!(condition(&stored, "Ready").1, "SecretMissing");
    let (status, reason, message) = condition(&stored, "CredentialReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "SecretMissing")
    );
    assert!(message.contains("payments/github-secret"), "{message}");
    assert!(fixture.store().managed("github").await.unwrap().is_none());

    fixture
        .api
        .insert(&secret("github-secret", "wrong-key", "s3cret"));
    reconcile(&fixture, "github").await.unwrap();
    let (_, _, message) = condition(&fixture.webhook("github").unwrap(), "CredentialReady");
    assert!(message.contains("no key \"secret\""), "{message}");

    fixture
        .api
        .insert(&secret("github-secret", "secret", "s3cret"));
    reconcile(&fixture, "github").await.unwrap();
    let stored = fixture.webhook("github").unwrap();
    assert_eq!(condition(&stored, "Ready").0, "True");
    let row = fixture.store().managed("github").await.unwrap().unwrap();
    assert_eq!(row.credentials.len(), 1);
    assert!(row.credentials[0].sealed.is_some(), "signing secret sealed");
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_stored_credential() {
    let fixture = Fixture::new().await;
    fixture
        .api
        .insert(&secret("orders-key", "key", "whk_first-key-0000000000"));
    fixture.api.insert(&webhook(
        "orders",
        json!({"auth": {"secretRef": {"name": "orders-key", "key": "key"}}}),
    ));
    reconcile(&fixture, "orders").await.unwrap();

    fixture
        .api
        .insert(&secret("orders-key", "key", "whk_second-key-1111111111"));
    fixture.take_writes();
    reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(
        fixture.take_writes(),
        Vec::<String>::new(),
        "status unchanged"
    );
    let row = fixture.store().managed("orders").await.unwrap().unwrap();
    assert_eq!(row.credentials.len(), 1);
    assert_eq!(
        row.credentials[0].secret_hash.as_deref(),
        Some(api_key::hash("whk_second-key-1111111111").as_slice())
    );
}

#[tokio::test]
async fn an_unreachable_database_is_reported_and_the_reconcile_fails_for_a_retry() {
    let fixture = Fixture::new().await;
    let dead = format!(
        "jdbc:postgresql://127.0.0.1:{}/nothing",
        support::free_port()
    );
    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, "hooks", |object| {
            object["spec"]["database"]["url"] = json!(dead);
        });
    fixture.api.insert(&webhook("orders", json!({})));

    let error = reconcile(&fixture, "orders").await.unwrap_err();

    assert!(matches!(error, Error::DatabaseUnavailable(_)), "{error:?}");
    let stored = fixture.webhook("orders").unwrap();
    let (status, reason, _) = condition(&stored, "Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "DatabaseUnavailable")
    );
    let webhook = std::sync::Arc::new(stored);
    assert_eq!(
        webhook_operator::error::retry_later(webhook, &error, fixture.context.clone()),
        Action::requeue(Duration::from_secs(15))
    );
}

#[tokio::test]
async fn an_id_registered_outside_kubernetes_is_a_conflict_and_left_alone() {
    let fixture = Fixture::new().await;
    let topic = "unused";
    let env = Gateway::stack_env(&fixture.database, topic);
    support::manage(&env, &["migrate"]);
    support::register(&env, "orders", &["--start-event", "api_made"]);
    fixture.api.insert(&webhook("orders", json!({})));

    reconcile(&fixture, "orders").await.unwrap();

    let stored = fixture.webhook("orders").unwrap();
    let (status, reason, message) = condition(&stored, "Ready");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "IdConflict"));
    assert!(message.contains("\"orders\""), "{message}");
    let record = fixture.store().record("orders").await.unwrap().unwrap();
    assert_eq!(record.registration.start_event.as_deref(), Some("api_made"));
    assert_eq!(record.managed_by, "cli");
}

#[tokio::test]
async fn two_resources_cannot_share_a_webhook_id() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    fixture
        .api
        .insert(&webhook("orders-copy", json!({"webhookId": "orders"})));
    reconcile(&fixture, "orders").await.unwrap();

    reconcile(&fixture, "orders-copy").await.unwrap();

    let (_, reason, message) = condition(&fixture.webhook("orders-copy").unwrap(), "Ready");
    assert_eq!(reason, "IdConflict");
    assert!(message.contains("payments/orders"), "{message}");
    assert!(
        fixture
            .store()
            .managed("orders")
            .await
            .unwrap()
            .unwrap()
            .is_owned_by("payments/orders")
    );
}

#[tokio::test]
async fn a_spec_the_gateway_cannot_serve_is_invalid_and_writes_no_row() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook(
        "orders",
        json!({"allowedSourceCidrs": ["10.0.0.0/33"], "limits": {"ratePerSecond": -1}}),
    ));

    let action = reconcile(&fixture, "orders").await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let (status, reason, message) = condition(&fixture.webhook("orders").unwrap(), "Ready");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidSpec"));
    assert!(message.contains("10.0.0.0/33"), "{message}");
    assert!(fixture.store().managed("orders").await.unwrap().is_none());
}

#[tokio::test]
async fn a_failing_api_server_fails_the_reconcile_for_a_retry() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    fixture
        .api
        .fail_next(Method::PATCH, "/webhooks/orders/status", 500);

    let error = reconcile(&fixture, "orders").await.unwrap_err();

    assert!(matches!(error, Error::Kubernetes(_)), "{error:?}");
    assert!(error.is_transient());
    reconcile(&fixture, "orders").await.unwrap();
    assert_eq!(
        condition(&fixture.webhook("orders").unwrap(), "Ready").0,
        "True"
    );
}

#[tokio::test]
async fn the_finalizer_patch_refuses_a_stale_resource_version() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    let stale = fixture.webhook("orders").unwrap();
    fixture
        .api
        .modify::<Webhook>(NAMESPACE, "orders", |object| {
            object["metadata"]["labels"] = json!({"team": "payments"});
        });

    let result =
        webhook_controller::reconcile(std::sync::Arc::new(stale), fixture.context.clone()).await;

    assert!(matches!(result, Err(Error::Kubernetes(_))), "{result:?}");
    assert!(fixture.store().managed("orders").await.unwrap().is_none());
    let stored = fixture.webhook("orders").unwrap();
    assert_eq!(stored.metadata.labels.unwrap()["team"], "payments");
    assert!(stored.metadata.finalizers.is_none());
}

#[tokio::test]
async fn the_url_follows_the_gateways_public_address() {
    let fixture = Fixture::new().await;
    fixture.api.insert(&webhook("orders", json!({})));
    reconcile(&fixture, "orders").await.unwrap();

    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, "hooks", |object| {
            object["spec"]["publicUrl"] = json!("https://events.example.org/");
        });
    reconcile(&fixture, "orders").await.unwrap();
    let status = fixture.webhook("orders").unwrap().status.unwrap();
    assert_eq!(
        status.url.as_deref(),
        Some("https://events.example.org/webhooks/orders")
    );

    fixture
        .api
        .modify::<WebhookGateway>(NAMESPACE, "hooks", |object| {
            object["spec"].as_object_mut().unwrap().remove("publicUrl");
            object["spec"].as_object_mut().unwrap().remove("ingress");
        });
    reconcile(&fixture, "orders").await.unwrap();
    let stored = fixture.api.get::<Webhook>(NAMESPACE, "orders").unwrap();
    assert!(
        stored["status"].get("url").is_none(),
        "a URL without an address stays: {}",
        stored["status"]
    );
    assert_eq!(
        condition(&fixture.webhook("orders").unwrap(), "Ready").0,
        "True"
    );
}
