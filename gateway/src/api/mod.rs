//! `/api/**`: the management API. Every call needs a bearer token from the OAuth2 provider, and
//! each operation checks one SpiceDB permission on the workspace in its path.

pub mod authz;
pub mod problem;
pub mod service_account;
pub mod spicedb;
pub mod token;
mod webhooks;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::SecurityConfig;
use crate::state::Gateway;
use authz::{Access, Authorizer};
pub use problem::ApiError;
use service_account::ServiceAccount;
use token::{Principal, TokenError, TokenValidator};

/// The OpenAPI 3.1 description of `/api/**` and `/webhooks/**`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the management API needs; absent when no OAuth2 provider is configured.
pub struct Api {
    pub tokens: TokenValidator,
    pub authorizer: Authorizer,
    pub service_account: Option<ServiceAccount>,
}

impl Api {
    /// `Ok(None)` when `SECURITY_OAUTH2_BASE_SERVER_URL` is not set.
    pub fn new(config: &SecurityConfig) -> Result<Option<Self>, String> {
        let Some(tokens) = TokenValidator::new(config) else {
            return Ok(None);
        };
        let authorizer = Authorizer::new(config).map_err(|e| e.to_string())?;
        Ok(Some(Self {
            tokens,
            authorizer,
            service_account: ServiceAccount::new(config),
        }))
    }
}

/// Registers the management routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/api/openapi.json", web::get().to(openapi))
        .service(
            web::scope("/api/workspaces/{workspace}/webhooks")
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ApiError::Validation(vec![("query".into(), error.to_string())]).into()
                }))
                .configure(webhooks::routes),
        );
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// Whether SpiceDB can name the workspace (its object id pattern); no other id can be granted.
fn is_workspace_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_|-=+".contains(c))
}

/// Authenticates the caller and checks `access` on `workspace`.
pub(crate) async fn authorize(
    request: &HttpRequest,
    gateway: &Gateway,
    workspace: &str,
    access: Access,
) -> Result<Principal, ApiError> {
    let api = gateway.api.as_ref().ok_or(ApiError::NotConfigured)?;
    if !is_workspace_id(workspace) {
        return Err(ApiError::Forbidden);
    }
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::MissingToken)?;
    let principal = api
        .tokens
        .validate(token)
        .await
        .map_err(|error| match error {
            TokenError::Missing => ApiError::MissingToken,
            TokenError::Invalid(reason) => {
                tracing::info!("management call refused: {reason}");
                ApiError::InvalidToken("the bearer token is not valid".into())
            }
            TokenError::Unavailable(reason) => {
                tracing::warn!("management call refused, the token could not be checked: {reason}");
                ApiError::TokenCheckUnavailable
            }
        })?;
    match api.authorizer.allows(&principal, workspace, access).await {
        Ok(true) => Ok(principal),
        Ok(false) => Err(ApiError::Forbidden),
        Err(e) => {
            tracing::warn!("management call refused, SpiceDB did not answer: {e}");
            Err(ApiError::AuthorizationUnavailable)
        }
    }
}
