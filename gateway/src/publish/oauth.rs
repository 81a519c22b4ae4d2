//! The producer's client context: SASL OAUTHBEARER tokens by OAuth2 client credentials, and
//! librdkafka's errors routed to the log.

use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::error::KafkaError;
use serde::Deserialize;

use crate::config::KafkaOAuth;

/// Context of the gateway's producer.
pub struct GatewayContext {
    oauth: Option<KafkaOAuth>,
    retry_interval: Duration,
}

impl GatewayContext {
    pub fn plaintext() -> Self {
        Self {
            oauth: None,
            retry_interval: Duration::ZERO,
        }
    }

    pub fn with_oauth(oauth: KafkaOAuth, retry_interval: Duration) -> Self {
        Self {
            oauth: Some(oauth),
            retry_interval,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl ClientContext for GatewayContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "webhook_gateway::kafka", "Kafka client: {error}: {reason}");
    }

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        let Some(oauth) = &self.oauth else {
            return Err("OAUTHBEARER requested but no OAuth client is configured".into());
        };
        let fetched = fetch_token(oauth);
        if let Err(e) = &fetched {
            tracing::warn!(
                target: "webhook_gateway::kafka",
                "Kafka OAuth token request to {} failed: {e}; retrying in {} s",
                oauth.token_endpoint_uri,
                self.retry_interval.as_secs()
            );
            std::thread::sleep(self.retry_interval);
        }
        fetched
    }
}

fn fetch_token(oauth: &KafkaOAuth) -> Result<OAuthToken, Box<dyn Error>> {
    let endpoint = if oauth.token_endpoint_uri.contains("://") {
        oauth.token_endpoint_uri.clone()
    } else {
        format!("https://{}", oauth.token_endpoint_uri)
    };
    let response: TokenResponse = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .post(endpoint)
        .basic_auth(&oauth.client_id, Some(oauth.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()?
        .error_for_status()?
        .json()?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let lifetime_ms = now_ms + response.expires_in.unwrap_or(300) as i64 * 1000;
    Ok(OAuthToken {
        token: response.access_token,
        principal_name: oauth.client_id.clone(),
        lifetime_ms,
    })
}
