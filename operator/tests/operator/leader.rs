//! Leader election on a Lease of the fake API server.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use serde_json::json;
use webhook_operator::leader::{is_free, try_acquire};

use crate::fake_api::FakeApi;

const NAMESPACE: &str = "webhook-system";

fn lease(api: &FakeApi) -> Lease {
    serde_json::from_value(api.get::<Lease>(NAMESPACE, "webhook-operator").unwrap()).unwrap()
}

#[tokio::test]
async fn one_replica_holds_the_lease_until_it_expires() {
    let fake = FakeApi::new();
    let api: Api<Lease> = Api::namespaced(fake.client(), NAMESPACE);

    assert!(
        try_acquire(&api, "webhook-operator", "pod-a")
            .await
            .unwrap()
    );
    assert!(
        !try_acquire(&api, "webhook-operator", "pod-b")
            .await
            .unwrap()
    );
    assert!(
        try_acquire(&api, "webhook-operator", "pod-a")
            .await
            .unwrap(),
        "renewal"
    );
    let held = lease(&fake);
    let spec = held.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("pod-a"));
    assert_eq!(spec.lease_transitions, Some(0));

    fake.modify::<Lease>(NAMESPACE, "webhook-operator", |object| {
        object["spec"]["renewTime"] = json!("2026-01-01T00:00:00.000000Z");
    });
    assert!(
        try_acquire(&api, "webhook-operator", "pod-b")
            .await
            .unwrap(),
        "expired lease taken"
    );
    let taken = lease(&fake).spec.unwrap();
    assert_eq!(taken.holder_identity.as_deref(), Some("pod-b"));
    assert_eq!(taken.lease_transitions, Some(1));
    assert_ne!(taken.acquire_time, spec.acquire_time);
}

#[test]
fn a_lease_is_free_when_unheld_ours_or_expired() {
    let now = Timestamp::now();
    let lease = |holder: &str, renewed_ago: i64| -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "l"},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": 15,
                "renewTime": (now - SignedDuration::from_secs(renewed_ago)).to_string(),
            },
        }))
        .unwrap()
    };
    assert!(is_free(&lease("", 0), "me", now));
    assert!(is_free(&lease("me", 0), "me", now));
    assert!(!is_free(&lease("other", 5), "me", now));
    assert!(is_free(&lease("other", 16), "me", now));
}
