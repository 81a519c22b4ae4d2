//! Turning an accepted body into the record's JSON payload: JSON is kept byte for byte; form
//! bodies (`application/x-www-form-urlencoded`, as Slack sends) become a JSON object.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// How a body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Form,
}

/// The body format of a `Content-Type` value, if the gateway accepts it.
pub fn body_format(content_type: &str) -> Option<BodyFormat> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
    {
        Some(BodyFormat::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyFormat::Form)
    } else {
        None
    }
}

/// The payload as JSON text: the body itself when it is JSON (validated), or the form fields as
/// an object (a repeated field becomes an array of its values).
pub fn payload_json(body: &[u8], format: BodyFormat) -> Result<Box<RawValue>, String> {
    match format {
        BodyFormat::Json => {
            let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
            let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
            Ok(raw.to_owned())
        }
        BodyFormat::Form => {
            std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
            let mut fields = Map::new();
            for (name, value) in url::form_urlencoded::parse(body) {
                let value = Value::String(value.into_owned());
                match fields.get_mut(name.as_ref()) {
                    None => {
                        fields.insert(name.into_owned(), value);
                    }
                    Some(Value::Array(values)) => values.push(value),
                    Some(first) => *first = Value::Array(vec![first.take(), value]),
                }
            }
            let text = serde_json::to_string(&fields).map_err(|e| e.to_string())?;
            RawValue::from_string(text).map_err(|e| e.to_string())
        }
    }
}

/// The string or number at `pointer` (RFC 6901) in `payload`, as text.
pub fn value_at(payload: &RawValue, pointer: &str) -> Option<String> {
    let value: Value = serde_json::from_str(payload.get()).ok()?;
    match value.pointer(pointer)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_are_kept_byte_for_byte() {
        let body = br#"{"b":1,  "a" : [true]}"#;
        let payload = payload_json(body, BodyFormat::Json).unwrap();
        assert_eq!(payload.get().as_bytes(), body);
    }

    #[test]
    fn invalid_json_and_invalid_utf8_are_refused() {
        assert!(payload_json(b"{\"a\":", BodyFormat::Json).is_err());
        assert!(payload_json(b"\"\xff\"", BodyFormat::Json).is_err());
        assert!(payload_json(b"a=\xff", BodyFormat::Form).is_err());
    }

    #[test]
    fn form_bodies_become_objects_with_repeated_fields_as_arrays() {
        let payload = payload_json(
            b"token=abc&text=hello+world&tag=a&tag=b&tag=c",
            BodyFormat::Form,
        )
        .unwrap();
        let value: Value = serde_json::from_str(payload.get()).unwrap();
        assert_eq!(value["token"], "abc");
        assert_eq!(value["text"], "hello world");
        assert_eq!(value["tag"], serde_json::json!(["a", "b", "c"]));
    }

    #[test]
    fn recognises_json_and_form_media_types() {
        assert_eq!(body_format("application/json"), Some(BodyFormat::Json));
        assert_eq!(
            body_format("Application/JSON; charset=utf-8"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            body_format("application/cloudevents+json"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            body_format("application/x-www-form-urlencoded"),
            Some(BodyFormat::Form)
        );
        assert_eq!(body_format("text/plain"), None);
        assert_eq!(body_format(""), None);
    }

    #[test]
    fn reads_event_ids_by_json_pointer() {
        let payload = payload_json(
            br#"{"id":"evt_1","data":{"seq":42,"empty":""}}"#,
            BodyFormat::Json,
        )
        .unwrap();
        assert_eq!(value_at(&payload, "/id").as_deref(), Some("evt_1"));
        assert_eq!(value_at(&payload, "/data/seq").as_deref(), Some("42"));
        assert_eq!(value_at(&payload, "/data/empty"), None);
        assert_eq!(value_at(&payload, "/missing"), None);
        assert_eq!(value_at(&payload, "/data"), None);
    }
}
