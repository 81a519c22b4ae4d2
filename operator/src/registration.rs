//! The pure step of the `Webhook` reconcile: what registration a resource asks for, and
//! whether the stored credential is already the one its Secret holds.

use ipnet::IpNet;
use kube::ResourceExt;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use webhook_crds::Webhook;
use webhook_gateway::auth::api_key;
use webhook_gateway::auth::scheme::{AuthScheme, SecretKind};
use webhook_gateway::store::managed::{MANAGED_BY, StoredCredential};
use webhook_gateway::store::sealing::{SealError, SealingKeys};
use webhook_gateway::store::{
    Idempotency, NewCredential, NewRegistration, RateLimit, ResponseSettings,
};

/// Key of the generated credential in its Secret.
pub const GENERATED_SECRET_KEY: &str = "credential";

/// Who owns the registration of `webhook` in the database: `<namespace>/<name>`.
pub fn owner(webhook: &Webhook) -> String {
    format!(
        "{}/{}",
        webhook.namespace().unwrap_or_else(|| "default".to_owned()),
        webhook.name_any()
    )
}

/// The webhook's id in its URL.
pub fn webhook_id(webhook: &Webhook) -> String {
    webhook
        .spec
        .webhook_id
        .clone()
        .unwrap_or_else(|| webhook.name_any())
}

/// Name of the Secret the operator generates a credential into when `auth.secretRef` is absent.
pub fn generated_secret_name(webhook: &Webhook) -> String {
    format!("{}-webhook-credentials", webhook.name_any())
}

/// The gateway's auth scheme described by the resource's `auth` block.
pub fn auth_scheme(webhook: &Webhook) -> Result<AuthScheme, String> {
    let auth = &webhook.spec.auth;
    let mut scheme = Map::new();
    scheme.insert("type".to_owned(), json!(auth.type_));
    if let Some(tolerance) = auth.tolerance_seconds {
        scheme.insert("tolerance_seconds".to_owned(), json!(tolerance));
    }
    if let Some(hmac) = &auth.hmac {
        scheme.insert("header".to_owned(), json!(hmac.header));
        scheme.insert("algorithm".to_owned(), json!(hmac.algorithm));
        scheme.insert("encoding".to_owned(), json!(hmac.encoding));
        for (key, value) in [
            ("prefix", &hmac.prefix),
            ("timestamp_header", &hmac.timestamp_header),
            ("signed_content", &hmac.signed_content),
        ] {
            if let Some(value) = value {
                scheme.insert(key.to_owned(), json!(value));
            }
        }
    }
    if let Some(basic) = &auth.basic {
        scheme.insert("username".to_owned(), json!(basic.username));
    }
    let scheme: AuthScheme =
        serde_json::from_value(Value::Object(scheme)).map_err(|e| format!("auth: {e}"))?;
    scheme.validate().map_err(|e| format!("auth: {e}"))?;
    Ok(scheme)
}

/// The registration `webhook` asks for, or every reason it is not a valid one.
pub fn registration(webhook: &Webhook) -> Result<NewRegistration, String> {
    let spec = &webhook.spec;
    let auth = auth_scheme(webhook)?;
    let allowed_cidrs = spec
        .allowed_source_cidrs
        .iter()
        .map(|cidr| {
            cidr.parse::<IpNet>()
                .or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("allowedSourceCidrs: {cidr:?} is not a CIDR"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let unsigned = |value: Option<i32>, field: &str| {
        value
            .map(|n| u32::try_from(n).map_err(|_| format!("{field} must not be negative")))
            .transpose()
    };
    let limits = spec.limits.clone().unwrap_or_default();
    let rate_limit = match unsigned(limits.rate_per_second, "limits.ratePerSecond")? {
        Some(per_second) => Some(RateLimit {
            per_second,
            burst: unsigned(limits.burst, "limits.burst")?.unwrap_or(per_second),
        }),
        None if limits.burst.is_some() => {
            return Err("limits.burst needs limits.ratePerSecond".to_owned());
        }
        None => None,
    };
    let idempotency = spec.idempotency.clone().unwrap_or_default();
    let response = spec.response.clone().unwrap_or_default();
    let status = match response.status {
        Some(status) => {
            u16::try_from(status).map_err(|_| "response.status is not an HTTP status".to_owned())?
        }
        None => ResponseSettings::default().status,
    };
    let new = NewRegistration {
        id: webhook_id(webhook),
        name: spec
            .display_name
            .clone()
            .unwrap_or_else(|| webhook.name_any()),
        description: spec.description.clone(),
        workspace_id: spec.workspace_id.clone(),
        organization_id: spec.organization_id.clone(),
        active: spec.active,
        start_event: Some(spec.target.start_event.clone()),
        topic: spec.target.topic.clone(),
        max_body_bytes: limits.max_body_bytes,
        forwarded_headers: spec.forwarded_headers.clone(),
        auth,
        allowed_cidrs,
        rate_limit,
        idempotency: Idempotency {
            header: idempotency.header,
            json_pointer: idempotency.json_pointer,
            ttl_seconds: unsigned(idempotency.ttl_seconds, "idempotency.ttlSeconds")?,
        },
        response: ResponseSettings {
            status,
            body: response.body,
        },
        managed_by: MANAGED_BY.to_owned(),
    };
    let problems = new.problems();
    if !problems.is_empty() {
        let text = problems
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(text);
    }
    Ok(new)
}

/// Why a credential could not be prepared for storing.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "the gateway has no sealing keys, which {0} signatures need (spec.sealing.keysSecretRef)"
    )]
    NoSealingKey(&'static str),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the credential is empty")]
    Empty,
}

/// Whether the stored credentials are exactly `secret` for `auth`: one credential, of the
/// scheme's kind, not expiring, with the same value, sealed under the current key.
pub fn credential_matches(
    stored: &[StoredCredential],
    auth: &AuthScheme,
    webhook_id: &str,
    secret: &str,
    sealing: &SealingKeys,
) -> bool {
    let kind = auth.secret_kind();
    let Some(stored_kind) = NewCredential::kind_of(kind) else {
        return stored.is_empty();
    };
    let [credential] = stored else { return false };
    if credential.kind != stored_kind || credential.expires_at.is_some() {
        return false;
    }
    match kind {
        SecretKind::ApiKey | SecretKind::Hashed => credential
            .secret_hash
            .as_deref()
            .is_some_and(|hash| bool::from(hash.ct_eq(&api_key::hash(secret)))),
        SecretKind::Recoverable => {
            let (Some(key_id), Some(sealed)) = (&credential.key_id, &credential.sealed) else {
                return false;
            };
            if sealing.current_id() != Some(key_id.as_str()) {
                return false;
            }
            sealing
                .open(webhook_id, key_id, sealed)
                .is_ok_and(|opened| bool::from(opened.ct_eq(secret.as_bytes())))
        }
        SecretKind::Nothing => unreachable!("handled above"),
    }
}

/// `secret` in the form the database stores for `auth`; `None` for schemes without a secret.
pub fn stored_credential(
    auth: &AuthScheme,
    webhook_id: &str,
    secret: &str,
    sealing: &SealingKeys,
) -> Result<Option<NewCredential>, CredentialError> {
    let kind = auth.secret_kind();
    if kind != SecretKind::Nothing && secret.is_empty() {
        return Err(CredentialError::Empty);
    }
    Ok(match kind {
        SecretKind::ApiKey => Some(NewCredential::ApiKey(api_key::hash(secret))),
        SecretKind::Hashed => Some(NewCredential::Token(api_key::hash(secret))),
        SecretKind::Recoverable => {
            if !sealing.is_configured() {
                return Err(CredentialError::NoSealingKey(auth.name()));
            }
            let (key_id, sealed) = sealing.seal(webhook_id, secret.as_bytes())?;
            Some(NewCredential::SigningSecret { key_id, sealed })
        }
        SecretKind::Nothing => None,
    })
}

/// Whether `auth` takes a credential at all.
pub fn needs_secret(auth: &AuthScheme) -> bool {
    auth.secret_kind() != SecretKind::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(spec: Value) -> Webhook {
        let mut value = json!({
            "apiVersion": "webhooks.flowx.ai/v1alpha1",
            "kind": "Webhook",
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {
                "gatewayRef": {"name": "hooks"},
                "workspaceId": "ws-1",
                "target": {"startEvent": "order_created"},
                "auth": {"type": "api-key"},
            },
        });
        for (key, field) in spec.as_object().unwrap() {
            value["spec"][key] = field.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_field_reaches_the_registration() {
        let new = registration(&webhook(json!({
            "webhookId": "orders-v2",
            "displayName": "Shop orders",
            "description": "all of them",
            "organizationId": "org-9",
            "active": false,
            "target": {"startEvent": "order_created", "topic": "orders.topic"},
            "allowedSourceCidrs": ["192.0.2.0/24", "2001:db8::1"],
            "limits": {"maxBodyBytes": 4096, "ratePerSecond": 20},
            "forwardedHeaders": ["X-Shop-Domain"],
            "idempotency": {"jsonPointer": "/id", "ttlSeconds": 60},
            "response": {"status": 204},
        })))
        .unwrap();

        assert_eq!(new.id, "orders-v2");
        assert_eq!(new.name, "Shop orders");
        assert_eq!(new.description.as_deref(), Some("all of them"));
        assert_eq!(new.organization_id.as_deref(), Some("org-9"));
        assert!(!new.active);
        assert_eq!(new.topic.as_deref(), Some("orders.topic"));
        assert_eq!(new.start_event.as_deref(), Some("order_created"));
        assert_eq!(
            new.allowed_cidrs,
            [
                "192.0.2.0/24".parse::<IpNet>().unwrap(),
                "2001:db8::1/128".parse().unwrap()
            ]
        );
        assert_eq!(new.max_body_bytes, Some(4096));
        let rate = new.rate_limit.unwrap();
        assert_eq!(
            (rate.per_second, rate.burst),
            (20, 20),
            "burst defaults to the rate"
        );
        assert_eq!(new.forwarded_headers, ["X-Shop-Domain"]);
        assert_eq!(new.idempotency.json_pointer.as_deref(), Some("/id"));
        assert_eq!(new.idempotency.ttl_seconds, Some(60));
        assert_eq!(new.response.status, 204);
        assert_eq!(new.managed_by, MANAGED_BY);
        assert_eq!(owner(&webhook(json!({}))), "shop/orders");
        assert_eq!(webhook_id(&webhook(json!({}))), "orders");
    }

    #[test]
    fn auth_settings_become_the_gateway_scheme() {
        let hmac = webhook(json!({"auth": {
            "type": "hmac",
            "toleranceSeconds": 120,
            "hmac": {"header": "X-Signature", "algorithm": "sha512", "encoding": "base64",
                     "prefix": "v1=", "timestampHeader": "X-Timestamp",
                     "signedContent": "{timestamp}.{body}"},
        }}));
        assert_eq!(
            serde_json::to_value(auth_scheme(&hmac).unwrap()).unwrap(),
            json!({"type": "hmac", "header": "X-Signature", "algorithm": "sha512",
                   "encoding": "base64", "prefix": "v1=", "timestamp_header": "X-Timestamp",
                   "signed_content": "{timestamp}.{body}", "tolerance_seconds": 120})
        );
        let basic = webhook(json!({"auth": {"type": "basic", "basic": {"username": "claims"}}}));
        assert_eq!(
            serde_json::to_value(auth_scheme(&basic).unwrap()).unwrap(),
            json!({"type": "basic", "username": "claims"})
        );
        let stripe = webhook(json!({"auth": {"type": "stripe", "toleranceSeconds": 30}}));
        assert_eq!(
            serde_json::to_value(auth_scheme(&stripe).unwrap()).unwrap(),
            json!({"type": "stripe", "tolerance_seconds": 30})
        );
        assert!(!needs_secret(
            &auth_scheme(&webhook(json!({"auth": {"type": "none"}}))).unwrap()
        ));
    }

    #[test]
    fn what_the_api_server_may_not_have_checked_is_refused_here() {
        let problem = |spec: Value| registration(&webhook(spec)).unwrap_err();
        assert!(problem(json!({"allowedSourceCidrs": ["10.0.0.0/33"]})).contains("10.0.0.0/33"));
        assert!(problem(json!({"limits": {"burst": 5}})).contains("needs limits.ratePerSecond"));
        assert!(problem(json!({"limits": {"ratePerSecond": -1}})).contains("must not be negative"));
        assert!(problem(json!({"response": {"status": 70000}})).contains("response.status"));
        assert!(problem(json!({"webhookId": "../etc"})).contains("id: must match"));
        assert!(problem(json!({"auth": {"type": "hmac"}})).starts_with("auth:"));
        assert!(problem(json!({"auth": {"type": "carrier-pigeon"}})).starts_with("auth:"));
    }

    #[test]
    fn a_stored_credential_matches_only_the_same_secret_under_the_current_key() {
        let api_key = AuthScheme::ApiKey;
        let stored =
            |kind: &str, hash: Option<&str>, sealed: Option<(String, Vec<u8>)>| StoredCredential {
                kind: kind.to_owned(),
                secret_hash: hash.map(|h| api_key::hash(h).to_vec()),
                key_id: sealed.as_ref().map(|(id, _)| id.clone()),
                sealed: sealed.map(|(_, bytes)| bytes),
                expires_at: None,
            };
        let none = SealingKeys::parse("", None).unwrap();
        assert!(credential_matches(
            &[stored("api_key", Some("k1"), None)],
            &api_key,
            "w",
            "k1",
            &none
        ));
        assert!(!credential_matches(
            &[stored("api_key", Some("k1"), None)],
            &api_key,
            "w",
            "k2",
            &none
        ));
        assert!(!credential_matches(&[], &api_key, "w", "k1", &none));
        let two = [
            stored("api_key", Some("k1"), None),
            stored("api_key", Some("k0"), None),
        ];
        assert!(
            !credential_matches(&two, &api_key, "w", "k1", &none),
            "a rotation leftover is removed"
        );

        let old = SealingKeys::generate("old");
        let new = SealingKeys::generate("new");
        let before = SealingKeys::parse(&old, None).unwrap();
        let after = SealingKeys::parse(&format!("{new},{old}"), Some("new")).unwrap();
        let github = AuthScheme::Github;
        let sealed = before.seal("w", b"s3cret").unwrap();
        let credential = [stored("signing_secret", None, Some(sealed))];
        assert!(credential_matches(
            &credential,
            &github,
            "w",
            "s3cret",
            &before
        ));
        assert!(!credential_matches(
            &credential,
            &github,
            "w",
            "other",
            &before
        ));
        assert!(
            !credential_matches(&credential, &github, "w", "s3cret", &after),
            "resealed under the new key"
        );
        assert!(matches!(
            stored_credential(&github, "w", "s3cret", &none),
            Err(CredentialError::NoSealingKey("github"))
        ));
        assert!(matches!(
            stored_credential(&api_key, "w", "", &none),
            Err(CredentialError::Empty)
        ));
    }
}
