//! The security headers of docs/standards.md §4 (what helmet sets), on every response.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The default `Content-Security-Policy` for an API: nothing may load, frame or submit.
/// A component serving HTML (the docs page, the login form) sets its own on the
/// response and the edge keeps it.
pub const DEFAULT_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers set on every response, replacing whatever a handler set.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    // Two years; `preload` is the operator's decision, not ours.
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
];

/// Headers that would disclose implementation detail; always removed.
pub const DISCLOSING_HEADERS: &[&str] = &["server", "x-powered-by", "x-aspnet-version"];

/// Sets the security headers on `headers`: [`SECURITY_HEADERS`] always, the CSP unless
/// the handler chose one, `Cache-Control: no-store` unless the handler chose a policy
/// (safe by default: user data must not be cached), and removes [`DISCLOSING_HEADERS`].
pub fn apply_security_headers(headers: &mut HeaderMap, content_security_policy: &'static str) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(content_security_policy),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for name in DISCLOSING_HEADERS {
        headers.remove(*name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_security_header_is_set_and_disclosing_ones_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::SERVER, HeaderValue::from_static("spin/4.1"));
        headers.insert("x-powered-by", HeaderValue::from_static("rust"));
        headers.insert("x-frame-options", HeaderValue::from_static("ALLOW-FROM x"));
        apply_security_headers(&mut headers, DEFAULT_CONTENT_SECURITY_POLICY);
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(headers[*name], *value, "{name}");
        }
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            DEFAULT_CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(!headers.contains_key(header::SERVER));
        assert!(!headers.contains_key("x-powered-by"));
    }

    #[test]
    fn a_handlers_own_csp_and_cache_policy_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        apply_security_headers(&mut headers, DEFAULT_CONTENT_SECURITY_POLICY);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
    }
}
