//! End-to-end test support: [`spawn_app`] serves the repository's own `spin.toml` (the real
//! components, built by `cargo xtask test`) through `tests/host` on a free port, with its own
//! state directory, so no test depends on another's state.
//!
//! This crate is test support only: a fixture that cannot be set up aborts the test that
//! asked for it, so `panic!`/`expect` are allowed here (they are denied in product code).
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use orderly_host::{App, AppOptions, ReuseConfig, RunningServer};

pub mod oauth;
pub mod orders;
pub mod products;
pub mod tokens_forge;
pub mod users;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The issuer every test app is configured with (the `issuer` default in spin.toml).
pub const ISSUER: &str = "http://127.0.0.1:3000";
/// The audience of access tokens (the `audience` default in spin.toml).
pub const AUDIENCE: &str = "http://127.0.0.1:3000/api";

/// A pool on the application database as root: `ORDERLY_DB_ADMIN_URL` (default
/// `mysql://root@127.0.0.1:3306`, its query string kept) and database `ORDERLY_DB_NAME`
/// (default `orderly`). Tests write fixtures and read back state through it.
pub fn admin_pool() -> Result<mysql_async::Pool> {
    let url = std::env::var("ORDERLY_DB_ADMIN_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let database = std::env::var("ORDERLY_DB_NAME").unwrap_or_else(|_| "orderly".to_owned());
    let rest = url
        .strip_prefix("mysql://")
        .context("admin URL must be mysql://")?;
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    let url = match query {
        Some(query) => format!("mysql://{authority}/{database}?{query}"),
        None => format!("mysql://{authority}/{database}"),
    };
    Ok(mysql_async::Pool::new(mysql_async::Opts::from_url(&url)?))
}

/// The components with their own MariaDB account (`ORDERLY_TEST_<NAME>_DB_URL`, set by
/// `cargo xtask test`).
pub const DB_COMPONENTS: &[&str] = &["health", "identity", "users", "products", "orders"];

/// The `kid` of the signing key every test app gets.
pub const TEST_KID: &str = "test-key-1";

/// How to configure a spawned app.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SPIN_VARIABLE_*` values.
    pub variables: HashMap<String, String>,
    /// Redis URL of the shared store (the `redis_url` variable, unless `variables` sets it).
    pub redis_url: String,
    /// The PKCS#8 PEM of the app's current signing key (tests mint and forge tokens with it).
    pub signing_key_pem: String,
}

impl Default for Settings {
    /// Every required variable: each component's database URL from the environment
    /// (falling back to root on `test`), a fresh ES256 signing key with its public JWKS,
    /// a fresh cursor key and a `kv_prefix` of its own so that rate-limit counters and
    /// breaker state in the shared Redis never leak between tests.
    fn default() -> Self {
        let mut variables = HashMap::new();
        for component in DB_COMPONENTS {
            let upper = component.to_ascii_uppercase();
            variables.insert(
                format!("SPIN_VARIABLE_{upper}_DB_URL"),
                std::env::var(format!("ORDERLY_TEST_{upper}_DB_URL"))
                    .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string()),
            );
        }
        let (pem, jwks) = test_signing_key();
        variables.insert("SPIN_VARIABLE_SIGNING_KEY".into(), pem.clone());
        variables.insert("SPIN_VARIABLE_SIGNING_KID".into(), TEST_KID.into());
        variables.insert("SPIN_VARIABLE_TOKEN_JWKS".into(), jwks);
        variables.insert("SPIN_VARIABLE_CURSOR_KEY".into(), unique("cursor-key-", 48));
        variables.insert("SPIN_VARIABLE_KV_PREFIX".into(), unique("t", 12));
        Self {
            variables,
            redis_url: "redis://127.0.0.1:6379".to_string(),
            signing_key_pem: pem,
        }
    }
}

/// A fresh ES256 key: its PKCS#8 PEM and the public JWKS with it as the current key.
fn test_signing_key() -> (String, String) {
    use tokens::{KeyRole, Kid, SigningKey, VerifyingKeys};
    let kid = Kid::new(TEST_KID).unwrap_or_else(|e| panic!("test kid: {e}"));
    let key = SigningKey::generate(Some(kid)).unwrap_or_else(|e| panic!("test key: {e}"));
    let pem = key
        .to_pkcs8_pem()
        .unwrap_or_else(|e| panic!("test key pem: {e}"))
        .to_string();
    let jwks = VerifyingKeys::new()
        .with(KeyRole::Current, key.verifying_key())
        .unwrap_or_else(|e| panic!("test jwks: {e}"))
        .to_jwks_json();
    (pem, jwks)
}

/// `prefix` followed by random hex: exactly `len` characters in all (or the prefix plus
/// 16 hex digits when `len` leaves no room for randomness).
pub fn unique(prefix: &str, len: usize) -> String {
    let len = len.max(prefix.len() + 16);
    let mut out = prefix.to_string();
    while out.len() < len {
        out.push_str(&format!("{:016x}", rand_u64()));
    }
    out.truncate(len);
    out
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

impl Settings {
    /// Sets an application variable (`name` in lower snake case).
    pub fn variable(mut self, name: &str, value: &str) -> Self {
        self.variables.insert(
            format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
            value.to_string(),
        );
        self
    }
}

/// A running app for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client without redirects.
    pub client: reqwest::Client,
    /// The settings the app was started with (keys, variables).
    pub settings: Settings,
    server: Option<RunningServer>,
    _app: Arc<App>,
    _state: tempfile::TempDir,
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An RFC 9068 access token for `sub`, issued to `client_id` with `scope`, signed with
    /// this app's key (15 minutes). A token whose `sub` equals its `client_id` is a client
    /// credentials token.
    pub fn access_token(&self, sub: &str, client_id: &str, scope: &str) -> Result<String> {
        use tokens::{AccessClaims, Kid, ScopeSet, SigningKey, issue_access_token, random_jti};
        let kid = Kid::new(TEST_KID).map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = SigningKey::from_pkcs8_pem(&self.settings.signing_key_pem, Some(kid))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let claims = AccessClaims::new(
            ISSUER,
            sub,
            AUDIENCE,
            client_id,
            ScopeSet::parse(scope).map_err(|e| anyhow::anyhow!("{e}"))?,
            random_jti().map_err(|e| anyhow::anyhow!("{e}"))?,
            now,
        );
        issue_access_token(&key, &claims).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

/// Serves the repository's `spin.toml` with default settings.
pub async fn spawn_app() -> Result<TestApp> {
    spawn_app_with(Settings::default()).await
}

/// Serves the repository's `spin.toml`.
pub async fn spawn_app_with(settings: Settings) -> Result<TestApp> {
    let root = repo_root();
    let state = tempfile::tempdir()?;
    let rc = state.path().join("runtime-config.toml");
    // The shared store is Redis through Spin's outbound Redis: its URL is a variable, its
    // host:port must be in `allowed_outbound_hosts` (`redis_host`).
    std::fs::write(&rc, "")?;
    let mut env = settings.variables.clone();
    env.entry("SPIN_VARIABLE_REDIS_URL".into())
        .or_insert_with(|| settings.redis_url.clone());
    if let Ok(url) = url::Url::parse(&settings.redis_url)
        && let Some(host) = url.host_str()
    {
        env.entry("SPIN_VARIABLE_REDIS_HOST".into())
            .or_insert_with(|| format!("{host}:{}", url.port().unwrap_or(6379)));
    }
    let opts = AppOptions {
        manifest: root.join("spin.toml"),
        runtime_config: Some(rc),
        state_dir: Some(state.path().to_path_buf()),
        env,
        reuse: ReuseConfig::default(),
        cache_dir: Some(root.join("target/host-cache")),
    };
    let app = App::load(&opts)
        .await
        .context("loading spin.toml (are the components built? run `cargo xtask test`)")?;
    let server = orderly_host::serve(app.clone(), "127.0.0.1:0".parse()?).await?;
    Ok(TestApp {
        base: format!("http://{}", server.addr),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        server: Some(server),
        settings,
        _app: app,
        _state: state,
    })
}
