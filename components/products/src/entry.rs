//! The component's `wasi:http` entry point: Spin variables, the guarded database and
//! the shared key-value store around the router, inside the edge.

use std::time::{SystemTime, UNIX_EPOCH};

use edge_http::{ApiError, EdgeConfig, EdgeResponse, InternalHeaders};
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::cursor::CursorCodec;
use crate::handlers::{self, Deps, MAX_BODY_BYTES, Settings};
use crate::repository::MariaCatalogue;

/// Behind the `auth` middleware, which strips client copies of `x-orderly-*` and sets
/// the verified principal.
static EDGE: EdgeConfig = EdgeConfig::new("products")
    .with_max_body_bytes(MAX_BODY_BYTES)
    .with_internal_headers(InternalHeaders::TrustMiddleware);

/// Default quota when `rate_limit_per_minute` is unset or not a number.
const DEFAULT_RATE_LIMIT: u64 = 300;

async fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|e| ApiError::internal(format!("variable {name}: {e}")))
}

async fn settings() -> Result<Settings, ApiError> {
    let key = variable("cursor_key").await?;
    let cursors = CursorCodec::new(key.as_bytes())
        .map_err(|_| ApiError::internal("variable cursor_key: shorter than 32 bytes"))?;
    let kv_prefix = variable("kv_prefix").await?;
    let rate_limit_per_minute = variable("rate_limit_per_minute")
        .await
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_RATE_LIMIT);
    Ok(Settings {
        cursors,
        kv_prefix,
        rate_limit_per_minute,
    })
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| async move {
        let settings = settings().await?;
        let catalogue = MariaCatalogue::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            Breaker::new(
                SpinKv::shared(),
                BreakerConfig::new(format!("{}:breaker:products:mariadb", settings.kv_prefix)),
            ),
            SpinRuntime::default(),
        ));
        let kv = SpinKv::shared();
        let deps = Deps {
            catalogue: &catalogue,
            kv: &kv,
            settings: &settings,
            now_micros: now_micros(),
        };
        handlers::route(&deps, request, context).await
    })
    .await
}
