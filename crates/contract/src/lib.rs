//! # contract — what Orderly's components agree on, spelled in exactly one place
//!
//! A scope, a route, or a key in the shared store is a contract between two components:
//! `identity` writes a revoked token id and `auth` reads it; `auth` enforces a route's
//! scope and the route component checks it again; `spin.toml` routes a path and the
//! middleware must know it. Written as string literals in each place, such contracts drift
//! apart silently. Here each is a type or a function both sides call:
//!
//! - [`Scope`]: the OAuth scopes (the only place their names are spelled);
//! - [`Route`] / [`ROUTES`]: every HTTP trigger in `spin.toml`, the component serving it,
//!   whether the `auth` middleware sits in front, and per method what it needs
//!   ([`Access`]). A test compares this table with `spin.toml` itself;
//! - [`keys`]: every key an Orderly component writes to the shared key-value store, and
//!   [`expiry`]: how long each lives there;
//! - [`BEARER_REALM`]: the `realm` of every `WWW-Authenticate: Bearer` challenge.
//!
//! No I/O, no Spin dependency: natively tested, usable from the host, the tests and
//! tools alike.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The protection space of every `WWW-Authenticate: Bearer` challenge (RFC 6750 §3):
/// the auth middleware, identity's userinfo and the API components name the same one.
pub const BEARER_REALM: &str = "orderly";

pub mod expiry;
pub mod keys;
pub mod routes;
pub mod scope;

pub use routes::{Access, Component, ROUTES, Route, RouteSpec};
pub use scope::{Scope, UnknownScope};
