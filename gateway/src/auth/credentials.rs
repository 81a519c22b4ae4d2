//! Issuing a webhook's credentials: generated in the form its sender expects (or given), then
//! stored hashed or sealed according to the scheme.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;

use super::api_key;
use super::scheme::{AuthScheme, SecretKind};
use crate::store::sealing::{SealError, SealingKeys};
use crate::store::{Database, NewCredential, StoreError};

/// Why a credential could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a new credential for `auth` (generated unless `given`); the webhook's older
/// credentials of the same kind stay valid until `old_expire_at`. Returns the credential when
/// it was generated, since a generated one must be shown once.
pub async fn issue(
    sealing: &SealingKeys,
    database: &Database,
    id: &str,
    auth: &AuthScheme,
    given: Option<String>,
    old_expire_at: Option<DateTime<Utc>>,
) -> Result<Option<String>, IssueError> {
    let kind = auth.secret_kind();
    if kind == SecretKind::Nothing {
        return Ok(None);
    }
    let generated = given.is_none();
    let secret = given.unwrap_or_else(|| generate(auth));
    let credential = match kind {
        SecretKind::ApiKey => NewCredential::ApiKey(api_key::hash(&secret)),
        SecretKind::Hashed => NewCredential::Token(api_key::hash(&secret)),
        SecretKind::Recoverable => {
            let (key_id, sealed) = sealing.seal(id, secret.as_bytes())?;
            NewCredential::SigningSecret { key_id, sealed }
        }
        SecretKind::Nothing => return Ok(None),
    };
    database
        .add_credential(id, credential, old_expire_at)
        .await?;
    Ok(generated.then_some(secret))
}

/// A random credential in the form the sender expects.
pub fn generate(auth: &AuthScheme) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    match auth {
        AuthScheme::ApiKey => api_key::generate(),
        AuthScheme::StandardWebhooks { .. } => format!("whsec_{}", STANDARD.encode(bytes)),
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
