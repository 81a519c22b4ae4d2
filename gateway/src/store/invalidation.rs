//! Cross-replica cache invalidation: every gateway LISTENs on [`CHANGE_CHANNEL`]; the schema's
//! triggers NOTIFY it on every registration or credential change, whoever made the change.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{CHANGE_CHANNEL, RegistrationCache};
use crate::config::DatabaseConfig;

/// How often an idle listening connection is checked.
const PING_INTERVAL: Duration = Duration::from_secs(15);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A look-up that read the old row just before a change may write it back into the caches just
/// after the change was announced; dropping the entry again a little later removes such copies.
const REPEAT_INVALIDATION_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

/// Starts the listener; it reconnects by itself for as long as the process runs.
pub fn spawn(
    config: &DatabaseConfig,
    cache: Arc<RegistrationCache>,
) -> tokio::task::JoinHandle<()> {
    let url = super::postgres::connection_url(config);
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            match listen(&url, &cache, &mut backoff).await {
                Ok(()) => tracing::warn!("registration change listener: connection closed"),
                Err(e) => tracing::warn!(
                    "registration change listener: {e}; reconnecting in {} s, then dropping \
                     what this process cached meanwhile",
                    backoff.as_secs()
                ),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

async fn listen(
    url: &str,
    cache: &Arc<RegistrationCache>,
    backoff: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (changes, mut changed) = mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(notification) = message? {
                let _ = changes.send(notification.payload().to_owned());
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });

    client
        .batch_execute(&format!("LISTEN {CHANGE_CHANNEL}"))
        .await?;
    cache.invalidate_local();
    *backoff = Duration::from_secs(1);
    tracing::info!("listening for registration changes on PostgreSQL channel {CHANGE_CHANNEL}");

    let mut ping = tokio::time::interval(PING_INTERVAL);
    loop {
        tokio::select! {
            id = changed.recv() => match id {
                Some(id) => {
                    tracing::debug!(webhook_id = %id, "registration changed; cache entry dropped");
                    cache.invalidate(&id).await;
                    invalidate_again_later(cache.clone(), id);
                }
                None => break,
            },
            _ = ping.tick() => {
                client.simple_query("SELECT 1").await?;
            }
        }
    }
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

fn invalidate_again_later(cache: Arc<RegistrationCache>, id: String) {
    tokio::spawn(async move {
        for delay in REPEAT_INVALIDATION_AFTER {
            tokio::time::sleep(delay).await;
            cache.invalidate(&id).await;
        }
    });
}
