//! Registrations managed from outside the database (Kubernetes `Webhook` resources): read as
//! stored, compared with what their resource asks for, and written or deleted only by the
//! resource that owns them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::postgres::{Database, NewCredential, RegistrationWrite, StoreError};
use super::registration::NewRegistration;
use super::schema::{webhook_credentials, webhook_registrations};

/// The `managed_by` value of resource-managed registrations.
pub const MANAGED_BY: &str = "kubernetes";

/// The columns a managed registration's resource decides, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = webhook_registrations)]
struct ManagedRow {
    name: String,
    description: Option<String>,
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
    managed_by: String,
    owner: Option<String>,
}

impl ManagedRow {
    fn desired(new: &NewRegistration, owner: &str) -> Result<Self, StoreError> {
        let write = RegistrationWrite::from(new)?;
        Ok(Self {
            name: write.name.to_owned(),
            description: write.description.map(str::to_owned),
            workspace_id: write.workspace_id.to_owned(),
            organization_id: write.organization_id.map(str::to_owned),
            active: write.active,
            start_event: write.start_event.map(str::to_owned),
            topic: write.topic.map(str::to_owned),
            max_body_bytes: write.max_body_bytes,
            forwarded_headers: write.forwarded_headers.to_vec(),
            auth: write.auth,
            allowed_cidrs: write.allowed_cidrs,
            rate_per_second: write.rate_per_second,
            rate_burst: write.rate_burst,
            idempotency_header: write.idempotency_header.map(str::to_owned),
            idempotency_json_pointer: write.idempotency_json_pointer.map(str::to_owned),
            dedupe_ttl_seconds: write.dedupe_ttl_seconds,
            response_status: write.response_status,
            response_body: write.response_body.map(str::to_owned),
            managed_by: MANAGED_BY.to_owned(),
            owner: Some(owner.to_owned()),
        })
    }
}

/// A credential row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_credentials)]
pub struct StoredCredential {
    /// `api_key`, `token` or `signing_secret`.
    pub kind: String,
    pub secret_hash: Option<Vec<u8>>,
    pub sealed: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A registration as stored, for deciding whether its resource needs a write.
#[derive(Debug, Clone)]
pub struct ManagedRegistration {
    row: ManagedRow,
    /// Every credential of the webhook, oldest first.
    pub credentials: Vec<StoredCredential>,
}

impl ManagedRegistration {
    /// Who wrote the row: `cli`, `api` or `kubernetes`.
    pub fn managed_by(&self) -> &str {
        &self.row.managed_by
    }

    /// The resource that owns a Kubernetes-managed row (`<namespace>/<name>`).
    pub fn owner(&self) -> Option<&str> {
        self.row.owner.as_deref()
    }

    /// Whether `owner` may write this row: it wrote it before, from Kubernetes.
    pub fn is_owned_by(&self, owner: &str) -> bool {
        self.row.managed_by == MANAGED_BY && self.row.owner.as_deref() == Some(owner)
    }

    /// Whether the stored row already says what `new`, written by `owner`, would.
    pub fn row_matches(&self, new: &NewRegistration, owner: &str) -> Result<bool, StoreError> {
        Ok(self.row == ManagedRow::desired(new, owner)?)
    }
}

/// What [`Database::write_managed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedWrite {
    Created,
    Updated,
    /// Nothing: the id belongs to another writer (`managed_by`, `owner`).
    OwnedElsewhere {
        managed_by: String,
        owner: Option<String>,
    },
}

impl Database {
    /// A registration with its credentials as stored, without interpreting them.
    pub async fn managed(&self, id: &str) -> Result<Option<ManagedRegistration>, StoreError> {
        let mut connection = self.connection().await?;
        let row = webhook_registrations::table
            .find(id)
            .select(ManagedRow::as_select())
            .first(&mut connection)
            .await
            .optional()?;
        let Some(row) = row else { return Ok(None) };

        let credentials = webhook_credentials::table
            .filter(webhook_credentials::webhook_id.eq(id))
            .order(webhook_credentials::id)
            .select(StoredCredential::as_select())
            .load(&mut connection)
            .await?;
        Ok(Some(ManagedRegistration { row, credentials }))
    }

    /// Creates or replaces the registration of `owner` and, when `credential` is given, makes
    /// it the webhook's only credential, all in one transaction. A row written by anyone else
    /// is left untouched.
    pub async fn write_managed(
        &self,
        new: &NewRegistration,
        owner: &str,
        credential: Option<NewCredential>,
    ) -> Result<ManagedWrite, StoreError> {
        let write = RegistrationWrite::from(new)?;
        let owner = owner.to_owned();
        let mut connection = self.connection().await?;
        connection
            .transaction::<_, DieselError, _>(async move |connection| {
                let current = webhook_registrations::table
                    .find(write.id)
                    .select((
                        webhook_registrations::managed_by,
                        webhook_registrations::owner,
                    ))
                    .for_update()
                    .first::<(String, Option<String>)>(connection)
                    .await
                    .optional()?;
                if let Some((managed_by, current_owner)) = &current
                    && (managed_by != MANAGED_BY || current_owner.as_deref() != Some(&owner))
                {
                    return Ok(ManagedWrite::OwnedElsewhere {
                        managed_by: managed_by.clone(),
                        owner: current_owner.clone(),
                    });
                }

                let owned = (&write, webhook_registrations::owner.eq(&owner));
                diesel::insert_into(webhook_registrations::table)
                    .values(owned)
                    .on_conflict(webhook_registrations::id)
                    .do_update()
                    .set(owned)
                    .execute(connection)
                    .await?;

                if let Some(credential) = credential {
                    replace_credentials(connection, write.id, credential).await?;
                }
                Ok(if current.is_some() {
                    ManagedWrite::Updated
                } else {
                    ManagedWrite::Created
                })
            })
            .await
            .map_err(StoreError::from)
    }

    /// Deletes the registration of `id` if `owner` owns it; returns whether a row went away.
    pub async fn delete_managed(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection().await?;
        let deleted = diesel::delete(
            webhook_registrations::table
                .find(id)
                .filter(webhook_registrations::managed_by.eq(MANAGED_BY))
                .filter(webhook_registrations::owner.eq(owner)),
        )
        .execute(&mut connection)
        .await?;
        Ok(deleted == 1)
    }
}

async fn replace_credentials(
    connection: &mut diesel_async::AsyncPgConnection,
    id: &str,
    credential: NewCredential,
) -> Result<(), DieselError> {
    let kind = credential.kind();
    let (hash, sealed, key_id) = match credential {
        NewCredential::ApiKey(hash) | NewCredential::Token(hash) => {
            (Some(hash.to_vec()), None, None)
        }
        NewCredential::SigningSecret { key_id, sealed } => (None, Some(sealed), Some(key_id)),
    };
    diesel::delete(webhook_credentials::table.filter(webhook_credentials::webhook_id.eq(id)))
        .execute(connection)
        .await?;
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
}
