//! The component's `wasi:http` entry point: the edge around the router.

use std::time::{SystemTime, UNIX_EPOCH};

use edge_http::rate_limit::RateLimiter;
use edge_http::{ApiError, EdgeConfig, EdgeResponse, InternalHeaders};
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::admission::WaitForConnection;
use crate::handlers::{self, Deps};
use crate::repository::Repository;

/// Order bodies are small: 50 lines of ~80 bytes; 16 KiB leaves room for whitespace.
static EDGE: EdgeConfig = EdgeConfig::new("orders")
    .with_max_body_bytes(16 * 1024)
    .with_internal_headers(InternalHeaders::TrustMiddleware);

/// Connections one instance may hold: concurrent requests of an instance (up to 16)
/// share them; beyond the account quota (40), logins wait in `WaitForConnection`.
const CONNECTIONS_PER_INSTANCE: usize = 2;

/// Requests per minute per caller when `rate_limit_per_minute` is unset or not a number.
const DEFAULT_RATE_LIMIT: u64 = 300;

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|e| ApiError::internal(format!("variable {name}: {e}")))
}

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| async move {
        let prefix = variable("kv_prefix").await?;
        let cursor_key = variable("cursor_key").await?.into_bytes();
        let rate_limit_per_minute = variable("rate_limit_per_minute")
            .await
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_RATE_LIMIT);
        let deps = Deps {
            repo: Repository::new(Guarded::new(
                WaitForConnection::new(
                    SpinMysql::from_variable("db_url")
                        .with_max_connections(CONNECTIONS_PER_INSTANCE),
                    SpinRuntime::default(),
                ),
                Breaker::new(
                    SpinKv::shared(),
                    BreakerConfig::new(format!("{prefix}:breaker:orders")),
                ),
                SpinRuntime::default(),
            )),
            sleeper: SpinRuntime::default(),
            now_micros,
            cursor_key,
            counter: SpinKv::shared(),
            limiter: RateLimiter::new(prefix),
            rate_limit_per_minute,
        };
        handlers::route(&deps, request, context).await
    })
    .await
}
