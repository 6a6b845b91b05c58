//! Preparing the request the route component receives.

use edge_http::{Principal, REQUEST_ID_HEADER, RequestId};
use http::HeaderMap;

/// The prefix of the headers only this middleware may set (see `edge_http::principal`).
pub const INTERNAL_PREFIX: &str = "x-orderly-";

/// Removes every `x-orderly-*` header: whatever the client sent there is a forgery.
pub fn strip_internal_headers(headers: &mut HeaderMap) {
    let forged: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(INTERNAL_PREFIX))
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
}

/// Makes sure the request carries a well-formed `X-Request-Id` (the client's, or a new one
/// replacing a missing or malformed one), so the component and our refusals log the same id.
pub fn ensure_request_id(headers: &mut HeaderMap) -> RequestId {
    if let Some(id) = headers
        .get(REQUEST_ID_HEADER)
        .and_then(RequestId::from_header)
    {
        return id;
    }
    let id = RequestId::generate();
    headers.remove(REQUEST_ID_HEADER);
    if let Some(value) = id.to_header_value() {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    id
}

/// Sets the verified caller's headers (after [`strip_internal_headers`]).
pub fn set_principal(
    headers: &mut HeaderMap,
    principal: &Principal,
) -> Result<(), http::header::InvalidHeaderValue> {
    principal.write_headers(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_http::{SUBJECT_HEADER, SubjectKind};
    use http::HeaderValue;

    #[test]
    fn every_client_sent_internal_header_is_removed_and_others_kept() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-orderly-subject",
            "x-orderly-scope",
            "x-orderly-client-id",
            "x-orderly-subject-kind",
            "x-orderly-token-id",
            "x-orderly-anything-new",
        ] {
            headers.append(name, HeaderValue::from_static("admin"));
            headers.append(name, HeaderValue::from_static("again"));
        }
        headers.insert("x-orderlyish", HeaderValue::from_static("kept"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        strip_internal_headers(&mut headers);
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers["x-orderlyish"], "kept");
        assert!(Principal::from_headers(&headers).is_none());
    }

    #[test]
    fn a_good_request_id_is_kept_and_a_missing_or_bad_one_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("client-1"));
        assert_eq!(ensure_request_id(&mut headers).as_str(), "client-1");
        assert_eq!(headers[REQUEST_ID_HEADER], "client-1");

        let mut missing = HeaderMap::new();
        let made = ensure_request_id(&mut missing);
        assert_eq!(missing[REQUEST_ID_HEADER], made.as_str());

        let mut bad = HeaderMap::new();
        bad.insert(REQUEST_ID_HEADER, HeaderValue::from_static("bad id\""));
        let replaced = ensure_request_id(&mut bad);
        assert_ne!(replaced.as_str(), "bad id\"");
        assert_eq!(bad.get_all(REQUEST_ID_HEADER).iter().count(), 1);
        assert_eq!(bad[REQUEST_ID_HEADER], replaced.as_str());
    }

    #[test]
    fn the_principal_set_after_stripping_is_the_verified_one() {
        let mut headers = HeaderMap::new();
        headers.insert(SUBJECT_HEADER, HeaderValue::from_static("admin"));
        headers.insert("x-orderly-scope", HeaderValue::from_static("admin"));
        strip_internal_headers(&mut headers);
        let principal = Principal {
            subject: "0190b0c4-0000-7000-8000-000000000001".into(),
            kind: SubjectKind::User,
            client_id: "web".into(),
            scopes: vec!["orders:read".into()],
            token_id: "jti-1".into(),
        };
        set_principal(&mut headers, &principal).unwrap();
        assert_eq!(Principal::from_headers(&headers), Some(principal));
    }
}
