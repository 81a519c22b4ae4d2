//! The controller process: both controllers, the health and metrics listener, and leader
//! election when several replicas run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio::signal::unix::{SignalKind, signal};
use webhook_crds::{Webhook, WebhookGateway};

use crate::context::Context;
use crate::metrics::Metrics;
use crate::render::{self, Defaults};
use crate::{gateway_controller, leader, webhook_controller};

/// Settings of `webhook-operator run`, from its environment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub metrics_address: String,
    pub gateway_image: String,
    pub leader_election: bool,
    pub lease_name: String,
    /// Empty for every namespace.
    pub watch_namespace: Option<String>,
    pub pod_name: String,
    pub pod_namespace: String,
}

impl Settings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let leader_election = match get("WEBHOOK_OPERATOR_LEADER_ELECTION").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "WEBHOOK_OPERATOR_LEADER_ELECTION: expected true or false, not {other:?}"
                ));
            }
        };
        let pod_namespace = get("POD_NAMESPACE").unwrap_or_else(|| "default".to_owned());
        let pod_name = get("POD_NAME").unwrap_or_else(|| "webhook-operator".to_owned());
        if leader_election && get("POD_NAME").is_none() {
            return Err("POD_NAME must be set when leader election is on".to_owned());
        }
        Ok(Self {
            metrics_address: get("WEBHOOK_OPERATOR_METRICS_ADDRESS")
                .unwrap_or_else(|| "0.0.0.0:8080".to_owned()),
            gateway_image: get("WEBHOOK_OPERATOR_GATEWAY_IMAGE")
                .unwrap_or_else(|| "ghcr.io/flowx-oss/webhook-gateway:0.1.0".to_owned()),
            leader_election,
            lease_name: get("WEBHOOK_OPERATOR_LEASE_NAME")
                .unwrap_or_else(|| "webhook-operator".to_owned()),
            watch_namespace: get("WEBHOOK_OPERATOR_WATCH_NAMESPACE"),
            pod_name,
            pod_namespace,
        })
    }
}

fn api<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Runs until a shutdown signal, or until this replica loses its lease.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let server = crate::http::serve(&settings.metrics_address, metrics.clone(), ready.clone())?;
    let server_handle = server.handle();
    let server_task = tokio::spawn(server);

    if settings.leader_election {
        tracing::info!(lease = %settings.lease_name, identity = %settings.pod_name, "waiting for the lease");
        ready.store(true, Ordering::Relaxed);
    }
    let lease = if settings.leader_election {
        Some(
            leader::acquire(
                client.clone(),
                &settings.pod_namespace,
                &settings.lease_name,
                &settings.pod_name,
            )
            .await?,
        )
    } else {
        None
    };
    metrics.leader.set(1);

    let context = Arc::new(Context::new(
        client.clone(),
        Defaults {
            image: settings.gateway_image.clone(),
        },
        metrics.clone(),
        Reporter {
            controller: "webhook-operator".to_owned(),
            instance: Some(settings.pod_name.clone()),
        },
    ));
    let namespace = settings.watch_namespace.clone();
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        namespace = namespace.as_deref().unwrap_or("<all>"),
        "controllers started"
    );
    let controllers = controllers(
        client,
        context,
        namespace,
        shutdown_signal().boxed().shared(),
    );
    match lease {
        Some(lease) => {
            tokio::select! {
                _ = controllers => {}
                lost = lease.lost() => {
                    metrics.leader.set(0);
                    anyhow::bail!("lost the lease: {lost}");
                }
            }
        }
        None => {
            controllers.await;
        }
    }
    metrics.leader.set(0);
    server_handle.stop(true).await;
    let _ = server_task.await;
    Ok(())
}

/// Whether `webhook` takes its credential from the Secret `name` of its namespace, named or
/// generated.
fn uses_secret(webhook: &Webhook, name: &str) -> bool {
    let named = webhook
        .spec
        .auth
        .secret_ref
        .as_ref()
        .map(|r| r.name.as_str());
    named == Some(name)
        || (named.is_none() && crate::registration::generated_secret_name(webhook) == name)
}

/// The objects of `store` in `namespace` that `wanted` picks, as references to reconcile.
fn picked<K>(
    store: &Store<K>,
    namespace: &Option<String>,
    wanted: impl Fn(&K) -> bool,
) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|object| &object.namespace() == namespace && wanted(object))
        .map(|object| ObjectRef::from_obj(&*object))
        .collect()
}

/// Whether the webhooks of `gateway` read the Secret `name`: the registration database's
/// password or the sealing keys.
fn gateway_uses_secret(gateway: &WebhookGateway, name: &str) -> bool {
    gateway.spec.database.password_secret_ref.name == name
        || gateway
            .spec
            .sealing
            .as_ref()
            .is_some_and(|s| s.keys_secret_ref.name == name)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::warn!("cannot listen for SIGTERM: {error}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down: finishing the reconciles in progress");
}

/// Both controllers, in `namespace` or across all, until `shutdown` resolves and the reconciles
/// in progress finish.
pub async fn controllers(
    client: Client,
    context: Arc<Context>,
    namespace: Option<String>,
    shutdown: Shared<BoxFuture<'static, ()>>,
) {
    let children = watcher::Config::default().labels(&format!(
        "app.kubernetes.io/managed-by={}",
        render::MANAGED_BY
    ));
    let gateway_reconciler = Controller::new(
        api::<WebhookGateway>(&client, &namespace),
        watcher::Config::default(),
    );
    let gateway_store = gateway_reconciler.store();
    let gateway_secrets = gateway_store.clone();
    let deleting_gateways = gateway_store.clone();
    let gateways = gateway_reconciler
        .owns(api::<Deployment>(&client, &namespace), children.clone())
        .owns(api::<Service>(&client, &namespace), children.clone())
        .owns(
            api::<PodDisruptionBudget>(&client, &namespace),
            children.clone(),
        )
        .owns(
            api::<HorizontalPodAutoscaler>(&client, &namespace),
            children.clone(),
        )
        .owns(api::<Ingress>(&client, &namespace), children.clone())
        .owns(api::<NetworkPolicy>(&client, &namespace), children)
        // A Secret the gateway's environment takes a value from: its pods are rolled to read it.
        .watches(
            api::<PartialObjectMeta<Secret>>(&client, &namespace),
            watcher::Config::default(),
            move |secret| {
                let name = secret.name_any();
                picked(&gateway_secrets, &secret.namespace(), |g| {
                    render::referenced_secrets(&g.spec).contains(&name)
                })
            },
        )
        // A webhook that changes, or goes, lets a gateway being deleted finish at once.
        .watches(
            api::<Webhook>(&client, &namespace),
            watcher::Config::default(),
            move |webhook| {
                let name = webhook.spec.gateway_ref.name.clone();
                picked(&deleting_gateways, &webhook.namespace(), |g| {
                    g.name_any() == name && g.metadata.deletion_timestamp.is_some()
                })
            },
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(
            gateway_controller::reconcile,
            crate::error::retry_later,
            context.clone(),
        )
        .for_each(|_| futures::future::ready(()));

    let webhook_controller = Controller::new(
        api::<Webhook>(&client, &namespace),
        watcher::Config::default(),
    );
    let store = webhook_controller.store();
    let secret_users = store.clone();
    // Every change of a gateway, status included, looks at its webhooks again: a gateway whose
    // database became reachable again lets them register without waiting for their retry.
    let webhooks = webhook_controller
        .watches(
            api::<WebhookGateway>(&client, &namespace),
            watcher::Config::default(),
            move |gateway| {
                let name = gateway.name_any();
                picked(&store, &gateway.namespace(), |w| {
                    w.spec.gateway_ref.name == name
                })
            },
        )
        // A Secret a webhook takes its credential from, or its gateway its database password or
        // sealing keys from: the new value is used at once. Only metadata is watched, so no
        // Secret's data is held or streamed.
        .watches(
            api::<PartialObjectMeta<Secret>>(&client, &namespace),
            watcher::Config::default(),
            move |secret| {
                let namespace = secret.namespace();
                let name = secret.name_any();
                let gateways = picked(&gateway_store, &namespace, |g| {
                    gateway_uses_secret(g, &name)
                });
                picked(&secret_users, &namespace, |w| {
                    uses_secret(w, &name)
                        || gateways.iter().any(|g| g.name == w.spec.gateway_ref.name)
                })
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(
            webhook_controller::reconcile,
            crate::error::retry_later,
            context,
        )
        .for_each(|_| futures::future::ready(()));
    futures::future::join(gateways, webhooks).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_without_any_variable() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.metrics_address, "0.0.0.0:8080");
        assert!(!settings.leader_election);
        assert_eq!(settings.watch_namespace, None);
        assert_eq!(settings.lease_name, "webhook-operator");
    }

    #[test]
    fn leader_election_needs_a_pod_name_and_a_boolean() {
        let error = settings(&[("WEBHOOK_OPERATOR_LEADER_ELECTION", "yes")]).unwrap_err();
        assert!(
            error.starts_with("WEBHOOK_OPERATOR_LEADER_ELECTION"),
            "{error}"
        );
        let error = settings(&[("WEBHOOK_OPERATOR_LEADER_ELECTION", "true")]).unwrap_err();
        assert!(error.contains("POD_NAME"), "{error}");
        let on = settings(&[
            ("WEBHOOK_OPERATOR_LEADER_ELECTION", "true"),
            ("POD_NAME", "op-1"),
            ("POD_NAMESPACE", "webhook-system"),
            ("WEBHOOK_OPERATOR_WATCH_NAMESPACE", "flowx"),
        ])
        .unwrap();
        assert!(on.leader_election);
        assert_eq!(on.pod_name, "op-1");
        assert_eq!(on.watch_namespace.as_deref(), Some("flowx"));
    }
}
