//! The shared Redis client: a pool, a bound on every command, and warnings that do not flood
//! the log while Redis is down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, FromRedisValue};

use super::StoreError;
use crate::config::RedisConfig;

/// Longest wait for one Redis command; past it callers carry on without Redis.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// Least time between two warnings about Redis.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Redis, used by the registration cache, duplicate suppression and rate limiting.
pub struct Redis {
    pool: deadpool_redis::Pool,
    /// Keeps the keys of gateways on different registration databases apart in a shared Redis.
    namespace: String,
    started: Instant,
    last_warning_ms: AtomicU64,
}

impl Redis {
    /// `database` names the registration database (`host:port/name`): gateways that share a
    /// Redis but not a database must not see each other's cached state.
    pub fn new(config: &RedisConfig, database: &str) -> Result<Self, StoreError> {
        let pool = deadpool_redis::Config::from_url(config.connection_url())
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| StoreError::Unavailable(format!("Redis pool: {e}")))?;
        Ok(Self {
            pool,
            namespace: namespace_of(database),
            started: Instant::now(),
            last_warning_ms: AtomicU64::new(0),
        })
    }

    /// The key of `kind` state (`registration`, `delivery`, ...) for `id`.
    pub fn key(&self, kind: &str, id: &str) -> String {
        format!("webhook-gateway:{}:{kind}:v1:{id}", self.namespace)
    }

    /// Runs one command, bounded by a short timeout.
    pub async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, String> {
        self.exchange(async |connection| command.query_async(connection).await)
            .await
    }

    /// Runs a Lua script, bounded by a short timeout.
    pub async fn script<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, String> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        self.exchange(async |connection| invocation.invoke_async(connection).await)
            .await
    }

    /// Runs a pipeline of commands in one round trip, bounded by a short timeout.
    pub async fn pipeline(&self, pipeline: &redis::Pipeline) -> Result<(), String> {
        self.exchange(async |connection| pipeline.query_async(connection).await)
            .await
    }

    /// One exchange on a pooled connection; waiting for the connection counts against
    /// [`COMMAND_TIMEOUT`].
    async fn exchange<T>(
        &self,
        run: impl AsyncFnOnce(&mut deadpool_redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let limit = COMMAND_TIMEOUT.as_millis();
        let attempt = async {
            let mut connection = self.pool.get().await.map_err(|e| e.to_string())?;
            run(&mut connection).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(COMMAND_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {limit} ms")))
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> Result<(), String> {
        self.query::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    /// Logs a warning about Redis, at most once every ten seconds.
    pub fn warn(&self, message: &str) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_warning_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(target: "webhook_gateway::redis", "Redis: {message}");
        }
    }
}

fn namespace_of(database: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(database.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}
