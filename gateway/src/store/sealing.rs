//! Sealing of signing secrets at rest: AES-256-GCM with a random nonce, under a key named by an
//! id so keys can be rotated (new secrets are sealed with the current key; `reseal` moves old
//! ones over). The webhook id is bound in as associated data, so a sealed secret copied to
//! another webhook's row does not open.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_LEN: usize = 12;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("no sealing key is configured (WEBHOOK_GATEWAY_SEALING_KEYS)")]
    NoKey,
    #[error("the sealing key {0:?} is not configured")]
    UnknownKey(String),
    #[error("a sealed secret does not open with key {0:?}: wrong key or damaged data")]
    Damaged(String),
}

/// The configured sealing keys.
#[derive(Clone, Default)]
pub struct SealingKeys {
    current: Option<String>,
    keys: HashMap<String, Key<Aes256Gcm>>,
}

impl fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("SealingKeys")
            .field("current", &self.current)
            .field("ids", &ids)
            .finish()
    }
}

impl SealingKeys {
    /// Parses `id:base64key[,id:base64key...]`; `current` names the key new secrets are sealed
    /// with (default: the first). Errors name the problem without repeating key material.
    pub fn parse(list: &str, current: Option<&str>) -> Result<Self, String> {
        let mut keys = HashMap::new();
        let mut first = None;
        for (position, entry) in list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let entry_number = position + 1;
            let (id, material) = entry
                .split_once(':')
                .ok_or("each key must be written id:base64-key")?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                // The entry may be written the wrong way round: never echo what could be a key.
                return Err(format!(
                    "entry {entry_number}: the key id must be letters, digits, '-' or '_' (write id:base64-key)"
                ));
            }
            let bytes = STANDARD
                .decode(material.trim())
                .map_err(|_| format!("key {id:?} is not valid base64"))?;
            if bytes.len() != 32 {
                return Err(format!("key {id:?} must be 32 bytes, not {}", bytes.len()));
            }
            if keys
                .insert(id.to_owned(), *Key::<Aes256Gcm>::from_slice(&bytes))
                .is_some()
            {
                return Err(format!("key id {id:?} is listed twice"));
            }
            first.get_or_insert_with(|| id.to_owned());
        }
        let current = match current {
            Some(id) if !keys.contains_key(id) => {
                return Err(format!(
                    "the current key {id:?} is not among the listed keys"
                ));
            }
            Some(id) => Some(id.to_owned()),
            None => first,
        };
        Ok(Self { current, keys })
    }

    /// A new random key in the `id:base64key` form.
    pub fn generate(id: &str) -> String {
        let key = Aes256Gcm::generate_key(OsRng);
        format!("{id}:{}", STANDARD.encode(key))
    }

    /// Whether any key is configured.
    pub fn is_configured(&self) -> bool {
        self.current.is_some()
    }

    /// Seals `secret` for `webhook_id`; returns the key id and `nonce || ciphertext`.
    pub fn seal(&self, webhook_id: &str, secret: &[u8]) -> Result<(String, Vec<u8>), SealError> {
        let id = self.current.as_ref().ok_or(SealError::NoKey)?;
        let cipher = Aes256Gcm::new(&self.keys[id]);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret,
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged(id.clone()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok((id.clone(), out))
    }

    /// Opens a secret sealed by [`seal`](Self::seal) for the same webhook.
    pub fn open(
        &self,
        webhook_id: &str,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Damaged(key_id.to_owned()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Aes256Gcm::new(key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged(key_id.to_owned()))
    }

    /// The id of the key new secrets are sealed with.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SealingKeys {
        let list = format!(
            "{},{}",
            SealingKeys::generate("k1"),
            SealingKeys::generate("k2")
        );
        SealingKeys::parse(&list, None).unwrap()
    }

    #[test]
    fn sealed_secrets_open_for_their_webhook_only() {
        let keys = keys();
        let (id, sealed) = keys.seal("orders", b"whsec_abc").unwrap();
        assert_eq!(id, "k1");
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(keys.open("orders", &id, &sealed).unwrap(), b"whsec_abc");
        assert_eq!(
            keys.open("payments", &id, &sealed),
            Err(SealError::Damaged("k1".into()))
        );
    }

    #[test]
    fn tampered_or_truncated_data_does_not_open() {
        let keys = keys();
        let (id, mut sealed) = keys.seal("orders", b"secret").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(keys.open("orders", &id, &sealed).is_err());
        assert!(keys.open("orders", &id, &sealed[..5]).is_err());
    }

    #[test]
    fn secrets_sealed_under_an_old_key_open_after_rotation() {
        let old = SealingKeys::generate("old");
        let new = SealingKeys::generate("new");
        let before = SealingKeys::parse(&old, None).unwrap();
        let (id, sealed) = before.seal("hook", b"s3cret").unwrap();
        let after = SealingKeys::parse(&format!("{old},{new}"), Some("new")).unwrap();
        assert_eq!(after.open("hook", &id, &sealed).unwrap(), b"s3cret");
        assert_eq!(after.seal("hook", b"x").unwrap().0, "new");
        let forgotten = SealingKeys::parse(&new, None).unwrap();
        assert_eq!(
            forgotten.open("hook", &id, &sealed),
            Err(SealError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn rejects_malformed_key_lists_without_echoing_material() {
        assert!(
            SealingKeys::parse("k1:notbase64!!", None)
                .unwrap_err()
                .contains("k1")
        );
        let short = format!("k1:{}", STANDARD.encode([0u8; 16]));
        assert!(
            SealingKeys::parse(&short, None)
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(SealingKeys::parse("nocolon", None).is_err());
        let material = STANDARD.encode([7u8; 32]);
        let swapped = SealingKeys::parse(&format!("{material}:k1"), None).unwrap_err();
        assert!(!swapped.contains(&material[..20]), "{swapped}");
        let one = SealingKeys::generate("a");
        assert!(SealingKeys::parse(&one, Some("b")).is_err());
        assert!(!SealingKeys::parse("", None).unwrap().is_configured());
    }
}
