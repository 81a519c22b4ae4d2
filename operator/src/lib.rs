//! The webhook gateway's Kubernetes operator. `WebhookGateway` resources become the gateway's
//! Deployment, Service, Ingress, PodDisruptionBudget, HorizontalPodAutoscaler and
//! NetworkPolicies; `Webhook` resources become registrations in the gateway's PostgreSQL
//! database. The same `Webhook` reconcile runs without a cluster in file mode ([`file_mode`]).

pub mod context;
pub mod error;
pub mod events;
pub mod file_mode;
pub mod finalizer;
pub mod gateway_controller;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod permissions;
pub mod registration;
pub mod render;
pub mod run;
pub mod status;
pub mod sync;
pub mod webhook_controller;

pub use error::Error;
