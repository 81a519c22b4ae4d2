//! Every way a webhook call can fail, and the one mapping of those failures to HTTP
//! `application/problem+json` answers (RFC 9457) with a stable `type`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use std::time::Duration;

use crate::auth::verify::VerifyError;
use crate::publish::PublishError;

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://webhooks.flowx.ai/problems/";

/// Seconds a caller should wait before retrying after a dependency failure.
const RETRY_AFTER_SECONDS: u64 = 5;

/// Whole seconds to wait, rounded up, at least one.
fn retry_after_seconds(wait: &Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

/// Why a webhook call was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no webhook is registered under this id")]
    NotFound,
    #[error("the API key is missing or wrong")]
    Unauthorized,
    #[error("the request is not authentic: {0}")]
    Signature(VerifyError),
    #[error("calls from this address are not allowed")]
    SourceNotAllowed,
    #[error("too many calls; retry in {} s", retry_after_seconds(.0))]
    RateLimited(Duration),
    #[error("an earlier call with the same event id is still being processed")]
    DuplicateInFlight,
    #[error("the webhook's signing secrets cannot be read")]
    SecretsUnavailable,
    #[error("the webhook is deactivated")]
    Inactive,
    #[error("the body must be JSON (Content-Type application/json), not {0}")]
    UnsupportedMediaType(String),
    #[error("the body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body could not be read: {0}")]
    UnreadableBody(String),
    #[error("the body did not arrive in time")]
    BodyTimeout,
    #[error("webhook registrations cannot be read right now")]
    RegistryUnavailable,
    #[error("the event could not be published: {0}")]
    PublishFailed(#[from] PublishError),
    #[error("method not allowed; use POST")]
    MethodNotAllowed,
    #[error("no such endpoint")]
    NoSuchEndpoint,
}

impl IngestError {
    /// Stable machine-readable name: the last segment of the problem `type` and the metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound => "webhook-not-found",
            Self::Unauthorized => "invalid-api-key",
            Self::Signature(error) => error.kind(),
            Self::SourceNotAllowed => "source-not-allowed",
            Self::RateLimited(_) => "rate-limited",
            Self::DuplicateInFlight => "duplicate-in-flight",
            Self::SecretsUnavailable => "secrets-unavailable",
            Self::Inactive => "webhook-inactive",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::PayloadTooLarge(_) | Self::PublishFailed(PublishError::TooLarge) => {
                "payload-too-large"
            }
            Self::MalformedJson(_) => "malformed-json",
            Self::UnreadableBody(_) => "unreadable-body",
            Self::BodyTimeout => "body-timeout",
            Self::RegistryUnavailable => "registry-unavailable",
            Self::PublishFailed(PublishError::Timeout) => "publish-timeout",
            Self::PublishFailed(_) => "publish-failed",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::NoSuchEndpoint => "not-found",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::NotFound => "Webhook not found",
            Self::Unauthorized => "Invalid API key",
            Self::Signature(_) => "Not authentic",
            Self::SourceNotAllowed => "Source not allowed",
            Self::RateLimited(_) => "Too many requests",
            Self::DuplicateInFlight => "Duplicate in flight",
            Self::SecretsUnavailable => "Secrets unavailable",
            Self::Inactive => "Webhook inactive",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::PayloadTooLarge(_) | Self::PublishFailed(PublishError::TooLarge) => {
                "Payload too large"
            }
            Self::MalformedJson(_) => "Malformed JSON",
            Self::UnreadableBody(_) => "Unreadable body",
            Self::BodyTimeout => "Body timeout",
            Self::RegistryUnavailable => "Registrations unavailable",
            Self::PublishFailed(_) => "Event not published",
            Self::MethodNotAllowed => "Method not allowed",
            Self::NoSuchEndpoint => "Not found",
        }
    }

    /// Whether the caller should retry the same call later.
    pub fn is_retryable(&self) -> bool {
        self.status_code() == StatusCode::SERVICE_UNAVAILABLE
    }

    /// The `Retry-After` value, in seconds, for answers that have one.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited(wait) => Some(retry_after_seconds(wait)),
            Self::DuplicateInFlight => Some(1),
            _ if self.is_retryable() => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::NoSuchEndpoint => StatusCode::NOT_FOUND,
            Self::Unauthorized | Self::Signature(_) => StatusCode::UNAUTHORIZED,
            Self::Inactive | Self::SourceNotAllowed => StatusCode::FORBIDDEN,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::DuplicateInFlight => StatusCode::CONFLICT,
            Self::SecretsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) | Self::PublishFailed(PublishError::TooLarge) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::MalformedJson(_) | Self::UnreadableBody(_) => StatusCode::BAD_REQUEST,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RegistryUnavailable | Self::PublishFailed(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let problem = Problem {
            kind: format!("{PROBLEM_BASE}{}", self.kind()),
            title: self.title(),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        match self {
            Self::Unauthorized => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"ApiKey header="X-API-Key", query="apiKey""#),
                ));
            }
            Self::MethodNotAllowed => {
                response.insert_header((header::ALLOW, HeaderValue::from_static("POST")));
            }
            _ => {}
        }
        response.json(problem)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn body_of(error: IngestError) -> (StatusCode, serde_json::Value, HttpResponse<()>) {
        let response = error.error_response();
        let status = response.status();
        let (head, body) = response.into_parts();
        let bytes = to_bytes(body).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), head)
    }

    #[actix_web::test]
    async fn problems_carry_a_stable_type_and_matching_status() {
        let (status, body, head) = body_of(IngestError::PayloadTooLarge(10)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/payload-too-large"
        );
        assert_eq!(body["status"], 413);
        assert_eq!(
            head.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
    }

    #[actix_web::test]
    async fn dependency_failures_ask_for_a_retry() {
        let (status, _, head) = body_of(IngestError::PublishFailed(PublishError::Timeout)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(head.headers().get("retry-after").unwrap(), "5");
        let (_, body, head) = body_of(IngestError::RegistryUnavailable).await;
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/registry-unavailable"
        );
        assert!(head.headers().contains_key("retry-after"));
    }

    #[actix_web::test]
    async fn rate_limited_calls_are_told_when_to_come_back() {
        let (status, body, head) =
            body_of(IngestError::RateLimited(Duration::from_millis(1500))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/rate-limited"
        );
        assert_eq!(head.headers().get("retry-after").unwrap(), "2");
        let (_, _, head) = body_of(IngestError::RateLimited(Duration::ZERO)).await;
        assert_eq!(head.headers().get("retry-after").unwrap(), "1");
    }

    #[actix_web::test]
    async fn signature_failures_name_their_kind() {
        let (status, body, _) = body_of(IngestError::Signature(VerifyError::StaleTimestamp)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/stale-timestamp"
        );
    }

    #[actix_web::test]
    async fn client_errors_do_not_ask_for_a_retry() {
        let (_, _, head) = body_of(IngestError::Unauthorized).await;
        assert!(!head.headers().contains_key("retry-after"));
        assert!(head.headers().contains_key("www-authenticate"));
    }
}
