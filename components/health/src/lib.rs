//! # health — liveness and readiness
//!
//! - `GET /health`: liveness. No I/O; 200 `{"status":"ok"}` while the component runs.
//! - `GET /ready`: readiness. Probes MariaDB (`SELECT 1` through `spin:mysql`, URL from
//!   the variable `db_url`) and the key-value stores `default` and `shared` (write,
//!   read back, delete), concurrently, each with a timeout and a timing. 200 with the
//!   checks when all pass; 503 + `Retry-After` and a problem document naming the
//!   failed checks otherwise. The causes go to the log line, redacted.
//! - Any other method: 405 + `Allow: GET, HEAD`. `HEAD` works on both.
//!
//! Layers: `entry` (wasm only) → `component` (the kit service: no rate limit, dispatch) →
//! `handlers` (HTTP) → `service` (rules, no HTTP) →
//! `probes` (wasm only, the Spin host calls). `handlers` and `service` are tested
//! natively with fake dependencies.

#![forbid(unsafe_code)]

pub mod component;
pub mod handlers;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod probes;
