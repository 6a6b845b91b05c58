//! RFC 6749 errors: §5.2 (token endpoint, JSON) and §4.1.2.1 (authorization
//! response, query parameters), plus the response headers every token response carries.

use bytes::Bytes;
use edge_http::{APPLICATION_JSON, EdgeResponse, bytes_response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The realm in our `WWW-Authenticate` challenges.
pub const REALM: &str = contract::BEARER_REALM;

/// An RFC 6749 / RFC 7009 / OIDC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// §5.2 / §4.1.2.1.
    InvalidRequest,
    /// §5.2: client authentication failed (401).
    InvalidClient,
    /// §5.2: the grant (code, refresh token) is invalid, expired, revoked or reused.
    InvalidGrant,
    /// §5.2 / §4.1.2.1: the client may not use this grant or response type.
    UnauthorizedClient,
    /// §5.2.
    UnsupportedGrantType,
    /// §5.2 / §4.1.2.1.
    InvalidScope,
    /// §4.1.2.1.
    UnsupportedResponseType,
    /// §4.1.2.1.
    AccessDenied,
    /// OIDC Core §3.1.2.6: `prompt=none` and nobody is signed in.
    LoginRequired,
}

impl ErrorCode {
    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
        }
    }
}

/// An error answered as `{"error": …, "error_description": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: ErrorCode,
    /// A sentence for the developer (RFC 6749: printable ASCII without `"` and `\`).
    pub description: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// The status: 401 for `invalid_client` (with a Basic challenge, §5.2), 400 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.code == ErrorCode::InvalidClient {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// The JSON response, `no-store`.
    pub fn into_response(self) -> EdgeResponse {
        let description = ascii_description(&self.description);
        let body = serde_json::to_vec(&Body {
            error: self.code.as_str(),
            error_description: &description,
        })
        .unwrap_or_default();
        let mut response = bytes_response(self.status(), APPLICATION_JSON, Bytes::from(body));
        no_store(&mut response);
        if self.code == ErrorCode::InvalidClient {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"orderly\""),
            );
        }
        response
    }
}

/// RFC 6749 §5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`.
pub fn ascii_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store(response: &mut EdgeResponse) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON token-endpoint style success response with `no-store`.
pub fn json_no_store<T: Serialize>(status: StatusCode, value: &T) -> EdgeResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn body(response: EdgeResponse) -> serde_json::Value {
        let bytes = futures::executor::block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge() {
        let response = OAuthError::new(ErrorCode::InvalidClient, "no").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"orderly\""
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::PRAGMA], "no-cache");
    }

    #[test]
    fn other_errors_are_400_with_the_exact_code() {
        let response = OAuthError::new(ErrorCode::InvalidGrant, "say \"no\"\\ é").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(
            body(response),
            serde_json::json!({"error": "invalid_grant", "error_description": "say 'no'/ ?"})
        );
    }
}
