//! # users — accounts: self-registration, `/me`, admin list/read/update/delete
//!
//! Every route sits behind the `auth` middleware (`spin.toml`), which verifies the bearer
//! token, checks scopes per route, strips client `x-orderly-*` headers and passes the
//! caller as [`edge_http::Principal`]; this component trusts those headers only
//! (`InternalHeaders::TrustMiddleware`).
//!
//! - `POST /api/v1/users`: public self-registration. `application/json` only (415),
//!   fields `email`, `password`, `display_name` (any other field → 400 per field: roles
//!   and status cannot be set, OWASP API3). NIST password rules (`domain::Password`),
//!   Argon2id hash. 201 + `Location` + the user. A taken email (any case) → 409 saying
//!   only that the address cannot be used. Rate limited per client address
//!   (`registrations_per_hour`, fixed one-hour windows counted in the shared KV) with
//!   `RateLimit-Policy`/`RateLimit` on every answer and 429 + `Retry-After` beyond it.
//! - `GET /api/v1/users`: admin list (scope `admin`; others 403), keyset pagination
//!   (`limit` 1–100, default 20), HMAC-signed opaque `cursor` (tampered → 400),
//!   `status` filter, `sort` = `created_at` | `-created_at` (default), `_links`
//!   self/next/prev. The page has a strong `ETag` of its bytes (`If-None-Match` → 304).
//! - `GET /api/v1/users/{id}` (`users:read`): own account or `admin`; anyone else's id
//!   is a 404, like a missing one (OWASP API1). `me` is the caller's own id; a client
//!   credentials token has no user → 403.
//! - `PATCH /api/v1/users/{id}` (`users:write`): JSON Merge Patch
//!   (`application/merge-patch+json`) of `display_name`; `roles`/`status` need `admin`
//!   (else 403). `If-Match` required: 428 without, 412 on a stale tag.
//! - `DELETE /api/v1/users/{id}` (`users:write`, self or admin, `If-Match` as PATCH) →
//!   204. A user with orders is not deleted (the foreign key restricts): 409 telling
//!   the caller to disable the account instead (`PATCH {"status":"disabled"}`).
//!
//! Every user representation has `_links`, a strong `ETag` (from id + version;
//! `If-None-Match` → 304) and `Cache-Control: private, no-store`; none has the
//! password hash. Other methods → 405 + `Allow`.
//!
//! Every route but registration is rate limited per caller (policy `api`,
//! `rate_limit_per_minute` per one-minute window; the caller is the token's
//! `client_id` and subject, or the client address without a token): every answer
//! after the check, errors included, carries `RateLimit-Policy`/`RateLimit`; beyond
//! the quota it is 429 + `Retry-After`.
//!
//! Entity tags and `If-None-Match`/`If-Match` use `edge_http::conditional` (so the
//! edge's `-gzip`/`-br` tag suffix still matches); the rate limits use
//! the kit's rate-limit step (fails open, logged, when the shared store is down).
//!
//! Layers: `entry` (wasm only) → [`component`] (the kit service: settings, rate limits,
//! dispatch) → [`handlers`] (HTTP, with [`dto`] for what comes in and [`view`] for what goes
//! out) → [`service`] → [`repository`] (SQL via `store`). [`cursor`] binds list cursors.

#![forbid(unsafe_code)]

pub mod component;
pub mod cursor;
pub mod dto;
pub mod handlers;
pub mod repository;
pub mod service;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod entry;
