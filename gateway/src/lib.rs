//! The webhook gateway: receives webhook calls on `/webhooks/{webhookId}`, authenticates them
//! against their registration, and publishes each accepted call as one Kafka record.

pub mod actuator;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod ingest;
pub mod metrics;
pub mod publish;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
