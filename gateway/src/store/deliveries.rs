//! A short log of recent deliveries per webhook (event id, time, outcome, size, latency; never
//! the payload), kept in Redis as a capped list.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_redis::redis;
use serde::{Deserialize, Serialize};

use super::redis::Redis;

/// Deliveries kept per webhook.
pub const KEPT: usize = 100;

/// How long a quiet webhook's log is kept.
const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

const APPEND: &str = r"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

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
    append: redis::Script,
}

impl DeliveryLog {
    pub fn new(redis: Arc<Redis>) -> Self {
        Self {
            redis,
            append: redis::Script::new(APPEND),
        }
    }

    /// Appends a delivery; the oldest beyond [`KEPT`] fall off.
    pub async fn record(&self, webhook_id: &str, delivery: &Delivery) {
        let Ok(text) = serde_json::to_string(delivery) else {
            return;
        };
        let args = [text, KEPT.to_string(), KEPT_FOR.as_millis().to_string()];
        if let Err(e) = self
            .redis
            .script::<i64>(
                &self.append,
                &[&self.redis.key("deliveries", webhook_id)],
                &args,
            )
            .await
        {
            self.redis.warn(&format!("could not log a delivery: {e}"));
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
