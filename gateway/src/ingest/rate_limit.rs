//! Per-webhook rate limits (a token bucket: `per_second` sustained, `burst` at once), shared by
//! every replica through Redis. While Redis is down each replica enforces the limit on its own.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::store::RateLimit;
use crate::store::redis::Redis;

/// Refills the bucket by elapsed time (Redis' own clock, so replicas agree), takes one token if
/// there is one, and answers `{allowed, microseconds until a token}`.
const TOKEN_BUCKET: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
";

/// Whether a call may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after: Duration },
}

/// The gateway's rate limiter.
pub struct RateLimiterSet {
    redis: Arc<Redis>,
    script: redis::Script,
    local: moka::sync::Cache<(String, u32, u32), Arc<DefaultDirectRateLimiter>>,
}

impl RateLimiterSet {
    pub fn new(redis: Arc<Redis>) -> Self {
        let local = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_idle(Duration::from_secs(600))
            .build();
        Self {
            redis,
            script: redis::Script::new(TOKEN_BUCKET),
            local,
        }
    }

    /// Takes one call from `webhook_id`'s budget.
    pub async fn check(&self, webhook_id: &str, limit: RateLimit) -> Decision {
        let key = self.redis.key("rate", webhook_id);
        let args = [limit.per_second.to_string(), limit.burst.max(1).to_string()];
        match self
            .redis
            .script::<(i64, i64)>(&self.script, &[&key], &args)
            .await
        {
            Ok((1, _)) => Decision::Allowed,
            Ok((_, wait_micros)) => Decision::Limited {
                retry_after: Duration::from_micros(wait_micros.max(0) as u64),
            },
            Err(e) => {
                self.redis.warn(&format!(
                    "shared rate limit unavailable, limiting locally: {e}"
                ));
                self.check_locally(webhook_id, limit)
            }
        }
    }

    fn check_locally(&self, webhook_id: &str, limit: RateLimit) -> Decision {
        let per_second = NonZeroU32::new(limit.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(per_second);
        let key = (webhook_id.to_owned(), per_second.get(), burst.get());
        let limiter = self.local.get_with(key, || {
            Arc::new(RateLimiter::direct(
                Quota::per_second(per_second).allow_burst(burst),
            ))
        });
        match limiter.check() {
            Ok(()) => Decision::Allowed,
            Err(not_until) => Decision::Limited {
                retry_after: not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                )),
            },
        }
    }
}
