//! One namespace of a fake cluster holding a `WebhookGateway` whose database is a real, empty
//! PostgreSQL database of its own, and the operator's context pointed at both.

use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};
use webhook_crds::{Webhook, WebhookGateway};
use webhook_gateway::config::DatabaseConfig;
use webhook_gateway::store::Database;
use webhook_operator::context::{Context, database_config};
use webhook_operator::metrics::Metrics;
use webhook_operator::render::Defaults;

use crate::fake_api::FakeApi;
use crate::support::{TestDatabase, sealing_keys, stack_var};

pub const NAMESPACE: &str = "payments";
pub const GATEWAY: &str = "hooks";
pub const IMAGE: &str = "registry.example/webhook-gateway:test";

pub struct Fixture {
    pub api: FakeApi,
    pub context: Arc<Context>,
    pub database: TestDatabase,
}

/// A Secret with one key, as `kubectl create secret generic` makes it.
pub fn secret(name: &str, key: &str, value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some([(key.to_owned(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Secret::default()
    }
}

/// The gateway of the fixture, its database at `jdbc_url`.
pub fn gateway(jdbc_url: &str) -> WebhookGateway {
    serde_json::from_value(json!({
        "apiVersion": "webhooks.flowx.ai/v1alpha1",
        "kind": "WebhookGateway",
        "metadata": {"name": GATEWAY, "namespace": NAMESPACE},
        "spec": {
            "replicas": 2,
            "publicUrl": "https://hooks.example.com",
            "ingress": {"host": "hooks.example.com", "className": "nginx"},
            "database": {
                "url": jdbc_url,
                "username": stack_var("SPRING_DATASOURCE_USERNAME"),
                "passwordSecretRef": {"name": "gateway-db", "key": "password"},
            },
            "kafka": {"bootstrapServers": "kafka:9092"},
            "redis": {"host": "redis"},
            "sealing": {"keysSecretRef": {"name": "gateway-sealing", "key": "keys"}},
        },
    }))
    .expect("fixture gateway")
}

/// A Webhook of the fixture's gateway; `spec` is merged over an api-key webhook.
pub fn webhook(name: &str, spec: Value) -> Webhook {
    let mut value = json!({
        "apiVersion": "webhooks.flowx.ai/v1alpha1",
        "kind": "Webhook",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "gatewayRef": {"name": GATEWAY},
            "workspaceId": "ws-payments",
            "organizationId": "org-1",
            "target": {"startEvent": "payment_received"},
            "auth": {"type": "api-key"},
        },
    });
    json_merge(&mut value["spec"], &spec);
    serde_json::from_value(value).expect("fixture webhook")
}

fn json_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    json_merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn config(jdbc_url: &str) -> DatabaseConfig {
    database_config(
        jdbc_url,
        Some(&stack_var("SPRING_DATASOURCE_USERNAME")),
        &stack_var("SPRING_DATASOURCE_PASSWORD"),
    )
    .expect("test database settings")
}

impl Fixture {
    /// A fake cluster with the gateway, its database password and sealing keys in it.
    pub async fn new() -> Self {
        let database = TestDatabase::create().await;
        webhook_gateway::store::migrations::run(&config(&database.jdbc_url))
            .await
            .expect("migrations apply");
        let api = FakeApi::new();
        api.insert(&secret(
            "gateway-db",
            "password",
            &stack_var("SPRING_DATASOURCE_PASSWORD"),
        ));
        api.insert(&secret("gateway-sealing", "keys", sealing_keys()));
        api.insert(&gateway(&database.jdbc_url));
        let context = Arc::new(Context::new(
            api.client(),
            Defaults {
                image: IMAGE.to_owned(),
            },
            Arc::new(Metrics::new()),
            Reporter {
                controller: "webhook-operator".to_owned(),
                instance: Some("test".to_owned()),
            },
        ));
        Self {
            api,
            context,
            database,
        }
    }

    /// The stored gateway, as the controller's watch would deliver it.
    pub fn gateway(&self) -> WebhookGateway {
        let value = self
            .api
            .get::<WebhookGateway>(NAMESPACE, GATEWAY)
            .expect("gateway stored");
        serde_json::from_value(value).expect("stored gateway parses")
    }

    /// The stored webhook `name`, if it still exists.
    pub fn webhook(&self, name: &str) -> Option<Webhook> {
        self.api
            .get::<Webhook>(NAMESPACE, name)
            .map(|value| serde_json::from_value(value).expect("stored webhook parses"))
    }

    /// The gateway's database, as the gateway reads it.
    pub fn store(&self) -> Database {
        Database::new(&config(&self.database.jdbc_url)).unwrap()
    }

    /// Deletes the object at `path` through the API, as `kubectl delete --wait=false` would.
    pub async fn delete(&self, path: &str) {
        self.api
            .client()
            .request::<serde_json::Value>(http::Request::delete(path).body(Vec::new()).unwrap())
            .await
            .unwrap();
    }

    /// The method and path of every write since the last call, in order.
    pub fn take_writes(&self) -> Vec<String> {
        let writes = self
            .api
            .writes()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        self.api.clear_requests();
        writes
    }
}
