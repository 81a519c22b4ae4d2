//! Bearer tokens of `/api/**` callers: validated by introspection at the provider
//! (`SECURITY_TYPE=oauth2`) or locally against the provider's published keys
//! (`SECURITY_TYPE=jwt-public-key`). Either way the issuer, audience, expiry and not-before are
//! checked with a small leeway, and only asymmetric algorithms from an allow-list are accepted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{SecurityConfig, TokenMode};

/// Clock difference tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// Least time between two fetches of the provider's keys for an unknown key id.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Longest an introspection answer is reused.
const INTROSPECTION_CACHE: Duration = Duration::from_secs(30);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Who called, as the token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub username: Option<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token could not be checked: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    preferred_username: Option<String>,
}

/// Validates bearer tokens for the management API.
pub struct TokenValidator {
    mode: TokenMode,
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<JwkSet>>,
    introspected: moka::future::Cache<[u8; 32], (Principal, Instant)>,
    last_refresh: Mutex<Option<Instant>>,
}

impl TokenValidator {
    /// `None` when no provider is configured.
    pub fn new(config: &SecurityConfig) -> Option<Self> {
        let issuer = config.realm_url.clone()?;
        let algorithms = config
            .algorithms
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .ok()?;
        Some(Self {
            mode: config.mode,
            issuer,
            audience: config.audience.clone(),
            algorithms,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.expose().to_owned(),
            http,
            keys: tokio::sync::Mutex::new(None),
            introspected: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(INTROSPECTION_CACHE)
                .build(),
            last_refresh: Mutex::new(None),
        })
    }

    /// The realm, for `WWW-Authenticate`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates `token` and returns its subject.
    pub async fn validate(&self, token: &str) -> Result<Principal, TokenError> {
        match self.mode {
            TokenMode::LocalKeys => self.validate_locally(token).await,
            TokenMode::Introspection => self.introspect(token).await,
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation
    }

    async fn validate_locally(&self, token: &str) -> Result<Principal, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("the token names no key".into()))?;
        let key = self.key(&kid, header.alg).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(header.alg))
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(Principal {
            subject: data.claims.sub,
            username: data.claims.preferred_username,
        })
    }

    /// The provider's key `kid`, fetching the key set again (at most every ten seconds) when the
    /// key is not known yet, since providers rotate keys.
    async fn key(&self, kid: &str, algorithm: Algorithm) -> Result<DecodingKey, TokenError> {
        let mut cached = self.keys.lock().await;
        let known = cached.as_ref().and_then(|keys| keys.find(kid).cloned());
        let jwk = match known {
            Some(jwk) => jwk,
            None => {
                let due = {
                    let mut last = self.last_refresh.lock().expect("refresh clock");
                    let due = last.is_none_or(|at| at.elapsed() >= KEY_REFRESH_INTERVAL)
                        || cached.is_none();
                    if due {
                        *last = Some(Instant::now());
                    }
                    due
                };
                if due {
                    *cached = Some(self.fetch_keys().await?);
                }
                cached
                    .as_ref()
                    .and_then(|keys| keys.find(kid).cloned())
                    .ok_or_else(|| {
                        TokenError::Invalid("the token's key is not one of the provider's".into())
                    })?
            }
        };
        if let Some(key_algorithm) = jwk.common.key_algorithm {
            if key_algorithm.to_string() != format!("{algorithm:?}") {
                return Err(TokenError::Invalid(
                    "the token's algorithm does not match its key".into(),
                ));
            }
        }
        DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// Reads the key set named by the provider's discovery document.
    async fn fetch_keys(&self) -> Result<JwkSet, TokenError> {
        let discovery_url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Value = self.get_json(&discovery_url).await?;
        if discovery["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err(TokenError::Unavailable(
                "the provider's discovery names another issuer".into(),
            ));
        }
        let jwks_uri = discovery["jwks_uri"].as_str().ok_or_else(|| {
            TokenError::Unavailable("the discovery document has no jwks_uri".into())
        })?;
        let keys: JwkSet = serde_json::from_value(self.get_json(jwks_uri).await?)
            .map_err(|e| TokenError::Unavailable(format!("unreadable key set: {e}")))?;
        tracing::info!(
            keys = keys.keys.len(),
            "fetched the OAuth2 provider's signing keys"
        );
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, TokenError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(TokenError::Unavailable(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))
    }

    /// Asks the provider whether the token is active (Keycloak's introspection endpoint), then
    /// checks the claims it returns as strictly as a local validation would.
    async fn introspect(&self, token: &str) -> Result<Principal, TokenError> {
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((principal, valid_until)) = self.introspected.get(&fingerprint).await {
            if Instant::now() < valid_until {
                return Ok(principal);
            }
        }
        let url = format!("{}/protocol/openid-connect/token/introspect", self.issuer);
        let response = self
            .http
            .post(&url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            tracing::error!(
                "token introspection answered {}; check the introspection client",
                response.status()
            );
            return Err(TokenError::Unavailable(format!(
                "introspection answered {}",
                response.status()
            )));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let principal = self.check_introspected(&answer)?;
        let now = chrono::Utc::now().timestamp();
        let remaining = answer["exp"]
            .as_i64()
            .unwrap_or(now)
            .saturating_sub(now)
            .max(0) as u64;
        let valid_until = Instant::now() + Duration::from_secs(remaining).min(INTROSPECTION_CACHE);
        self.introspected
            .insert(fingerprint, (principal.clone(), valid_until))
            .await;
        Ok(principal)
    }

    fn check_introspected(&self, answer: &Value) -> Result<Principal, TokenError> {
        if answer["active"] != Value::Bool(true) {
            return Err(TokenError::Invalid(
                "the provider says the token is not active".into(),
            ));
        }
        if answer["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(TokenError::Invalid(
                "the token was issued by another issuer".into(),
            ));
        }
        let audience_ok = match &answer["aud"] {
            Value::String(aud) => *aud == self.audience,
            Value::Array(list) => list
                .iter()
                .any(|aud| aud.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::Invalid(
                "the token is meant for another audience".into(),
            ));
        }
        let now = chrono::Utc::now().timestamp();
        let leeway = LEEWAY_SECONDS as i64;
        match answer["exp"].as_i64() {
            Some(exp) if exp + leeway > now => {}
            _ => return Err(TokenError::Invalid("the token has expired".into())),
        }
        if answer["nbf"].as_i64().is_some_and(|nbf| nbf - leeway > now) {
            return Err(TokenError::Invalid("the token is not valid yet".into()));
        }
        let subject = answer["sub"]
            .as_str()
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| TokenError::Invalid("the token names no subject".into()))?;
        Ok(Principal {
            subject: subject.to_owned(),
            username: answer["preferred_username"].as_str().map(str::to_owned),
        })
    }
}
