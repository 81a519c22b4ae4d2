//! Reconciles a `WebhookGateway` into its Deployment, Service, Ingress, PodDisruptionBudget,
//! HorizontalPodAutoscaler and NetworkPolicies, and reports whether it runs and reaches its
//! database.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use webhook_crds::{ConditionStatus, Conditions, Webhook, WebhookGateway, WebhookGatewayStatus};

use crate::context::Context;
use crate::error::Error;
use crate::finalizer;
use crate::render::{self, Child, FIELD_MANAGER};

pub const KIND: &str = "WebhookGateway";
/// Finalizer that keeps a gateway, and with it the database its webhooks' registrations are
/// in, until no `Webhook` uses it.
pub const FINALIZER: &str = "webhooks.flowx.ai/webhooks";
/// Field manager that keeps a Deployment's `replicas` while the operator hands it to an
/// autoscaler.
pub const HANDOVER_MANAGER: &str = "webhook-operator-handover";

/// Every kind of child, listed on each reconcile to find what exists.
fn child_kinds() -> [ApiResource; 6] {
    [
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<PodDisruptionBudget>(&()),
        ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        ApiResource::erase::<Ingress>(&()),
        ApiResource::erase::<NetworkPolicy>(&()),
    ]
}

/// What one reconcile did, for metrics and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub finalizer_written: bool,
    pub applied: Vec<String>,
    pub deleted: Vec<String>,
    pub status_written: bool,
    /// The gateway is being deleted and these webhooks still use it.
    pub waiting_for: Vec<String>,
    /// The gateway is being deleted and nothing holds it any more.
    pub released: bool,
}

impl Report {
    pub fn wrote(&self) -> bool {
        self.finalizer_written
            || !self.applied.is_empty()
            || !self.deleted.is_empty()
            || self.status_written
            || self.released
    }
}

/// The controller's reconcile function.
pub async fn reconcile(
    gateway: Arc<WebhookGateway>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_gateway(&gateway, &context).await;
    let key = format!(
        "{}/{}",
        gateway.namespace().unwrap_or_default(),
        gateway.name_any()
    );
    match &result {
        Ok((report, ready)) => {
            context
                .metrics
                .reconciled(KIND, started.elapsed(), Ok(report.wrote()));
            let ready = (!report.released).then_some(*ready);
            context.metrics.set_ready(KIND, key, ready);
        }
        Err(error) => {
            context
                .metrics
                .reconciled(KIND, started.elapsed(), Err(error.reason()));
            tracing::warn!(gateway = %key, reason = error.reason(), "reconcile failed: {error}");
        }
    }
    result.map(|(report, ready)| {
        if report.released {
            Action::await_change()
        } else if !report.waiting_for.is_empty() {
            Action::requeue(Duration::from_secs(10))
        } else if ready {
            Action::requeue(Duration::from_secs(300))
        } else {
            Action::requeue(Duration::from_secs(30))
        }
    })
}

/// One reconcile: applies what changed, deletes what is no longer wanted, updates status.
/// Returns what it did and whether the gateway is Ready.
pub async fn reconcile_gateway(
    gateway: &WebhookGateway,
    context: &Context,
) -> Result<(Report, bool), Error> {
    let namespace = gateway.namespace().unwrap_or_else(|| "default".to_owned());
    let name = gateway.name_any();
    let uid = gateway.uid();
    let gateways: Api<WebhookGateway> = Api::namespaced(context.client.clone(), &namespace);
    if gateway.meta().deletion_timestamp.is_some() {
        return finish_deletion(gateway, context, &gateways, &namespace, &name).await;
    }
    let mut report = Report::default();
    if !finalizer::has(gateway, FINALIZER) {
        finalizer::set(&gateways, gateway, FINALIZER, true).await?;
        report.finalizer_written = true;
    }
    let versions = secret_versions(context, &namespace, gateway).await?;
    let desired = render::render_with_secrets(gateway, &context.defaults, &versions);

    let mut available_replicas = None;
    let mut live_replicas = None;
    let mut existing: BTreeMap<(String, String), (Value, bool)> = BTreeMap::new();
    let selector = ListParams::default().labels(&render::child_selector(&name));
    for resource in child_kinds() {
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.client.clone(), &namespace, &resource);
        for object in api.list(&selector).await? {
            let owned = object
                .owner_references()
                .iter()
                .any(|o| Some(&o.uid) == uid.as_ref());
            let object_name = object.name_any();
            if resource.kind == "Deployment" && object_name == name {
                available_replicas = object.data["status"]["availableReplicas"].as_i64();
                live_replicas = object.data["spec"]["replicas"].as_i64();
            }
            let value = serde_json::to_value(&object).map_err(kube::Error::SerdeError)?;
            existing.insert((resource.kind.clone(), object_name), (value, owned));
        }
    }

    for child in &desired {
        let key = (child.kind().to_owned(), child.name.clone());
        if existing
            .get(&key)
            .is_some_and(|(object, _)| render::contains(object, &child.object))
        {
            continue;
        }
        if child.kind() == "Deployment"
            && gateway.spec.autoscaling.is_some()
            && let Some(replicas) = live_replicas
        {
            hand_over_replicas(context, &namespace, child, replicas).await?;
        }
        apply(context, &namespace, child).await?;
        report
            .applied
            .push(format!("{}/{}", child.kind(), child.name));
    }
    for ((kind, object_name), (_, owned)) in &existing {
        let wanted = desired
            .iter()
            .any(|c| c.kind() == kind && &c.name == object_name);
        if wanted || !owned {
            continue;
        }
        let resource = child_kinds()
            .into_iter()
            .find(|r| &r.kind == kind)
            .expect("listed kind");
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.client.clone(), &namespace, &resource);
        api.delete(object_name, &DeleteParams::background()).await?;
        report.deleted.push(format!("{kind}/{object_name}"));
    }

    let database = match context.database(gateway).await {
        Ok(database) => database.ping().await.map_err(crate::sync::database_error),
        Err(error) => Err(error),
    };
    let replicas = match &gateway.spec.autoscaling {
        Some(autoscaling) => live_replicas
            .map(|n| n as i32)
            .unwrap_or(autoscaling.min_replicas.unwrap_or(render::DEFAULT_REPLICAS)),
        None => gateway.spec.replicas.unwrap_or(render::DEFAULT_REPLICAS),
    };
    let available = available_replicas.unwrap_or(0);
    let generation = gateway.metadata.generation;
    let now = Timestamp::now();
    let previous = gateway.status.clone().unwrap_or_default();
    let mut status = WebhookGatewayStatus {
        observed_generation: generation,
        available_replicas: Some(available as i32),
        public_url: render::public_url(&gateway.spec),
        ..previous.clone()
    };
    let conditions = &mut status.conditions;
    conditions.set_condition(
        "Reconciled",
        ConditionStatus::True,
        "Applied",
        "every child object is applied",
        generation,
        now,
    );
    let (available_status, available_reason, available_message) = if replicas == 0 {
        (
            ConditionStatus::False,
            "ScaledToZero",
            "spec.replicas is 0".to_owned(),
        )
    } else if available > 0 {
        (
            ConditionStatus::True,
            "MinimumReplicasAvailable",
            format!("{available} of {replicas} gateway pods available"),
        )
    } else {
        (
            ConditionStatus::False,
            "ReplicasUnavailable",
            format!("0 of {replicas} gateway pods available"),
        )
    };
    conditions.set_condition(
        "Available",
        available_status,
        available_reason,
        &available_message,
        generation,
        now,
    );
    match &database {
        Ok(()) => conditions.set_condition(
            "DatabaseReachable",
            ConditionStatus::True,
            "Connected",
            "the registration database is reachable and migrated",
            generation,
            now,
        ),
        Err(error) => conditions.set_condition(
            "DatabaseReachable",
            ConditionStatus::False,
            error.reason(),
            &error.to_string(),
            generation,
            now,
        ),
    }
    let ready = available_status == ConditionStatus::True && database.is_ok();
    let (reason, message) = match (&database, ready) {
        (_, true) => (
            "Ready",
            "the gateway is serving and its database is reachable".to_owned(),
        ),
        (Err(error), _) => (error.reason(), error.to_string()),
        (Ok(()), false) => (available_reason, available_message.clone()),
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
        write_status(&gateways, gateway, &status).await?;
        report.status_written = true;
        if previous.conditions.is_ready() != ready {
            crate::events::publish(context, gateway, ready, reason, &message).await;
        }
    }
    if let Err(error) = database
        && !matches!(
            error,
            Error::DatabaseUnavailable(_) | Error::SecretMissing(_) | Error::InvalidSpec(_)
        )
    {
        return Err(error);
    }
    Ok((report, ready))
}

async fn write_status(
    gateways: &Api<WebhookGateway>,
    gateway: &WebhookGateway,
    status: &WebhookGatewayStatus,
) -> Result<(), Error> {
    gateways
        .patch_status(
            &gateway.name_any(),
            &PatchParams::default(),
            &Patch::Merge(crate::status::patch(
                status,
                &[
                    "conditions",
                    "observedGeneration",
                    "availableReplicas",
                    "publicUrl",
                ],
            )),
        )
        .await?;
    Ok(())
}

/// A gateway being deleted keeps its finalizer while any `Webhook` still uses it, so that
/// their finalizers can reach its database and remove their registrations; Ready says what it
/// waits for. Its children go with it, by their owner references.
async fn finish_deletion(
    gateway: &WebhookGateway,
    context: &Context,
    gateways: &Api<WebhookGateway>,
    namespace: &str,
    name: &str,
) -> Result<(Report, bool), Error> {
    let mut report = Report::default();
    if !finalizer::has(gateway, FINALIZER) {
        report.released = true;
        return Ok((report, false));
    }
    let webhooks: Api<Webhook> = Api::namespaced(context.client.clone(), namespace);
    let users: Vec<String> = webhooks
        .list(&ListParams::default())
        .await?
        .into_iter()
        .filter(|w| w.spec.gateway_ref.name == name)
        .map(|w| w.name_any())
        .collect();
    if users.is_empty() {
        finalizer::set(gateways, gateway, FINALIZER, false).await?;
        report.released = true;
        return Ok((report, false));
    }
    let shown = users.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = users.len().saturating_sub(5);
    let message = format!(
        "deletion waits for the {} Webhook(s) using this gateway to be deleted: {shown}{}",
        users.len(),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    let previous = gateway.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    status.conditions.set_condition(
        "Ready",
        ConditionStatus::False,
        "WebhooksRemaining",
        &message,
        gateway.metadata.generation,
        Timestamp::now(),
    );
    if status != previous {
        write_status(gateways, gateway, &status).await?;
        report.status_written = true;
    }
    report.waiting_for = users;
    Ok((report, false))
}

/// The current version of every Secret the gateway references, read as metadata only.
async fn secret_versions(
    context: &Context,
    namespace: &str,
    gateway: &WebhookGateway,
) -> Result<render::SecretVersions, Error> {
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    let mut versions = render::SecretVersions::new();
    for name in render::referenced_secrets(&gateway.spec) {
        let version = secrets
            .get_metadata_opt(&name)
            .await?
            .and_then(|secret| secret.metadata.resource_version);
        versions.insert(name, version);
    }
    Ok(versions)
}

/// Before the operator applies a Deployment without `replicas`, another field manager applies
/// the live count, so that giving the field up does not reset it to one pod until the
/// autoscaler acts. The autoscaler takes the field over when it first scales.
async fn hand_over_replicas(
    context: &Context,
    namespace: &str,
    child: &Child,
    replicas: i64,
) -> Result<(), Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(context.client.clone(), namespace, &child.resource);
    let object = serde_json::json!({
        "apiVersion": child.object["apiVersion"],
        "kind": child.object["kind"],
        "metadata": {"name": child.name, "namespace": namespace},
        "spec": {"replicas": replicas},
    });
    api.patch(
        &child.name,
        &PatchParams::apply(HANDOVER_MANAGER),
        &Patch::Apply(&object),
    )
    .await?;
    Ok(())
}

async fn apply(context: &Context, namespace: &str, child: &Child) -> Result<(), Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(context.client.clone(), namespace, &child.resource);
    api.patch(
        &child.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&child.object),
    )
    .await?;
    Ok(())
}
