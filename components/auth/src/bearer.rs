//! Finding the credential: RFC 6750 §2.1 `Authorization: Bearer <token>` only.
//!
//! The query parameter (§2.3) and form body (§2.2) methods are not supported: a request
//! carrying `access_token` there is refused (`invalid_request`) rather than ignored, so a
//! client that leaks its token into URLs and logs learns it at once.

use http::{HeaderMap, header};

use tokens::DEFAULT_MAX_TOKEN_LEN;

/// The form parameter name of RFC 6750 §2.2/§2.3.
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

/// What the request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer <token>` with a token of RFC 6750 `b64token` syntax.
    Bearer(String),
    /// An `Authorization` header with another scheme (`Basic`, `Digest`…): no bearer
    /// credentials, so a challenge without an error code (RFC 6750 §3.1).
    OtherScheme,
    /// A `Bearer` header whose token is missing, too long or not `b64token` syntax: an
    /// `invalid_token` (the description never echoes it).
    Malformed(&'static str),
    /// More than one `Authorization` header (RFC 6750 §3.1 `invalid_request`).
    Ambiguous,
}

/// Reads the `Authorization` header(s).
pub fn from_headers(headers: &HeaderMap) -> Credential {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Credential::None;
    };
    if values.next().is_some() {
        return Credential::Ambiguous;
    }
    let Ok(value) = value.to_str() else {
        return Credential::Malformed("the Authorization header is not valid text");
    };
    parse_authorization(value)
}

/// Parses one `Authorization` value (RFC 9110 §11.4: the scheme is case-insensitive and
/// separated from the credentials by one or more spaces).
pub fn parse_authorization(value: &str) -> Credential {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = match value.split_once([' ', '\t']) {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches([' ', '\t'])),
        None => (value, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credential::OtherScheme;
    }
    if rest.is_empty() {
        return Credential::Malformed("the bearer token is missing");
    }
    // Checked here too (the verifier checks again) so nothing longer is copied or parsed.
    if rest.len() > DEFAULT_MAX_TOKEN_LEN {
        return Credential::Malformed("the token is too large");
    }
    if !is_b64token(rest) {
        return Credential::Malformed("the token is malformed");
    }
    Credential::Bearer(rest.to_owned())
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Whether a query string (without `?`) carries `access_token` (any value, any position,
/// percent-encoded name included).
pub fn query_has_access_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| form_has_access_token(q.as_bytes()))
}

/// Whether an `application/x-www-form-urlencoded` body carries `access_token`.
pub fn form_has_access_token(body: &[u8]) -> bool {
    body.split(|b| *b == b'&').any(|pair| {
        let name = pair.split(|b| *b == b'=').next().unwrap_or(pair);
        decode_form_component(name).as_deref() == Some(ACCESS_TOKEN_PARAM)
    })
}

/// Decodes a form-urlencoded name (`+` is a space, `%XX` a byte); `None` if it is not UTF-8
/// or not a plausible parameter name (longer than 64 bytes).
fn decode_form_component(raw: &[u8]) -> Option<String> {
    if raw.len() > 64 * 3 {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Whether a `Content-Type` is `application/x-www-form-urlencoded` (parameters ignored,
/// case-insensitive).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(
                parse_authorization(&format!("{scheme} abc.def.ghi")),
                Credential::Bearer("abc.def.ghi".into())
            );
        }
        assert_eq!(
            parse_authorization("Bearer    abc.def-_~+/=="),
            Credential::Bearer("abc.def-_~+/==".into())
        );
    }

    #[test]
    fn other_schemes_are_no_bearer_credentials() {
        assert_eq!(
            parse_authorization("Basic dXNlcjpwYXNz"),
            Credential::OtherScheme
        );
        assert_eq!(parse_authorization("Bearerx abc"), Credential::OtherScheme);
        assert_eq!(parse_authorization("Token abc"), Credential::OtherScheme);
        assert_eq!(parse_authorization(""), Credential::OtherScheme);
    }

    #[test]
    fn a_missing_or_malformed_bearer_token_is_refused_without_echoing_it() {
        assert!(matches!(
            parse_authorization("Bearer"),
            Credential::Malformed(_)
        ));
        assert!(matches!(
            parse_authorization("Bearer   "),
            Credential::Malformed(_)
        ));
        for bad in ["a b", "a,b", "abc\"", "=abc", "a=b", "tok;en", "é"] {
            match parse_authorization(&format!("Bearer {bad}")) {
                Credential::Malformed(why) => assert!(!why.contains(bad), "{why}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let huge = "a".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
        assert_eq!(
            parse_authorization(&format!("Bearer {huge}")),
            Credential::Malformed("the token is too large")
        );
    }

    #[test]
    fn headers_with_none_one_or_two_authorizations() {
        let mut headers = HeaderMap::new();
        assert_eq!(from_headers(&headers), Credential::None);
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer a.b.c"),
        );
        assert_eq!(from_headers(&headers), Credential::Bearer("a.b.c".into()));
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer d.e.f"),
        );
        assert_eq!(from_headers(&headers), Credential::Ambiguous);

        let mut opaque = HeaderMap::new();
        opaque.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(matches!(from_headers(&opaque), Credential::Malformed(_)));
    }

    #[test]
    fn access_token_in_the_query_is_detected_however_spelled() {
        assert!(query_has_access_token(Some("access_token=abc")));
        assert!(query_has_access_token(Some("a=1&access_token=abc")));
        assert!(query_has_access_token(Some("access_token")));
        assert!(query_has_access_token(Some("access%5Ftoken=x")));
        assert!(query_has_access_token(Some("access%5ftoken=x")));
        assert!(!query_has_access_token(Some("x_access_token=abc")));
        assert!(!query_has_access_token(Some("token=abc&access=1")));
        assert!(!query_has_access_token(Some("")));
        assert!(!query_has_access_token(None));
        assert!(!query_has_access_token(Some("q=%")));
        assert!(!query_has_access_token(Some("q=%4")));
    }

    #[test]
    fn access_token_in_a_form_body_is_detected() {
        assert!(form_has_access_token(b"name=x&access_token=abc"));
        assert!(!form_has_access_token(b"name=access_token"));
        assert!(!form_has_access_token(b""));
    }

    #[test]
    fn form_content_types_are_recognised_with_parameters() {
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        );
        assert!(is_form(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_form(&headers));
    }
}
