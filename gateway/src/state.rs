//! What every request handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::Api;
use crate::config::Config;
use crate::ingest::dedupe::Deduplicator;
use crate::ingest::rate_limit::RateLimiterSet;
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::store::deliveries::DeliveryLog;
use crate::store::redis::Redis;
use crate::store::{Database, RegistrationCache};

/// The gateway's shared state.
pub struct Gateway {
    pub config: Arc<Config>,
    pub database: Database,
    pub redis: Arc<Redis>,
    pub registrations: Arc<RegistrationCache>,
    pub rate_limits: RateLimiterSet,
    pub deduplicator: Deduplicator,
    pub deliveries: DeliveryLog,
    /// The management API, when an OAuth2 provider is configured.
    pub api: Option<Api>,
    pub publisher: Arc<Publisher>,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Arc<Lifecycle>,
}

/// Whether the gateway should receive traffic: not before it has started, not once it is stopping.
#[derive(Debug, Default)]
pub struct Lifecycle {
    started: AtomicBool,
    stopping: AtomicBool,
}

impl Lifecycle {
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    pub fn mark_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.started.load(Ordering::SeqCst) && !self.stopping.load(Ordering::SeqCst)
    }
}
