//! # docs — the OpenAPI document and a page that renders it
//!
//! - `GET /openapi.json`: the OpenAPI 3.1 document of every Orderly route
//!   (`openapi/openapi.json`, embedded at build time with `include_str!`), as
//!   `application/json` (or `application/openapi+json` when asked for), with a strong
//!   `ETag` (SHA-256 of the bytes), `Cache-Control: public, max-age=300` and
//!   `If-None-Match` → 304.
//! - `GET /docs`: the same document rendered on the server as one HTML page — every
//!   operation with its security and scopes, parameters, request body, responses and
//!   headers, then every schema. No script and no CDN: the page's only style sheet is
//!   inline and allowed by its SHA-256 in the page's own strict
//!   `Content-Security-Policy` ([`render::DOCS_CONTENT_SECURITY_POLICY`]).
//! - Both answer `HEAD`; any other method gets 405 + `Allow: GET, HEAD`; an `Accept`
//!   that excludes what we serve gets 406.
//!
//! Layers: `entry` (wasm only) → [`handlers`] (HTTP) → [`document`] (the embedded
//! document and its validator) / [`render`] (document → HTML). There is no I/O.

#![forbid(unsafe_code)]

pub mod component;
pub mod document;
pub mod handlers;
pub mod render;

#[cfg(target_arch = "wasm32")]
mod entry;
