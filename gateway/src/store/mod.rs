//! Registration storage: the PostgreSQL schema (owned here for the whole workspace), the Redis
//! and in-process caches in front of it, and change notifications between replicas.

pub mod cache;
pub mod deliveries;
pub mod invalidation;
pub mod managed;
pub mod migrations;
pub mod postgres;
pub mod redis;
pub mod registration;
pub mod schema;
pub mod sealing;

pub use cache::RegistrationCache;
pub use managed::{ManagedRegistration, ManagedWrite};
pub use postgres::{Database, ListFilter, NewCredential, RegistrationRecord, StoreError};
pub use registration::{
    Idempotency, NewRegistration, RateLimit, Registration, ResponseSettings, SealedSecret,
    StoredKey,
};

/// PostgreSQL channel on which every registration change is announced (payload: webhook id).
pub const CHANGE_CHANNEL: &str = "webhook_registration_changed";
