//! Why a reconcile did not finish, sorted by the condition reason it reports.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;

use crate::context::Context;

/// A reconcile failure. Each variant is one condition reason, so the message can go straight
/// into the resource's status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The referenced `WebhookGateway` does not exist.
    #[error("{0}")]
    GatewayNotFound(String),
    /// PostgreSQL could not be reached or failed; retried.
    #[error("{0}")]
    DatabaseUnavailable(String),
    /// A referenced Secret or one of its keys is missing.
    #[error("{0}")]
    SecretMissing(String),
    /// The resource asks for something the gateway cannot do; retried only after a change.
    #[error("{0}")]
    InvalidSpec(String),
    /// The webhook id belongs to another resource or to a registration made elsewhere.
    #[error("{0}")]
    IdConflict(String),
    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Kubernetes(#[from] kube::Error),
}

impl Error {
    /// The condition reason and metric label of this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::GatewayNotFound(_) => "GatewayNotFound",
            Self::DatabaseUnavailable(_) => "DatabaseUnavailable",
            Self::SecretMissing(_) => "SecretMissing",
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::IdConflict(_) => "IdConflict",
            Self::Kubernetes(_) => "KubernetesApi",
        }
    }

    /// Whether waiting can fix it without anyone editing the resource.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::DatabaseUnavailable(_) | Self::Kubernetes(_))
    }
}

/// The controllers' error policy: a failed reconcile is tried again after 15 s, since what
/// failed (the API server, the database) is usually back by then.
pub fn retry_later<K>(_object: Arc<K>, _error: &Error, _context: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(15))
}
