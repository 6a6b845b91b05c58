//! # kit — the one skeleton every Orderly component runs on
//!
//! Every API component used to re-implement the same skeleton — reading Spin variables,
//! parsing JSON bodies, mapping store failures, rate limiting, cursors, the clock — and the
//! copies drifted (one component accepted duplicate JSON members, another applied its rate
//! limit after the 405). This crate is the single place each of those lives; a component
//! *declares* what differs (its settings, its rate-limit rule, its routes) and writes only
//! its handlers, services and repositories.
//!
//! | concern | where | what a component writes |
//! |---|---|---|
//! | settings from Spin variables, once per instance | [`settings`] | a struct implementing [`Settings`] |
//! | strict JSON bodies (duplicates, unknown members, types → 400 with per-field errors) | [`json`] | a [`json::Schema`] per body |
//! | store failures → HTTP | `impl From<store::StoreError> for edge_http::ApiError` | `?` |
//! | rate limits, an edge step before routing, headers on every answer | [`limits`] + [`serve()`] | [`Service::rate_limit`] |
//! | routes and 405 + `Allow` | [`contract::ROUTES`] + [`serve()`] | nothing: the table is the contract |
//! | keyset cursors, signed and bound to their list | [`cursor`] | the binding and the sort key |
//! | the clock | [`Now`] (from `store::Clock`) | nothing |
//! | circuit-breaker keys | [`contract::keys::breaker`] | nothing |
//!
//! Why a crate of its own rather than more of `edge-http`: `edge-http` is the HTTP layer
//! and stays free of Spin and of the store (it is tested natively as pure functions). The
//! kit is the glue between Spin (variables, the shared store, instance state), the edge and
//! the contracts; only it knows all three.
//!
//! ## A component, whole
//!
//! ```text
//! // components/<name>/src/entry.rs (wasm32 only)
//! #[spin_sdk::http_service]
//! async fn handle(request: spin_sdk::http::Request) -> edge_http::EdgeResponse {
//!     kit::spin::serve::<crate::Catalogue>(request).await
//! }
//! ```
//!
//! and a [`Service`] impl naming its [`edge_http::EdgeConfig`], its [`Settings`], its rate-limit
//! rule and its router. Everything but the two lines above is tested natively with
//! [`serve()`] and fakes.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
pub mod cursor;
pub mod json;
pub mod limits;
pub mod serve;
pub mod settings;

#[cfg(all(feature = "spin", target_arch = "wasm32"))]
pub mod spin;

pub use clock::Now;
pub use cursor::{Direction, PageCursors, Position};
pub use limits::{LimitRule, OnStoreFailure, Subject};
pub use serve::{Request, Service, serve};
pub use settings::{Settings, SettingsError, Variables};
