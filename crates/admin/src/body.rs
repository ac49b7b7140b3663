//! Request bodies: one resource as JSON or YAML, and JSON merge patches (RFC 7386).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use lockgate_api::{DecodeError, Document, Limits, Resource, decode_documents_with, decode_value};
use serde_json::Value;

use crate::error::ApiError;

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_yaml(headers: &HeaderMap) -> bool {
    matches!(
        content_type(headers).as_str(),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
    )
}

/// `RouteTable echo.echo-routes: spec.routes[0].matchers[0].prefx: unknown field ...`
fn decode_failure(err: DecodeError) -> ApiError {
    let mut message = match &err.resource {
        Some(key) => key.to_string(),
        None => "the body".to_string(),
    };
    if !err.path.is_empty() {
        message.push_str(": ");
        message.push_str(&err.path);
    }
    message.push_str(": ");
    message.push_str(&err.message);
    ApiError::bad_request(message)
}

pub(crate) fn one_resource(document: Result<Document, DecodeError>) -> Result<Resource, ApiError> {
    match document.map_err(decode_failure)? {
        Document::Resource(resource) => Ok(resource),
        Document::Skipped(skipped) => Err(ApiError::bad_request(format!(
            "{} {} is not a lockgate resource (lockgate serves Upstream, Endpoint, VirtualService, RouteTable and Settings)",
            skipped.api_version, skipped.kind
        ))),
    }
}

/// A request body of at most the admin API's limit ([`body_limit`]); a larger one is refused
/// with 413 and a `Status`, like every other error.
pub(crate) struct Body(pub(crate) Bytes);

/// The largest body: the decoder's size limit, so that what the API accepts it can decode.
pub(crate) fn body_limit() -> usize {
    Limits::default().max_bytes
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(format!(
                        "the body is larger than the limit of {} bytes",
                        body_limit()
                    ))
                } else {
                    ApiError::bad_request(format!(
                        "cannot read the body: {}",
                        rejection.body_text()
                    ))
                }
            })
    }
}

/// Runs a decoding on tokio's blocking pool: the admin API shares one thread with the
/// controller, and a large body must not hold up `/healthz` or anyone else's request.
pub(crate) async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("decoding the body failed: {e}")))?
}

/// Decodes a PUT body. JSON unless the Content-Type says YAML.
pub(crate) fn decode_resource(headers: &HeaderMap, body: &[u8]) -> Result<Resource, ApiError> {
    if is_yaml(headers) {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8 text: {e}")))?;
        let mut documents = decode_documents_with(text, &Limits::default());
        if documents.len() != 1 {
            return Err(ApiError::bad_request(format!(
                "the body must hold exactly one resource, not {} documents",
                documents.len()
            )));
        }
        return one_resource(documents.remove(0));
    }
    let value = parse_json(body)?;
    one_resource(decode_value(value))
}

/// A JSON body within the limits, duplicate keys refused (`the body: spec.port: duplicate key`).
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    lockgate_api::parse_json(body, &Limits::default()).map_err(decode_failure)
}

/// Checks that a PATCH body is a JSON merge patch.
pub(crate) fn decode_merge_patch(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let kind = content_type(headers);
    if !matches!(
        kind.as_str(),
        "application/merge-patch+json" | "application/json" | ""
    ) {
        return Err(ApiError::bad_request(format!(
            "PATCH takes a JSON merge patch (Content-Type: application/merge-patch+json), not {kind}"
        )));
    }
    let patch = parse_json(body)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "a merge patch must be a JSON object".to_string(),
        ));
    }
    Ok(patch)
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // The example of RFC 7386, section 3.
        let mut target = json!({
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged"
        });
        let patch = json!({
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": null},
            "tags": ["example"]
        });
        merge_patch(&mut target, &patch);
        assert_eq!(
            target,
            json!({
                "title": "Hello!",
                "author": {"givenName": "John"},
                "tags": ["example"],
                "content": "This will be unchanged",
                "phoneNumber": "+01-123-456-7890"
            })
        );
        let mut scalar = json!("a");
        merge_patch(&mut scalar, &json!({"b": {"c": null, "d": 1}}));
        assert_eq!(scalar, json!({"b": {"d": 1}}));
    }
}
