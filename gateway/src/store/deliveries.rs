//! A short log of recent deliveries per webhook (event id, time, outcome, size, latency; never
//! the payload), kept in Redis as a capped list.
//!
//! Answered calls are queued in memory and written by one background task, a batch per Redis
//! round trip: under load the batches grow instead of the round trips, and a slow Redis costs
//! dropped log entries, never memory or latency on the webhook path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::redis::Redis;

/// Deliveries kept per webhook.
pub const KEPT: usize = 100;

/// How long a quiet webhook's log is kept.
const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Deliveries waiting to be written; past this they are dropped.
const QUEUED: usize = 8192;

/// Most deliveries written in one round trip.
const BATCH: usize = 1024;

/// One answered call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
    pub status: u16,
    pub size_bytes: Option<u64>,
    pub latency_ms: f64,
}

/// The delivery log.
pub struct DeliveryLog {
    redis: Arc<Redis>,
    queue: mpsc::Sender<(String, Delivery)>,
    dropped: Arc<AtomicU64>,
}

impl DeliveryLog {
    /// Starts the writer task; call from within the Tokio runtime. The task ends once the log
    /// is dropped and its queue is written out.
    pub fn new(redis: Arc<Redis>) -> Self {
        let (queue, pending) = mpsc::channel(QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_batches(redis.clone(), pending, dropped.clone()));
        Self {
            redis,
            queue,
            dropped,
        }
    }

    /// Queues a delivery for the log; the oldest beyond [`KEPT`] fall off. Never waits: when
    /// the queue is full the delivery is dropped and counted.
    pub fn record(&self, webhook_id: String, delivery: Delivery) {
        if self.queue.try_send((webhook_id, delivery)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The most recent deliveries, newest first.
    pub async fn recent(&self, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>, String> {
        let command = redis::cmd("LRANGE")
            .arg(self.redis.key("deliveries", webhook_id))
            .arg(0)
            .arg(limit.saturating_sub(1))
            .clone();
        let lines: Vec<String> = self.redis.query(&command).await?;
        Ok(lines
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// Forgets a webhook's deliveries.
    pub async fn forget(&self, webhook_id: &str) {
        let _ = self
            .redis
            .query::<()>(redis::cmd("DEL").arg(self.redis.key("deliveries", webhook_id)))
            .await;
    }
}

/// Writes queued deliveries until the log is dropped: all that waits, up to [`BATCH`], in one
/// pipeline of `LPUSH`, `LTRIM` and `PEXPIRE` per webhook.
async fn write_batches(
    redis: Arc<Redis>,
    mut pending: mpsc::Receiver<(String, Delivery)>,
    dropped: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let mut per_webhook: HashMap<&str, Vec<String>> = HashMap::new();
        for (webhook_id, delivery) in &batch {
            if let Ok(line) = serde_json::to_string(delivery) {
                per_webhook.entry(webhook_id).or_default().push(line);
            }
        }
        let mut pipeline = redis::pipe();
        for (webhook_id, lines) in per_webhook {
            let key = redis.key("deliveries", webhook_id);
            // Oldest first, so that the newest ends up at the head of the list.
            pipeline.cmd("LPUSH").arg(&key).arg(lines).ignore();
            pipeline
                .cmd("LTRIM")
                .arg(&key)
                .arg(0)
                .arg(KEPT - 1)
                .ignore();
            pipeline
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(KEPT_FOR.as_millis() as u64)
                .ignore();
        }
        let written = batch.len();
        batch.clear();
        if let Err(e) = redis.pipeline(&pipeline).await {
            redis.warn(&format!("could not log {written} deliveries: {e}"));
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            redis.warn(&format!(
                "delivery log falling behind: {lost} deliveries not logged"
            ));
        }
    }
}
