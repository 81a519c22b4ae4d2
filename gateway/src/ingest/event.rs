//! The Kafka record built from an accepted webhook call: a JSON envelope around the raw payload,
//! keyed by webhook id, with routing headers. Pure functions, no I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::store::Registration;

/// Request headers forwarded for every webhook (lower-case).
pub const DEFAULT_FORWARDED_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-request-id",
    "x-correlation-id",
    "traceparent",
    "tracestate",
];

/// Headers that carry credentials: never forwarded, whatever a registration asks for.
pub const NEVER_FORWARDED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

/// Trace-context headers copied onto the Kafka record.
const TRACE_HEADERS: &[&str] = &["traceparent", "tracestate"];

/// The record value: everything a process needs to start from this call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope<'a> {
    pub event_id: &'a str,
    pub webhook_id: &'a str,
    pub webhook_name: &'a str,
    pub workspace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_event: Option<&'a str>,
    pub received_at: String,
    pub headers: BTreeMap<&'a str, String>,
    pub payload: &'a RawValue,
}

impl<'a> EventEnvelope<'a> {
    pub fn new(
        registration: &'a Registration,
        event_id: &'a str,
        received_at: DateTime<Utc>,
        headers: BTreeMap<&'a str, String>,
        payload: &'a RawValue,
    ) -> Self {
        Self {
            event_id,
            webhook_id: &registration.id,
            webhook_name: &registration.name,
            workspace_id: &registration.workspace_id,
            organization_id: registration.organization_id.as_deref(),
            start_event: registration.start_event.as_deref(),
            received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            headers,
            payload,
        }
    }
}

/// Picks the request headers the record carries: the defaults plus the registration's own list,
/// never a credential. Repeated headers are joined with `, `; values that are not UTF-8 are dropped.
pub fn forwarded_headers<'a>(
    registration: &Registration,
    request: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<&'a str, String> {
    let wanted = |name: &str| {
        !NEVER_FORWARDED_HEADERS.contains(&name)
            && (DEFAULT_FORWARDED_HEADERS.contains(&name)
                || registration.forwarded_headers.iter().any(|h| h == name))
    };
    let mut picked: BTreeMap<&'a str, String> = BTreeMap::new();
    for (name, value) in request {
        if !wanted(name) {
            continue;
        }
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        picked
            .entry(name)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    picked
}

/// Kafka record headers: organization, event and webhook ids, content type, trace context.
pub fn record_headers<'a>(
    registration: &'a Registration,
    event_id: &'a str,
    forwarded: &'a BTreeMap<&'a str, String>,
) -> Vec<(&'a str, &'a [u8])> {
    let mut headers = Vec::with_capacity(6);
    if let Some(organization) = &registration.organization_id {
        headers.push(("Fx-Organization-Id", organization.as_bytes()));
    }
    headers.push(("Fx-Event-Id", event_id.as_bytes()));
    headers.push(("Fx-Webhook-Id", registration.id.as_bytes()));
    headers.push(("Content-Type", b"application/json".as_slice()));
    for name in TRACE_HEADERS {
        if let Some(value) = forwarded.get(name) {
            headers.push((name, value.as_bytes()));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        Registration {
            id: "orders".into(),
            name: "Orders".into(),
            workspace_id: "ws-1".into(),
            organization_id: Some("org-9".into()),
            start_event: Some("order_created".into()),
            forwarded_headers: vec!["x-shop-domain".into(), "authorization".into()],
            revision: 1,
            ..Registration::default()
        }
    }

    #[test]
    fn forwards_defaults_and_registered_headers_but_never_credentials() {
        let registration = registration();
        let request: Vec<(&str, &[u8])> = vec![
            ("content-type", b"application/json"),
            ("x-shop-domain", b"shop.example"),
            ("authorization", b"Bearer secret"),
            ("x-api-key", b"whk_secret"),
            ("cookie", b"s=1"),
            ("x-unlisted", b"nope"),
        ];
        let picked = forwarded_headers(&registration, request.into_iter());
        assert_eq!(picked.get("content-type").unwrap(), "application/json");
        assert_eq!(picked.get("x-shop-domain").unwrap(), "shop.example");
        assert!(!picked.contains_key("authorization"));
        assert!(!picked.contains_key("x-api-key"));
        assert!(!picked.contains_key("cookie"));
        assert!(!picked.contains_key("x-unlisted"));
    }

    #[test]
    fn repeated_headers_are_joined() {
        let registration = registration();
        let request: Vec<(&str, &[u8])> = vec![("x-request-id", b"a"), ("x-request-id", b"b")];
        let picked = forwarded_headers(&registration, request.into_iter());
        assert_eq!(picked.get("x-request-id").unwrap(), "a, b");
    }

    #[test]
    fn envelope_embeds_the_payload_unchanged() {
        let registration = registration();
        let payload = RawValue::from_string(r#"{"b": 1,  "a":[true]}"#.to_owned()).unwrap();
        let received = DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123Z")
            .unwrap()
            .to_utc();
        let envelope =
            EventEnvelope::new(&registration, "ev-1", received, BTreeMap::new(), &payload);
        let text = serde_json::to_string(&envelope).unwrap();
        assert!(
            text.contains(r#""payload":{"b": 1,  "a":[true]}"#),
            "{text}"
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["eventId"], "ev-1");
        assert_eq!(value["webhookId"], "orders");
        assert_eq!(value["workspaceId"], "ws-1");
        assert_eq!(value["organizationId"], "org-9");
        assert_eq!(value["startEvent"], "order_created");
        assert_eq!(value["receivedAt"], "2026-12-03T10:00:00.123Z");
    }

    #[test]
    fn record_headers_carry_organization_event_and_trace() {
        let registration = registration();
        let mut forwarded = BTreeMap::new();
        forwarded.insert("traceparent", "00-abc-def-01".to_owned());
        let headers = record_headers(&registration, "ev-1", &forwarded);
        let find = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(find("Fx-Organization-Id"), Some(b"org-9".as_slice()));
        assert_eq!(find("Fx-Event-Id"), Some(b"ev-1".as_slice()));
        assert_eq!(find("Content-Type"), Some(b"application/json".as_slice()));
        assert_eq!(find("traceparent"), Some(b"00-abc-def-01".as_slice()));
        assert_eq!(find("tracestate"), None);
    }
}
