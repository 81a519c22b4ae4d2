//! `POST /webhooks/{webhookId}`: look up the registration, check the call, publish one record,
//! and answer `202` only once the broker has acknowledged it.

pub mod event;
pub mod problem;

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::BytesMut;
use chrono::Utc;
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::auth::api_key;
use crate::publish::OutgoingRecord;
use crate::state::Gateway;
use crate::store::Registration;
use crate::store::registration::is_valid_id;
use event::{EventEnvelope, forwarded_headers, is_json_media_type, record_headers};
pub use problem::IngestError;

/// Longest time a caller may take to send the whole body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

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

async fn receive(
    request: HttpRequest,
    webhook_id: web::Path<String>,
    body: web::Payload,
    gateway: web::Data<Gateway>,
) -> HttpResponse {
    let started = Instant::now();
    let outcome = accept(&request, &webhook_id, body, &gateway).await;
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(event_id) => {
            gateway.metrics.request("accepted", seconds);
            tracing::debug!(webhook_id = %webhook_id, event_id = %event_id, "webhook accepted");
            HttpResponse::Accepted().json(serde_json::json!({ "eventId": event_id }))
        }
        Err(error) => {
            gateway.metrics.request(error.kind(), seconds);
            if error.is_retryable() {
                tracing::warn!(webhook_id = %webhook_id, outcome = error.kind(), "webhook refused: {error}");
            } else {
                tracing::info!(webhook_id = %webhook_id, outcome = error.kind(), "webhook refused: {error}");
            }
            error.error_response()
        }
    }
}

/// The checks and the publication; returns the event id of the acknowledged record.
async fn accept(
    request: &HttpRequest,
    webhook_id: &str,
    body: web::Payload,
    gateway: &Gateway,
) -> Result<String, IngestError> {
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

    let presented = presented_api_key(request).ok_or(IngestError::Unauthorized)?;
    if !api_key::verify(&presented, &registration.api_keys, Utc::now()) {
        return Err(IngestError::Unauthorized);
    }
    if !registration.active {
        return Err(IngestError::Inactive);
    }

    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !is_json_media_type(content_type) {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        return Err(IngestError::UnsupportedMediaType(
            shown.chars().take(100).collect(),
        ));
    }

    let limit = body_limit(&registration, gateway.config.server.max_body_bytes);
    let raw = read_body(request, body, limit).await?;
    let payload: &RawValue =
        serde_json::from_slice(&raw).map_err(|e| IngestError::MalformedJson(e.to_string()))?;

    publish(request, &registration, payload, gateway).await
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

/// Reads the body up to `limit` bytes; a declared or actual larger body is refused without
/// reading the rest.
async fn read_body(
    request: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
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
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .map_err(|_| IngestError::BodyTimeout)??;
    Ok(buffer)
}
