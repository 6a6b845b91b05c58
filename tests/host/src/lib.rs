//! Orderly's Spin-compatible host.
//!
//! Spin's runtime is not published on crates.io, so this crate runs Orderly's components the
//! way Spin 4.1 does, on the same wasmtime crates Spin uses. Each module copies one Spin
//! capability and names the Spin source it follows; `docs/spin-fidelity.md` records
//! what a real Spin build did. Nothing here offers a guest more than Spin would.
#![forbid(unsafe_code)]

pub mod allowed_hosts;
pub mod app;
pub mod bindings;
pub mod compose;
pub mod key_value;
pub mod manifest;
pub mod mysql;
pub mod outbound_http;
pub mod outbound_redis;
pub mod routing;
pub mod runtime_config;
pub mod server;
pub mod state;
pub mod stdio;
pub mod streams;
pub mod variables;

pub use app::{App, AppOptions, ReuseConfig};
pub use server::{RunningServer, serve};
