//! Leader election on a `coordination.k8s.io/v1` Lease, so only one of several replicas
//! reconciles. A replica that cannot renew its lease in time stops, and its Deployment
//! restarts it as a candidate.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::oneshot;

const LEASE_SECONDS: i32 = 15;
const RENEW_EVERY: Duration = Duration::from_secs(5);
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// A lease this replica holds; renewed in the background.
pub struct Held {
    lost: oneshot::Receiver<String>,
}

impl Held {
    /// Resolves when the lease is lost, with the reason.
    pub async fn lost(self) -> String {
        self.lost
            .await
            .unwrap_or_else(|_| "renewal stopped".to_owned())
    }
}

/// Whether `lease` is free for `identity` at `now`: unheld, held by it, or expired.
pub fn is_free(lease: &Lease, identity: &str, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder.is_empty() || holder == identity {
        return true;
    }
    let duration =
        SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS).into());
    match spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) {
        Some(renewed) => renewed.0 + duration < now,
        None => true,
    }
}

fn spec(identity: &str, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(LEASE_SECONDS),
        acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// Waits until this replica holds the lease `name`, then keeps renewing it.
pub async fn acquire(
    client: Client,
    namespace: &str,
    name: &str,
    identity: &str,
) -> anyhow::Result<Held> {
    let api: Api<Lease> = Api::namespaced(client, namespace);
    loop {
        match try_acquire(&api, name, identity).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => tracing::warn!(lease = name, "could not take the lease: {error}"),
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
    tracing::info!(lease = name, identity, "holding the lease");
    let (tell, lost) = oneshot::channel();
    let (name, identity) = (name.to_owned(), identity.to_owned());
    tokio::spawn(async move {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match try_acquire(&api, &name, &identity).await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    let _ = tell.send("another replica took it".to_owned());
                    return;
                }
                Err(error) => {
                    tracing::warn!(lease = %name, "could not renew the lease: {error}");
                    if last_renewal.elapsed()
                        > Duration::from_secs(LEASE_SECONDS as u64) - RENEW_EVERY
                    {
                        let _ = tell.send(format!("not renewed in time: {error}"));
                        return;
                    }
                }
            }
        }
    });
    Ok(Held { lost })
}

/// Takes or renews the lease if it is free; `false` when another replica holds it.
pub async fn try_acquire(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
) -> Result<bool, kube::Error> {
    match api.get_opt(name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec(identity, None, 0)),
            };
            api.create(&PostParams::default(), &lease).await?;
            Ok(true)
        }
        Some(lease) if is_free(&lease, identity, Timestamp::now()) => {
            let current = lease.spec.clone().unwrap_or_default();
            let ours = current.holder_identity.as_deref() == Some(identity);
            let transitions = current.lease_transitions.unwrap_or(0) + i32::from(!ours);
            let acquired = if ours {
                current.acquire_time.clone()
            } else {
                None
            };
            let renewed = Lease {
                metadata: lease.metadata.clone(),
                spec: Some(spec(identity, acquired, transitions)),
            };
            api.replace(name, &PostParams::default(), &renewed).await?;
            Ok(true)
        }
        Some(_) => Ok(false),
    }
}
