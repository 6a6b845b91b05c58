//! # products — the catalogue
//!
//! - `GET /api/v1/products` (public): keyset pagination with signed cursors, filters,
//!   one-field sorts backed by indexes, sparse fieldsets, `_links`, `ETag`/304,
//!   `Cache-Control: public, max-age=60` (see [`query`]).
//! - `GET /api/v1/products/{id}` (public): `ETag` from id and version, 304 on
//!   `If-None-Match`, `_links` with the write actions only for `products:write`.
//! - `POST /api/v1/products` (products:write): 201 + `Location` + `ETag`; SKU clash → 409.
//! - `PUT` / `PATCH` (RFC 7396 merge patch) / `DELETE /api/v1/products/{id}`
//!   (products:write): `If-Match` required (428 / 412), one guarded
//!   `UPDATE … WHERE id = ? AND version = ?`; deleting a product that orders refer to → 409
//!   (archive it instead).
//! - Rate limit per caller (client and subject, or address) in the shared key-value store,
//!   applied by the kit before the method check and the handler.
//!
//! Layers: `entry` (wasm only) → [`component`] (what the kit needs: settings, rate limit,
//! dispatch) → [`handlers`] (HTTP) → [`service`] (rules, no HTTP) → [`repository`] (SQL
//! through `store::Guarded`). Everything but `entry` is tested natively with fakes.

#![forbid(unsafe_code)]

pub mod component;
pub mod cursor;
pub mod handlers;
pub mod model;
pub mod query;
pub mod repository;
pub mod service;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod entry;
