//! # orders — place, list, read and change the status of orders
//!
//! Routes (behind the `auth` middleware, which checks the token and the route's scope;
//! this component re-checks the scope and does the object-level checks):
//!
//! - `POST /api/v1/users/{id}/orders` (`orders:write`): places an order for user `id`
//!   (`me` is the caller). Only that user or an `admin` may; anyone else gets 404.
//!   Body `{"items":[{"product_id","quantity"}]}`: 1–50 lines, quantity 1–1000, each
//!   product at most once (a repeated product is a 400, not merged). Prices, SKU and
//!   name are captured from the catalogue into `order_items`; the total is computed
//!   here; all products must share one currency (else 422). Stock is decremented in
//!   the same transaction with a guarded `UPDATE … WHERE stock >= ? AND status =
//!   'active'`; a line it cannot cover rolls everything back: 409
//!   `out-of-stock` naming the product id and SKU, or 422 `unknown-product` when
//!   the product does not exist or is archived. 201 + `Location` + `ETag` + `_links`.
//!   The catalogue is read (no lock) before the transaction, so requests that cannot
//!   succeed are refused without queueing for a product's row lock; the decrement is
//!   also guarded by the price and currency read, so the captured price is the locked
//!   row's (a repricing in between is a 409 `price-changed`, nothing ordered).
//!
//!   Logins refused for the account's connection quota (1226/1040: nothing was sent)
//!   are waited out, bounded, by [`admission::WaitForConnection`] instead of a 503.
//!
//!   `Idempotency-Key` (optional, 1–255 printable ASCII): the key row (per client and
//!   subject) is inserted `in_progress` *before* the order transaction, in its own
//!   statement, so exactly one request owns it; the owner completes it with the 201
//!   body inside the order's transaction. Duplicates poll the row (bounded: 10 s, with
//!   sleeps, holding no lock) and replay the stored status, body, `Location` and
//!   `ETag` (plus `Idempotent-Replayed: true`); if the first is still running after
//!   that, 409 `request-in-progress` + `Retry-After`. The same key with another body
//!   (SHA-256 of method, route and body) is a 422. A placement that fails releases
//!   its key; keys expire after 24 h; a key left `in_progress` for 30 s by a dead
//!   request is taken over.
//! - `GET /api/v1/users/{id}/orders` (`orders:read`): the user's orders, keyset
//!   paginated with HMAC-signed cursors bound to owner, sort and filter; `limit`
//!   1–100 (default 20, larger is a 400); `status=`; `sort=` one of `-created_at`
//!   (default), `created_at`, `-total`, `total`; `fields=`; `_links.self/next`;
//!   `ETag` over the body, `If-None-Match` → 304; `Cache-Control: private, no-cache`.
//! - `GET /api/v1/orders/{id}` (`orders:read`): owner or admin, else 404; with items;
//!   `ETag` from id + version, `If-None-Match` → 304; `_links` with the transitions
//!   the caller may take (`pay`, `ship`, `deliver`, `cancel`).
//! - `PATCH /api/v1/orders/{id}` (`orders:write`): JSON Merge Patch
//!   `{"status": …}` along [`domain::OrderStatus`]. `If-Match` required (428 without,
//!   412 on a stale one). The owner may only cancel (pending or paid); an `admin` may
//!   take every edge (pay, ship, deliver, cancel); anything else the owner asks is a
//!   403. A move the state machine forbids is a 409 `invalid-transition`. Cancelling
//!   restocks every item in the same transaction.
//!
//! Every route: 405 + `Allow`, 406, 415, 413 (16 KiB bodies), 400 with per-field
//! errors (unknown fields and duplicate keys included), the caller's scope re-checked
//! (403), and a per-caller rate limit (`rate_limit_per_minute`, `RateLimit-Policy` /
//! `RateLimit` headers, 429 + `Retry-After`).
//!
//! Layers: `entry` (wasm only) → [`component`] (the kit service: settings, rate limit,
//! dispatch) → [`handlers`] (HTTP; [`dto`] in, [`view`] out, [`errors`] for failures) →
//! [`service`] (rules, over the [`repository::OrdersRepository`] seam) → [`repository`]
//! (SQL through `store::Guarded`). Tested natively with store's fakes.

#![forbid(unsafe_code)]
// The entry future (kit pipeline → edge → idempotent placement → guarded transaction) nests
// deeper than rustc's default layout query depth.
#![recursion_limit = "256"]

pub mod admission;
pub mod component;
pub mod cursor;
pub mod dto;
pub mod errors;
pub mod handlers;
pub mod model;
pub mod repository;
pub mod service;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod entry;
