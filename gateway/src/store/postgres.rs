//! PostgreSQL access: the connection pool, the embedded migrations and the registration queries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::registration::{
    Idempotency, NewRegistration, RateLimit, Registration, ResponseSettings, SealedSecret,
    StoredKey,
};
use super::schema::{webhook_credentials, webhook_registrations};
use crate::auth::scheme::{AuthScheme, SecretKind};
use crate::config::{DatabaseConfig, parse_cidr};

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
pub(super) struct RegistrationRow {
    id: String,
    name: String,
    workspace_id: String,
    organization_id: Option<String>,
    active: bool,
    start_event: Option<String>,
    topic: Option<String>,
    max_body_bytes: Option<i32>,
    forwarded_headers: Vec<String>,
    auth: serde_json::Value,
    allowed_cidrs: Vec<String>,
    rate_per_second: Option<i32>,
    rate_burst: Option<i32>,
    idempotency_header: Option<String>,
    idempotency_json_pointer: Option<String>,
    dedupe_ttl_seconds: Option<i32>,
    response_status: i16,
    response_body: Option<String>,
    revision: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_credentials)]
pub(super) struct CredentialRow {
    kind: String,
    secret_hash: Option<Vec<u8>>,
    sealed: Option<Vec<u8>>,
    key_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = webhook_registrations, treat_none_as_null = true)]
pub(super) struct RegistrationWrite<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) description: Option<&'a str>,
    pub(super) workspace_id: &'a str,
    pub(super) organization_id: Option<&'a str>,
    pub(super) active: bool,
    pub(super) start_event: Option<&'a str>,
    pub(super) topic: Option<&'a str>,
    pub(super) max_body_bytes: Option<i32>,
    pub(super) forwarded_headers: &'a [String],
    pub(super) auth: serde_json::Value,
    pub(super) allowed_cidrs: Vec<String>,
    pub(super) rate_per_second: Option<i32>,
    pub(super) rate_burst: Option<i32>,
    pub(super) idempotency_header: Option<&'a str>,
    pub(super) idempotency_json_pointer: Option<&'a str>,
    pub(super) dedupe_ttl_seconds: Option<i32>,
    pub(super) response_status: i16,
    pub(super) response_body: Option<&'a str>,
    pub(super) managed_by: &'a str,
}

impl<'a> RegistrationWrite<'a> {
    pub(super) fn from(new: &'a NewRegistration) -> Result<Self, StoreError> {
        let number = |value: u32, what: &str| {
            i32::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} is too large")))
        };
        let limit = new.rate_limit;
        Ok(Self {
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
            auth: serde_json::to_value(&new.auth)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            allowed_cidrs: new.allowed_cidrs.iter().map(ToString::to_string).collect(),
            rate_per_second: limit.map(|l| number(l.per_second, "rate")).transpose()?,
            rate_burst: limit.map(|l| number(l.burst, "burst")).transpose()?,
            idempotency_header: new.idempotency.header.as_deref(),
            idempotency_json_pointer: new.idempotency.json_pointer.as_deref(),
            dedupe_ttl_seconds: new
                .idempotency
                .ttl_seconds
                .map(|t| number(t, "dedupe TTL"))
                .transpose()?,
            response_status: i16::try_from(new.response.status)
                .map_err(|_| StoreError::Invalid("response status out of range".into()))?,
            response_body: new.response.body.as_deref(),
            managed_by: &new.managed_by,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_registrations)]
struct RecordRow {
    #[diesel(embed)]
    core: RegistrationRow,
    description: Option<String>,
    managed_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A registration with what the management API shows beside it (credentials left out).
#[derive(Debug, Clone)]
pub struct RegistrationRecord {
    pub registration: Registration,
    pub description: Option<String>,
    pub managed_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordRow {
    fn into_record(self) -> Result<RegistrationRecord, StoreError> {
        Ok(RegistrationRecord {
            registration: registration_from(self.core, Vec::new())?,
            description: self.description,
            managed_by: self.managed_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Which registrations of a workspace to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub active: Option<bool>,
    /// Part of the name, case-insensitive.
    pub name_contains: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A credential to add to a webhook.
#[derive(Debug, Clone)]
pub enum NewCredential {
    /// SHA-256 of an API key.
    ApiKey([u8; 32]),
    /// SHA-256 of a shared token or password.
    Token([u8; 32]),
    /// A signing secret sealed under `key_id`.
    SigningSecret { key_id: String, sealed: Vec<u8> },
}

impl NewCredential {
    /// The `kind` column of credentials that hold a secret of `kind`; `None` for schemes
    /// without one.
    pub fn kind_of(kind: SecretKind) -> Option<&'static str> {
        match kind {
            SecretKind::ApiKey => Some("api_key"),
            SecretKind::Hashed => Some("token"),
            SecretKind::Recoverable => Some("signing_secret"),
            SecretKind::Nothing => None,
        }
    }

    pub(super) fn kind(&self) -> &'static str {
        let kind = match self {
            Self::ApiKey(_) => SecretKind::ApiKey,
            Self::Token(_) => SecretKind::Hashed,
            Self::SigningSecret { .. } => SecretKind::Recoverable,
        };
        Self::kind_of(kind).expect("every credential holds a secret")
    }
}

/// A sealed signing secret as stored, for re-sealing under a new key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_credentials)]
pub struct StoredSigningSecret {
    pub id: i64,
    pub webhook_id: String,
    pub key_id: Option<String>,
    pub sealed: Option<Vec<u8>>,
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

    pub(super) async fn connection(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
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

        let credentials = webhook_credentials::table
            .filter(webhook_credentials::webhook_id.eq(id))
            .select(CredentialRow::as_select())
            .load(&mut connection)
            .await?;
        registration_from(row, credentials).map(Some)
    }

    /// One registration as the management API shows it.
    pub async fn record(&self, id: &str) -> Result<Option<RegistrationRecord>, StoreError> {
        let mut connection = self.connection().await?;
        let row = webhook_registrations::table
            .find(id)
            .select(RecordRow::as_select())
            .first(&mut connection)
            .await
            .optional()?;
        row.map(RecordRow::into_record).transpose()
    }

    /// A page of a workspace's registrations, ordered by id, and how many match in all.
    pub async fn records_in(
        &self,
        workspace: &str,
        filter: &ListFilter,
    ) -> Result<(Vec<RegistrationRecord>, i64), StoreError> {
        let mut connection = self.connection().await?;
        let query = || {
            let mut query = webhook_registrations::table
                .filter(webhook_registrations::workspace_id.eq(workspace.to_owned()))
                .into_boxed();
            if let Some(active) = filter.active {
                query = query.filter(webhook_registrations::active.eq(active));
            }
            if let Some(part) = &filter.name_contains {
                let escaped = part
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                query = query.filter(webhook_registrations::name.ilike(format!("%{escaped}%")));
            }
            query
        };
        let total: i64 = query().count().get_result(&mut connection).await?;
        let rows = query()
            .order(webhook_registrations::id)
            .offset(filter.offset)
            .limit(filter.limit)
            .select(RecordRow::as_select())
            .load(&mut connection)
            .await?;
        let records = rows
            .into_iter()
            .map(RecordRow::into_record)
            .collect::<Result<_, _>>()?;
        Ok((records, total))
    }

    /// Creates a registration; returns `false` when the id is taken.
    pub async fn create(&self, new: &NewRegistration) -> Result<bool, StoreError> {
        let write = RegistrationWrite::from(new)?;
        let mut connection = self.connection().await?;
        let inserted = diesel::insert_into(webhook_registrations::table)
            .values(&write)
            .on_conflict_do_nothing()
            .execute(&mut connection)
            .await?;
        Ok(inserted == 1)
    }

    /// Creates or replaces a registration; returns whether it was created.
    pub async fn upsert(&self, new: &NewRegistration) -> Result<bool, StoreError> {
        let write = RegistrationWrite::from(new)?;
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

    /// Adds a credential; existing credentials of the same kind stay valid until
    /// `old_expire_at` (`None` leaves them as they are).
    pub async fn add_credential(
        &self,
        id: &str,
        credential: NewCredential,
        old_expire_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let kind = credential.kind();
        let (hash, sealed, key_id) = match credential {
            NewCredential::ApiKey(hash) | NewCredential::Token(hash) => {
                (Some(hash.to_vec()), None, None)
            }
            NewCredential::SigningSecret { key_id, sealed } => (None, Some(sealed), Some(key_id)),
        };
        let mut connection = self.connection().await?;
        connection
            .transaction::<_, DieselError, _>(async move |connection| {
                if let Some(expiry) = old_expire_at {
                    diesel::update(
                        webhook_credentials::table
                            .filter(webhook_credentials::webhook_id.eq(id))
                            .filter(webhook_credentials::kind.eq(kind))
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
                        webhook_credentials::kind.eq(kind),
                        webhook_credentials::secret_hash.eq(hash),
                        webhook_credentials::sealed.eq(sealed),
                        webhook_credentials::key_id.eq(key_id),
                    ))
                    .execute(connection)
                    .await?;
                Ok(())
            })
            .await
            .map_err(StoreError::from)
    }

    /// Every sealed signing secret, for re-sealing under the current key.
    pub async fn signing_secrets(&self) -> Result<Vec<StoredSigningSecret>, StoreError> {
        let mut connection = self.connection().await?;
        Ok(webhook_credentials::table
            .filter(webhook_credentials::kind.eq("signing_secret"))
            .select(StoredSigningSecret::as_select())
            .load(&mut connection)
            .await?)
    }

    /// Replaces one sealed secret by the same secret sealed under another key.
    pub async fn reseal(
        &self,
        credential_id: i64,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        diesel::update(webhook_credentials::table.find(credential_id))
            .set((
                webhook_credentials::key_id.eq(key_id),
                webhook_credentials::sealed.eq(sealed),
            ))
            .execute(&mut connection)
            .await?;
        Ok(())
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

pub(super) fn registration_from(
    row: RegistrationRow,
    credentials: Vec<CredentialRow>,
) -> Result<Registration, StoreError> {
    let invalid = |problem: String| StoreError::Invalid(format!("webhook {}: {problem}", row.id));
    let auth: AuthScheme = serde_json::from_value(row.auth.clone())
        .map_err(|e| invalid(format!("unreadable auth settings: {e}")))?;
    let allowed_cidrs = row
        .allowed_cidrs
        .iter()
        .map(|cidr| parse_cidr(cidr).ok_or_else(|| invalid(format!("{cidr:?} is not a CIDR"))))
        .collect::<Result<Vec<_>, _>>()?;
    let rate_limit = row.rate_per_second.and_then(|rate| {
        let per_second = u32::try_from(rate).ok()?;
        let burst = row
            .rate_burst
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(per_second);
        Some(RateLimit { per_second, burst })
    });

    let mut registration = Registration {
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
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        auth,
        allowed_cidrs,
        rate_limit,
        idempotency: Idempotency {
            header: row.idempotency_header.map(|h| h.to_ascii_lowercase()),
            json_pointer: row.idempotency_json_pointer,
            ttl_seconds: row.dedupe_ttl_seconds.and_then(|t| u32::try_from(t).ok()),
        },
        response: ResponseSettings {
            status: u16::try_from(row.response_status).unwrap_or(202),
            body: row.response_body,
        },
        revision: row.revision,
        ..Registration::default()
    };
    for credential in credentials {
        let hash = credential
            .secret_hash
            .and_then(|h| <[u8; 32]>::try_from(h).ok());
        let expires_at = credential.expires_at;
        match (
            credential.kind.as_str(),
            hash,
            credential.sealed,
            credential.key_id,
        ) {
            ("api_key", Some(hash), _, _) => {
                registration.api_keys.push(StoredKey { hash, expires_at })
            }
            ("token", Some(hash), _, _) => registration.tokens.push(StoredKey { hash, expires_at }),
            ("signing_secret", _, Some(sealed), Some(key_id)) => {
                registration.signing_secrets.push(SealedSecret {
                    key_id,
                    sealed,
                    expires_at,
                })
            }
            _ => {
                tracing::warn!(webhook_id = %registration.id, "ignoring a malformed credential row")
            }
        }
    }
    Ok(registration)
}
