//! CORS (Fetch standard §3.2; docs/standards.md §4): an allow-list of origins from
//! configuration, never `*`.
//!
//! A component reads the `cors_origins` variable (comma-separated origins, empty: no
//! cross-origin access), builds a [`CorsPolicy`] and serves through
//! [`crate::serve_with_cors`], which answers preflights before the handler and adds the
//! response headers to every other response, errors included:
//!
//! ```
//! use edge_http::cors::CorsPolicy;
//! use http::{HeaderMap, Method};
//!
//! let cors = CorsPolicy::from_config("https://shop.example, http://localhost:3000").unwrap();
//! let mut request = HeaderMap::new();
//! request.insert("origin", "https://shop.example".parse().unwrap());
//! request.insert("access-control-request-method", "PATCH".parse().unwrap());
//! let preflight = cors.preflight(&Method::OPTIONS, &request).unwrap();
//! assert_eq!(preflight.status().as_u16(), 204);
//! assert_eq!(preflight.headers()["access-control-allow-origin"], "https://shop.example");
//! ```
//!
//! - `Access-Control-Allow-Origin` echoes the request's `Origin` only when it is on the
//!   list; other origins get no CORS headers (the browser then blocks the read).
//! - `Vary: Origin` on every response when a list is configured, so a cache never
//!   serves one origin's answer to another.
//! - Credentials (`Access-Control-Allow-Credentials: true`) only with
//!   [`CorsPolicy::with_credentials`]; since the origin is always echoed, never `*`.
//! - Exposed to scripts: `ETag, Location, RateLimit, RateLimit-Policy, Retry-After,
//!   X-Request-Id`.
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
//!   allowed origin asking for an allowed method and headers gets 204 with
//!   `Access-Control-Allow-Methods`, `-Headers` and `-Max-Age`; any other preflight is
//!   left to the handler (usually a 405) and gets no CORS headers.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;

use crate::compression::add_vary;
use crate::response::EdgeResponse;

/// Headers scripts on an allowed origin may read.
pub const EXPOSED_HEADERS: &str =
    "ETag, Location, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id";

/// Request headers a cross-origin request may send by default.
pub const DEFAULT_ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
    "traceparent",
];

/// Methods a cross-origin request may use by default.
pub const DEFAULT_ALLOWED_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// How long a browser may cache a preflight answer, by default (10 minutes).
pub const DEFAULT_MAX_AGE_SECS: u64 = 600;

/// A configured origin that is not `scheme://host[:port]` (or is `*` / `null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfigError {
    /// The offending entry.
    pub origin: String,
}

impl fmt::Display for CorsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cors_origins: {:?} is not an origin (scheme://host[:port]; `*` and `null` are not allowed)",
            self.origin
        )
    }
}

impl std::error::Error for CorsConfigError {}

/// Which origins may call, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
    credentials: bool,
    methods: Vec<Method>,
    headers: Vec<String>,
    max_age_secs: u64,
}

impl CorsPolicy {
    /// Parses the comma-separated `cors_origins` value (blanks ignored; empty: no
    /// origin allowed) with the default methods, headers and max age, no credentials.
    ///
    /// # Errors
    /// [`CorsConfigError`] naming the first entry that is not an origin.
    pub fn from_config(origins: &str) -> Result<Self, CorsConfigError> {
        let origins = origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                normalize_origin(o.strip_suffix('/').unwrap_or(o)).ok_or_else(|| CorsConfigError {
                    origin: o.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins,
            credentials: false,
            methods: DEFAULT_ALLOWED_METHODS.to_vec(),
            headers: DEFAULT_ALLOWED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            max_age_secs: DEFAULT_MAX_AGE_SECS,
        })
    }

    /// Allows credentials (cookies, TLS client certificates) on cross-origin requests.
    pub fn with_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Replaces the allowed methods.
    pub fn with_methods(mut self, methods: &[Method]) -> Self {
        self.methods = methods.to_vec();
        self
    }

    /// Replaces the allowed request headers (names, any case).
    pub fn with_headers(mut self, headers: &[&str]) -> Self {
        self.headers = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        self
    }

    /// Replaces the preflight max age.
    pub fn with_max_age_secs(mut self, secs: u64) -> Self {
        self.max_age_secs = secs;
        self
    }

    /// Is any origin configured?
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// Is `origin` (an `Origin` header value) on the list? Scheme and host compare
    /// case-insensitively, default ports are implied.
    pub fn is_allowed(&self, origin: &str) -> bool {
        normalize_origin(origin).is_some_and(|o| self.origins.contains(&o))
    }

    /// The allowed `Origin` of a request, if it sent one that is on the list.
    fn allowed_origin<'a>(&self, request: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let mut values = request.get_all(header::ORIGIN).iter();
        let origin = values.next()?;
        if values.next().is_some() {
            return None;
        }
        origin
            .to_str()
            .ok()
            .filter(|o| self.is_allowed(o))
            .map(|_| origin)
    }

    /// Answers a CORS preflight: `Some(204)` with the Allow headers when `method` is
    /// `OPTIONS`, the request carries `Origin` and `Access-Control-Request-Method`, the
    /// origin is allowed, and the method and every requested header are allowed.
    /// `None` otherwise (not a preflight, or refused: let the handler answer).
    pub fn preflight(&self, method: &Method, request: &HeaderMap) -> Option<EdgeResponse> {
        if *method != Method::OPTIONS {
            return None;
        }
        let requested_method = request
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
            .to_str()
            .ok()
            .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())?;
        let origin = self.allowed_origin(request)?;
        if !self.methods.contains(&requested_method) {
            return None;
        }
        let requested_headers_ok = request
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .all(|value| {
                value.to_str().is_ok_and(|text| {
                    text.split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .all(|h| self.headers.iter().any(|a| a.eq_ignore_ascii_case(h)))
                })
            });
        if !requested_headers_ok {
            return None;
        }
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let methods = self
            .methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(value) = HeaderValue::from_str(&methods) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        if let Ok(value) = HeaderValue::from_str(&self.headers.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age_secs),
        );
        for vary in [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            add_vary(headers, vary);
        }
        Some(response)
    }

    /// Adds the CORS headers of an actual (non-preflight) response for a request with
    /// `request` headers: `Vary: Origin` whenever a list is configured, and for an
    /// allowed `Origin` its echo, `Access-Control-Expose-Headers` and (if enabled)
    /// `Access-Control-Allow-Credentials`. Removes any CORS headers a handler set for a
    /// disallowed origin.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if !self.is_enabled() {
            return;
        }
        add_vary(response, "Origin");
        match self.allowed_origin(request) {
            Some(origin) => {
                response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                response.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED_HEADERS),
                );
                if self.credentials {
                    response.insert(
                        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                        HeaderValue::from_static("true"),
                    );
                }
            }
            None => {
                for name in [
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                ] {
                    response.remove(name);
                }
            }
        }
    }

    /// The request headers [`CorsPolicy::apply`] looks at (kept by the edge before the
    /// request moves into the handler).
    pub fn request_headers_of(request: &HeaderMap) -> HeaderMap {
        request
            .get_all(header::ORIGIN)
            .iter()
            .map(|v| (header::ORIGIN, v.clone()))
            .collect()
    }
}

/// `scheme://host[:port]` lowercased with the scheme's default port dropped, or `None`
/// when `origin` is not such a thing (path, query, userinfo, `null`, `*`, other
/// schemes).
fn normalize_origin(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    if rest.is_empty()
        || rest
            .bytes()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\') || !b.is_ascii_graphic())
    {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
            None => (rest.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            let number: u32 = p.parse().ok()?;
            if number > 65_535 {
                return None;
            }
            let canonical = number.to_string();
            (canonical != default_port).then_some(canonical)
        }
        Some(_) => return None,
    };
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;
    use proptest::prelude::*;

    fn policy() -> CorsPolicy {
        CorsPolicy::from_config(" https://Shop.Example , http://localhost:3000/,").unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn configured_origins_are_normalised_and_bad_ones_refused() {
        let cors = policy();
        assert!(cors.is_allowed("https://shop.example"));
        assert!(cors.is_allowed("https://shop.example:443"));
        assert!(cors.is_allowed("http://localhost:3000"));
        assert!(!cors.is_allowed("http://shop.example"));
        assert!(!cors.is_allowed("https://evil.example"));
        assert!(!cors.is_allowed("https://shop.example.evil.example"));
        assert!(!cors.is_allowed("null"));
        for bad in [
            "*",
            "null",
            "shop.example",
            "https://a/path",
            "ftp://a",
            "https://u@a",
            "https://a:99999",
            "https://",
        ] {
            assert!(CorsPolicy::from_config(bad).is_err(), "{bad}");
        }
        assert!(!CorsPolicy::from_config("").unwrap().is_enabled());
        assert!(
            CorsPolicy::from_config("https://[::1]:8443")
                .unwrap()
                .is_allowed("https://[::1]:8443")
        );
    }

    #[test]
    fn an_allowed_preflight_gets_204_with_methods_headers_and_max_age() {
        let request = headers(&[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "PATCH"),
            (
                "access-control-request-headers",
                "Authorization, If-Match, content-type",
            ),
        ]);
        let response = policy().preflight(&Method::OPTIONS, &request).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, HEAD, POST, PUT, PATCH, DELETE"
        );
        assert!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("if-match")
        );
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(
            vary,
            [
                "Origin",
                "Access-Control-Request-Method",
                "Access-Control-Request-Headers"
            ]
        );
    }

    #[test]
    fn refused_preflights_are_left_to_the_handler() {
        let cors = policy();
        let cases = [
            headers(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ]),
            headers(&[
                ("origin", "https://shop.example"),
                ("access-control-request-method", "TRACE"),
            ]),
            headers(&[
                ("origin", "https://shop.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-orderly-subject"),
            ]),
            headers(&[("origin", "https://shop.example")]),
            headers(&[("access-control-request-method", "GET")]),
            headers(&[
                ("origin", "https://shop.example"),
                ("origin", "https://shop.example"),
                ("access-control-request-method", "GET"),
            ]),
        ];
        for request in cases {
            assert!(
                cors.preflight(&Method::OPTIONS, &request).is_none(),
                "{request:?}"
            );
        }
        let ok = headers(&[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(cors.preflight(&Method::GET, &ok).is_none());
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_exposed_headers_and_vary() {
        let mut response = HeaderMap::new();
        policy().apply(
            &headers(&[("origin", "http://localhost:3000")]),
            &mut response,
        );
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:3000"
        );
        assert_eq!(
            response[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            EXPOSED_HEADERS
        );
        assert_eq!(response[header::VARY], "Origin");
        assert!(!response.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }

    #[test]
    fn a_disallowed_or_missing_origin_gets_only_vary_and_loses_handler_cors_headers() {
        for request in [
            headers(&[("origin", "https://evil.example")]),
            HeaderMap::new(),
        ] {
            let mut response = headers(&[("access-control-allow-origin", "*")]);
            policy().apply(&request, &mut response);
            assert!(!response.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
            assert!(!response.contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS));
            assert_eq!(response[header::VARY], "Origin");
        }
    }

    #[test]
    fn no_configured_origin_means_no_cors_headers_at_all() {
        let cors = CorsPolicy::from_config("").unwrap();
        let mut response = HeaderMap::new();
        cors.apply(
            &headers(&[("origin", "https://shop.example")]),
            &mut response,
        );
        assert!(response.is_empty());
    }

    #[test]
    fn credentials_echo_the_origin_never_a_wildcard() {
        let cors = policy().with_credentials(true);
        let mut response = HeaderMap::new();
        cors.apply(
            &headers(&[("origin", "https://shop.example")]),
            &mut response,
        );
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        let preflight = cors
            .preflight(
                &Method::OPTIONS,
                &headers(&[
                    ("origin", "https://shop.example"),
                    ("access-control-request-method", "GET"),
                ]),
            )
            .unwrap();
        assert_eq!(
            preflight.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(
            preflight.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );
    }

    #[test]
    fn custom_methods_headers_and_max_age_apply() {
        let cors = policy()
            .with_methods(&[Method::GET])
            .with_headers(&["X-Custom"])
            .with_max_age_secs(5);
        let request = headers(&[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-custom"),
        ]);
        let response = cors.preflight(&Method::OPTIONS, &request).unwrap();
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET"
        );
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "x-custom"
        );
        assert_eq!(response.headers()[header::ACCESS_CONTROL_MAX_AGE], "5");
    }

    proptest! {
        #[test]
        fn origin_parsing_never_panics(text in "\\PC{0,60}") {
            let _ = normalize_origin(&text);
            let _ = CorsPolicy::from_config(&text);
        }
    }
}
