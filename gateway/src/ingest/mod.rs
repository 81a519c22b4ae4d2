//! `POST /webhooks/{webhookId}`: look up the registration, check the call, publish one record,
//! and answer only once the broker has acknowledged it.

pub mod dedupe;
pub mod event;
pub mod held_body;
pub mod payload;
pub mod problem;
pub mod rate_limit;
pub mod source;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::BytesMut;
use chrono::Utc;
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::auth::api_key;
use crate::auth::scheme::{AuthScheme, SecretKind};
use crate::auth::verify::{self, CandidateSecret};
use crate::publish::OutgoingRecord;
use crate::state::Gateway;
use crate::store::deliveries::Delivery;
use crate::store::registration::is_valid_id;
use crate::store::{Registration, StoredKey};
use dedupe::{Claim, OriginalAnswer};
use event::{EventEnvelope, forwarded_headers, record_headers};
use payload::{BodyFormat, body_format, payload_json, value_at};
pub use problem::IngestError;
use rate_limit::Decision;

/// Header carrying the API key, as an alternative to the `apiKey` query parameter.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Query parameter carrying the API key, as in FlowX webhook URLs.
pub const API_KEY_PARAMETER: &str = "apiKey";

/// Registers the webhook routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/webhooks/{webhookId}")
            .route(web::post().to(receive))
            .default_service(web::to(|| async {
                IngestError::MethodNotAllowed.error_response()
            })),
    );
}

/// Answers any request for which no route exists.
pub async fn no_such_endpoint() -> HttpResponse {
    IngestError::NoSuchEndpoint.error_response()
}

/// How an authentic call ended.
enum Outcome {
    /// Published now, or earlier under the same event id (`replayed`).
    Published { event_id: String, replayed: bool },
    /// A Slack `url_verification` handshake, answered with its challenge.
    Challenge(String),
}

async fn receive(
    request: HttpRequest,
    webhook_id: web::Path<String>,
    body: web::Payload,
    gateway: web::Data<Gateway>,
) -> HttpResponse {
    let started = Instant::now();
    let outcome = accept(&request, &webhook_id, body, &gateway).await;
    let seconds = started.elapsed().as_secs_f64();
    let (label, event_id, response) = match outcome {
        Ok((registration, Outcome::Published { event_id, replayed })) => {
            let label = if replayed { "duplicate" } else { "accepted" };
            tracing::debug!(webhook_id = %webhook_id, event_id = %event_id, outcome = label, "webhook accepted");
            let response = answer(&registration, &event_id, replayed);
            (label, Some(event_id), response)
        }
        Ok((_, Outcome::Challenge(challenge))) => (
            "challenge",
            None,
            HttpResponse::Ok().json(serde_json::json!({ "challenge": challenge })),
        ),
        Err(error) => {
            if error.is_retryable() {
                tracing::warn!(webhook_id = %webhook_id, outcome = error.kind(), "webhook refused: {error}");
            } else {
                tracing::info!(webhook_id = %webhook_id, outcome = error.kind(), "webhook refused: {error}");
            }
            (error.kind(), None, error.error_response())
        }
    };
    gateway.metrics.request(label, seconds);
    if is_logged(label) {
        let delivery = Delivery {
            event_id,
            received_at: Utc::now(),
            outcome: label.to_owned(),
            status: response.status().as_u16(),
            size_bytes: request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok()?.parse().ok()),
            latency_ms: seconds * 1000.0,
        };
        gateway.deliveries.record(webhook_id.into_inner(), delivery);
    }
    response
}

/// Calls for ids that are not registered are not logged: anyone could fill the log otherwise.
fn is_logged(label: &str) -> bool {
    !matches!(label, "webhook-not-found" | "registry-unavailable")
}

/// The answer to an accepted call: the webhook's own status and body, or `{"eventId": ...}`.
fn answer(registration: &Registration, event_id: &str, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(registration.response.status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = HttpResponse::build(status);
    response.insert_header(("x-event-id", event_id));
    if replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    if status == StatusCode::NO_CONTENT {
        return response.finish();
    }
    match &registration.response.body {
        Some(body) => {
            let is_json = serde_json::from_str::<&RawValue>(body).is_ok();
            response.content_type(if is_json {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            });
            response.body(body.clone())
        }
        None => response.json(serde_json::json!({ "eventId": event_id })),
    }
}

/// The checks and the publication, in order: registration, source address, credentials that
/// need no body, activity, media type, body, signature, payload, rate, duplicates, Kafka.
async fn accept(
    request: &HttpRequest,
    webhook_id: &str,
    body: web::Payload,
    gateway: &Gateway,
) -> Result<(Arc<Registration>, Outcome), IngestError> {
    if !is_valid_id(webhook_id) {
        return Err(IngestError::NotFound);
    }
    let registration = match gateway.registrations.get(webhook_id).await {
        Ok(Some(registration)) => registration,
        Ok(None) => return Err(IngestError::NotFound),
        Err(e) => {
            tracing::warn!(webhook_id, "registration look-up failed: {e}");
            return Err(IngestError::RegistryUnavailable);
        }
    };
    check_source(request, &registration, gateway)?;

    let signed_over_body = needs_body(&registration.auth);
    if !signed_over_body {
        authenticate(request, &registration, b"", gateway)?;
    }
    if !registration.active && !signed_over_body {
        return Err(IngestError::Inactive);
    }

    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let format = body_format(content_type).ok_or_else(|| {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        IngestError::UnsupportedMediaType(shown.chars().take(100).collect())
    })?;

    let limit = body_limit(&registration, gateway.config.server.max_body_bytes);
    let raw = read_body(request, body, limit, gateway.config.protection.body_timeout).await?;
    if signed_over_body {
        authenticate(request, &registration, &raw, gateway)?;
        if !registration.active {
            return Err(IngestError::Inactive);
        }
    }
    let payload = payload_json(&raw, format).map_err(IngestError::MalformedJson)?;

    if let Some(challenge) = slack_challenge(&registration, format, &payload) {
        return Ok((registration, Outcome::Challenge(challenge)));
    }
    if let Some(limit) = registration.rate_limit {
        if let Decision::Limited { retry_after } =
            gateway.rate_limits.check(&registration.id, limit).await
        {
            return Err(IngestError::RateLimited(retry_after));
        }
    }

    let outcome = publish_once(request, &registration, &payload, gateway).await?;
    Ok((registration, outcome))
}

/// Publishes unless the event id was seen before; remembers it once published.
async fn publish_once(
    request: &HttpRequest,
    registration: &Registration,
    payload: &RawValue,
    gateway: &Gateway,
) -> Result<Outcome, IngestError> {
    let claim = match event_key(request, registration, payload) {
        Some(key) => gateway.deduplicator.claim(&registration.id, &key).await,
        None => Claim::Unchecked,
    };
    let claimed = match claim {
        Claim::Duplicate(original) => {
            return Ok(Outcome::Published {
                event_id: original.event_id,
                replayed: true,
            });
        }
        Claim::InFlight => return Err(IngestError::DuplicateInFlight),
        Claim::Fresh(key) => Some(key),
        Claim::Unchecked => None,
    };

    let published = publish(request, registration, payload, gateway).await;
    match (&published, &claimed) {
        (Ok(event_id), Some(key)) => {
            let ttl = registration
                .idempotency
                .ttl_seconds
                .map_or(gateway.config.protection.dedupe_ttl, |s| {
                    Duration::from_secs(s.into())
                });
            let answer = OriginalAnswer {
                event_id: event_id.clone(),
            };
            gateway.deduplicator.complete(key, &answer, ttl).await;
        }
        (Err(_), Some(key)) => gateway.deduplicator.release(key).await,
        _ => {}
    }
    published.map(|event_id| Outcome::Published {
        event_id,
        replayed: false,
    })
}

async fn publish(
    request: &HttpRequest,
    registration: &Registration,
    payload: &RawValue,
    gateway: &Gateway,
) -> Result<String, IngestError> {
    let event_id = uuid::Uuid::now_v7().to_string();
    let request_headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let forwarded = forwarded_headers(registration, request_headers);
    let headers = record_headers(registration, &event_id, &forwarded);
    let envelope = EventEnvelope::new(
        registration,
        &event_id,
        Utc::now(),
        forwarded.clone(),
        payload,
    );
    let value = serde_json::to_vec(&envelope).expect("the envelope always serialises");

    let topic = registration
        .topic
        .as_deref()
        .unwrap_or(gateway.publisher.start_topic());
    gateway
        .publisher
        .publish(OutgoingRecord {
            topic,
            key: &registration.id,
            value: &value,
            headers: &headers,
        })
        .await?;
    Ok(event_id)
}

/// Schemes whose proof of origin covers the body can only be checked once it is read.
fn needs_body(scheme: &AuthScheme) -> bool {
    !matches!(
        scheme,
        AuthScheme::ApiKey | AuthScheme::None | AuthScheme::Gitlab | AuthScheme::Basic { .. }
    )
}

fn check_source(
    request: &HttpRequest,
    registration: &Registration,
    gateway: &Gateway,
) -> Result<(), IngestError> {
    if registration.allowed_cidrs.is_empty() {
        return Ok(());
    }
    let Some(peer) = request.peer_addr().map(|address| address.ip()) else {
        return Err(IngestError::SourceNotAllowed);
    };
    let forwarded_for = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = source::client_address(
        peer,
        forwarded_for,
        &gateway.config.protection.trusted_proxies,
    );
    if source::is_allowed(client, &registration.allowed_cidrs) {
        Ok(())
    } else {
        Err(IngestError::SourceNotAllowed)
    }
}

/// Checks the caller's credentials against the registration, over the raw body bytes.
fn authenticate(
    request: &HttpRequest,
    registration: &Registration,
    body: &[u8],
    gateway: &Gateway,
) -> Result<(), IngestError> {
    let now = Utc::now();
    if registration.auth == AuthScheme::ApiKey {
        let presented = presented_api_key(request).ok_or(IngestError::Unauthorized)?;
        return if api_key::verify(&presented, &registration.api_keys, now) {
            Ok(())
        } else {
            Err(IngestError::Unauthorized)
        };
    }

    // Only credentials of the scheme's own kind are candidates: a token hash is never tried
    // as an HMAC key, nor a signing secret as a token hash.
    let kind = registration.auth.secret_kind();
    let opened = match kind {
        SecretKind::Recoverable => open_signing_secrets(registration, gateway, now)?,
        _ => Vec::new(),
    };
    let tokens: &[StoredKey] = if kind == SecretKind::Hashed {
        &registration.tokens
    } else {
        &[]
    };
    let mut candidates: Vec<CandidateSecret<'_>> = tokens
        .iter()
        .map(|token| CandidateSecret {
            material: &token.hash,
            expires_at: token.expires_at,
        })
        .collect();
    candidates.extend(opened.iter().map(|(material, expires_at)| CandidateSecret {
        material,
        expires_at: *expires_at,
    }));
    let headers = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    verify::verify(&registration.auth, &headers, body, &candidates, now)
        .map_err(IngestError::Signature)
}

/// The webhook's signing secrets still valid at `now`, opened for this call only.
fn open_signing_secrets(
    registration: &Registration,
    gateway: &Gateway,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<(Vec<u8>, Option<chrono::DateTime<Utc>>)>, IngestError> {
    let live = registration
        .signing_secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|e| e > now));
    let mut opened = Vec::new();
    let mut failed = false;
    for secret in live {
        match gateway.config.protection.sealing.open(
            &registration.id,
            &secret.key_id,
            &secret.sealed,
        ) {
            Ok(material) => opened.push((material, secret.expires_at)),
            Err(e) => {
                failed = true;
                tracing::error!(webhook_id = %registration.id, "a signing secret cannot be used: {e}");
            }
        }
    }
    if failed && opened.is_empty() {
        return Err(IngestError::SecretsUnavailable);
    }
    Ok(opened)
}

/// The caller's event id, for duplicate suppression: a configured header, else a configured
/// JSON pointer, else the scheme's own delivery-id header.
fn event_key(
    request: &HttpRequest,
    registration: &Registration,
    payload: &RawValue,
) -> Option<String> {
    let header_value = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let settings = &registration.idempotency;
    if let Some(name) = &settings.header {
        return header_value(name);
    }
    if let Some(pointer) = &settings.json_pointer {
        return value_at(payload, pointer);
    }
    registration.auth.event_id_header().and_then(header_value)
}

/// Slack's `url_verification` handshake carries a challenge to echo back.
fn slack_challenge(
    registration: &Registration,
    format: BodyFormat,
    payload: &RawValue,
) -> Option<String> {
    if !matches!(registration.auth, AuthScheme::Slack { .. }) || format != BodyFormat::Json {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(payload.get()).ok()?;
    if value.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    value.get("challenge")?.as_str().map(str::to_owned)
}

/// The API key from the `X-API-Key` header, else from the `apiKey` query parameter.
fn presented_api_key(request: &HttpRequest) -> Option<String> {
    if let Some(value) = request.headers().get(API_KEY_HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(name, _)| name == API_KEY_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// The registration's own limit, never above the gateway's.
fn body_limit(registration: &Registration, gateway_limit: usize) -> usize {
    registration
        .max_body_bytes
        .map_or(gateway_limit, |own| own.min(gateway_limit))
}

/// Reads the body up to `limit` bytes within `timeout`; a declared or actual larger body is
/// refused without reading the rest.
async fn read_body(
    request: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<BytesMut, IngestError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(IngestError::PayloadTooLarge(limit));
    }

    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    let read = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| IngestError::UnreadableBody(e.to_string()))?;
            if buffer.len() + chunk.len() > limit {
                return Err(IngestError::PayloadTooLarge(limit));
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| IngestError::BodyTimeout)??;
    Ok(buffer)
}
