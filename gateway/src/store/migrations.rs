//! Embedded schema migrations, applied at start-up under an advisory lock so that replicas
//! starting together apply each migration once.

use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use crate::config::DatabaseConfig;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary key of the advisory lock that serialises migration runs.
const MIGRATION_LOCK: i64 = 0x7768_6777_6d69_6772;

/// Applies pending migrations; returns how many were applied.
pub async fn run(config: &DatabaseConfig) -> Result<usize, StoreError> {
    let url = super::postgres::connection_url(config);
    tokio::task::spawn_blocking(move || apply(&url))
        .await
        .map_err(|e| StoreError::Migration(e.to_string()))?
}

fn apply(url: &str) -> Result<usize, StoreError> {
    let mut connection = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut connection)?;
    let applied = connection
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.len())
        .map_err(|e| StoreError::Migration(e.to_string()));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut connection)?;
    applied
}
