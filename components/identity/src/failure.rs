//! How the OAuth endpoints fail: an RFC 6749 error JSON ([`OAuthError`]) or one of our
//! RFC 9457 problems (5xx, 405, 415), and the small request helpers they share.

use bytes::Bytes;
use edge_http::{ApiError, EdgeResponse, HandlerResult};
use http::{HeaderMap, HeaderName};
use store::{KvError, StoreError};

use crate::form::Form;
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::scopes::ScopeRefusal;

const FORM: &[&str] = &["application/x-www-form-urlencoded"];

/// A failure on an OAuth endpoint: an RFC 6749 error, or one of ours (5xx, 405, 415).
#[derive(Debug)]
pub enum Failure {
    /// RFC 6749 error JSON.
    OAuth(OAuthError),
    /// RFC 9457 problem.
    Api(ApiError),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Api(ApiError::from(e))
    }
}

/// A key-value failure where we must not fail open (revocation, throttling, sessions).
pub fn kv_failure(_error: KvError) -> ApiError {
    ApiError::ServiceUnavailable {
        retry_after_secs: 1,
    }
}

pub fn oauth(code: ErrorCode, description: &str) -> Failure {
    Failure::OAuth(OAuthError::new(code, description))
}

/// Turns a result into what the edge expects.
pub fn respond(result: Result<EdgeResponse, Failure>) -> HandlerResult {
    match result {
        Ok(response) => Ok(response),
        Err(Failure::OAuth(e)) => Ok(e.into_response()),
        Err(Failure::Api(e)) => Err(e),
    }
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn parse_form(request: &http::Request<Bytes>) -> Result<Form, Failure> {
    edge_http::require_content_type(request.headers(), FORM)?;
    Form::parse(request.body()).map_err(|e| oauth(ErrorCode::InvalidRequest, &e.description()))
}

pub fn require<'a>(form: &'a Form, name: &str) -> Result<&'a str, Failure> {
    form.get(name)
        .ok_or_else(|| oauth(ErrorCode::InvalidRequest, &format!("{name} is required.")))
}

pub fn scope_refusal(refusal: ScopeRefusal) -> Failure {
    match refusal {
        ScopeRefusal::Malformed => oauth(ErrorCode::InvalidScope, "The scope is malformed."),
        ScopeRefusal::NotAllowed => oauth(
            ErrorCode::InvalidScope,
            "The requested scope exceeds what is allowed.",
        ),
    }
}
