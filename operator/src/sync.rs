//! Writing one `Webhook`'s registration into the gateway database, only when what is stored
//! differs from what the resource asks for. Shared by the controller and file mode.

use webhook_gateway::auth::scheme::AuthScheme;
use webhook_gateway::store::sealing::SealingKeys;
use webhook_gateway::store::{Database, ManagedWrite, NewRegistration, StoreError};

use crate::error::Error;
use crate::registration::{credential_matches, needs_secret, stored_credential};

/// What a sync did to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
        }
    }
}

/// Brings the registration of `owner` in line with `new`. With `secret` the stored credential
/// becomes exactly that secret; without it the stored credential is kept as it is.
pub async fn sync(
    database: &Database,
    sealing: &SealingKeys,
    new: &NewRegistration,
    owner: &str,
    secret: Option<&str>,
) -> Result<Outcome, Error> {
    let current = database.managed(&new.id).await.map_err(database_error)?;
    if let Some(current) = &current
        && !current.is_owned_by(owner)
    {
        return Err(conflict(&new.id, current.managed_by(), current.owner()));
    }
    let row_matches = match &current {
        Some(current) => current
            .row_matches(new, owner)
            .map_err(|e| Error::InvalidSpec(e.to_string()))?,
        None => false,
    };
    let credential = match secret {
        Some(secret) if needs_secret(&new.auth) => {
            let stored = current
                .as_ref()
                .map(|c| c.credentials.as_slice())
                .unwrap_or_default();
            if credential_matches(stored, &new.auth, &new.id, secret, sealing) {
                None
            } else {
                stored_credential(&new.auth, &new.id, secret, sealing)
                    .map_err(|e| credential_error(&new.auth, e))?
            }
        }
        _ => None,
    };
    if row_matches && credential.is_none() {
        return Ok(Outcome::Unchanged);
    }
    match database
        .write_managed(new, owner, credential)
        .await
        .map_err(database_error)?
    {
        ManagedWrite::Created => Ok(Outcome::Created),
        ManagedWrite::Updated => Ok(Outcome::Updated),
        ManagedWrite::OwnedElsewhere { managed_by, owner } => {
            Err(conflict(&new.id, &managed_by, owner.as_deref()))
        }
    }
}

fn conflict(id: &str, managed_by: &str, owner: Option<&str>) -> Error {
    let holder = match owner {
        Some(owner) => format!("{managed_by} resource {owner}"),
        None => format!("a registration made through the {managed_by}"),
    };
    Error::IdConflict(format!("webhook id {id:?} is already taken by {holder}"))
}

fn credential_error(auth: &AuthScheme, error: crate::registration::CredentialError) -> Error {
    use crate::registration::CredentialError;
    match error {
        CredentialError::NoSealingKey(_) => Error::SecretMissing(error.to_string()),
        CredentialError::Empty => {
            Error::SecretMissing(format!("the {} credential is empty", auth.name()))
        }
        CredentialError::Seal(e) => Error::SecretMissing(e.to_string()),
    }
}

/// A store failure as the operator reports it: invalid input is the resource's fault, every
/// other failure is the database's and worth retrying.
pub fn database_error(error: StoreError) -> Error {
    match error {
        StoreError::Invalid(message) => Error::InvalidSpec(message),
        other => Error::DatabaseUnavailable(other.to_string()),
    }
}
