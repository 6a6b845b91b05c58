//! [`ApiError`]: the one error type handlers return, mapped to RFC 9457 problems.

use std::fmt;

use http::{HeaderName, HeaderValue, Method, StatusCode, header};

use crate::problem::{FieldError, Problem};
use crate::request_id::RequestId;
use crate::response::EdgeResponse;

/// An error a handler returns. Each variant's doc names its status (RFC 9110 §15).
/// 4xx variants say what the caller did wrong; [`ApiError::Internal`] keeps its cause
/// for the log line only and answers a generic 500.
#[derive(Debug)]
pub enum ApiError {
    /// 400 Bad Request: malformed input, optionally with per-field errors.
    BadRequest {
        /// What was wrong, for people.
        detail: String,
        /// One entry per invalid field.
        errors: Vec<FieldError>,
    },
    /// 401 Unauthorized: missing or invalid credentials. Always carries a
    /// `WWW-Authenticate` challenge (RFC 9110 §15.5.2, RFC 6750 §3).
    Unauthorized {
        /// The `WWW-Authenticate` value, e.g. `Bearer realm="orderly", error="invalid_token"`.
        challenge: String,
        /// What was wrong, for people (never echoes the credential).
        detail: String,
    },
    /// 403 Forbidden: authenticated, but not allowed to do this.
    Forbidden {
        /// Why, for people.
        detail: String,
    },
    /// 404 Not Found: no such resource (also used to hide one the caller may not see).
    NotFound {
        /// What was not found.
        detail: String,
    },
    /// 405 Method Not Allowed, with the `Allow` header (RFC 9110 §15.5.6).
    MethodNotAllowed {
        /// The methods the resource supports; `HEAD` is added when `GET` is present.
        allow: Vec<Method>,
    },
    /// 406 Not Acceptable: no representation matches `Accept`.
    NotAcceptable {
        /// The media types we can produce.
        available: &'static [&'static str],
    },
    /// 409 Conflict: the request conflicts with the resource's current state.
    Conflict {
        /// What conflicts.
        detail: String,
    },
    /// 412 Precondition Failed: `If-Match` did not match.
    PreconditionFailed {
        /// Which precondition failed.
        detail: String,
    },
    /// 413 Content Too Large: the body exceeds the route's cap.
    PayloadTooLarge {
        /// The cap in bytes.
        limit_bytes: usize,
    },
    /// 415 Unsupported Media Type: wrong or missing `Content-Type`.
    UnsupportedMediaType {
        /// The media types the route accepts.
        supported: &'static [&'static str],
    },
    /// 422 Unprocessable Content: well-formed but semantically invalid.
    UnprocessableContent {
        /// What was wrong.
        detail: String,
        /// One entry per invalid field.
        errors: Vec<FieldError>,
    },
    /// 428 Precondition Required: the route needs `If-Match` and none was sent.
    PreconditionRequired {
        /// Which precondition is required.
        detail: String,
    },
    /// 429 Too Many Requests, with `Retry-After` in seconds.
    TooManyRequests {
        /// Seconds until the caller may retry.
        retry_after_secs: u64,
    },
    /// 503 Service Unavailable, with `Retry-After` in seconds (breaker open, dependency
    /// down). The body says only that the service is unavailable.
    ServiceUnavailable {
        /// Seconds until the caller may retry.
        retry_after_secs: u64,
    },
    /// A 4xx the domain describes itself: its own problem `type`, detail, field errors and
    /// extension members (e.g. 409 `out-of-stock` naming the product and the quantity left).
    Domain(Box<DomainProblem>),
    /// 500 Internal Server Error: our bug or an unexpected failure. The cause is written
    /// (redacted) to the log line and never to the response.
    Internal(InternalError),
    /// Any other error answered with extra response headers, e.g. a 429 with the
    /// `RateLimit`/`RateLimit-Policy` headers (see [`ApiError::with_headers`]). Status,
    /// problem and log cause are those of `error`.
    WithHeaders {
        /// The error answered.
        error: Box<ApiError>,
        /// Headers added to the error response (after the ones `error` sets itself).
        headers: Vec<(HeaderName, HeaderValue)>,
    },
}

/// A problem the domain describes itself ([`ApiError::Domain`]): always a 4xx (a server
/// error never describes itself to the client).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainProblem {
    status: StatusCode,
    problem_type: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    extensions: Vec<(&'static str, serde_json::Value)>,
}

impl DomainProblem {
    /// A `status` problem of type `urn:orderly:problem:<problem_type>`; a status outside
    /// 4xx becomes 400 (this type is for the caller's mistakes and the resource's state).
    pub fn new(status: StatusCode, problem_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            problem_type,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Adds per-field errors (shown on 400 and 422).
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds an extension member.
    #[must_use]
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.extensions.push((name, value));
        self
    }
}

impl From<DomainProblem> for ApiError {
    fn from(problem: DomainProblem) -> Self {
        Self::Domain(Box::new(problem))
    }
}

/// The cause of a 500, kept for the log line.
pub struct InternalError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Debug for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InternalError({self})")
    }
}

impl fmt::Display for InternalError {
    /// The error and its `source()` chain, joined by `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

// There is deliberately no blanket `impl<E: Error> From<E> for ApiError`: it made `?` on a
// store failure a 500 where the caller needed a 503 + Retry-After. Each error type that
// reaches a handler has its own mapping below (or in the crate that owns the type), and an
// unexpected failure is said to be one with `.map_err(ApiError::internal)`.

impl ApiError {
    /// 400 with a detail and no field errors.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::BadRequest {
            detail: "The request has invalid fields.".to_owned(),
            errors,
        }
    }

    /// 401 with an RFC 6750 Bearer challenge. `error` is an RFC 6750 §3.1 code
    /// (`invalid_request`, `invalid_token`, `insufficient_scope`) or `None` when the
    /// request simply carried no credentials (§3.1: then no error code is sent).
    pub fn unauthorized_bearer(
        realm: &str,
        error: Option<&str>,
        detail: impl Into<String>,
    ) -> Self {
        let realm = quoted_string_safe(realm);
        let challenge = match error {
            Some(code) => format!(
                "Bearer realm=\"{realm}\", error=\"{}\"",
                quoted_string_safe(code)
            ),
            None => format!("Bearer realm=\"{realm}\""),
        };
        Self::Unauthorized {
            challenge,
            detail: detail.into(),
        }
    }

    /// 404 with a detail.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound {
            detail: detail.into(),
        }
    }

    /// 405 for a resource that supports `allow`.
    pub fn method_not_allowed(allow: &[Method]) -> Self {
        Self::MethodNotAllowed {
            allow: allow.to_vec(),
        }
    }

    /// 500 from any error; the cause goes to the log line only.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(InternalError(error.into()))
    }

    /// The same error answered with `headers` added to its response: a field named here
    /// replaces the one the error's response would carry under that name, and fields of
    /// one name are all kept, so a list-valued field such as `RateLimit` can carry several
    /// members.
    pub fn with_headers(self, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        match self {
            Self::WithHeaders {
                error,
                headers: mut existing,
            } => {
                existing.extend(headers);
                Self::WithHeaders {
                    error,
                    headers: existing,
                }
            }
            error => Self::WithHeaders {
                error: Box::new(error),
                headers,
            },
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::WithHeaders { error, .. } => error.status(),
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UnprocessableContent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionRequired { .. } => StatusCode::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Domain(problem) => problem.status,
        }
    }

    /// The cause to write in the log line: only [`ApiError::Internal`] has one.
    pub fn log_cause(&self) -> Option<String> {
        match self {
            Self::Internal(cause) => Some(cause.to_string()),
            Self::WithHeaders { error, .. } => error.log_cause(),
            _ => None,
        }
    }

    /// The problem document for this error in request `request_id`.
    pub fn to_problem(&self, request_id: &RequestId) -> Problem {
        let problem = Problem::new(self.status(), request_id);
        match self {
            Self::WithHeaders { error, .. } => error.to_problem(request_id),
            Self::BadRequest { detail, errors } => problem
                .with_detail(detail.clone())
                .with_errors(errors.clone()),
            Self::UnprocessableContent { detail, errors } => problem
                .with_detail(detail.clone())
                .with_errors(errors.clone()),
            Self::Unauthorized { detail, .. }
            | Self::Forbidden { detail }
            | Self::NotFound { detail }
            | Self::Conflict { detail }
            | Self::PreconditionFailed { detail }
            | Self::PreconditionRequired { detail } => problem.with_detail(detail.clone()),
            Self::MethodNotAllowed { .. } => problem.with_detail(format!(
                "Allowed methods: {}.",
                allow_value(self.allowed_methods())
            )),
            Self::NotAcceptable { available } => problem.with_detail(format!(
                "This resource can be represented as: {}.",
                available.join(", ")
            )),
            Self::PayloadTooLarge { limit_bytes } => problem.with_detail(format!(
                "The request body exceeds the limit of {limit_bytes} bytes."
            )),
            Self::UnsupportedMediaType { supported } => problem.with_detail(format!(
                "Content-Type must be one of: {}.",
                supported.join(", ")
            )),
            Self::TooManyRequests { retry_after_secs } => problem.with_detail(format!(
                "Too many requests; retry after {retry_after_secs} seconds."
            )),
            Self::ServiceUnavailable { .. } | Self::Internal(_) => problem,
            Self::Domain(domain) => {
                let mut problem = problem
                    .with_type(domain.problem_type)
                    .with_detail(domain.detail.clone())
                    .with_errors(domain.errors.clone());
                for (name, value) in &domain.extensions {
                    problem = problem.with_extension(name, value.clone());
                }
                problem
            }
        }
    }

    /// Extra headers this status requires: `WWW-Authenticate`, `Allow`, `Retry-After`.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            Self::Unauthorized { challenge, .. } => {
                let value = HeaderValue::from_str(challenge)
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
                vec![(header::WWW_AUTHENTICATE, value)]
            }
            Self::MethodNotAllowed { .. } => {
                let value = HeaderValue::from_str(&allow_value(self.allowed_methods()))
                    .unwrap_or_else(|_| HeaderValue::from_static(""));
                vec![(header::ALLOW, value)]
            }
            Self::TooManyRequests { retry_after_secs }
            | Self::ServiceUnavailable { retry_after_secs } => {
                vec![(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs))]
            }
            Self::WithHeaders { error, headers } => {
                let mut all = error.headers();
                all.extend(headers.iter().cloned());
                all
            }
            _ => Vec::new(),
        }
    }

    /// The complete error response for request `request_id`.
    pub fn to_response(&self, request_id: &RequestId) -> EdgeResponse {
        let mut response = self.to_problem(request_id).into_response();
        let (own, extra) = match self {
            Self::WithHeaders { error, headers } => (error.headers(), headers.as_slice()),
            _ => (self.headers(), &[][..]),
        };
        for (name, value) in own {
            response.headers_mut().insert(name, value);
        }
        // An added field replaces the one the problem or the error set under its name
        // (`Cache-Control: no-store` is not sent twice); added fields of one name are all
        // kept (`RateLimit` for several policies).
        let mut added: Vec<&HeaderName> = Vec::new();
        for (name, value) in extra {
            if added.contains(&name) {
                response.headers_mut().append(name.clone(), value.clone());
            } else {
                response.headers_mut().insert(name.clone(), value.clone());
                added.push(name);
            }
        }
        response
    }

    fn allowed_methods(&self) -> Vec<Method> {
        let Self::MethodNotAllowed { allow } = self else {
            return Vec::new();
        };
        let mut methods = allow.clone();
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            let after_get = methods
                .iter()
                .position(|m| m == Method::GET)
                .map_or(0, |i| i + 1);
            methods.insert(after_get, Method::HEAD);
        }
        methods
    }
}

impl fmt::Display for ApiError {
    /// The status and, for an internal error, its cause (for logs, never responses).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(cause) => write!(f, "{}: {cause}", self.status()),
            Self::WithHeaders { error, .. } => fmt::Display::fmt(error, f),
            _ => write!(f, "{}", self.status()),
        }
    }
}

fn allow_value(methods: Vec<Method>) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Drops what may not appear inside an RFC 9110 quoted-string we build.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

/// The one mapping of infrastructure failures to HTTP (docs/standards.md §12): an open
/// circuit is 503 with the breaker's `Retry-After` (never below 1 s), a transient failure or a
/// statement timeout is 503 + `Retry-After: 1` (worth a retry), anything else is a generic 500
/// with the cause in the log line only. Constraint violations that mean something to the
/// caller (a taken SKU, a referenced product) are mapped by the repository or service that
/// knows the constraint, before they reach this.
impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        use store::StoreError;
        match error {
            StoreError::Unavailable { retry_after_secs } => Self::ServiceUnavailable {
                retry_after_secs: u64::from(retry_after_secs.max(1)),
            },
            StoreError::Transient { .. } | StoreError::Timeout { .. } => Self::ServiceUnavailable {
                retry_after_secs: 1,
            },
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> RequestId {
        RequestId::parse("r1").unwrap()
    }

    #[test]
    fn every_variant_maps_to_its_documented_status() {
        let cases: Vec<(ApiError, u16)> = vec![
            (ApiError::bad_request("x"), 400),
            (ApiError::unauthorized_bearer("orderly", None, "x"), 401),
            (ApiError::Forbidden { detail: "x".into() }, 403),
            (ApiError::not_found("x"), 404),
            (ApiError::method_not_allowed(&[Method::GET]), 405),
            (
                ApiError::NotAcceptable {
                    available: &["application/json"],
                },
                406,
            ),
            (ApiError::Conflict { detail: "x".into() }, 409),
            (ApiError::PreconditionFailed { detail: "x".into() }, 412),
            (ApiError::PayloadTooLarge { limit_bytes: 1 }, 413),
            (
                ApiError::UnsupportedMediaType {
                    supported: &["application/json"],
                },
                415,
            ),
            (
                ApiError::UnprocessableContent {
                    detail: "x".into(),
                    errors: vec![],
                },
                422,
            ),
            (ApiError::PreconditionRequired { detail: "x".into() }, 428),
            (
                ApiError::TooManyRequests {
                    retry_after_secs: 3,
                },
                429,
            ),
            (ApiError::internal("boom"), 500),
            (
                ApiError::ServiceUnavailable {
                    retry_after_secs: 3,
                },
                503,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.to_response(&id()).status().as_u16(), status);
        }
    }

    #[test]
    fn unauthorized_always_carries_a_bearer_challenge() {
        let response = ApiError::unauthorized_bearer("orderly", Some("invalid_token"), "expired")
            .to_response(&id());
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="orderly", error="invalid_token""#
        );
        let bare = ApiError::unauthorized_bearer("or\"der\nly", None, "x").to_response(&id());
        assert_eq!(
            bare.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="orderly""#
        );
    }

    #[test]
    fn method_not_allowed_lists_head_with_get_in_allow() {
        let error = ApiError::method_not_allowed(&[Method::GET, Method::POST]);
        let response = error.to_response(&id());
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD, POST");
        assert_eq!(
            error.to_problem(&id()).detail.as_deref(),
            Some("Allowed methods: GET, HEAD, POST.")
        );
    }

    #[test]
    fn retry_after_is_set_on_429_and_503() {
        for error in [
            ApiError::TooManyRequests {
                retry_after_secs: 7,
            },
            ApiError::ServiceUnavailable {
                retry_after_secs: 7,
            },
        ] {
            assert_eq!(error.to_response(&id()).headers()[header::RETRY_AFTER], "7");
        }
    }

    #[test]
    fn an_internal_error_keeps_its_cause_out_of_the_problem() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("query failed")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = ApiError::internal(Outer(std::io::Error::other("mysql://u:pw@db refused")));
        assert_eq!(
            error.log_cause().as_deref(),
            Some("query failed: mysql://u:pw@db refused")
        );
        let problem = serde_json::to_string(&error.to_problem(&id())).unwrap();
        assert!(!problem.contains("mysql"), "{problem}");
        assert!(!problem.contains("detail"), "{problem}");
    }

    #[test]
    fn extra_headers_keep_the_inner_status_problem_and_headers() {
        let error = ApiError::TooManyRequests {
            retry_after_secs: 9,
        }
        .with_headers(vec![(
            HeaderName::from_static("ratelimit"),
            HeaderValue::from_static("\"a\";r=0;t=9"),
        )])
        .with_headers(vec![(
            HeaderName::from_static("ratelimit"),
            HeaderValue::from_static("\"b\";r=3;t=9"),
        )]);
        assert_eq!(error.status().as_u16(), 429);
        let response = error.to_response(&id());
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "9");
        let limits: Vec<_> = response.headers().get_all("ratelimit").iter().collect();
        assert_eq!(limits, ["\"a\";r=0;t=9", "\"b\";r=3;t=9"]);
        assert_eq!(
            error.to_problem(&id()).detail.as_deref(),
            Some("Too many requests; retry after 9 seconds.")
        );
        let internal = ApiError::internal("boom").with_headers(Vec::new());
        assert_eq!(internal.log_cause().as_deref(), Some("boom"));
        assert_eq!(internal.to_string(), "500 Internal Server Error: boom");
    }

    #[test]
    fn an_added_field_replaces_the_problems_own_instead_of_repeating_it() {
        let error = ApiError::TooManyRequests {
            retry_after_secs: 9,
        }
        .with_headers(vec![
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                HeaderName::from_static("ratelimit"),
                HeaderValue::from_static("\"a\";r=0;t=9"),
            ),
        ]);
        let response = error.to_response(&id());
        let cache: Vec<_> = response
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .collect();
        assert_eq!(cache, ["no-store"], "once, not once per writer");
        let retry: Vec<_> = response
            .headers()
            .get_all(header::RETRY_AFTER)
            .iter()
            .collect();
        assert_eq!(retry, ["9"]);

        let private = ApiError::not_found("x").with_headers(vec![(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=5"),
        )]);
        let response = private.to_response(&id());
        let cache: Vec<_> = response
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .collect();
        assert_eq!(cache, ["private, max-age=5"], "the added policy wins");
    }

    #[test]
    fn client_errors_have_no_log_cause() {
        assert_eq!(ApiError::not_found("x").log_cause(), None);
    }

    #[test]
    fn store_failures_map_to_503_with_retry_after_of_at_least_one_second_or_a_generic_500() {
        use store::StoreError;
        let open = ApiError::from(StoreError::Unavailable {
            retry_after_secs: 0,
        });
        assert_eq!(open.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            open.headers(),
            vec![(header::RETRY_AFTER, HeaderValue::from(1u64))]
        );
        let open = ApiError::from(StoreError::Unavailable {
            retry_after_secs: 7,
        });
        assert_eq!(
            open.headers(),
            vec![(header::RETRY_AFTER, HeaderValue::from(7u64))]
        );
        for transient in [StoreError::transient("lost"), StoreError::timeout("1969")] {
            let error = ApiError::from(transient);
            assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                error.headers(),
                vec![(header::RETRY_AFTER, HeaderValue::from(1u64))]
            );
        }
        let other = ApiError::from(StoreError::Conflict { constraint: None });
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other.log_cause().is_some_and(|c| c.contains("unique")));
    }

    #[test]
    fn a_domain_problem_keeps_its_type_detail_errors_and_extensions() {
        let error = ApiError::from(
            DomainProblem::new(StatusCode::CONFLICT, "out-of-stock", "Not enough stock.")
                .with_extension("available", serde_json::json!(3)),
        );
        assert_eq!(error.status(), StatusCode::CONFLICT);
        let problem = error.to_problem(&RequestId::generate());
        assert_eq!(problem.problem_type, "urn:orderly:problem:out-of-stock");
        assert_eq!(problem.detail.as_deref(), Some("Not enough stock."));
        assert_eq!(problem.extensions["available"], 3);
        assert!(error.log_cause().is_none());
        let server = ApiError::from(DomainProblem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "x",
            "never described",
        ));
        assert_eq!(server.status(), StatusCode::BAD_REQUEST);
    }
}
