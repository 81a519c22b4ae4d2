//! API keys: 256 random bits, shown once, stored only as a SHA-256 hash, compared in constant
//! time. A plain hash suffices because the keys are random and long; there is nothing to guess.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::StoredKey;

/// Prefix that makes a leaked key recognisable to secret scanners.
pub const KEY_PREFIX: &str = "whk_";

/// Creates a new key: the prefix and 32 random bytes in URL-safe base64.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash under which a key is stored.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Whether `presented` matches one of the keys still valid at `now`.
///
/// Every stored key is compared, in constant time, whatever the outcome of the others.
pub fn verify(presented: &str, keys: &[StoredKey], now: DateTime<Utc>) -> bool {
    let presented = hash(presented);
    keys.iter().fold(false, |matched, key| {
        let live = key.expires_at.is_none_or(|expiry| expiry > now);
        let equal: bool = key.hash.ct_eq(&presented).into();
        matched | (equal & live)
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn stored(key: &str, expires_at: Option<DateTime<Utc>>) -> StoredKey {
        StoredKey {
            hash: hash(key),
            expires_at,
        }
    }

    #[test]
    fn generated_keys_carry_256_random_bits() {
        let key = generate();
        let body = key.strip_prefix(KEY_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_ne!(generate(), key);
    }

    #[test]
    fn accepts_the_stored_key_and_rejects_others() {
        let key = generate();
        let keys = [stored(&key, None)];
        assert!(verify(&key, &keys, Utc::now()));
        assert!(!verify(&generate(), &keys, Utc::now()));
        assert!(!verify("", &keys, Utc::now()));
    }

    #[test]
    fn rejects_a_rotated_key_after_its_expiry() {
        let now = Utc::now();
        let old = generate();
        let new = generate();
        let keys = [
            stored(&old, Some(now + Duration::minutes(5))),
            stored(&new, None),
        ];
        assert!(verify(&old, &keys, now));
        assert!(verify(&new, &keys, now));
        assert!(!verify(&old, &keys, now + Duration::minutes(6)));
        assert!(verify(&new, &keys, now + Duration::minutes(6)));
    }

    #[test]
    fn no_keys_means_no_access() {
        assert!(!verify(&generate(), &[], Utc::now()));
    }
}
