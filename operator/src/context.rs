//! What both controllers share: the API client, the operator's defaults, the metrics, and one
//! connection pool per gateway database.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use webhook_crds::{SecretKeyRef, WebhookGateway};
use webhook_gateway::config::DatabaseConfig;
use webhook_gateway::store::sealing::SealingKeys;
use webhook_gateway::store::{Database, migrations};

use crate::error::Error;
use crate::metrics::Metrics;
use crate::render::Defaults;

/// Shared state of the controllers.
pub struct Context {
    pub client: Client,
    pub defaults: Defaults,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    databases: Mutex<HashMap<String, (String, Database)>>,
}

impl Context {
    pub fn new(
        client: Client,
        defaults: Defaults,
        metrics: Arc<Metrics>,
        reporter: Reporter,
    ) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            defaults,
            metrics,
            databases: Mutex::default(),
        }
    }

    /// The value of `reference` in `namespace`.
    pub async fn secret_value(
        &self,
        namespace: &str,
        reference: &SecretKeyRef,
    ) -> Result<String, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets.get_opt(&reference.name).await?.ok_or_else(|| {
            Error::SecretMissing(format!(
                "Secret {}/{} does not exist",
                namespace, reference.name
            ))
        })?;
        secret_key(&secret, &reference.key).ok_or_else(|| {
            Error::SecretMissing(format!(
                "Secret {}/{} has no key {:?}",
                namespace, reference.name, reference.key
            ))
        })
    }

    /// The database of `gateway`, connected and migrated the first time it is asked for and
    /// again whenever its address or credentials change.
    pub async fn database(&self, gateway: &WebhookGateway) -> Result<Database, Error> {
        let namespace = gateway.namespace().unwrap_or_else(|| "default".to_owned());
        let settings = &gateway.spec.database;
        let password = self
            .secret_value(&namespace, &settings.password_secret_ref)
            .await?;
        let url = settings
            .operator_url
            .clone()
            .unwrap_or_else(|| settings.url.clone());
        let username = settings.username.clone();
        let fingerprint = hex::encode(Sha256::digest(
            format!(
                "{url}\n{}\n{password}",
                username.as_deref().unwrap_or_default()
            )
            .as_bytes(),
        ));
        let key = database_key(gateway);

        let mut databases = self.databases.lock().await;
        if let Some((known, database)) = databases.get(&key)
            && *known == fingerprint
        {
            return Ok(database.clone());
        }
        let config = database_config(&url, username.as_deref(), &password)?;
        migrations::run(&config)
            .await
            .map_err(|e| Error::DatabaseUnavailable(format!("database of {key}: {e}")))?;
        let database = Database::new(&config)
            .map_err(|e| Error::DatabaseUnavailable(format!("database of {key}: {e}")))?;
        databases.insert(key, (fingerprint, database.clone()));
        Ok(database)
    }

    /// The database `gateway` was last connected with, whatever its Secret holds now: lets a
    /// webhook's registration be removed after the password Secret was deleted with it.
    pub async fn known_database(&self, gateway: &WebhookGateway) -> Option<Database> {
        let databases = self.databases.lock().await;
        databases
            .get(&database_key(gateway))
            .map(|(_, database)| database.clone())
    }

    /// The sealing keys of `gateway`; empty when it names none.
    pub async fn sealing(&self, gateway: &WebhookGateway) -> Result<SealingKeys, Error> {
        let Some(sealing) = &gateway.spec.sealing else {
            return Ok(SealingKeys::parse("", None).expect("no keys parse"));
        };
        let namespace = gateway.namespace().unwrap_or_else(|| "default".to_owned());
        let keys = self
            .secret_value(&namespace, &sealing.keys_secret_ref)
            .await?;
        SealingKeys::parse(&keys, sealing.current_key_id.as_deref()).map_err(|e| {
            Error::InvalidSpec(format!(
                "sealing keys in Secret {}/{}: {e}",
                namespace, sealing.keys_secret_ref.name
            ))
        })
    }
}

/// Which of the cached database connections belongs to `gateway`.
fn database_key(gateway: &WebhookGateway) -> String {
    format!(
        "{}/{}",
        gateway.namespace().unwrap_or_else(|| "default".to_owned()),
        gateway.name_any()
    )
}

/// A key of a Secret as text, from `data` or `stringData`.
pub fn secret_key(secret: &Secret, key: &str) -> Option<String> {
    if let Some(bytes) = secret.data.as_ref().and_then(|data| data.get(key)) {
        return String::from_utf8(bytes.0.clone()).ok();
    }
    secret
        .string_data
        .as_ref()
        .and_then(|data| data.get(key))
        .cloned()
}

/// Database settings from a JDBC URL, read the way the gateway reads its environment.
pub fn database_config(
    url: &str,
    username: Option<&str>,
    password: &str,
) -> Result<DatabaseConfig, Error> {
    let lookup = |name: &str| match name {
        "SPRING_DATASOURCE_URL" => Some(url.to_owned()),
        "SPRING_DATASOURCE_USERNAME" => username.map(str::to_owned),
        "SPRING_DATASOURCE_PASSWORD" => Some(password.to_owned()),
        "WEBHOOK_GATEWAY_DB_POOL_SIZE" => Some("4".to_owned()),
        _ => None,
    };
    DatabaseConfig::from_lookup(&lookup).map_err(|e| Error::InvalidSpec(e.to_string()))
}
