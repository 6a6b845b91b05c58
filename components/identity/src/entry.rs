//! The component's `wasi:http` entry point: configuration (parsed once per instance),
//! the store wiring and the edge around the router.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use edge_http::{ApiError, EdgeConfig, EdgeResponse};
use spin_sdk::http::Request;
use spin_sdk::http_service;
use store::spin::{SpinKv, SpinMysql, SpinRuntime};
use store::{Breaker, BreakerConfig, Guarded};

use crate::config::{Config, RawConfig};
use crate::html;
use crate::model::Env;
use crate::repository::SqlRepository;
use crate::router;

/// Forms and token requests are small; 16 KiB is plenty. HTML pages get the strict
/// page policy; JSON responses keep it too (nothing loads from them).
static EDGE: EdgeConfig = EdgeConfig::new("identity")
    .with_max_body_bytes(16 * 1024)
    .with_content_security_policy(html::HTML_POLICY);

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

async fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .await
        .map_err(|e| ApiError::internal(format!("variable {name}: {e:?}")))
}

async fn optional_variable(name: &str) -> String {
    spin_sdk::variables::get(name).await.unwrap_or_default()
}

async fn config() -> Result<Rc<Config>, ApiError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let raw = RawConfig {
        issuer: variable("issuer").await?,
        audience: variable("audience").await?,
        signing_key: variable("signing_key").await?,
        signing_kid: variable("signing_kid").await?,
        next_signing_key: optional_variable("next_signing_key").await,
        next_signing_kid: optional_variable("next_signing_kid").await,
        retired_jwks: optional_variable("retired_jwks").await,
        cursor_key: variable("cursor_key").await?,
        kv_prefix: variable("kv_prefix").await?,
        rate_limit_per_minute: variable("rate_limit_per_minute").await?,
        login_attempts_per_minute: variable("login_attempts_per_minute").await?,
    };
    let config = Rc::new(Config::from_raw(&raw).map_err(ApiError::internal)?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| async move {
        let config = config().await?;
        let repo = SqlRepository::new(Guarded::new(
            SpinMysql::from_variable("db_url"),
            Breaker::new(
                SpinKv::shared(),
                BreakerConfig::new(config.kv_key("breaker:identity:mariadb")),
            ),
            SpinRuntime::default(),
        ));
        let kv = SpinKv::shared();
        let env = Env {
            repo: &repo,
            kv: &kv,
            config: &config,
            now: now(),
        };
        router::route(&env, request, context).await
    })
    .await
}
