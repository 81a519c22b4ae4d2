//! Registration look-up: in-process cache, then Redis, then PostgreSQL. Absent webhooks are
//! cached too (for a shorter time) so unknown ids cannot hammer the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::AsyncCommands;
use moka::Expiry;
use serde::{Deserialize, Serialize};

use super::{Database, Registration, StoreError};
use crate::config::{CacheConfig, RedisConfig};
use crate::metrics::Metrics;

/// Longest wait for one Redis command; past it the look-up goes on to PostgreSQL.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// Least time between two warnings about Redis, so an outage does not flood the log.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

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
    redis: deadpool_redis::Pool,
    database: Database,
    redis_ttl: Duration,
    negative_ttl: Duration,
    metrics: Arc<Metrics>,
    started: Instant,
    last_redis_warning: AtomicU64,
}

impl RegistrationCache {
    pub fn new(
        database: Database,
        redis: &RedisConfig,
        cache: &CacheConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let pool = deadpool_redis::Config::from_url(redis.connection_url())
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| StoreError::Unavailable(format!("Redis pool: {e}")))?;
        let local = moka::future::Cache::builder()
            .max_capacity(cache.local_capacity)
            .expire_after(LookupExpiry {
                found: cache.local_ttl,
                absent: cache.negative_ttl,
            })
            .build();
        Ok(Self {
            local,
            redis: pool,
            database,
            redis_ttl: redis.ttl,
            negative_ttl: cache.negative_ttl,
            metrics,
            started: Instant::now(),
            last_redis_warning: AtomicU64::new(0),
        })
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
        let key = redis_key(id);
        let outcome = self
            .redis_command(|mut connection| async move { connection.del::<_, ()>(key).await })
            .await;
        if let Err(e) = outcome {
            self.warn_redis(&format!("could not drop the cached registration: {e}"));
        }
    }

    /// Forgets everything cached in this process (after change notifications may have been lost).
    pub fn invalidate_local(&self) {
        self.local.invalidate_all();
    }

    /// Checks that Redis answers.
    pub async fn ping_redis(&self) -> Result<(), String> {
        self.redis_command(|mut connection| async move {
            deadpool_redis::redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .map(|_| ())
    }

    async fn load(&self, id: &str) -> Result<Lookup, StoreError> {
        let key = redis_key(id);
        let cached = self
            .redis_command(|mut connection| async move {
                connection.get::<_, Option<String>>(key).await
            })
            .await;
        match cached {
            Ok(Some(text)) => match serde_json::from_str::<Lookup>(&text) {
                Ok(lookup) => {
                    self.metrics.cache_lookup("redis", "hit");
                    return Ok(lookup);
                }
                Err(e) => self.warn_redis(&format!("ignoring an unreadable cache entry: {e}")),
            },
            Ok(None) => {}
            Err(e) => self.warn_redis(&format!("look-up failed, reading PostgreSQL instead: {e}")),
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
        let key = redis_key(id);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let outcome = self
            .redis_command(|mut connection| async move {
                deadpool_redis::redis::cmd("SET")
                    .arg(key)
                    .arg(text)
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut connection)
                    .await
            })
            .await;
        if let Err(e) = outcome {
            self.warn_redis(&format!("could not cache a registration: {e}"));
        }
    }

    /// Runs one Redis command on a pooled connection, bounded by [`REDIS_TIMEOUT`].
    async fn redis_command<T, F, Fut>(&self, command: F) -> Result<T, String>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = deadpool_redis::redis::RedisResult<T>>,
    {
        let attempt = async {
            let connection = self.redis.get().await.map_err(|e| e.to_string())?;
            command(connection).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(REDIS_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} ms", REDIS_TIMEOUT.as_millis())))
    }

    fn warn_redis(&self, message: &str) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_redis_warning.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_redis_warning
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(target: "webhook_gateway::redis", "Redis: {message}");
        }
    }
}

fn redis_key(id: &str) -> String {
    format!("webhook-gateway:registration:v1:{id}")
}
