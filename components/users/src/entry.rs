//! The component's `wasi:http` entry point: the edge around the router.

use edge_http::{ApiError, EdgeConfig, EdgeResponse, InternalHeaders};
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::cursor::CursorCodec;
use crate::handlers::{self, Config, Deps};
use crate::repository::SqlUsers;

/// Registration and patch bodies are small; 16 KiB is far above any valid one.
static EDGE: EdgeConfig = EdgeConfig::new("users")
    .with_max_body_bytes(16 * 1024)
    .with_internal_headers(InternalHeaders::TrustMiddleware);

/// Requests per minute per caller when `rate_limit_per_minute` is unset or not a number.
const DEFAULT_RATE_LIMIT: u64 = 300;

/// The shortest `cursor_key` accepted (HMAC-SHA256 wants at least 32 bytes).
const MIN_CURSOR_KEY_BYTES: usize = 32;

async fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|e| ApiError::internal(format!("variable {name}: {e}")))
}

async fn config() -> Result<Config, ApiError> {
    let kv_prefix = variable("kv_prefix").await?;
    let registrations_per_hour = variable("registrations_per_hour")
        .await?
        .trim()
        .parse::<u64>()
        .map_err(|_| ApiError::internal("variable registrations_per_hour is not a number"))?;
    let rate_limit_per_minute = variable("rate_limit_per_minute")
        .await
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_RATE_LIMIT);
    let cursor_key = variable("cursor_key").await?;
    if cursor_key.len() < MIN_CURSOR_KEY_BYTES {
        return Err(ApiError::internal(
            "variable cursor_key is shorter than 32 bytes",
        ));
    }
    Ok(Config {
        kv_prefix,
        registrations_per_hour,
        rate_limit_per_minute,
        cursors: CursorCodec::new(cursor_key.as_bytes()),
    })
}

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| async move {
        let config = config().await?;
        let breaker_key = format!("{}:breaker:users:mariadb", config.kv_prefix);
        let users = SqlUsers::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            Breaker::new(SpinKv::shared(), BreakerConfig::new(breaker_key)),
            SpinRuntime::default(),
        ));
        let kv = SpinKv::shared();
        let deps = Deps {
            users: &users,
            kv: &kv,
            config: &config,
            now_secs: handlers::now_secs(),
        };
        handlers::route(&deps, request, context).await
    })
    .await
}
