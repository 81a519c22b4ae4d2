//! PostgreSQL access: the connection pool, the embedded migrations and the registration queries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::registration::{NewRegistration, Registration, StoredKey};
use super::schema::{webhook_credentials, webhook_registrations};
use crate::config::DatabaseConfig;

/// Longest wait for a pooled connection before the database counts as unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a registration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached or did not answer in time; worth retrying.
    #[error("PostgreSQL unavailable: {0}")]
    Unavailable(String),
    /// PostgreSQL refused the data (a constraint of the schema).
    #[error("rejected by the database: {0}")]
    Invalid(String),
    /// Any other query failure.
    #[error("database query failed: {0}")]
    Query(DieselError),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::DatabaseError(
                DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::UniqueViolation,
                info,
            ) => StoreError::Invalid(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                StoreError::Unavailable("connection lost during a transaction".into())
            }
            other => StoreError::Query(other),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_registrations)]
struct RegistrationRow {
    id: String,
    name: String,
    workspace_id: String,
    organization_id: Option<String>,
    active: bool,
    start_event: Option<String>,
    topic: Option<String>,
    max_body_bytes: Option<i32>,
    forwarded_headers: Vec<String>,
    revision: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_credentials)]
struct KeyRow {
    secret_hash: Vec<u8>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = webhook_registrations, treat_none_as_null = true)]
struct RegistrationWrite<'a> {
    id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    workspace_id: &'a str,
    organization_id: Option<&'a str>,
    active: bool,
    start_event: Option<&'a str>,
    topic: Option<&'a str>,
    max_body_bytes: Option<i32>,
    forwarded_headers: &'a [String],
    managed_by: &'a str,
}

/// A line of the registration listing.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_registrations)]
pub struct RegistrationSummary {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub active: bool,
    pub managed_by: String,
}

/// The registration database.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
}

impl Database {
    /// Builds the pool; connections are opened on first use.
    pub fn new(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new(connection_url(config));
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    async fn connection(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        match tokio::time::timeout(CHECKOUT_TIMEOUT, self.pool.get()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(StoreError::Unavailable(e.to_string())),
            Err(_) => Err(StoreError::Unavailable("no connection within 3 s".into())),
        }
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut connection)
            .await?;
        Ok(())
    }

    /// Reads one registration with its API keys.
    pub async fn find(&self, id: &str) -> Result<Option<Registration>, StoreError> {
        let mut connection = self.connection().await?;
        let row = webhook_registrations::table
            .find(id)
            .select(RegistrationRow::as_select())
            .first(&mut connection)
            .await
            .optional()?;
        let Some(row) = row else { return Ok(None) };

        let keys = webhook_credentials::table
            .filter(webhook_credentials::webhook_id.eq(id))
            .filter(webhook_credentials::kind.eq("api_key"))
            .select(KeyRow::as_select())
            .load(&mut connection)
            .await?;
        Ok(Some(registration_from(row, keys)))
    }

    /// Creates or replaces a registration; returns whether it was created.
    pub async fn upsert(&self, new: &NewRegistration) -> Result<bool, StoreError> {
        let write = RegistrationWrite {
            id: &new.id,
            name: &new.name,
            description: new.description.as_deref(),
            workspace_id: &new.workspace_id,
            organization_id: new.organization_id.as_deref(),
            active: new.active,
            start_event: new.start_event.as_deref(),
            topic: new.topic.as_deref(),
            max_body_bytes: new.max_body_bytes,
            forwarded_headers: &new.forwarded_headers,
            managed_by: &new.managed_by,
        };
        let mut connection = self.connection().await?;
        connection
            .transaction::<_, DieselError, _>(async move |connection| {
                let existed = diesel::select(diesel::dsl::exists(
                    webhook_registrations::table.find(write.id),
                ))
                .get_result::<bool>(connection)
                .await?;
                diesel::insert_into(webhook_registrations::table)
                    .values(&write)
                    .on_conflict(webhook_registrations::id)
                    .do_update()
                    .set(&write)
                    .execute(connection)
                    .await?;
                Ok(!existed)
            })
            .await
            .map_err(StoreError::from)
    }

    /// Adds a new API key; existing keys stay valid until `old_keys_expire_at`
    /// (`None` leaves them as they are).
    pub async fn add_api_key(
        &self,
        id: &str,
        hash: [u8; 32],
        old_keys_expire_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        connection
            .transaction::<_, DieselError, _>(async move |connection| {
                if let Some(expiry) = old_keys_expire_at {
                    diesel::update(
                        webhook_credentials::table
                            .filter(webhook_credentials::webhook_id.eq(id))
                            .filter(
                                webhook_credentials::expires_at
                                    .is_null()
                                    .or(webhook_credentials::expires_at.gt(expiry)),
                            ),
                    )
                    .set(webhook_credentials::expires_at.eq(expiry))
                    .execute(connection)
                    .await?;
                }
                diesel::insert_into(webhook_credentials::table)
                    .values((
                        webhook_credentials::webhook_id.eq(id),
                        webhook_credentials::kind.eq("api_key"),
                        webhook_credentials::secret_hash.eq(hash.to_vec()),
                    ))
                    .execute(connection)
                    .await?;
                Ok(())
            })
            .await
            .map_err(StoreError::from)
    }

    /// Activates or deactivates a registration; returns whether it exists.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let changed = diesel::update(webhook_registrations::table.find(id))
            .set(webhook_registrations::active.eq(active))
            .execute(&mut connection)
            .await?;
        Ok(changed == 1)
    }

    /// Deletes a registration and its credentials; returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let deleted = diesel::delete(webhook_registrations::table.find(id))
            .execute(&mut connection)
            .await?;
        Ok(deleted == 1)
    }

    /// All registrations, ordered by id.
    pub async fn list(&self) -> Result<Vec<RegistrationSummary>, StoreError> {
        let mut connection = self.connection().await?;
        Ok(webhook_registrations::table
            .order(webhook_registrations::id)
            .select(RegistrationSummary::as_select())
            .load(&mut connection)
            .await?)
    }
}

/// The PostgreSQL URL with a connect timeout, so an unreachable server fails fast.
pub(crate) fn connection_url(config: &DatabaseConfig) -> String {
    let url = config.connection_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout=3")
}

fn registration_from(row: RegistrationRow, keys: Vec<KeyRow>) -> Registration {
    let api_keys = keys
        .into_iter()
        .filter_map(|key| {
            let hash: [u8; 32] = key.secret_hash.try_into().ok()?;
            Some(StoredKey {
                hash,
                expires_at: key.expires_at,
            })
        })
        .collect();
    Registration {
        id: row.id,
        name: row.name,
        workspace_id: row.workspace_id,
        organization_id: row.organization_id,
        active: row.active,
        start_event: row.start_event,
        topic: row.topic,
        max_body_bytes: row.max_body_bytes.and_then(|n| usize::try_from(n).ok()),
        forwarded_headers: row
            .forwarded_headers
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        api_keys,
        revision: row.revision,
    }
}
