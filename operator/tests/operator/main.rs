//! Tests of the operator. The render tests need nothing; the controller and file-mode tests run
//! against the real PostgreSQL (and, for file mode, Redis, Kafka and the gateway) of the stack
//! started by `e2e/stack/up.sh`. The Kubernetes API server is the one part replaced by a
//! stand-in, [`fake_api`], since none can run on the build machines.

mod controllers;
/// Shared with the reconcile benchmark, which uses parts the tests do not.
#[allow(dead_code)]
mod fake_api;
mod file_mode;
mod fixture;
mod gateways;
mod leader;
mod render;
mod webhooks;

/// The gateway's test helpers: throwaway databases and topics, gateway processes.
#[allow(dead_code)]
#[path = "../../../gateway/tests/integration/support.rs"]
mod support;

/// The egress rows of the setup guide's network policy table, by the suffix of their pod label.
pub const EGRESS_ROWS: [&str; 7] = [
    "kafka",
    "postgresql",
    "redis",
    "keycloak",
    "spicedb",
    "organization-manager",
    "authorization-system",
];
