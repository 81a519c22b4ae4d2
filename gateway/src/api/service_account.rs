//! The gateway's own identity for outgoing calls: client-credentials tokens from the provider,
//! reused until shortly before they expire.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::token::TokenError;
use crate::config::SecurityConfig;

/// Renew a token this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Tokens of the service account.
pub struct ServiceAccount {
    token_uri: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    current: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl ServiceAccount {
    /// `None` when no token endpoint is configured.
    pub fn new(config: &SecurityConfig) -> Option<Self> {
        Some(Self {
            token_uri: config.token_uri.clone()?,
            client_id: config.service_account_id.clone(),
            client_secret: config.service_account_secret.expose().to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .ok()?,
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token, fetched again only when the cached one is about to expire.
    pub async fn token(&self) -> Result<String, TokenError> {
        let mut current = self.current.lock().await;
        if let Some((token, expires)) = current.as_ref() {
            if Instant::now() + RENEW_BEFORE < *expires {
                return Ok(token.clone());
            }
        }
        let response = self
            .http
            .post(&self.token_uri)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(TokenError::Unavailable(format!(
                "the token endpoint answered {}",
                response.status()
            )));
        }
        let answer: TokenResponse = response
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60));
        *current = Some((answer.access_token.clone(), Instant::now() + lifetime));
        Ok(answer.access_token)
    }
}
