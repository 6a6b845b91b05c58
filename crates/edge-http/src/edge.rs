//! The edge: the one function every component's `#[http_service]` entry wraps its
//! router in, so no route can skip request ids, trace context, security headers,
//! problem documents or the log line.

use std::fmt::Display;
use std::future::Future;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use http_body::Body;
use http_body_util::Full;

use crate::ApiError;
use crate::body::{BodyError, read_body_capped};
use crate::compression::{DEFAULT_MIN_COMPRESS_BYTES, compress_response};
use crate::cors::CorsPolicy;
use crate::log_line::{LogRecord, duration_millis, format_rfc3339_millis, write_log_line};
use crate::principal::Principal;
use crate::problem::Problem;
use crate::redact::redact;
use crate::request_id::{REQUEST_ID_HEADER, RequestId};
use crate::response::{ClientId, EdgeResponse, HandlerResult, LogCause};
use crate::security_headers::{DEFAULT_CONTENT_SECURITY_POLICY, apply_security_headers};
use crate::trace_context::{TRACEPARENT_HEADER, TraceParent};

/// The header Spin sets to the route pattern that matched (`/api/v1/users/:id/orders`).
pub const MATCHED_ROUTE_HEADER: HeaderName = HeaderName::from_static("spin-matched-route");

/// The internal header the auth middleware will use to name the authenticated client.
pub const CLIENT_ID_HEADER: HeaderName = HeaderName::from_static("x-orderly-client-id");

/// Prefixes of request headers only our own middleware may set.
pub const DEFAULT_INTERNAL_HEADER_PREFIXES: &[&str] = &["x-orderly-"];

/// The longest internal cause written to a log line, in bytes; longer ones are cut
/// (host errors can carry whole backtraces).
pub const MAX_LOG_ERROR_BYTES: usize = 2048;

/// Body cap when a component names none: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// What to do with request headers matching the internal prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalHeaders {
    /// Remove them before the handler runs. Right for any component a client reaches
    /// without the auth middleware: such a header can only be the client's forgery.
    Strip,
    /// Keep them: the component only runs behind the auth middleware, which removes the
    /// client's copies and sets its own (the auth issue implements that side).
    TrustMiddleware,
}

/// Per-component edge settings; `const`, so a component declares one `static`.
#[derive(Debug, Clone, Copy)]
pub struct EdgeConfig {
    component: &'static str,
    max_body_bytes: usize,
    route_body_limits: &'static [(&'static str, usize)],
    internal_header_prefixes: &'static [&'static str],
    internal_headers: InternalHeaders,
    content_security_policy: &'static str,
    compression_min_bytes: Option<usize>,
}

impl EdgeConfig {
    /// Defaults for `component`: 64 KiB bodies, `x-orderly-*` stripped, strict CSP.
    pub const fn new(component: &'static str) -> Self {
        Self {
            component,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            route_body_limits: &[],
            internal_header_prefixes: DEFAULT_INTERNAL_HEADER_PREFIXES,
            internal_headers: InternalHeaders::Strip,
            content_security_policy: DEFAULT_CONTENT_SECURITY_POLICY,
            compression_min_bytes: Some(DEFAULT_MIN_COMPRESS_BYTES),
        }
    }

    /// Compresses responses of at least `min_bytes` (default
    /// [`DEFAULT_MIN_COMPRESS_BYTES`]) by `Accept-Encoding`; see [`crate::compression`].
    pub const fn with_compression_min_bytes(mut self, min_bytes: usize) -> Self {
        self.compression_min_bytes = Some(min_bytes);
        self
    }

    /// Never compresses this component's responses (e.g. when a proxy in front does).
    pub const fn without_compression(mut self) -> Self {
        self.compression_min_bytes = None;
        self
    }

    /// The body cap for routes without their own.
    pub const fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Body caps per matched route pattern (as in `spin.toml`), overriding the default.
    pub const fn with_route_body_limits(
        mut self,
        limits: &'static [(&'static str, usize)],
    ) -> Self {
        self.route_body_limits = limits;
        self
    }

    /// Replaces the internal header prefixes.
    pub const fn with_internal_header_prefixes(
        mut self,
        prefixes: &'static [&'static str],
    ) -> Self {
        self.internal_header_prefixes = prefixes;
        self
    }

    /// Sets the internal header policy (see [`InternalHeaders`]).
    pub const fn with_internal_headers(mut self, policy: InternalHeaders) -> Self {
        self.internal_headers = policy;
        self
    }

    /// Replaces the default `Content-Security-Policy` for this component.
    pub const fn with_content_security_policy(mut self, policy: &'static str) -> Self {
        self.content_security_policy = policy;
        self
    }

    /// The component name written in log lines.
    pub const fn component(&self) -> &'static str {
        self.component
    }

    /// The body cap for a matched route.
    pub fn body_limit_for(&self, route: &str) -> usize {
        self.route_body_limits
            .iter()
            .find(|(pattern, _)| *pattern == route)
            .map_or(self.max_body_bytes, |(_, limit)| *limit)
    }
}

/// What the edge learnt about a request, handed to the handler.
#[derive(Debug, Clone)]
pub struct RequestContext {
    request_id: RequestId,
    trace: TraceParent,
    route: String,
    client_id: Option<String>,
    principal: Option<Principal>,
}

impl RequestContext {
    /// A context for tests and tools: a fresh request id and trace.
    pub fn detached(route: impl Into<String>) -> Self {
        Self {
            request_id: RequestId::generate(),
            trace: TraceParent::new_root(),
            route: route.into(),
            client_id: None,
            principal: None,
        }
    }

    /// The same context with a verified caller (tests and tools).
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.client_id = Some(principal.client_id.clone());
        self.principal = Some(principal);
        self
    }

    /// The caller the auth middleware verified, if any (only with
    /// [`InternalHeaders::TrustMiddleware`]).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The verified caller, or 401 with a `Bearer` challenge (defence in depth behind the
    /// auth middleware, which already refused requests without a token).
    pub fn require_principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(|| {
            ApiError::unauthorized_bearer(
                contract::BEARER_REALM,
                None,
                "This request needs a bearer token.",
            )
        })
    }

    /// The request id (echoed in `X-Request-Id`).
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// Our span's `traceparent`; send it on outbound calls to continue the trace.
    pub fn trace(&self) -> &TraceParent {
        &self.trace
    }

    /// The matched route pattern, or the path when Spin sent none.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The authenticated client named by the auth middleware, if trusted and present.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// A problem document for `status` carrying this request's id.
    pub fn problem(&self, status: StatusCode) -> Problem {
        Problem::new(status, &self.request_id)
    }
}

/// A finished request: the response to send and the log record describing it.
#[derive(Debug)]
pub struct Handled {
    /// The response, with every edge header applied.
    pub response: EdgeResponse,
    /// The request's log record.
    pub log: LogRecord,
}

/// Runs `handler` inside the edge and writes the request's log line to stdout.
/// This is what a component's `#[http_service]` function returns.
pub async fn serve<B, F, Fut>(
    config: &EdgeConfig,
    request: http::Request<B>,
    handler: F,
) -> EdgeResponse
where
    B: Body,
    B::Error: Display,
    F: FnOnce(http::Request<Bytes>, RequestContext) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let handled = handle(config, request, handler).await;
    write_log_line(&handled.log);
    handled.response
}

/// [`serve`] with CORS: preflights from allowed origins are answered (204) before the
/// handler runs, and every other response, errors included, gets the CORS headers
/// ([`crate::cors`]). Build `cors` from the `cors_origins` variable.
pub async fn serve_with_cors<B, F, Fut>(
    config: &EdgeConfig,
    cors: &CorsPolicy,
    request: http::Request<B>,
    handler: F,
) -> EdgeResponse
where
    B: Body,
    B::Error: Display,
    F: FnOnce(http::Request<Bytes>, RequestContext) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let handled = handle_with_cors(config, cors, request, handler).await;
    write_log_line(&handled.log);
    handled.response
}

/// [`handle`] with CORS (see [`serve_with_cors`]).
pub async fn handle_with_cors<B, F, Fut>(
    config: &EdgeConfig,
    cors: &CorsPolicy,
    request: http::Request<B>,
    handler: F,
) -> Handled
where
    B: Body,
    B::Error: Display,
    F: FnOnce(http::Request<Bytes>, RequestContext) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let preflight = cors.preflight(request.method(), request.headers());
    let answered = preflight.is_some();
    let origin = CorsPolicy::request_headers_of(request.headers());
    let mut handled = handle(config, request, move |req, ctx| async move {
        match preflight {
            Some(response) => Ok(response),
            None => handler(req, ctx).await,
        }
    })
    .await;
    if !answered {
        cors.apply(&origin, handled.response.headers_mut());
    }
    handled
}

/// Runs `handler` inside the edge and returns the response with its log record
/// (unwritten), so tests can assert on both.
///
/// In order: request id and `traceparent` are read (or made); internal headers are
/// stripped per [`InternalHeaders`]; the body is read up to the route's cap (413
/// beyond it); the handler runs; an error becomes its problem document; the response
/// is compressed per `Accept-Encoding` ([`crate::compression`]); then every response
/// gets `X-Request-Id`, `traceparent`, the security headers and an exact
/// `Content-Length`, and `HEAD` loses its body.
pub async fn handle<B, F, Fut>(
    config: &EdgeConfig,
    request: http::Request<B>,
    handler: F,
) -> Handled
where
    B: Body,
    B::Error: Display,
    F: FnOnce(http::Request<Bytes>, RequestContext) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let started = Instant::now();
    let received_at = SystemTime::now();
    let (mut parts, body) = request.into_parts();

    let request_id = parts
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(RequestId::from_header)
        .unwrap_or_else(RequestId::generate);
    let trace = parts
        .headers
        .get(TRACEPARENT_HEADER)
        .and_then(|v| TraceParent::from_header(v).ok())
        .map_or_else(TraceParent::new_root, |caller| caller.child());
    let route = parts
        .headers
        .get(MATCHED_ROUTE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| redact(parts.uri.path()), str::to_owned);
    let (client_id, principal) = match config.internal_headers {
        InternalHeaders::TrustMiddleware => {
            let principal = Principal::from_headers(&parts.headers);
            let client_id = parts
                .headers
                .get(CLIENT_ID_HEADER)
                .and_then(RequestId::from_header)
                .map(|id| id.as_str().to_owned());
            (client_id, principal)
        }
        InternalHeaders::Strip => {
            strip_internal_headers(&mut parts.headers, config.internal_header_prefixes);
            (None, None)
        }
    };
    let method = parts.method.clone();
    let compression_headers = crate::compression::request_headers_of(&parts.headers);
    let context = RequestContext {
        request_id,
        trace,
        route,
        client_id,
        principal,
    };

    let limit = config.body_limit_for(&context.route);
    let (mut response, mut cause) = match read_body_capped(&parts.headers, body, limit).await {
        Ok(bytes) => {
            let request = http::Request::from_parts(parts, bytes);
            match handler(request, context.clone()).await {
                Ok(mut response) => {
                    let cause = response.extensions_mut().remove::<LogCause>().map(|c| c.0);
                    (response, cause)
                }
                Err(error) => (error.to_response(&context.request_id), error.log_cause()),
            }
        }
        Err(BodyError::TooLarge { limit_bytes }) => {
            let error = ApiError::PayloadTooLarge { limit_bytes };
            (error.to_response(&context.request_id), None)
        }
        Err(BodyError::Read(reason)) => {
            let error = ApiError::bad_request("The request body could not be read.");
            (error.to_response(&context.request_id), Some(reason))
        }
    };

    let client_id = response
        .extensions_mut()
        .remove::<ClientId>()
        .map(|c| c.0)
        .or_else(|| context.client_id.clone());
    if let Some(min_bytes) = config.compression_min_bytes {
        response = compress_response(&method, &compression_headers, response, min_bytes).await;
    }
    finish_headers(config, &context, &method, &mut response);
    if cause.is_none() && response.status().is_server_error() {
        cause = Some(format!("handler answered {}", response.status()));
    }

    let status = response.status().as_u16();
    let log = LogRecord {
        ts: format_rfc3339_millis(received_at),
        level: LogRecord::level_for(status),
        component: config.component,
        method: method.as_str().to_owned(),
        route: context.route.clone(),
        status,
        duration_ms: duration_millis(started.elapsed()),
        request_id: context.request_id.as_str().to_owned(),
        trace_id: context.trace.trace_id().to_string(),
        span_id: context.trace.parent_id().to_string(),
        client_id,
        error: cause.map(|c| truncate(redact(&c), MAX_LOG_ERROR_BYTES)),
    };
    Handled { response, log }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut with `…`.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn strip_internal_headers(headers: &mut HeaderMap, prefixes: &[&str]) {
    let internal: Vec<HeaderName> = headers
        .keys()
        .filter(|name| prefixes.iter().any(|p| name.as_str().starts_with(p)))
        .cloned()
        .collect();
    for name in internal {
        headers.remove(name);
    }
}

fn finish_headers(
    config: &EdgeConfig,
    context: &RequestContext,
    method: &Method,
    response: &mut EdgeResponse,
) {
    let headers = response.headers_mut();
    apply_security_headers(headers, config.content_security_policy);
    if let Some(value) = context.request_id.to_header_value() {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    if let Some(value) = context.trace.to_header_value() {
        headers.insert(TRACEPARENT_HEADER, value);
    }

    let status = response.status();
    let bodiless_status = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if *method == Method::HEAD || bodiless_status {
        // RFC 9110 §9.3.2 / §15.3.5 / §15.4.5: no content. Leave the length out rather
        // than announce one the (empty) body cannot match.
        *response.body_mut() = Full::new(Bytes::new());
        response.headers_mut().remove(header::CONTENT_LENGTH);
    } else if let Some(length) = response.body().size_hint().exact() {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::PROBLEM_JSON;
    use crate::response::{attach_log_cause, json_response};
    use crate::security_headers::SECURITY_HEADERS;
    use futures::executor::block_on;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use std::cell::Cell;

    static EDGE: EdgeConfig = EdgeConfig::new("test")
        .with_max_body_bytes(16)
        .with_route_body_limits(&[("/big", 1024)]);

    fn request(
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> http::Request<Full<Bytes>> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Full::new(Bytes::from_static(body))).unwrap()
    }

    async fn ok_json(_req: http::Request<Bytes>, _ctx: RequestContext) -> HandlerResult {
        json_response(StatusCode::OK, &json!({"status": "ok"}))
    }

    fn body_json(response: EdgeResponse) -> Value {
        let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    fn assert_edge_headers(response: &EdgeResponse) {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(response.headers()[*name], *value, "{name}");
        }
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));
        assert!(response.headers().contains_key(TRACEPARENT_HEADER));
        assert!(!response.headers().contains_key(header::SERVER));
    }

    #[test]
    fn a_successful_response_gets_every_edge_header_and_a_content_length() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/health", &[], b""),
            ok_json,
        ));
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_edge_headers(&handled.response);
        assert_eq!(handled.response.headers()[header::CONTENT_LENGTH], "15");
        assert_eq!(body_json(handled.response), json!({"status": "ok"}));
    }

    #[test]
    fn an_error_response_is_a_problem_with_every_edge_header() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/x", &[("x-request-id", "abc-1")], b""),
            |_, _| async { Err(ApiError::not_found("no such thing")) },
        ));
        assert_edge_headers(&handled.response);
        assert_eq!(
            handled.response.headers()[header::CONTENT_TYPE],
            PROBLEM_JSON
        );
        let body = body_json(handled.response);
        assert_eq!(body["status"], 404);
        assert_eq!(body["request_id"], "abc-1");
        assert_eq!(body["instance"], "urn:orderly:request:abc-1");
        assert_eq!(handled.log.level, "warn");
    }

    #[test]
    fn a_well_formed_request_id_is_echoed_and_a_bad_one_replaced() {
        let good = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[("x-request-id", "client.id_1")], b""),
            ok_json,
        ));
        assert_eq!(good.response.headers()[REQUEST_ID_HEADER], "client.id_1");
        assert_eq!(good.log.request_id, "client.id_1");

        let bad = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[("x-request-id", "bad id\"")], b""),
            ok_json,
        ));
        let echoed = bad.response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(echoed, "bad id\"");
        assert!(RequestId::parse(&echoed).is_some());
        assert_eq!(bad.log.request_id, echoed);
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[("traceparent", incoming)], b""),
            ok_json,
        ));
        let outgoing = handled.response.headers()[TRACEPARENT_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let parsed = TraceParent::parse(&outgoing).unwrap();
        assert_eq!(
            parsed.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(parsed.parent_id().to_string(), "00f067aa0ba902b7");
        assert!(parsed.sampled());
        assert_eq!(handled.log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(handled.log.span_id, parsed.parent_id().to_string());
    }

    #[test]
    fn an_invalid_traceparent_starts_a_new_trace() {
        let bad = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[("traceparent", bad)], b""),
            ok_json,
        ));
        let outgoing = handled.response.headers()[TRACEPARENT_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let parsed = TraceParent::parse(&outgoing).unwrap();
        assert_ne!(
            parsed.trace_id().to_string(),
            "00000000000000000000000000000000"
        );
    }

    #[test]
    fn a_body_over_the_cap_is_413_and_the_handler_never_runs() {
        let called = Cell::new(false);
        let handled = block_on(handle(
            &EDGE,
            request(Method::POST, "/", &[], b"0123456789abcdefX"),
            |_, _| {
                called.set(true);
                async { Ok(crate::response::empty_response(StatusCode::OK)) }
            },
        ));
        assert!(!called.get());
        assert_eq!(handled.response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_edge_headers(&handled.response);
        assert_eq!(
            body_json(handled.response)["detail"],
            "The request body exceeds the limit of 16 bytes."
        );
    }

    #[test]
    fn a_route_with_its_own_cap_accepts_a_larger_body() {
        let handled = block_on(handle(
            &EDGE,
            request(
                Method::POST,
                "/big",
                &[("spin-matched-route", "/big")],
                b"0123456789abcdefXYZ",
            ),
            |req, _| async move {
                assert_eq!(req.body().len(), 19);
                Ok(crate::response::empty_response(StatusCode::NO_CONTENT))
            },
        ));
        assert_eq!(handled.response.status(), StatusCode::NO_CONTENT);
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_LENGTH)
        );
    }

    #[test]
    fn client_sent_internal_headers_are_stripped_by_default() {
        let handled = block_on(handle(
            &EDGE,
            request(
                Method::GET,
                "/",
                &[
                    ("x-orderly-client-id", "forged"),
                    ("x-orderly-scopes", "admin"),
                ],
                b"",
            ),
            |req, ctx| async move {
                assert!(!req.headers().contains_key("x-orderly-client-id"));
                assert!(!req.headers().contains_key("x-orderly-scopes"));
                assert_eq!(ctx.client_id(), None);
                Ok(crate::response::empty_response(StatusCode::OK))
            },
        ));
        assert_eq!(handled.log.client_id, None);
    }

    #[test]
    fn behind_the_middleware_the_client_id_is_trusted_and_logged() {
        static TRUSTING: EdgeConfig =
            EdgeConfig::new("test").with_internal_headers(InternalHeaders::TrustMiddleware);
        let handled = block_on(handle(
            &TRUSTING,
            request(
                Method::GET,
                "/",
                &[("x-orderly-client-id", "shop-web")],
                b"",
            ),
            |_, ctx| async move {
                assert_eq!(ctx.client_id(), Some("shop-web"));
                Ok(crate::response::empty_response(StatusCode::OK))
            },
        ));
        assert_eq!(handled.log.client_id.as_deref(), Some("shop-web"));
    }

    #[test]
    fn an_internal_error_answers_a_generic_500_and_logs_the_redacted_cause() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[], b""),
            |_, _| async {
                Err(ApiError::internal(
                    "connect mysql://orderly:hunter2@db/orderly failed",
                ))
            },
        ));
        assert_eq!(handled.response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_edge_headers(&handled.response);
        let body = body_json(handled.response);
        let text = body.to_string();
        assert!(
            !text.contains("mysql") && !text.contains("hunter2") && body.get("detail").is_none(),
            "{text}"
        );
        assert_eq!(handled.log.level, "error");
        assert_eq!(
            handled.log.error.as_deref(),
            Some("connect mysql://orderly:***@db/orderly failed")
        );
    }

    #[test]
    fn a_handler_attached_cause_reaches_the_log_not_the_response() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[], b""),
            |_, _| async {
                let mut response = crate::response::empty_response(StatusCode::SERVICE_UNAVAILABLE);
                attach_log_cause(&mut response, "redis://:pw@cache down");
                Ok(response)
            },
        ));
        assert!(handled.response.extensions().get::<LogCause>().is_none());
        assert_eq!(
            handled.log.error.as_deref(),
            Some("redis://:***@cache down")
        );
    }

    #[test]
    fn head_answers_headers_without_a_body() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::HEAD, "/health", &[], b""),
            ok_json,
        ));
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_edge_headers(&handled.response);
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_LENGTH)
        );
        let bytes = block_on(handled.response.into_body().collect())
            .unwrap()
            .to_bytes();
        assert!(bytes.is_empty());
    }

    #[test]
    fn the_log_record_names_the_matched_route_or_the_path_without_query() {
        let matched = block_on(handle(
            &EDGE,
            request(
                Method::GET,
                "/api/v1/users/5/orders?token=abc",
                &[("spin-matched-route", "/api/v1/users/:id/orders")],
                b"",
            ),
            ok_json,
        ));
        assert_eq!(matched.log.route, "/api/v1/users/:id/orders");
        assert_eq!(matched.log.method, "GET");
        assert_eq!(matched.log.component, "test");
        assert_eq!(matched.log.status, 200);
        assert!(matched.log.duration_ms >= 0.0);

        let unmatched = block_on(handle(
            &EDGE,
            request(Method::GET, "/ready?token=abc", &[], b""),
            ok_json,
        ));
        assert_eq!(unmatched.log.route, "/ready");
        let line = unmatched.log.to_json_line();
        let parsed: Value = serde_json::from_str(&line).unwrap();
        for field in [
            "ts",
            "level",
            "component",
            "method",
            "route",
            "status",
            "duration_ms",
            "request_id",
            "trace_id",
        ] {
            assert!(parsed.get(field).is_some(), "{field} missing from {line}");
        }
    }

    #[test]
    fn a_huge_cause_is_cut_to_a_bounded_log_field() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[], b""),
            |_, _| async { Err(ApiError::internal("é".repeat(5000))) },
        ));
        let error = handled.log.error.unwrap();
        assert!(error.len() <= MAX_LOG_ERROR_BYTES + '…'.len_utf8());
        assert!(error.ends_with('…'));
    }

    #[test]
    fn a_handler_cannot_leak_a_server_header() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/", &[], b""),
            |_, _| async {
                let mut response = crate::response::empty_response(StatusCode::OK);
                response
                    .headers_mut()
                    .insert(header::SERVER, HeaderValue::from_static("spin"));
                response
                    .headers_mut()
                    .insert("x-powered-by", HeaderValue::from_static("wasm"));
                Ok(response)
            },
        ));
        assert!(!handled.response.headers().contains_key(header::SERVER));
        assert!(!handled.response.headers().contains_key("x-powered-by"));
    }

    fn large_json() -> Value {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"id": i, "name": "Widget", "description": "A fine widget"}))
            .collect();
        json!({ "items": items })
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn every_component_compresses_large_json_with_an_exact_content_length() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::GET, "/items", &[("accept-encoding", "gzip")], b""),
            |_, _| async { json_response(StatusCode::OK, &large_json()) },
        ));
        let response = handled.response;
        assert_edge_headers(&response);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::VARY], "Accept-Encoding");
        let length: usize = response.headers()[header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
        assert_eq!(bytes.len(), length);
        let plain = serde_json::to_vec(&large_json()).unwrap();
        assert!(length < plain.len());
        assert_eq!(gunzip(&bytes), plain);
    }

    #[test]
    fn a_small_response_is_sent_plain_but_varies_on_accept_encoding() {
        let handled = block_on(handle(
            &EDGE,
            request(
                Method::GET,
                "/health",
                &[("accept-encoding", "br, gzip")],
                b"",
            ),
            ok_json,
        ));
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_ENCODING)
        );
        assert_eq!(handled.response.headers()[header::VARY], "Accept-Encoding");
        assert_eq!(handled.response.headers()[header::CONTENT_LENGTH], "15");
    }

    #[test]
    fn head_is_never_compressed() {
        let handled = block_on(handle(
            &EDGE,
            request(Method::HEAD, "/items", &[("accept-encoding", "gzip")], b""),
            |_, _| async { json_response(StatusCode::OK, &large_json()) },
        ));
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_ENCODING)
        );
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_LENGTH)
        );
    }

    #[test]
    fn a_component_can_opt_out_of_compression() {
        static PLAIN: EdgeConfig = EdgeConfig::new("test").without_compression();
        let handled = block_on(handle(
            &PLAIN,
            request(Method::GET, "/items", &[("accept-encoding", "gzip")], b""),
            |_, _| async { json_response(StatusCode::OK, &large_json()) },
        ));
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::CONTENT_ENCODING)
        );
        assert!(!handled.response.headers().contains_key(header::VARY));
    }

    #[test]
    fn a_lower_threshold_compresses_smaller_bodies() {
        static EAGER: EdgeConfig = EdgeConfig::new("test").with_compression_min_bytes(10);
        let handled = block_on(handle(
            &EAGER,
            request(Method::GET, "/", &[("accept-encoding", "gzip")], b""),
            |_, _| async { json_response(StatusCode::OK, &json!({"message": "a".repeat(200)})) },
        ));
        assert_eq!(handled.response.headers()[header::CONTENT_ENCODING], "gzip");
    }

    #[test]
    fn a_conditional_get_for_the_compressed_representation_gets_its_own_tag_back() {
        use crate::conditional::{ETag, check_if_none_match};
        let etag = ETag::from_version("p1", 4);
        let first = block_on(handle(
            &EDGE,
            request(
                Method::GET,
                "/items/p1",
                &[("accept-encoding", "gzip")],
                b"",
            ),
            |_, _| async move {
                let mut response = json_response(StatusCode::OK, &large_json())?;
                response
                    .headers_mut()
                    .insert(header::ETAG, ETag::from_version("p1", 4).to_header_value());
                Ok(response)
            },
        ));
        let stored = first.response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(stored, format!("\"{}-gzip\"", etag.opaque()));
        let second = block_on(handle(
            &EDGE,
            request(
                Method::GET,
                "/items/p1",
                &[("accept-encoding", "gzip"), ("if-none-match", &stored)],
                b"",
            ),
            |req, _| async move {
                let current = ETag::from_version("p1", 4);
                Ok(check_if_none_match(req.headers(), &current)
                    .unwrap_or_else(|| crate::response::empty_response(StatusCode::OK)))
            },
        ));
        assert_eq!(second.response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(second.response.headers()[header::ETAG], stored.as_str());
    }

    fn cors() -> CorsPolicy {
        CorsPolicy::from_config("https://shop.example").unwrap()
    }

    #[test]
    fn an_allowed_preflight_is_answered_before_the_handler_with_edge_headers() {
        let called = Cell::new(false);
        let handled = block_on(handle_with_cors(
            &EDGE,
            &cors(),
            request(
                Method::OPTIONS,
                "/api/v1/products",
                &[
                    ("origin", "https://shop.example"),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ],
                b"",
            ),
            |_, _| {
                called.set(true);
                async { Err(ApiError::method_not_allowed(&[Method::GET])) }
            },
        ));
        assert!(!called.get());
        let response = handled.response;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_edge_headers(&response);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert!(
            response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
        );
        assert_eq!(handled.log.status, 204);
    }

    #[test]
    fn a_preflight_from_another_origin_reaches_the_handler_without_cors_headers() {
        let handled = block_on(handle_with_cors(
            &EDGE,
            &cors(),
            request(
                Method::OPTIONS,
                "/x",
                &[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "DELETE"),
                ],
                b"",
            ),
            |_, _| async { Err(ApiError::method_not_allowed(&[Method::GET])) },
        ));
        assert_eq!(handled.response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            !handled
                .response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        let vary: Vec<_> = handled
            .response
            .headers()
            .get_all(header::VARY)
            .iter()
            .collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    }

    #[test]
    fn responses_and_problems_for_an_allowed_origin_carry_cors_and_both_varies() {
        let handled = block_on(handle_with_cors(
            &EDGE,
            &cors(),
            request(
                Method::GET,
                "/items",
                &[
                    ("origin", "https://shop.example"),
                    ("accept-encoding", "gzip"),
                ],
                b"",
            ),
            |_, _| async { json_response(StatusCode::OK, &large_json()) },
        ));
        let h = handled.response.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(
            h[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            crate::cors::EXPOSED_HEADERS
        );
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);

        let problem = block_on(handle_with_cors(
            &EDGE,
            &cors(),
            request(
                Method::GET,
                "/x",
                &[("origin", "https://shop.example")],
                b"",
            ),
            |_, _| async { Err(ApiError::not_found("nope")) },
        ));
        assert_eq!(problem.response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            problem.response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
    }
}
