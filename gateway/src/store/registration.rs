//! The registration of one webhook, as the ingest path needs it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest accepted webhook id; ids appear in URLs and Kafka keys.
pub const MAX_ID_LEN: usize = 128;

/// Whether `id` is a well-formed webhook id (`[A-Za-z0-9][A-Za-z0-9._-]{0,127}`).
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && id.len() <= MAX_ID_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A stored API key: its SHA-256 hash and, during rotation, when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
    pub expires_at: Option<DateTime<Utc>>,
}

/// A webhook registration with its credentials, as cached and checked on every call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub organization_id: Option<String>,
    pub active: bool,
    pub start_event: Option<String>,
    /// Overrides the gateway's start topic for this webhook.
    pub topic: Option<String>,
    /// Overrides the gateway's body limit for this webhook.
    pub max_body_bytes: Option<usize>,
    /// Extra request headers (lower-case) forwarded in the record besides the default ones.
    pub forwarded_headers: Vec<String>,
    pub api_keys: Vec<StoredKey>,
    pub revision: i64,
}

/// What a writer supplies to create or replace a registration.
#[derive(Debug, Clone, Default)]
pub struct NewRegistration {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: String,
    pub organization_id: Option<String>,
    pub active: bool,
    pub start_event: Option<String>,
    pub topic: Option<String>,
    pub max_body_bytes: Option<i32>,
    pub forwarded_headers: Vec<String>,
    /// `cli`, `api` or `kubernetes`.
    pub managed_by: String,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.len() != 64 || !text.is_ascii() {
            return Err(D::Error::custom("expected 64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(D::Error::custom)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ids_of_letters_digits_dots_dashes_underscores() {
        assert!(is_valid_id("orders-created_v1.2"));
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"x".repeat(MAX_ID_LEN)));
    }

    #[test]
    fn rejects_ids_that_could_escape_a_path_or_key() {
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("../etc"));
        assert!(!is_valid_id(".hidden"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
        assert!(!is_valid_id(&"x".repeat(MAX_ID_LEN + 1)));
    }

    #[test]
    fn registration_round_trips_through_its_cached_form() {
        let registration = Registration {
            id: "orders".into(),
            name: "Orders".into(),
            workspace_id: "ws".into(),
            organization_id: Some("org".into()),
            active: true,
            start_event: None,
            topic: None,
            max_body_bytes: Some(10),
            forwarded_headers: vec!["x-shop".into()],
            api_keys: vec![StoredKey {
                hash: [7; 32],
                expires_at: None,
            }],
            revision: 3,
        };
        let text = serde_json::to_string(&registration).unwrap();
        assert_eq!(
            serde_json::from_str::<Registration>(&text).unwrap(),
            registration
        );
    }
}
