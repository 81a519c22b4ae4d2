//! Registration look-up: in-process cache, then Redis, then PostgreSQL. Absent webhooks are
//! cached too (for a shorter time) so unknown ids cannot hammer the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use moka::Expiry;
use serde::{Deserialize, Serialize};

use super::redis::Redis;
use super::{Database, Registration, StoreError};
use crate::config::CacheConfig;
use crate::metrics::Metrics;

/// What a look-up found, as cached in both layers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Lookup {
    Found(Arc<Registration>),
    Absent,
}

impl Lookup {
    fn into_option(self) -> Option<Arc<Registration>> {
        match self {
            Lookup::Found(registration) => Some(registration),
            Lookup::Absent => None,
        }
    }
}

struct LookupExpiry {
    found: Duration,
    absent: Duration,
}

impl Expiry<String, Lookup> for LookupExpiry {
    fn expire_after_create(&self, _: &String, value: &Lookup, _: Instant) -> Option<Duration> {
        Some(match value {
            Lookup::Found(_) => self.found,
            Lookup::Absent => self.absent,
        })
    }
}

/// The layered registration cache shared by all HTTP workers.
pub struct RegistrationCache {
    local: moka::future::Cache<String, Lookup>,
    redis: Arc<Redis>,
    database: Database,
    redis_ttl: Duration,
    negative_ttl: Duration,
    metrics: Arc<Metrics>,
}

impl RegistrationCache {
    pub fn new(
        database: Database,
        redis: Arc<Redis>,
        redis_ttl: Duration,
        cache: &CacheConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(cache.local_capacity)
            .expire_after(LookupExpiry {
                found: cache.local_ttl,
                absent: cache.negative_ttl,
            })
            .build();
        Self {
            local,
            redis,
            database,
            redis_ttl,
            negative_ttl: cache.negative_ttl,
            metrics,
        }
    }

    /// The registration of `id`, or `None` when no such webhook exists.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<Registration>>, StoreError> {
        if let Some(hit) = self.local.get(id).await {
            self.metrics.cache_lookup("local", "hit");
            return Ok(hit.into_option());
        }
        self.metrics.cache_lookup("local", "miss");
        self.local
            .try_get_with_by_ref(id, self.load(id))
            .await
            .map(Lookup::into_option)
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Forgets `id` in this process and in Redis; called when its registration changed.
    pub async fn invalidate(&self, id: &str) {
        self.local.invalidate(id).await;
        let outcome = self
            .redis
            .query::<()>(redis::cmd("DEL").arg(self.redis.key("registration", id)))
            .await;
        if let Err(e) = outcome {
            self.redis
                .warn(&format!("could not drop a cached registration: {e}"));
        }
    }

    /// Forgets everything cached in this process (after change notifications may have been lost).
    pub fn invalidate_local(&self) {
        self.local.invalidate_all();
    }

    async fn load(&self, id: &str) -> Result<Lookup, StoreError> {
        let cached = self
            .redis
            .query::<Option<String>>(redis::cmd("GET").arg(self.redis.key("registration", id)))
            .await;
        match cached {
            Ok(Some(text)) => match serde_json::from_str::<Lookup>(&text) {
                Ok(lookup) => {
                    self.metrics.cache_lookup("redis", "hit");
                    return Ok(lookup);
                }
                Err(e) => self
                    .redis
                    .warn(&format!("ignoring an unreadable cache entry: {e}")),
            },
            Ok(None) => {}
            Err(e) => self
                .redis
                .warn(&format!("look-up failed, reading PostgreSQL instead: {e}")),
        }
        self.metrics.cache_lookup("redis", "miss");

        let lookup = match self.database.find(id).await? {
            Some(registration) => Lookup::Found(Arc::new(registration)),
            None => Lookup::Absent,
        };
        self.store_in_redis(id, &lookup).await;
        Ok(lookup)
    }

    async fn store_in_redis(&self, id: &str, lookup: &Lookup) {
        let ttl = match lookup {
            Lookup::Found(_) => self.redis_ttl,
            Lookup::Absent => self.negative_ttl,
        };
        let Ok(text) = serde_json::to_string(lookup) else {
            return;
        };
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let command = redis::cmd("SET")
            .arg(self.redis.key("registration", id))
            .arg(text)
            .arg("PX")
            .arg(millis)
            .clone();
        if let Err(e) = self.redis.query::<()>(&command).await {
            self.redis
                .warn(&format!("could not cache a registration: {e}"));
        }
    }
}
