//! End-to-end test support: [`spawn_app`] serves the repository's own `spin.toml` (the real
//! components, built by `cargo xtask test`) through `tests/host` on a free port, with its own
//! state directory, so no test depends on another's state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use orderly_host::{App, AppOptions, ReuseConfig, RunningServer};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How to configure a spawned app.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SPIN_VARIABLE_*` values.
    pub variables: HashMap<String, String>,
    /// Redis URL of the `shared` store.
    pub redis_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        let mut variables = HashMap::new();
        variables.insert(
            "SPIN_VARIABLE_HEALTH_DB_URL".to_string(),
            std::env::var("ORDERLY_TEST_HEALTH_DB_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string()),
        );
        Self {
            variables,
            redis_url: "redis://127.0.0.1:6379".to_string(),
        }
    }
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
    server: Option<RunningServer>,
    _app: Arc<App>,
    _state: tempfile::TempDir,
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
    std::fs::write(
        &rc,
        format!(
            "[key_value_store.shared]\ntype = \"redis\"\nurl = \"{}\"\n",
            settings.redis_url
        ),
    )?;
    let opts = AppOptions {
        manifest: root.join("spin.toml"),
        runtime_config: Some(rc),
        state_dir: Some(state.path().to_path_buf()),
        env: settings.variables,
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
        _app: app,
        _state: state,
    })
}
