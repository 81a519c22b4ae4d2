//! Both controllers running as `webhook-operator run` runs them, fed by watches of the fake API
//! server, against a real PostgreSQL database.

use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;
use webhook_crds::{Conditions, Webhook, WebhookGateway};
use webhook_operator::{gateway_controller, run};

use crate::fixture::{self, Fixture, GATEWAY, NAMESPACE, webhook};
use crate::support::eventually;

/// Starts the controllers on the fixture's fake cluster; they stop when the test ends.
fn start(fixture: &Fixture) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run::controllers(
        fixture.api.client(),
        fixture.context.clone(),
        Some(NAMESPACE.to_owned()),
        futures::future::pending().boxed().shared(),
    ))
}

fn is_ready(webhook: Option<Webhook>) -> bool {
    webhook
        .and_then(|w| w.status)
        .is_some_and(|s| s.conditions.is_ready())
}

/// Whether the webhook `name` becomes Ready within `seconds`.
async fn becomes_ready(fixture: &Fixture, name: &str, seconds: u64) -> bool {
    eventually(Duration::from_secs(seconds), || async {
        is_ready(fixture.webhook(name))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_registered_and_unregistered_through_the_watches() {
    let fixture = Fixture::new().await;
    let controllers = start(&fixture);
    fixture.api.insert(&webhook("orders", json!({})));

    let ready = becomes_ready(&fixture, "orders", 20).await;
    assert!(
        ready,
        "not Ready: {:?}",
        fixture.webhook("orders").and_then(|w| w.status)
    );
    assert!(fixture.store().managed("orders").await.unwrap().is_some());
    let children = eventually(Duration::from_secs(10), || async {
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).is_some()
    })
    .await;
    assert!(children, "the gateway's Deployment was not applied");

    fixture
        .delete("/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhooks/orders")
        .await;
    let gone = eventually(Duration::from_secs(20), || async {
        fixture.webhook("orders").is_none()
    })
    .await;
    assert!(gone, "the finalizer was not released");
    assert!(fixture.store().managed("orders").await.unwrap().is_none());
    controllers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_waiting_for_its_gateway_registers_as_soon_as_the_gateway_appears() {
    let fixture = Fixture::new().await;
    let controllers = start(&fixture);
    fixture
        .api
        .insert(&webhook("orders", json!({"gatewayRef": {"name": "late"}})));
    let waiting = eventually(Duration::from_secs(20), || async {
        fixture
            .webhook("orders")
            .and_then(|w| w.status)
            .and_then(|s| s.conditions.condition("Ready").map(|c| c.reason.clone()))
            .as_deref()
            == Some("GatewayNotFound")
    })
    .await;
    assert!(waiting);

    let mut late: WebhookGateway = fixture::gateway(&fixture.database.jdbc_url);
    late.metadata.name = Some("late".to_owned());
    fixture.api.insert(&late);

    // Well before the 30 s retry of a webhook that is not Ready: the gateway's watch triggers it.
    let ready = becomes_ready(&fixture, "orders", 10).await;
    assert!(
        ready,
        "{:?}",
        fixture.webhook("orders").and_then(|w| w.status)
    );
    controllers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_child_is_recreated() {
    let fixture = Fixture::new().await;
    let controllers = start(&fixture);
    let applied = eventually(Duration::from_secs(20), || async {
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).is_some()
    })
    .await;
    assert!(applied);
    let first_uid =
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap()["metadata"]["uid"].clone();

    fixture
        .delete("/apis/apps/v1/namespaces/payments/deployments/hooks")
        .await;

    let recreated = eventually(Duration::from_secs(10), || async {
        fixture
            .api
            .get::<Deployment>(NAMESPACE, GATEWAY)
            .is_some_and(|d| d["metadata"]["uid"] != first_uid)
    })
    .await;
    assert!(recreated, "the Deployment was not applied again");
    controllers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_registered_at_once() {
    let fixture = Fixture::new().await;
    let controllers = start(&fixture);
    fixture.api.insert(&fixture::secret(
        "orders-key",
        "key",
        "whk_before-rotation-000000",
    ));
    fixture.api.insert(&webhook(
        "orders",
        json!({"auth": {"secretRef": {"name": "orders-key", "key": "key"}}}),
    ));
    let ready = becomes_ready(&fixture, "orders", 20).await;
    assert!(ready);
    // The gateway's first status write triggers its webhooks too; let it pass, so that only the
    // Secret's change can trigger the next reconcile.
    let gateway_settled = eventually(Duration::from_secs(10), || async {
        fixture.gateway().status.is_some()
    })
    .await;
    assert!(gateway_settled);
    tokio::time::sleep(Duration::from_millis(500)).await;

    fixture.api.insert(&fixture::secret(
        "orders-key",
        "key",
        "whk_after-rotation-111111",
    ));

    let expected = webhook_gateway::auth::api_key::hash("whk_after-rotation-111111").to_vec();
    let rotated = eventually(Duration::from_secs(10), || async {
        let row = fixture.store().managed("orders").await.unwrap().unwrap();
        row.credentials.len() == 1 && row.credentials[0].secret_hash.as_ref() == Some(&expected)
    })
    .await;
    assert!(rotated, "the new key was not registered");
    controllers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_secret_that_appears_is_used_at_once_by_its_webhooks_and_pods() {
    let fixture = Fixture::new().await;
    fixture
        .delete("/api/v1/namespaces/payments/secrets/gateway-sealing")
        .await;
    fixture
        .api
        .insert(&fixture::secret("github-secret", "secret", "s3cret"));
    let controllers = start(&fixture);
    fixture.api.insert(&webhook(
        "github",
        json!({"auth": {"type": "github", "secretRef": {"name": "github-secret", "key": "secret"}}}),
    ));
    let reason = || {
        fixture
            .webhook("github")
            .and_then(|w| w.status)
            .and_then(|s| s.conditions.condition("Ready").map(|c| c.reason.clone()))
    };
    let waiting = eventually(Duration::from_secs(20), || async {
        reason().as_deref() == Some("SecretMissing")
    })
    .await;
    assert!(waiting, "{:?}", reason());
    let marked = eventually(Duration::from_secs(10), || async {
        fixture
            .api
            .get::<Deployment>(NAMESPACE, GATEWAY)
            .is_some_and(|d| {
                d["spec"]["template"]["metadata"]["annotations"]
                    [webhook_operator::render::SECRET_VERSIONS]
                    .is_string()
            })
    })
    .await;
    assert!(marked, "the gateway's pod template is not marked");
    let before =
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap()["spec"]["template"].clone();
    // Let the gateway's own status writes, which trigger its webhooks too, pass first.
    tokio::time::sleep(Duration::from_millis(500)).await;

    fixture.api.insert(&fixture::secret(
        "gateway-sealing",
        "keys",
        crate::support::sealing_keys(),
    ));

    // Well before the webhook's own retry: the Secret's watch triggers it.
    let ready = becomes_ready(&fixture, "github", 8).await;
    assert!(ready, "{:?}", reason());
    assert!(fixture.store().managed("github").await.unwrap().is_some());
    let rolled = eventually(Duration::from_secs(8), || async {
        fixture.api.get::<Deployment>(NAMESPACE, GATEWAY).unwrap()["spec"]["template"] != before
    })
    .await;
    assert!(
        rolled,
        "the gateway's pods were not rolled for the new Secret"
    );
    controllers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_and_its_webhook_deleted_together_leave_no_registration() {
    let fixture = Fixture::new().await;
    let controllers = start(&fixture);
    fixture.api.insert(&webhook("orders", json!({})));
    let ready = becomes_ready(&fixture, "orders", 20).await;
    assert!(ready);
    let guarded = eventually(Duration::from_secs(10), || async {
        fixture
            .gateway()
            .metadata
            .finalizers
            .is_some_and(|f| f.iter().any(|f| f == gateway_controller::FINALIZER))
    })
    .await;
    assert!(guarded, "the gateway has no finalizer");

    // As a GitOps tool pruning an application: everything at once, the gateway first and its
    // database password with it.
    fixture
        .delete("/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhookgateways/hooks")
        .await;
    fixture
        .delete("/api/v1/namespaces/payments/secrets/gateway-db")
        .await;
    fixture
        .delete("/apis/webhooks.flowx.ai/v1alpha1/namespaces/payments/webhooks/orders")
        .await;

    let gone = eventually(Duration::from_secs(20), || async {
        fixture.webhook("orders").is_none()
            && fixture
                .api
                .get::<WebhookGateway>(NAMESPACE, GATEWAY)
                .is_none()
    })
    .await;
    assert!(
        gone,
        "webhook {:?}, gateway {:?}",
        fixture.webhook("orders").map(|w| w.metadata),
        fixture.api.get::<WebhookGateway>(NAMESPACE, GATEWAY)
    );
    assert!(
        fixture.store().managed("orders").await.unwrap().is_none(),
        "the registration outlived its resources"
    );
    controllers.abort();
}
