//! Duplicate suppression: an event id seen before gets the original answer and is not
//! published again. State lives in Redis, shared by every replica; while Redis is down calls go
//! through unchecked (a duplicate is better than a lost event).

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::redis::Redis;

/// Marker stored while the first call with an event id is being published.
const IN_FLIGHT: &str = "in-flight";

/// What the first call with an event id was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalAnswer {
    pub event_id: String,
}

/// The outcome of claiming an event id.
#[derive(Debug)]
pub enum Claim {
    /// First time seen: publish, then [`Deduplicator::complete`] or [`Deduplicator::release`].
    Fresh(String),
    /// Seen and published before.
    Duplicate(OriginalAnswer),
    /// The first call with this id is still being published.
    InFlight,
    /// Redis could not be asked; go on without suppression.
    Unchecked,
}

/// Remembers event ids per webhook.
pub struct Deduplicator {
    redis: Arc<Redis>,
    /// How long an in-flight claim blocks duplicates before it lapses.
    lease: Duration,
}

impl Deduplicator {
    pub fn new(redis: Arc<Redis>, lease: Duration) -> Self {
        Self { redis, lease }
    }

    /// Claims `event_key` for `webhook_id`.
    pub async fn claim(&self, webhook_id: &str, event_key: &str) -> Claim {
        let key = self.redis.key(
            "delivery",
            &format!("{webhook_id}:{}", fingerprint(event_key)),
        );
        let set = redis::cmd("SET")
            .arg(&key)
            .arg(IN_FLIGHT)
            .arg("NX")
            .arg("PX")
            .arg(self.lease.as_millis() as u64)
            .clone();
        match self.redis.query::<Option<String>>(&set).await {
            Ok(Some(_)) => return Claim::Fresh(key),
            Ok(None) => {}
            Err(e) => {
                self.redis.warn(&format!("duplicate check skipped: {e}"));
                return Claim::Unchecked;
            }
        }
        match self
            .redis
            .query::<Option<String>>(redis::cmd("GET").arg(&key))
            .await
        {
            Ok(Some(text)) if text == IN_FLIGHT => Claim::InFlight,
            Ok(Some(text)) => match serde_json::from_str(&text) {
                Ok(answer) => Claim::Duplicate(answer),
                Err(_) => Claim::Unchecked,
            },
            // The claim lapsed between the two commands: treat the call as new.
            Ok(None) => Claim::Fresh(key),
            Err(e) => {
                self.redis.warn(&format!("duplicate check skipped: {e}"));
                Claim::Unchecked
            }
        }
    }

    /// Records the answer of a published event for `ttl`.
    pub async fn complete(&self, key: &str, answer: &OriginalAnswer, ttl: Duration) {
        let Ok(text) = serde_json::to_string(answer) else {
            return;
        };
        let set = redis::cmd("SET")
            .arg(key)
            .arg(text)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .clone();
        if let Err(e) = self.redis.query::<()>(&set).await {
            self.redis
                .warn(&format!("could not remember a delivered event id: {e}"));
        }
    }

    /// Gives up a claim after a failed publication, so the sender's retry goes through.
    pub async fn release(&self, key: &str) {
        if let Err(e) = self.redis.query::<()>(redis::cmd("DEL").arg(key)).await {
            self.redis
                .warn(&format!("could not release an event id claim: {e}"));
        }
    }
}

/// Event ids are hashed: they come from callers and may be long or odd.
fn fingerprint(event_key: &str) -> String {
    Sha256::digest(event_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
