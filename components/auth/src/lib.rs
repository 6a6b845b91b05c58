//! # auth — the middleware in front of every protected route
//!
//! Composed in front of `users`, `products` and `orders` (`spin.toml`
//! `dependencies.middleware`), it inherits their variables and key-value stores and, per
//! request:
//!
//! 1. makes sure an `X-Request-Id` is on the request and removes every client-sent
//!    `x-orderly-*` header ([`forward`]);
//! 2. refuses an `access_token` in the query string or a form body — tokens go in the
//!    `Authorization: Bearer` header only ([`bearer`]);
//! 3. finds the route's policy by `spin-matched-route` in the one route table
//!    ([`contract::Route`], checked against `spin.toml` by a test); a route without the
//!    middleware in the table is denied;
//! 4. verifies the bearer token with no database round trip (ES256 against the `token_jwks`
//!    variable, `issuer`/`audience`, the `tokens` crate's leeway and size cap) and looks its
//!    `jti` up in the revocation list in the shared key-value store, failing closed
//!    ([`service`]);
//! 5. passes the request on with the verified caller in `x-orderly-*` headers
//!    (`edge_http::Principal`) and streams the component's response back untouched — or
//!    answers 400/401/403/503 itself with an RFC 6750 challenge and an RFC 9457 problem
//!    document ([`responses`]), through `edge_http` so refusals carry the security headers,
//!    the request id and a log line.
//!
//! Everything but the Spin entry compiles natively and is unit tested with `cargo test -p auth`.
#![forbid(unsafe_code)]

pub mod bearer;
pub mod forward;
pub mod responses;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod entry;
