//! The overlay settings document: a JSON object the studio owns the meaning of. The server
//! only checks that it is bounded, then stores it re-serialised (compact, keys sorted), so
//! what is stored never depends on the client's whitespace or on bytes that are not JSON.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Largest settings document, as sent and as stored. The studio's settings are well under
/// 2 KiB; this leaves room for long ticker texts.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// Deepest nesting of objects and arrays, the document itself counting as 1.
pub const MAX_DEPTH: usize = 8;
/// Longest string, keys included, in characters.
pub const MAX_STRING_CHARS: usize = 2000;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "settings_too_large",
        format!(
            "the studio settings are larger than {} KiB; shorten the texts",
            MAX_SETTINGS_BYTES / 1024
        ),
    )
}

/// Checks `value` and returns the text to store.
pub fn canonical(value: &Value) -> Result<String, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_settings",
            "the studio settings must be a JSON object",
        ));
    }
    check(value, 1)?;
    // Serialising a `Value` cannot fail (its keys are strings); answer 500 rather than panic.
    let text = serde_json::to_string(value).map_err(ApiError::internal)?;
    // Re-serialising can lengthen a document slightly (`1e2` becomes `100.0`).
    if text.len() > MAX_SETTINGS_BYTES {
        return Err(too_large());
    }
    Ok(text)
}

fn check(value: &Value, depth: usize) -> Result<(), ApiError> {
    let long = |s: &str| s.chars().count() > MAX_STRING_CHARS;
    let string_too_long = || {
        ApiError::bad_request(
            "invalid_settings",
            format!("a text in the studio settings is longer than {MAX_STRING_CHARS} characters"),
        )
    };
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::String(s) if long(s) => return Err(string_too_long()),
        Value::Object(map) => {
            if map.keys().any(|k| long(k)) {
                return Err(string_too_long());
            }
            Box::new(map.values())
        }
        Value::Array(items) => Box::new(items.iter()),
        _ => return Ok(()),
    };
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request(
            "invalid_settings",
            format!("the studio settings are nested more than {MAX_DEPTH} levels deep"),
        ));
    }
    children.into_iter().try_for_each(|v| check(v, depth + 1))
}

/// The logged-in user's overlay settings, `{}` when they never saved any.
#[utoipa::path(
    get,
    operation_id = "get_studio_settings",
    path = "/api/me/studio",
    tag = "studio",
    responses(
        (status = 200, description = "The settings document as last saved (re-serialised), or `{}`",
            content_type = "application/json", body = Object),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ApiError> {
    let stored = state
        .store
        .studio_settings(&user.id)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
        ],
        stored.unwrap_or_else(|| String::from("{}")),
    )
        .into_response())
}

/// Replaces the logged-in user's overlay settings.
///
/// The document is the studio's: any JSON object of at most 16 KiB, nested at most 8 levels,
/// with strings (keys included) of at most 2000 characters.
#[utoipa::path(
    put,
    operation_id = "put_studio_settings",
    path = "/api/me/studio",
    tag = "studio",
    request_body(content = Object, content_type = "application/json",
        description = "A JSON object, at most 16 KiB"),
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Not JSON, not an object, nested too deep, or a string is too long", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 413, description = "Larger than 16 KiB", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn save(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(value) = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        status => ApiError::new(status, "invalid_body", e.body_text()),
    })?;
    let text = canonical(&value)?;
    state
        .store
        .put_studio_settings(&user.id, &text, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> Value {
        (1..depth).fold(json!({}), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn a_document_is_stored_compact_with_sorted_keys() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, 2], "a": {"z": true, "y": null} }"#).unwrap();
        assert_eq!(
            canonical(&value).unwrap(),
            r#"{"a":{"y":null,"z":true},"b":[1,2]}"#
        );
    }

    #[test]
    fn a_long_decimal_number_reads_back_as_the_number_that_was_sent() {
        // Found by the web_json fuzz target: with serde_json's default (fast, not always
        // correctly rounded) float parsing, the stored text read back one ULP away from the
        // value it was made of. `float_roundtrip` makes parsing exact.
        let body = "{\"\":2222222222222222222222222222222222222222222.\
                    222222222222222222222222222222222222222222233}";
        let value: Value = serde_json::from_str(body).unwrap();
        let text = canonical(&value).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value, "stored as {text}");
        assert_eq!(canonical(&back).unwrap(), text);
    }

    #[test]
    fn only_an_object_is_a_settings_document() {
        for value in [json!([]), json!("text"), json!(1), json!(null)] {
            let e = canonical(&value).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{value}");
        }
    }

    #[test]
    fn eight_levels_of_nesting_are_accepted_and_nine_are_not() {
        assert!(canonical(&nested(MAX_DEPTH)).is_ok());
        let e = canonical(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.message.contains("8 levels"), "{}", e.message);
        // Arrays count as levels too.
        let arrays = (2..=MAX_DEPTH).fold(json!([]), |inner, _| json!([inner]));
        assert!(canonical(&json!({ "a": arrays })).is_err());
    }

    #[test]
    fn strings_and_keys_are_limited_in_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_STRING_CHARS);
        assert!(canonical(&json!({ "text": at_limit })).is_ok());
        let over = "x".repeat(MAX_STRING_CHARS + 1);
        assert!(canonical(&json!({ "text": over })).is_err());
        assert!(canonical(&json!({ over.clone(): 1 })).is_err());
        assert!(canonical(&json!({ "list": [[over]] })).is_err());
    }

    #[test]
    fn a_document_that_grows_past_the_limit_when_reserialised_is_refused() {
        // `1e2` re-serialises as `100.0`: 4 bytes per number become 6.
        let text = format!("[{}1e2]", "1e2,".repeat(MAX_SETTINGS_BYTES / 4 - 2));
        let numbers: Value = serde_json::from_str(&text).unwrap();
        assert!(text.len() < MAX_SETTINGS_BYTES);
        let e = canonical(&json!({ "n": numbers })).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
