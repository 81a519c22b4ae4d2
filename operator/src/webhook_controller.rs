//! Reconciles a `Webhook` into its gateway's database: the registration row, its credential
//! (from the referenced Secret, or generated into one the resource owns), and a finalizer that
//! removes the row when the resource goes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use webhook_crds::{ConditionStatus, Conditions, Webhook, WebhookGateway, WebhookStatus};
use webhook_gateway::auth::credentials;

use crate::context::{Context, secret_key};
use crate::error::Error;
use crate::finalizer;
use crate::registration::{self, GENERATED_SECRET_KEY};
use crate::render::{self, FIELD_MANAGER};
use crate::sync::{Outcome, sync};

pub const KIND: &str = "Webhook";
/// Finalizer that keeps a `Webhook` until its registration is deleted.
pub const FINALIZER: &str = "webhooks.flowx.ai/registration";
/// A Ready webhook is looked at again this often, which also repairs a registration row
/// changed in the database behind the operator's back.
const RESYNC: Duration = Duration::from_secs(300);

/// What one reconcile did, for metrics and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub finalizer_written: bool,
    pub secret_generated: bool,
    pub database: Option<Outcome>,
    pub status_written: bool,
    pub deleted: bool,
}

impl Report {
    pub fn wrote(&self) -> bool {
        self.finalizer_written
            || self.secret_generated
            || self.status_written
            || self.deleted
            || matches!(self.database, Some(Outcome::Created | Outcome::Updated))
    }
}

/// The controller's reconcile function.
pub async fn reconcile(webhook: Arc<Webhook>, context: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let key = registration::owner(&webhook);
    let result = reconcile_webhook(&webhook, &context).await;
    match &result {
        Ok((report, ready)) => {
            context
                .metrics
                .reconciled(KIND, started.elapsed(), Ok(report.wrote()));
            let ready = (!report.deleted).then_some(*ready);
            context.metrics.set_ready(KIND, key, ready);
        }
        Err(error) => {
            context
                .metrics
                .reconciled(KIND, started.elapsed(), Err(error.reason()));
            tracing::warn!(webhook = %key, reason = error.reason(), "reconcile failed: {error}");
        }
    }
    result.map(|(report, ready)| match (report.deleted, ready) {
        (true, _) => Action::await_change(),
        (false, true) => Action::requeue(RESYNC),
        (false, false) => Action::requeue(Duration::from_secs(30)),
    })
}

/// One reconcile. Returns what it did and whether the webhook is Ready.
pub async fn reconcile_webhook(
    webhook: &Webhook,
    context: &Context,
) -> Result<(Report, bool), Error> {
    let namespace = webhook.namespace().unwrap_or_else(|| "default".to_owned());
    let webhooks: Api<Webhook> = Api::namespaced(context.client.clone(), &namespace);
    let mut report = Report::default();

    if webhook.meta().deletion_timestamp.is_some() {
        if finalizer::has(webhook, FINALIZER) {
            remove_registration(webhook, context, &namespace).await?;
            finalizer::set(&webhooks, webhook, FINALIZER, false).await?;
        }
        report.deleted = true;
        return Ok((report, false));
    }
    if !finalizer::has(webhook, FINALIZER) {
        finalizer::set(&webhooks, webhook, FINALIZER, true).await?;
        report.finalizer_written = true;
    }

    let result = register(webhook, context, &namespace, &mut report).await;
    let generation = webhook.metadata.generation;
    let now = Timestamp::now();
    let previous = webhook.status.clone().unwrap_or_default();
    let mut status = WebhookStatus {
        observed_generation: generation,
        webhook_id: Some(registration::webhook_id(webhook)),
        ..previous.clone()
    };
    let conditions = &mut status.conditions;
    let (ready, reason, message) = match &result {
        Ok(registered) => {
            status.url = registered.url.clone();
            status.credential_secret = registered.secret.clone();
            conditions.set_condition(
                "Registered",
                ConditionStatus::True,
                "Registered",
                "the registration is stored in the gateway database",
                generation,
                now,
            );
            let (reason, message) = match &registered.secret {
                Some(secret) => (
                    "CredentialStored",
                    format!("the credential from Secret {secret} is stored"),
                ),
                None => (
                    "NoCredential",
                    "the auth type takes no credential".to_owned(),
                ),
            };
            conditions.set_condition(
                "CredentialReady",
                ConditionStatus::True,
                reason,
                &message,
                generation,
                now,
            );
            (true, "Registered", "the webhook accepts calls".to_owned())
        }
        Err(error) => {
            let reason = error.reason();
            let message = error.to_string();
            // A URL that no registration of this resource serves is not shown; one that a
            // passing outage or a missing Secret only keeps from updating still is.
            if matches!(
                error,
                Error::GatewayNotFound(_) | Error::IdConflict(_) | Error::InvalidSpec(_)
            ) {
                status.url = None;
            }
            let credential_fault = matches!(error, Error::SecretMissing(_));
            if credential_fault {
                conditions.set_condition(
                    "CredentialReady",
                    ConditionStatus::False,
                    reason,
                    &message,
                    generation,
                    now,
                );
            }
            if !credential_fault || conditions.condition("Registered").is_none() {
                conditions.set_condition(
                    "Registered",
                    ConditionStatus::False,
                    reason,
                    &message,
                    generation,
                    now,
                );
            }
            (false, reason, message)
        }
    };
    conditions.set_condition(
        "Ready",
        ConditionStatus::from_bool(ready),
        reason,
        &message,
        generation,
        now,
    );

    if status != previous {
        webhooks
            .patch_status(
                &webhook.name_any(),
                &PatchParams::default(),
                &Patch::Merge(crate::status::patch(
                    &status,
                    &[
                        "conditions",
                        "observedGeneration",
                        "url",
                        "webhookId",
                        "credentialSecret",
                    ],
                )),
            )
            .await?;
        report.status_written = true;
        if previous.conditions.is_ready() != ready
            || previous
                .conditions
                .condition("Ready")
                .map(|c| c.reason.as_str())
                != Some(reason)
        {
            crate::events::publish(context, webhook, ready, reason, &message).await;
        }
    }
    match result {
        Err(error) if error.is_transient() => Err(error),
        _ => Ok((report, ready)),
    }
}

struct Registered {
    url: Option<String>,
    secret: Option<String>,
}

async fn gateway_of(
    webhook: &Webhook,
    context: &Context,
    namespace: &str,
) -> Result<Option<WebhookGateway>, Error> {
    let gateways: Api<WebhookGateway> = Api::namespaced(context.client.clone(), namespace);
    Ok(gateways.get_opt(&webhook.spec.gateway_ref.name).await?)
}

async fn register(
    webhook: &Webhook,
    context: &Context,
    namespace: &str,
    report: &mut Report,
) -> Result<Registered, Error> {
    let gateway = gateway_of(webhook, context, namespace)
        .await?
        .ok_or_else(|| {
            Error::GatewayNotFound(format!(
                "WebhookGateway {namespace}/{} does not exist",
                webhook.spec.gateway_ref.name
            ))
        })?;
    let new = registration::registration(webhook).map_err(Error::InvalidSpec)?;
    let database = context.database(&gateway).await?;
    let sealing = context.sealing(&gateway).await?;

    let (secret_name, secret) = if registration::needs_secret(&new.auth) {
        let (name, value) = match &webhook.spec.auth.secret_ref {
            Some(reference) => (
                reference.name.clone(),
                context.secret_value(namespace, reference).await?,
            ),
            None => {
                let (value, generated) =
                    generated_secret(webhook, context, namespace, &new.auth).await?;
                report.secret_generated = generated;
                (registration::generated_secret_name(webhook), value)
            }
        };
        (Some(name), Some(value))
    } else {
        (None, None)
    };
    let outcome = sync(
        &database,
        &sealing,
        &new,
        &registration::owner(webhook),
        secret.as_deref(),
    )
    .await?;
    report.database = Some(outcome);
    if outcome != Outcome::Unchanged {
        tracing::info!(webhook = %registration::owner(webhook), id = %new.id, "registration {}", outcome.as_str());
    }
    Ok(Registered {
        url: render::public_url(&gateway.spec).map(|base| format!("{base}/webhooks/{}", new.id)),
        secret: secret_name,
    })
}

/// The generated credential of `webhook`, created into its own Secret on first use.
async fn generated_secret(
    webhook: &Webhook,
    context: &Context,
    namespace: &str,
    auth: &webhook_gateway::auth::scheme::AuthScheme,
) -> Result<(String, bool), Error> {
    let name = registration::generated_secret_name(webhook);
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    if let Some(existing) = secrets.get_opt(&name).await?
        && let Some(value) = secret_key(&existing, GENERATED_SECRET_KEY)
    {
        return Ok((value, false));
    }
    let value = credentials::generate(auth);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    render::MANAGED_BY.to_owned(),
                ),
                ("webhooks.flowx.ai/webhook".to_owned(), webhook.name_any()),
            ])),
            owner_references: webhook.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            GENERATED_SECRET_KEY.to_owned(),
            ByteString(value.clone().into_bytes()),
        )])),
        ..Secret::default()
    };
    secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok((value, true))
}

async fn remove_registration(
    webhook: &Webhook,
    context: &Context,
    namespace: &str,
) -> Result<(), Error> {
    let owner = registration::owner(webhook);
    let Some(gateway) = gateway_of(webhook, context, namespace).await? else {
        tracing::warn!(webhook = %owner, "the WebhookGateway is gone; its database cannot be reached to delete the registration");
        crate::events::publish(context, webhook, false, "GatewayNotFound", "the WebhookGateway is gone, so the registration could not be deleted from its database").await;
        return Ok(());
    };
    let database = match context.database(&gateway).await {
        Ok(database) => database,
        Err(Error::SecretMissing(missing)) => match context.known_database(&gateway).await {
            Some(database) => {
                tracing::info!(webhook = %owner, "{missing}; removing the registration over the last connection to the database");
                database
            }
            None => return Err(Error::SecretMissing(missing)),
        },
        Err(error) => return Err(error),
    };
    let id = registration::webhook_id(webhook);
    let deleted = database
        .delete_managed(&id, &owner)
        .await
        .map_err(crate::sync::database_error)?;
    tracing::info!(webhook = %owner, id = %id, deleted, "registration removed");
    Ok(())
}
