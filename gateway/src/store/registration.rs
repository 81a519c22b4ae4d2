//! The registration of one webhook, as the ingest path needs it.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::auth::scheme::AuthScheme;

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

/// A stored API key or token: its SHA-256 hash and, during rotation, when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
    pub expires_at: Option<DateTime<Utc>>,
}

/// A signing secret sealed at rest (see [`super::sealing`]); it stays sealed in every cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub key_id: String,
    #[serde(with = "base64_bytes")]
    pub sealed: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A per-webhook rate limit: sustained calls per second and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Where a caller's event id is found, for duplicate suppression.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    /// A request header holding the event id (lower-case).
    pub header: Option<String>,
    /// A JSON pointer into the payload (RFC 6901), e.g. `/id`.
    pub json_pointer: Option<String>,
    /// How long an event id is remembered; the gateway's default when absent.
    pub ttl_seconds: Option<u32>,
}

/// The answer to an accepted call, for senders that insist on one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseSettings {
    /// 200, 202 or 204.
    pub status: u16,
    /// A fixed body sent instead of `{"eventId": ...}`.
    pub body: Option<String>,
}

impl Default for ResponseSettings {
    fn default() -> Self {
        Self {
            status: 202,
            body: None,
        }
    }
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
    /// How callers authenticate.
    pub auth: AuthScheme,
    pub api_keys: Vec<StoredKey>,
    /// Hashed shared tokens (GitLab token, Basic password).
    pub tokens: Vec<StoredKey>,
    pub signing_secrets: Vec<SealedSecret>,
    /// Source networks allowed to call; empty allows every address.
    pub allowed_cidrs: Vec<IpNet>,
    pub rate_limit: Option<RateLimit>,
    pub idempotency: Idempotency,
    pub response: ResponseSettings,
    pub revision: i64,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            workspace_id: String::new(),
            organization_id: None,
            active: true,
            start_event: None,
            topic: None,
            max_body_bytes: None,
            forwarded_headers: Vec::new(),
            auth: AuthScheme::ApiKey,
            api_keys: Vec::new(),
            tokens: Vec::new(),
            signing_secrets: Vec::new(),
            allowed_cidrs: Vec::new(),
            rate_limit: None,
            idempotency: Idempotency::default(),
            response: ResponseSettings::default(),
            revision: 0,
        }
    }
}

/// What a writer supplies to create or replace a registration (credentials are added apart).
#[derive(Debug, Clone)]
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
    pub auth: AuthScheme,
    pub allowed_cidrs: Vec<IpNet>,
    pub rate_limit: Option<RateLimit>,
    pub idempotency: Idempotency,
    pub response: ResponseSettings,
    /// `cli`, `api` or `kubernetes`.
    pub managed_by: String,
}

impl NewRegistration {
    /// Every field that does not make a valid registration, as `(field, problem)` pairs named
    /// as in the management API.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let texts = [
            ("name", Some(self.name.as_str())),
            ("description", self.description.as_deref()),
            ("organizationId", self.organization_id.as_deref()),
            ("startEvent", self.start_event.as_deref()),
            ("response.body", self.response.body.as_deref()),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                problems.push((field, "must not contain NUL".to_owned()));
            }
        }
        if !is_valid_id(&self.id) {
            problems.push((
                "id",
                "must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}".to_owned(),
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 253 {
            problems.push(("name", "must be 1 to 253 characters".to_owned()));
        }
        if self.workspace_id.is_empty() || self.workspace_id.chars().count() > 253 {
            problems.push(("workspaceId", "must be 1 to 253 characters".to_owned()));
        }
        let legal_topic = |t: &str| {
            (1..=249).contains(&t.len())
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if self.topic.as_deref().is_some_and(|t| !legal_topic(t)) {
            problems.push(("topic", "must be 1 to 249 of [A-Za-z0-9._-]".to_owned()));
        }
        if self.max_body_bytes.is_some_and(|n| n <= 0) {
            problems.push(("maxBodyBytes", "must be positive".to_owned()));
        }
        if self
            .forwarded_headers
            .iter()
            .any(|h| !crate::auth::scheme::is_header_name(h))
        {
            problems.push(("forwardedHeaders", "must be HTTP header names".to_owned()));
        }
        if let Err(problem) = self.auth.validate() {
            problems.push(("auth", problem));
        }
        if let Some(limit) = self.rate_limit {
            if limit.per_second == 0
                || limit.burst == 0
                || limit.per_second > i32::MAX as u32
                || limit.burst > i32::MAX as u32
            {
                problems.push((
                    "rateLimit",
                    "perSecond and burst must be positive".to_owned(),
                ));
            }
        }
        if self
            .idempotency
            .header
            .as_deref()
            .is_some_and(|h| !crate::auth::scheme::is_header_name(h))
        {
            problems.push((
                "idempotency.header",
                "must be an HTTP header name".to_owned(),
            ));
        }
        if self
            .idempotency
            .json_pointer
            .as_deref()
            .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
        {
            problems.push(("idempotency.jsonPointer", "must start with '/'".to_owned()));
        }
        if self
            .idempotency
            .ttl_seconds
            .is_some_and(|t| t == 0 || t > i32::MAX as u32)
        {
            problems.push(("idempotency.ttlSeconds", "must be positive".to_owned()));
        }
        if !matches!(self.response.status, 200 | 202 | 204) {
            problems.push(("response.status", "must be 200, 202 or 204".to_owned()));
        }
        problems
    }
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

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        STANDARD
            .decode(String::deserialize(deserializer)?)
            .map_err(D::Error::custom)
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
            max_body_bytes: Some(10),
            forwarded_headers: vec!["x-shop".into()],
            api_keys: vec![StoredKey {
                hash: [7; 32],
                expires_at: None,
            }],
            signing_secrets: vec![SealedSecret {
                key_id: "k1".into(),
                sealed: vec![1, 2, 255],
                expires_at: None,
            }],
            allowed_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
            rate_limit: Some(RateLimit {
                per_second: 5,
                burst: 10,
            }),
            revision: 3,
            ..Registration::default()
        };
        let text = serde_json::to_string(&registration).unwrap();
        assert_eq!(
            serde_json::from_str::<Registration>(&text).unwrap(),
            registration
        );
    }
}
