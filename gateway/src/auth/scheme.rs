//! How callers of one webhook authenticate: the scheme and its parameters, stored as JSON with the
//! registration.
//!
//! [`AuthScheme::validate`] runs on every write, so the verifiers in [`super::verify`] only meet
//! settings that make sense; they still fail closed on settings it would have rejected.

use serde::{Deserialize, Serialize};

/// Tolerance, in seconds, for a timestamped scheme that sets none: the providers' own default.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

/// Largest tolerance accepted, in seconds. A day is already a wide replay window.
pub const MAX_TOLERANCE_SECONDS: u64 = 86_400;

/// Signed content of a generic HMAC scheme that sets none: the raw body alone.
pub const DEFAULT_SIGNED_CONTENT: &str = "{body}";

/// Longest accepted signed-content template, in bytes.
pub const MAX_TEMPLATE_LEN: usize = 256;

/// Longest accepted header name or signature prefix, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Longest accepted Basic username, in bytes.
pub const MAX_USERNAME_LEN: usize = 256;

/// The authentication a webhook's callers must pass.
///
/// Written as `{"type": "<name>", ...fields}`; read back through `StoredScheme`, which
/// rejects unknown fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", from = "StoredScheme")]
pub enum AuthScheme {
    /// A gateway-issued API key (see [`super::api_key`]).
    ApiKey,
    /// Standard Webhooks (also sent by Svix): `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` headers, HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    StandardWebhooks {
        /// Largest accepted distance between the signed timestamp and now, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        tolerance_seconds: Option<u64>,
    },
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 over the body.
    Github,
    /// GitLab: a shared token sent as is in `X-Gitlab-Token`.
    Gitlab,
    /// Stripe: `Stripe-Signature: t=..,v1=..`, HMAC-SHA256 over `{t}.{body}`.
    Stripe {
        /// Largest accepted distance between the signed timestamp and now, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        tolerance_seconds: Option<u64>,
    },
    /// Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 over `v0:{timestamp}:{body}`.
    Slack {
        /// Largest accepted distance between the signed timestamp and now, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        tolerance_seconds: Option<u64>,
    },
    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 over the body.
    Shopify,
    /// Any other HMAC signature, described by its header, algorithm and encoding.
    Hmac {
        /// Request header carrying the signature.
        header: String,
        /// Hash function of the HMAC; deliberately without default, so SHA-1 is always chosen.
        algorithm: HmacAlgorithm,
        /// How the signature is spelled in the header.
        encoding: SignatureEncoding,
        /// Text before the signature in the header, e.g. `sha256=`; required when set.
        #[serde(skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        /// Request header carrying the Unix time (seconds) the sender signed at.
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp_header: Option<String>,
        /// What is signed, from `{timestamp}`, `{body}` and literal text; `{body}` by default.
        #[serde(skip_serializing_if = "Option::is_none")]
        signed_content: Option<String>,
        /// Largest accepted distance between the signed timestamp and now, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        tolerance_seconds: Option<u64>,
    },
    /// HTTP Basic authentication (RFC 7617) with one username and its password.
    Basic {
        /// The only accepted username.
        username: String,
    },
    /// No authentication at all.
    None,
}

/// The JSON form of [`AuthScheme`] as read back. Serde ignores `deny_unknown_fields` on unit
/// variants of an internally tagged enum, so they are read as empty struct variants here.
/// Absent optional fields read as `None`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum StoredScheme {
    ApiKey {},
    StandardWebhooks {
        tolerance_seconds: Option<u64>,
    },
    Github {},
    Gitlab {},
    Stripe {
        tolerance_seconds: Option<u64>,
    },
    Slack {
        tolerance_seconds: Option<u64>,
    },
    Shopify {},
    Hmac {
        header: String,
        algorithm: HmacAlgorithm,
        encoding: SignatureEncoding,
        prefix: Option<String>,
        timestamp_header: Option<String>,
        signed_content: Option<String>,
        tolerance_seconds: Option<u64>,
    },
    Basic {
        username: String,
    },
    None {},
}

impl From<StoredScheme> for AuthScheme {
    fn from(stored: StoredScheme) -> Self {
        match stored {
            StoredScheme::ApiKey {} => Self::ApiKey,
            StoredScheme::StandardWebhooks { tolerance_seconds } => {
                Self::StandardWebhooks { tolerance_seconds }
            }
            StoredScheme::Github {} => Self::Github,
            StoredScheme::Gitlab {} => Self::Gitlab,
            StoredScheme::Stripe { tolerance_seconds } => Self::Stripe { tolerance_seconds },
            StoredScheme::Slack { tolerance_seconds } => Self::Slack { tolerance_seconds },
            StoredScheme::Shopify {} => Self::Shopify,
            StoredScheme::Hmac {
                header,
                algorithm,
                encoding,
                prefix,
                timestamp_header,
                signed_content,
                tolerance_seconds,
            } => Self::Hmac {
                header,
                algorithm,
                encoding,
                prefix,
                timestamp_header,
                signed_content,
                tolerance_seconds,
            },
            StoredScheme::Basic { username } => Self::Basic { username },
            StoredScheme::None {} => Self::None,
        }
    }
}

/// Hash function of a generic HMAC signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1, for senders that offer nothing better.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl HmacAlgorithm {
    /// Length of the MAC in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// How a generic HMAC signature is spelled in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    /// Hexadecimal digits, either case.
    Hex,
    /// Standard base64 with padding (RFC 4648 section 4).
    Base64,
}

/// What the gateway keeps of a scheme's secret, which decides how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Gateway-issued API keys, kept as SHA-256 hashes.
    ApiKey,
    /// An HMAC key: kept encrypted, given back in clear to the verifier.
    Recoverable,
    /// A shared token or password (GitLab token, Basic password): only its SHA-256 is kept.
    Hashed,
    /// No secret at all.
    Nothing,
}

/// One piece of a generic signed-content template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentPart<'a> {
    /// Text signed as is.
    Literal(&'a str),
    /// The timestamp header's value, exactly as received.
    Timestamp,
    /// The raw request body.
    Body,
}

const TIMESTAMP_PLACEHOLDER: &str = "{timestamp}";
const BODY_PLACEHOLDER: &str = "{body}";

/// Splits a signed-content template into its parts.
///
/// A template holds `{body}` exactly once (a signature that skips the body authenticates
/// nothing), `{timestamp}` at most once, and no other braces.
pub fn parse_signed_content(template: &str) -> Result<Vec<ContentPart<'_>>, String> {
    if template.len() > MAX_TEMPLATE_LEN {
        return Err(format!("is longer than {MAX_TEMPLATE_LEN} bytes"));
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let literal_end = rest.find(['{', '}']).unwrap_or(rest.len());
        let (literal, tail) = rest.split_at(literal_end);
        if !literal.is_empty() {
            parts.push(ContentPart::Literal(literal));
        }
        rest = if let Some(after) = tail.strip_prefix(TIMESTAMP_PLACEHOLDER) {
            parts.push(ContentPart::Timestamp);
            after
        } else if let Some(after) = tail.strip_prefix(BODY_PLACEHOLDER) {
            parts.push(ContentPart::Body);
            after
        } else if tail.is_empty() {
            tail
        } else {
            return Err("may only use the placeholders {timestamp} and {body}".to_owned());
        };
    }
    let count = |wanted: ContentPart<'_>| parts.iter().filter(|part| **part == wanted).count();
    if count(ContentPart::Body) != 1 {
        return Err("must contain {body} exactly once".to_owned());
    }
    if count(ContentPart::Timestamp) > 1 {
        return Err("may contain {timestamp} at most once".to_owned());
    }
    Ok(parts)
}

/// Whether `name` is a valid HTTP field name: a non-empty `token` of RFC 9110 section 5.6.2.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn check_tolerance(tolerance_seconds: Option<u64>) -> Result<(), String> {
    match tolerance_seconds {
        Some(seconds) if !(1..=MAX_TOLERANCE_SECONDS).contains(&seconds) => Err(format!(
            "tolerance_seconds must be between 1 and {MAX_TOLERANCE_SECONDS}"
        )),
        _ => Ok(()),
    }
}

impl AuthScheme {
    /// Checks the settings; the message names the offending field and never echoes a secret.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::StandardWebhooks { tolerance_seconds }
            | Self::Stripe { tolerance_seconds }
            | Self::Slack { tolerance_seconds } => check_tolerance(*tolerance_seconds),
            Self::Hmac {
                header,
                prefix,
                timestamp_header,
                signed_content,
                tolerance_seconds,
                ..
            } => validate_hmac(
                header,
                prefix.as_deref(),
                timestamp_header.as_deref(),
                signed_content.as_deref(),
                *tolerance_seconds,
            ),
            Self::Basic { username } => validate_username(username),
            Self::ApiKey | Self::Github | Self::Gitlab | Self::Shopify | Self::None => Ok(()),
        }
    }

    /// What is kept of this scheme's secrets.
    pub fn secret_kind(&self) -> SecretKind {
        match self {
            Self::ApiKey => SecretKind::ApiKey,
            Self::StandardWebhooks { .. }
            | Self::Github
            | Self::Stripe { .. }
            | Self::Slack { .. }
            | Self::Shopify
            | Self::Hmac { .. } => SecretKind::Recoverable,
            Self::Gitlab | Self::Basic { .. } => SecretKind::Hashed,
            Self::None => SecretKind::Nothing,
        }
    }

    /// The header (lower-case) in which the provider names each delivery, for deduplication.
    pub fn event_id_header(&self) -> Option<&'static str> {
        match self {
            Self::StandardWebhooks { .. } => Some("webhook-id"),
            Self::Github => Some("x-github-delivery"),
            Self::Gitlab => Some("x-gitlab-event-uuid"),
            Self::Shopify => Some("x-shopify-webhook-id"),
            _ => None,
        }
    }

    /// The scheme's name, as in the JSON `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::StandardWebhooks { .. } => "standard-webhooks",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Stripe { .. } => "stripe",
            Self::Slack { .. } => "slack",
            Self::Shopify => "shopify",
            Self::Hmac { .. } => "hmac",
            Self::Basic { .. } => "basic",
            Self::None => "none",
        }
    }
}

fn validate_hmac(
    header: &str,
    prefix: Option<&str>,
    timestamp_header: Option<&str>,
    signed_content: Option<&str>,
    tolerance_seconds: Option<u64>,
) -> Result<(), String> {
    if !is_header_name(header) {
        return Err(format!("header {header:?} is not a valid HTTP header name"));
    }
    if let Some(prefix) = prefix {
        let printable = prefix.bytes().all(|byte| (b' '..=b'~').contains(&byte));
        if prefix.is_empty() || prefix.len() > MAX_NAME_LEN || !printable {
            return Err(format!(
                "prefix must be 1 to {MAX_NAME_LEN} printable ASCII characters"
            ));
        }
    }
    if let Some(timestamp_header) = timestamp_header {
        if !is_header_name(timestamp_header) {
            return Err(format!(
                "timestamp_header {timestamp_header:?} is not a valid HTTP header name"
            ));
        }
        if timestamp_header.eq_ignore_ascii_case(header) {
            return Err("timestamp_header must differ from header".to_owned());
        }
    }
    let template = signed_content.unwrap_or(DEFAULT_SIGNED_CONTENT);
    let parts =
        parse_signed_content(template).map_err(|problem| format!("signed_content {problem}"))?;
    let signs_timestamp = parts.contains(&ContentPart::Timestamp);
    match (signs_timestamp, timestamp_header.is_some()) {
        (true, false) => {
            Err("signed_content uses {timestamp} but timestamp_header is not set".into())
        }
        // An unsigned timestamp can be replaced at will, so it would protect against nothing.
        (false, true) => Err("timestamp_header is set but signed_content lacks {timestamp}".into()),
        _ if tolerance_seconds.is_some() && timestamp_header.is_none() => {
            Err("tolerance_seconds needs timestamp_header".into())
        }
        _ => check_tolerance(tolerance_seconds),
    }
}

fn validate_username(username: &str) -> Result<(), String> {
    if username.is_empty() || username.len() > MAX_USERNAME_LEN {
        return Err(format!("username must be 1 to {MAX_USERNAME_LEN} bytes"));
    }
    // RFC 7617: the user-id cannot contain a colon, nor control characters.
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err("username must not contain ':' or control characters".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hmac_scheme() -> AuthScheme {
        AuthScheme::Hmac {
            header: "X-Signature".to_owned(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Hex,
            prefix: Some("sha256=".to_owned()),
            timestamp_header: Some("x-signature-timestamp".to_owned()),
            signed_content: Some("{timestamp}.{body}".to_owned()),
            tolerance_seconds: Some(600),
        }
    }

    fn with_hmac(change: impl FnOnce(&mut AuthScheme)) -> AuthScheme {
        let mut scheme = hmac_scheme();
        change(&mut scheme);
        scheme
    }

    fn hmac_fields(
        scheme: &mut AuthScheme,
    ) -> (
        &mut String,
        &mut Option<String>,
        &mut Option<String>,
        &mut Option<String>,
        &mut Option<u64>,
    ) {
        match scheme {
            AuthScheme::Hmac {
                header,
                prefix,
                timestamp_header,
                signed_content,
                tolerance_seconds,
                ..
            } => (
                header,
                prefix,
                timestamp_header,
                signed_content,
                tolerance_seconds,
            ),
            _ => unreachable!("hmac_scheme builds an Hmac scheme"),
        }
    }

    #[test]
    fn every_scheme_round_trips_through_json_under_its_name() {
        let schemes = [
            AuthScheme::ApiKey,
            AuthScheme::StandardWebhooks {
                tolerance_seconds: None,
            },
            AuthScheme::StandardWebhooks {
                tolerance_seconds: Some(60),
            },
            AuthScheme::Github,
            AuthScheme::Gitlab,
            AuthScheme::Stripe {
                tolerance_seconds: None,
            },
            AuthScheme::Slack {
                tolerance_seconds: Some(120),
            },
            AuthScheme::Shopify,
            hmac_scheme(),
            AuthScheme::Basic {
                username: "sender".to_owned(),
            },
            AuthScheme::None,
        ];
        for scheme in schemes {
            let value = serde_json::to_value(&scheme).unwrap();
            assert_eq!(value["type"], scheme.name(), "{value}");
            assert_eq!(serde_json::from_value::<AuthScheme>(value).unwrap(), scheme);
            assert_eq!(scheme.validate(), Ok(()), "{scheme:?}");
        }
    }

    #[test]
    fn reads_the_documented_json_shapes() {
        let github: AuthScheme = serde_json::from_value(json!({"type": "github"})).unwrap();
        assert_eq!(github, AuthScheme::Github);
        let standard: AuthScheme =
            serde_json::from_value(json!({"type": "standard-webhooks"})).unwrap();
        assert_eq!(
            standard,
            AuthScheme::StandardWebhooks {
                tolerance_seconds: None
            }
        );
        let hmac: AuthScheme = serde_json::from_value(json!({
            "type": "hmac",
            "header": "x-signature",
            "algorithm": "sha512",
            "encoding": "base64"
        }))
        .unwrap();
        assert_eq!(
            hmac,
            AuthScheme::Hmac {
                header: "x-signature".to_owned(),
                algorithm: HmacAlgorithm::Sha512,
                encoding: SignatureEncoding::Base64,
                prefix: None,
                timestamp_header: None,
                signed_content: None,
                tolerance_seconds: None,
            }
        );
        assert_eq!(hmac.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(AuthScheme::StandardWebhooks {
                tolerance_seconds: None
            })
            .unwrap(),
            json!({"type": "standard-webhooks"})
        );
    }

    #[test]
    fn rejects_unknown_fields_and_types() {
        for value in [
            json!({"type": "github", "secret": "x"}),
            json!({"type": "stripe", "tolerance": 10}),
            json!({"type": "basic", "username": "a", "password": "b"}),
            json!({"type": "hmac", "header": "x", "algorithm": "sha1", "encoding": "hex", "x": 1}),
            json!({"type": "bitbucket"}),
            json!({"tolerance_seconds": 10}),
        ] {
            assert!(
                serde_json::from_value::<AuthScheme>(value.clone()).is_err(),
                "{value}"
            );
        }
    }

    #[test]
    fn hmac_algorithm_must_be_chosen_explicitly() {
        let missing = json!({"type": "hmac", "header": "x-signature", "encoding": "hex"});
        assert!(serde_json::from_value::<AuthScheme>(missing).is_err());
        let sha1 =
            json!({"type": "hmac", "header": "x-sig", "algorithm": "sha1", "encoding": "hex"});
        let scheme: AuthScheme = serde_json::from_value(sha1).unwrap();
        assert!(matches!(
            scheme,
            AuthScheme::Hmac {
                algorithm: HmacAlgorithm::Sha1,
                ..
            }
        ));
        let md5 = json!({"type": "hmac", "header": "x-sig", "algorithm": "md5", "encoding": "hex"});
        assert!(serde_json::from_value::<AuthScheme>(md5).is_err());
    }

    #[test]
    fn tolerance_must_lie_between_one_second_and_a_day() {
        for (tolerance, valid) in [(0, false), (1, true), (86_400, true), (86_401, false)] {
            for scheme in [
                AuthScheme::StandardWebhooks {
                    tolerance_seconds: Some(tolerance),
                },
                AuthScheme::Stripe {
                    tolerance_seconds: Some(tolerance),
                },
                AuthScheme::Slack {
                    tolerance_seconds: Some(tolerance),
                },
                with_hmac(|s| *hmac_fields(s).4 = Some(tolerance)),
            ] {
                assert_eq!(scheme.validate().is_ok(), valid, "{scheme:?}");
            }
        }
    }

    #[test]
    fn hmac_header_names_must_be_http_tokens() {
        for bad in ["", "x signature", "x-sig:", "x-sig\n", "x-sïg", "(x)"] {
            let scheme = with_hmac(|s| *hmac_fields(s).0 = bad.to_owned());
            assert!(scheme.validate().is_err(), "{bad:?}");
            let scheme = with_hmac(|s| *hmac_fields(s).2 = Some(bad.to_owned()));
            assert!(scheme.validate().is_err(), "{bad:?}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(with_hmac(|s| *hmac_fields(s).0 = long).validate().is_err());
        assert!(is_header_name("X-Hub-Signature-256"));
        assert!(is_header_name("x~weird_but.valid!"));
    }

    #[test]
    fn hmac_timestamp_header_must_differ_from_the_signature_header() {
        let scheme = with_hmac(|s| *hmac_fields(s).2 = Some("x-SIGNATURE".to_owned()));
        assert!(scheme.validate().is_err());
    }

    #[test]
    fn hmac_prefix_must_be_printable_ascii() {
        for bad in ["", "sha256=\n", "sha256=\u{7f}", "sigñ="] {
            let scheme = with_hmac(|s| *hmac_fields(s).1 = Some(bad.to_owned()));
            assert!(scheme.validate().is_err(), "{bad:?}");
        }
        for good in ["sha256=", "v1 ", "t=0, v1="] {
            let scheme = with_hmac(|s| *hmac_fields(s).1 = Some(good.to_owned()));
            assert_eq!(scheme.validate(), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn hmac_template_only_knows_timestamp_and_body() {
        for bad in [
            "{id}.{body}",
            "{timestamp}.{body}.{",
            "}{body}",
            "{Body}",
            "{timestamp}",
            "{body}{body}",
            "{timestamp}{timestamp}{body}",
            "",
        ] {
            let scheme = with_hmac(|s| *hmac_fields(s).3 = Some(bad.to_owned()));
            assert!(scheme.validate().is_err(), "{bad:?}");
        }
        let long = format!("{}{{timestamp}}{{body}}", "x".repeat(MAX_TEMPLATE_LEN));
        assert!(
            with_hmac(|s| *hmac_fields(s).3 = Some(long))
                .validate()
                .is_err()
        );
        assert_eq!(
            parse_signed_content("v0:{timestamp}:{body}"),
            Ok(vec![
                ContentPart::Literal("v0:"),
                ContentPart::Timestamp,
                ContentPart::Literal(":"),
                ContentPart::Body,
            ])
        );
    }

    #[test]
    fn hmac_timestamp_placeholder_and_header_go_together() {
        let no_header = with_hmac(|s| *hmac_fields(s).2 = None);
        assert!(
            no_header
                .validate()
                .unwrap_err()
                .contains("timestamp_header")
        );
        let unsigned = with_hmac(|s| *hmac_fields(s).3 = None);
        assert!(
            unsigned
                .validate()
                .unwrap_err()
                .contains("lacks {timestamp}")
        );
        let tolerance_alone = with_hmac(|s| {
            let fields = hmac_fields(s);
            *fields.2 = None;
            *fields.3 = None;
        });
        assert!(
            tolerance_alone
                .validate()
                .unwrap_err()
                .contains("tolerance_seconds")
        );
        let plain = with_hmac(|s| {
            let fields = hmac_fields(s);
            *fields.2 = None;
            *fields.3 = None;
            *fields.4 = None;
        });
        assert_eq!(plain.validate(), Ok(()));
    }

    #[test]
    fn basic_username_is_non_empty_without_colon_or_control_characters() {
        for bad in ["", "a:b", "tab\there", "nul\0"] {
            let scheme = AuthScheme::Basic {
                username: bad.to_owned(),
            };
            assert!(scheme.validate().is_err(), "{bad:?}");
        }
        let long = AuthScheme::Basic {
            username: "u".repeat(MAX_USERNAME_LEN + 1),
        };
        assert!(long.validate().is_err());
        let message = AuthScheme::Basic {
            username: "leak:me".to_owned(),
        }
        .validate()
        .unwrap_err();
        assert!(!message.contains("leak"));
        assert_eq!(
            AuthScheme::Basic {
                username: "Aladdin".to_owned()
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn secrets_are_kept_according_to_their_use() {
        assert_eq!(AuthScheme::ApiKey.secret_kind(), SecretKind::ApiKey);
        for recoverable in [
            AuthScheme::StandardWebhooks {
                tolerance_seconds: None,
            },
            AuthScheme::Github,
            AuthScheme::Stripe {
                tolerance_seconds: None,
            },
            AuthScheme::Slack {
                tolerance_seconds: None,
            },
            AuthScheme::Shopify,
            hmac_scheme(),
        ] {
            assert_eq!(
                recoverable.secret_kind(),
                SecretKind::Recoverable,
                "{recoverable:?}"
            );
        }
        assert_eq!(AuthScheme::Gitlab.secret_kind(), SecretKind::Hashed);
        let basic = AuthScheme::Basic {
            username: "u".to_owned(),
        };
        assert_eq!(basic.secret_kind(), SecretKind::Hashed);
        assert_eq!(AuthScheme::None.secret_kind(), SecretKind::Nothing);
    }

    #[test]
    fn names_the_providers_delivery_id_header() {
        let standard = AuthScheme::StandardWebhooks {
            tolerance_seconds: None,
        };
        assert_eq!(standard.event_id_header(), Some("webhook-id"));
        assert_eq!(
            AuthScheme::Github.event_id_header(),
            Some("x-github-delivery")
        );
        assert_eq!(
            AuthScheme::Gitlab.event_id_header(),
            Some("x-gitlab-event-uuid")
        );
        assert_eq!(
            AuthScheme::Shopify.event_id_header(),
            Some("x-shopify-webhook-id")
        );
        for none in [
            AuthScheme::ApiKey,
            AuthScheme::Stripe {
                tolerance_seconds: None,
            },
            AuthScheme::Slack {
                tolerance_seconds: None,
            },
            hmac_scheme(),
            AuthScheme::Basic {
                username: "u".to_owned(),
            },
            AuthScheme::None,
        ] {
            assert_eq!(none.event_id_header(), None, "{none:?}");
        }
    }
}
