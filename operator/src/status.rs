//! Status writes as JSON merge patches that also clear what became empty.

use serde::Serialize;
use serde_json::{Value, json};

/// A merge patch replacing `.status` with `status`: a field it no longer has (skipped when
/// empty) is sent as `null`, so the stored status loses it instead of keeping an old value.
pub fn patch<S: Serialize>(status: &S, fields: &[&str]) -> Value {
    let mut status = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(object) = status.as_object_mut() {
        for field in fields {
            object.entry(field.to_string()).or_insert(Value::Null);
        }
    }
    json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Status {
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        ready: bool,
    }

    #[test]
    fn empty_fields_are_cleared_and_set_ones_kept() {
        let cleared = patch(
            &Status {
                url: None,
                ready: true,
            },
            &["url"],
        );
        assert_eq!(cleared, json!({"status": {"url": null, "ready": true}}));
        let set = patch(
            &Status {
                url: Some("u".into()),
                ready: false,
            },
            &["url"],
        );
        assert_eq!(set, json!({"status": {"url": "u", "ready": false}}));
    }
}
