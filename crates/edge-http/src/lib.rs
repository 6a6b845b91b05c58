//! # edge-http — what every Orderly route gets, in one function
//!
//! Each component's `#[http_service]` entry hands its request and router to [`serve`]:
//!
//! ```
//! use edge_http::{EdgeConfig, HandlerResult, RequestContext, json_response};
//! use http::{Method, StatusCode};
//!
//! static EDGE: EdgeConfig = EdgeConfig::new("example").with_max_body_bytes(1024);
//!
//! async fn router(req: http::Request<bytes::Bytes>, _ctx: RequestContext) -> HandlerResult {
//!     edge_http::require_method(req.method(), &[Method::GET])?;
//!     json_response(StatusCode::OK, &serde_json::json!({"hello": "world"}))
//! }
//!
//! # async fn entry(req: http::Request<http_body_util::Full<bytes::Bytes>>) -> edge_http::EdgeResponse {
//! // in a component: `#[http_service] async fn handle(req: spin_sdk::http::Request) -> EdgeResponse`
//! edge_http::serve(&EDGE, req, router).await
//! # }
//! ```
//!
//! It is a library rather than a Spin middleware because on real Spin each middleware
//! layer cost about 57% of a trivial route's throughput (`docs/spin-fidelity.md`); calling
//! it from the entry point also means no route can be deployed without it.
//!
//! Around the router it:
//! - takes a well-formed `X-Request-Id` or makes one, and echoes it on every response
//!   ([`request_id`]);
//! - continues a valid W3C `traceparent` or starts a trace, answering with our span
//!   ([`trace_context`]);
//! - reads the body up to a per-route cap (413 beyond it) ([`body`]);
//! - strips client copies of internal headers ([`InternalHeaders`]);
//! - turns an [`ApiError`] into an RFC 9457 problem document ([`problem`]);
//! - sets the docs/standards.md §4 security headers on every response, errors included, and
//!   removes `Server`/`X-Powered-By` ([`security_headers`]);
//! - writes one JSON log line with secrets redacted ([`log_line`], [`redact`]).
//!
//! It has no Spin dependency, so all of this is tested natively with `cargo test`.
//!
//! ## The HTTP contract helpers (what a handler calls)
//!
//! | Need | Call | Answers |
//! |---|---|---|
//! | Compression | nothing: [`handle`] compresses by `Accept-Encoding` (br, gzip; ≥ 1 KiB; `Vary`) — opt out with [`EdgeConfig::without_compression`] | |
//! | CORS | [`serve_with_cors`]`(&EDGE, &CorsPolicy::from_config(&cors_origins)?, req, router)` | preflight 204, `Access-Control-Allow-Origin` for listed origins |
//! | `ETag` / 304 | [`ETag::from_version`]`(id, version)`; [`check_if_none_match`] or [`not_modified_for`] on GET | 304 with `ETag`, `Cache-Control`, `Vary` |
//! | Optimistic concurrency | [`require_if_match`]`(headers, &current)?` on PUT/PATCH/DELETE | 428 missing, 412 mismatch |
//! | Query validation | `QueryParams::parse(uri.query(), &QueryRules::new(&["limit", "cursor", "sort"]))?` | 400, errors at `/query/<name>` |
//! | Keyset pages | `CursorKey::new(cursor_key.as_bytes())?.bound_to(&[("sort", sort)])`, [`Cursor::encode`] / `Cursor::decode::<T>(..)?` | 400 at `/query/cursor` for tampered, foreign or oversized cursors |
//! | Links | [`Links`]`::new().with("self", ..)`, `Links::page(path, &query, cursor, next, prev)`, [`QueryString`] | `_links` (HAL) |
//! | Rate limits | `RateLimiter::new(kv_prefix).check(&SpinShared::new(), &RateLimitPolicy::per_minute("addr", n), &client_subject(req.headers()), now).await`, then `decision.enforce()?` and `decision.finish(&mut response)` | 429 + `Retry-After` + `RateLimit`/`RateLimit-Policy`; fails open (logged) when the KV is down |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api_error;
pub mod body;
pub mod compression;
pub mod conditional;
pub mod cors;
pub mod cursor;
pub mod edge;
pub mod links;
pub mod log_line;
pub mod negotiation;
pub mod principal;
pub mod problem;
pub mod query;
pub mod rate_limit;
pub mod redact;
pub mod request_id;
pub mod response;
pub mod security_headers;
pub mod trace_context;

pub use api_error::{ApiError, DomainProblem, InternalError};
pub use body::{BodyError, read_body_capped};
pub use conditional::{ETag, check_if_none_match, not_modified_for, require_if_match};
pub use cors::CorsPolicy;
pub use cursor::{Cursor, CursorError, CursorKey};
pub use edge::{
    CLIENT_ID_HEADER, EdgeConfig, Handled, InternalHeaders, MATCHED_ROUTE_HEADER, RequestContext,
    handle, handle_with_cors, serve, serve_with_cors,
};
pub use links::{Link, Links, QueryString, percent_encode};
pub use log_line::LogRecord;
pub use negotiation::{accepts, negotiate, require_content_type, require_method};
pub use principal::{
    Principal, SCOPE_HEADER, SUBJECT_HEADER, SUBJECT_KIND_HEADER, SubjectKind, TOKEN_ID_HEADER,
};
pub use problem::{FieldError, PROBLEM_JSON, Problem};
pub use query::{QueryParams, QueryRules};
pub use rate_limit::{Counter, Decision, RateLimitPolicy, RateLimiter, client_ip, client_subject};
pub use request_id::{REQUEST_ID_HEADER, RequestId};
pub use response::{
    APPLICATION_JSON, ClientId, EdgeBody, EdgeResponse, HandlerResult, LogCause, attach_log_cause,
    bytes_response, empty_response, json_response,
};
pub use trace_context::{SpanId, TRACEPARENT_HEADER, TraceId, TraceParent, TraceParentError};
