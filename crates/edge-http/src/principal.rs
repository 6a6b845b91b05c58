//! The verified caller, as the `auth` middleware hands it to a route component.
//!
//! Contract between `components/auth` and every protected component:
//! - auth **removes every client-sent `x-orderly-*` header** before anything else, so a
//!   client cannot forge these;
//! - when a valid bearer token came with the request it sets [`SUBJECT_HEADER`],
//!   [`CLIENT_ID_HEADER`](crate::CLIENT_ID_HEADER), [`SCOPE_HEADER`],
//!   [`SUBJECT_KIND_HEADER`] and [`TOKEN_ID_HEADER`], then calls the route component;
//! - an anonymous request the route's policy allows reaches the component with none of them.
//!
//! A component reads them only with [`InternalHeaders::TrustMiddleware`](crate::InternalHeaders)
//! and gets the result from [`RequestContext::principal`](crate::RequestContext::principal).
//! The middleware checks scopes per route and method; object-level checks (user A never
//! sees user B's orders) stay in the component.

use contract::Scope;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::edge::CLIENT_ID_HEADER;

/// The token's `sub`: a user id (UUID) or, for `client_credentials`, the client id.
pub const SUBJECT_HEADER: HeaderName = HeaderName::from_static("x-orderly-subject");
/// Space-separated granted scopes (RFC 6749 §3.3).
pub const SCOPE_HEADER: HeaderName = HeaderName::from_static("x-orderly-scope");
/// `user` or `client`.
pub const SUBJECT_KIND_HEADER: HeaderName = HeaderName::from_static("x-orderly-subject-kind");
/// The access token's `jti`.
pub const TOKEN_ID_HEADER: HeaderName = HeaderName::from_static("x-orderly-token-id");

/// Whom the token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// A signed-in user (authorization code flow); `subject` is the user's id.
    User,
    /// A machine client (client credentials); `subject` is the client id.
    Client,
}

impl SubjectKind {
    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Client => "client",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(SubjectKind::User),
            "client" => Some(SubjectKind::Client),
            _ => None,
        }
    }
}

/// A caller whose bearer token the auth middleware verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// User or machine client.
    pub kind: SubjectKind,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The token's `jti`.
    pub token_id: String,
}

const MAX_HEADER_LEN: usize = 4096;

fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    if value.is_empty() || value.len() > MAX_HEADER_LEN {
        return None;
    }
    Some(value.to_owned())
}

impl Principal {
    /// Reads the middleware's headers; `None` unless all of them are present and well formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let subject = text(headers, &SUBJECT_HEADER)?;
        let kind = SubjectKind::parse(&text(headers, &SUBJECT_KIND_HEADER)?)?;
        let client_id = text(headers, &CLIENT_ID_HEADER)?;
        let token_id = text(headers, &TOKEN_ID_HEADER)?;
        let scopes = headers
            .get(&SCOPE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Self {
            subject,
            kind,
            client_id,
            scopes,
            token_id,
        })
    }

    /// Writes the headers (what the middleware does); fails on a value that cannot be a header.
    pub fn write_headers(
        &self,
        headers: &mut HeaderMap,
    ) -> Result<(), http::header::InvalidHeaderValue> {
        headers.insert(SUBJECT_HEADER, HeaderValue::from_str(&self.subject)?);
        headers.insert(
            SUBJECT_KIND_HEADER,
            HeaderValue::from_static(self.kind.as_str()),
        );
        headers.insert(CLIENT_ID_HEADER, HeaderValue::from_str(&self.client_id)?);
        headers.insert(SCOPE_HEADER, HeaderValue::from_str(&self.scopes.join(" "))?);
        headers.insert(TOKEN_ID_HEADER, HeaderValue::from_str(&self.token_id)?);
        Ok(())
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }

    /// Whether the caller may do what `scope` allows: it holds `scope` or `admin`.
    pub fn may(&self, scope: Scope) -> bool {
        scope.is_satisfied_by(self.scopes.iter().map(String::as_str))
    }

    /// Whether the caller holds the `admin` scope.
    pub fn is_admin(&self) -> bool {
        self.has_scope(Scope::Admin)
    }

    /// The user id when the caller is a user.
    pub fn user_id(&self) -> Option<&str> {
        match self.kind {
            SubjectKind::User => Some(&self.subject),
            SubjectKind::Client => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_partial_sets_are_rejected() {
        let principal = Principal {
            subject: "0190b0c4-0000-7000-8000-000000000001".into(),
            kind: SubjectKind::User,
            client_id: "web".into(),
            scopes: vec!["orders:read".into(), "admin".into()],
            token_id: "jti-1".into(),
        };
        let mut headers = HeaderMap::new();
        principal.write_headers(&mut headers).unwrap();
        let read = Principal::from_headers(&headers).unwrap();
        assert_eq!(read, principal);
        assert!(read.is_admin());
        assert_eq!(read.user_id(), Some(principal.subject.as_str()));

        headers.remove(&TOKEN_ID_HEADER);
        assert_eq!(Principal::from_headers(&headers), None);
    }

    #[test]
    fn an_unknown_subject_kind_is_no_principal() {
        let mut headers = HeaderMap::new();
        Principal {
            subject: "s".into(),
            kind: SubjectKind::Client,
            client_id: "c".into(),
            scopes: vec![],
            token_id: "t".into(),
        }
        .write_headers(&mut headers)
        .unwrap();
        headers.insert(SUBJECT_KIND_HEADER, HeaderValue::from_static("root"));
        assert_eq!(Principal::from_headers(&headers), None);
    }
}
