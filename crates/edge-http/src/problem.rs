//! RFC 9457 problem documents (`application/problem+json`).
//!
//! Every error any route returns is one of these, carrying the request id so a caller
//! can quote it to support. `detail` is only ever present on 4xx: a 5xx says that we
//! failed, never why (docs/standards.md §4); the why goes to the log line.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::request_id::RequestId;
use crate::response::{EdgeResponse, bytes_response};

/// The media type of a problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Prefix of every problem `type` URI we mint; the suffix names the problem.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:orderly:problem:";

/// Prefix of the `instance` URI: the occurrence is named by its request id.
pub const INSTANCE_PREFIX: &str = "urn:orderly:request:";

/// Member names RFC 9457 or this crate define; extensions may not reuse them.
const RESERVED_MEMBERS: &[&str] = &[
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "request_id",
    "errors",
];

/// One invalid input in a 400/422: where it is, a stable machine code and a message
/// for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// A JSON Pointer (RFC 6901) into the request body (`/email`), or a name such as
    /// `query/limit` / `header/if-match` for inputs outside the body.
    pub pointer: String,
    /// A stable code clients can switch on (`required`, `too_long`, `invalid_format`).
    pub code: String,
    /// Human-readable explanation; must not echo secrets from the input.
    pub message: String,
}

impl FieldError {
    /// A field error at `pointer` with `code` and `message`.
    pub fn new(
        pointer: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            pointer: pointer.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem (§3.1.1).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem (§3.1.3): the status' reason phrase.
    pub title: String,
    /// The HTTP status code (§3.1.2).
    pub status: u16,
    /// An explanation of this occurrence (§3.1.4); only ever set on 4xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A URI naming this occurrence (§3.1.5): `urn:orderly:request:<request id>`.
    pub instance: String,
    /// The request id, also echoed in `X-Request-Id`.
    pub request_id: String,
    /// Per-field validation errors (400/422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members (§3.2), e.g. `/ready`'s `checks`.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem for `status` in request `request_id`, its type and title derived from
    /// the status (`urn:orderly:problem:not-found`, "Not Found").
    pub fn new(status: StatusCode, request_id: &RequestId) -> Self {
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        Self {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{}", slug(&title)),
            title,
            status: status.as_u16(),
            detail: None,
            instance: format!("{INSTANCE_PREFIX}{request_id}"),
            request_id: request_id.as_str().to_owned(),
            errors: Vec::new(),
            extensions: Map::new(),
        }
    }

    /// Names a more specific problem type: `urn:orderly:problem:<name>`.
    pub fn with_type(mut self, name: &str) -> Self {
        self.problem_type = format!("{PROBLEM_TYPE_PREFIX}{name}");
        self
    }

    /// Sets `detail`, on 4xx only: on any other status the detail is dropped so a
    /// server error can never describe its cause to the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        if (400..500).contains(&self.status) {
            self.detail = Some(detail.into());
        }
        self
    }

    /// Sets the per-field errors (kept on 400 and 422 only).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        if self.status == 400 || self.status == 422 {
            self.errors = errors;
        }
        self
    }

    /// Adds an extension member; names RFC 9457 or this type already use are ignored.
    pub fn with_extension(mut self, name: &str, value: Value) -> Self {
        if !RESERVED_MEMBERS.contains(&name) {
            self.extensions.insert(name.to_owned(), value);
        }
        self
    }

    /// The HTTP status of this problem.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The document as an `application/problem+json` response, `Cache-Control: no-store`.
    pub fn into_response(self) -> EdgeResponse {
        let status = self.status_code();
        // Serialising strings, numbers and `Value`s cannot fail; fall back to the bare
        // minimum rather than lose the error response if it ever did.
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| {
            format!(r#"{{"title":"Error","status":{}}}"#, status.as_u16()).into_bytes()
        });
        let mut response = bytes_response(status, PROBLEM_JSON, Bytes::from(body));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// "Method Not Allowed" → "method-not-allowed".
fn slug(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c == ' ' || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> RequestId {
        RequestId::parse("req-1").unwrap_or_else(RequestId::generate)
    }

    #[test]
    fn a_problem_serialises_with_the_rfc_9457_members_and_request_id() {
        let problem = Problem::new(StatusCode::NOT_FOUND, &id()).with_detail("no such order");
        let value = serde_json::to_value(&problem).unwrap_or_default();
        assert_eq!(
            value,
            json!({
                "type": "urn:orderly:problem:not-found",
                "title": "Not Found",
                "status": 404,
                "detail": "no such order",
                "instance": "urn:orderly:request:req-1",
                "request_id": "req-1",
            })
        );
    }

    #[test]
    fn a_server_error_never_carries_detail_or_field_errors() {
        let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR, &id())
            .with_detail("mysql://u:p@h failed")
            .with_errors(vec![FieldError::new("/a", "x", "y")]);
        let value = serde_json::to_value(&problem).unwrap_or_default();
        assert_eq!(value.get("detail"), None);
        assert_eq!(value.get("errors"), None);
        assert_eq!(value["title"], "Internal Server Error");
    }

    #[test]
    fn field_errors_appear_on_bad_request() {
        let problem =
            Problem::new(StatusCode::BAD_REQUEST, &id()).with_errors(vec![FieldError::new(
                "/email",
                "invalid_format",
                "not an email",
            )]);
        let value = serde_json::to_value(&problem).unwrap_or_default();
        assert_eq!(
            value["errors"],
            json!([{"pointer": "/email", "code": "invalid_format", "message": "not an email"}])
        );
    }

    #[test]
    fn extensions_cannot_overwrite_standard_members() {
        let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE, &id())
            .with_extension("status", json!(200))
            .with_extension("checks", json!([]));
        let value = serde_json::to_value(&problem).unwrap_or_default();
        assert_eq!(value["status"], 503);
        assert_eq!(value["checks"], json!([]));
    }

    #[test]
    fn the_response_is_problem_json_and_not_cacheable() {
        let response = Problem::new(StatusCode::CONFLICT, &id()).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn type_slugs_are_derived_from_reason_phrases() {
        assert_eq!(slug("Method Not Allowed"), "method-not-allowed");
        assert_eq!(slug("I'm a teapot"), "im-a-teapot");
        assert_eq!(slug("Unprocessable Entity"), "unprocessable-entity");
    }
}
