//! Response type and builders shared by every component.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::ApiError;

/// The body every edge response carries: the whole payload in memory. spin-sdk 7
/// accepts it directly (`IntoResponse for http::Response<T: http_body::Body>`).
pub type EdgeBody = Full<Bytes>;

/// The response type handlers return and the edge hands to Spin.
pub type EdgeResponse = http::Response<EdgeBody>;

/// What a handler returns: a response, or an error the edge turns into a problem
/// document.
pub type HandlerResult = Result<EdgeResponse, ApiError>;

/// `application/json`.
pub const APPLICATION_JSON: &str = "application/json";

/// A response extension a handler attaches to put an internal cause in the request's
/// log line (redacted) without putting it in the body: e.g. why `/ready` said 503.
/// The edge removes it before the response leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCause(pub String);

/// A response extension naming the authenticated OAuth client, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(pub String);

/// A response with `status`, no headers and `body`.
pub fn bytes_response(status: StatusCode, content_type: &'static str, body: Bytes) -> EdgeResponse {
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response with `status` and an empty body.
pub fn empty_response(status: StatusCode) -> EdgeResponse {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Serialises `value` as an `application/json` response with `status`.
/// A value that cannot be serialised is our bug: it becomes a 500.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(bytes_response(status, APPLICATION_JSON, Bytes::from(body)))
}

/// Attaches an internal cause to `response` for the log line (see [`LogCause`]).
pub fn attach_log_cause(response: &mut EdgeResponse, cause: impl Into<String>) {
    response.extensions_mut().insert(LogCause(cause.into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn json_response_sets_status_type_and_body() {
        let response = json_response(StatusCode::CREATED, &serde_json::json!({"a": 1}));
        assert!(response.is_ok());
        if let Ok(response) = response {
            assert_eq!(response.status(), StatusCode::CREATED);
            assert_eq!(response.headers()[header::CONTENT_TYPE], APPLICATION_JSON);
            let body = futures::executor::block_on(response.into_body().collect());
            assert_eq!(
                body.map(|b| b.to_bytes()).ok(),
                Some(Bytes::from_static(br#"{"a":1}"#))
            );
        }
    }
}
