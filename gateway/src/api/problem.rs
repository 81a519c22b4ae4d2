//! Failures of `/api/**` calls and their problem+json answers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::ingest::problem::PROBLEM_BASE;

/// Why a management call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the management API is not configured (SECURITY_OAUTH2_BASE_SERVER_URL)")]
    NotConfigured,
    #[error("a bearer token is required")]
    MissingToken,
    #[error("{0}")]
    InvalidToken(String),
    #[error("the token could not be checked right now")]
    TokenCheckUnavailable,
    #[error("not allowed on this workspace")]
    Forbidden,
    #[error("workspace permissions cannot be checked right now")]
    AuthorizationUnavailable,
    #[error("no webhook {0:?} in this workspace")]
    NotFound(String),
    #[error("a webhook with id {0:?} exists already")]
    Exists(String),
    #[error(
        "webhook {0:?} is managed as a Kubernetes resource; change the Webhook resource instead"
    )]
    ManagedByKubernetes(String),
    #[error("the request is not valid")]
    Validation(Vec<(String, String)>),
    #[error("the request body is not valid JSON: {0}")]
    MalformedBody(String),
    #[error("webhook registrations cannot be read or written right now")]
    StoreUnavailable,
    #[error("{0}")]
    CannotIssue(String),
}

impl ApiError {
    fn kind(&self) -> &'static str {
        match self {
            Self::NotConfigured => "api-not-configured",
            Self::MissingToken | Self::InvalidToken(_) => "invalid-token",
            Self::TokenCheckUnavailable => "token-check-unavailable",
            Self::Forbidden => "forbidden",
            Self::AuthorizationUnavailable => "authorization-unavailable",
            Self::NotFound(_) => "webhook-not-found",
            Self::Exists(_) => "webhook-exists",
            Self::ManagedByKubernetes(_) => "managed-by-kubernetes",
            Self::Validation(_) => "validation-failed",
            Self::MalformedBody(_) => "malformed-json",
            Self::StoreUnavailable => "registry-unavailable",
            Self::CannotIssue(_) => "secret-not-issued",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotConfigured
            | Self::TokenCheckUnavailable
            | Self::AuthorizationUnavailable
            | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Exists(_) | Self::ManagedByKubernetes(_) => StatusCode::CONFLICT,
            Self::Validation(_) | Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::CannotIssue(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({
            "type": format!("{PROBLEM_BASE}{}", self.kind()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        if let Self::Validation(errors) = self {
            body["errors"] = errors
                .iter()
                .map(|(field, message)| json!({ "field": field, "message": message }))
                .collect();
        }
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                Self::InvalidToken(_) => r#"Bearer error="invalid_token""#,
                _ => "Bearer",
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        response.body(body.to_string())
    }
}
