//! Host fidelity: each test drives a real spin-sdk 7 component (`test-components/`) through
//! the host and checks that the guest sees what Spin 4.1 gives it. The Spin source file each
//! behaviour copies is named in the test's doc comment; observed values come from
//! `docs/spin-fidelity.md`.
//!
//! The `.wasm` files are built by `cargo xtask test` (or `cargo build --target wasm32-wasip2
//! --release -p probe -p middleware`) before these tests run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orderly_host::{App, AppOptions, ReuseConfig, RunningServer};
use support::{RUNTIME_CONFIG, wasm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A manifest with the probe on several routes, a private route and middleware chains.
fn manifest(extra: &str) -> String {
    let probe = wasm("probe").display().to_string();
    let mw = wasm("middleware").display().to_string();
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "fidelity"
[variables]
greeting = {{ default = "hello" }}
secret_key = {{ required = true, secret = true }}
db_host = {{ default = "127.0.0.1:3306" }}

[[trigger.http]]
route = "/hello/..."
component = "probe"
[[trigger.http]]
route = "/plain/:id"
component = "probe"
[[trigger.http]]
route = "/exact"
component = "probe"
[[trigger.http]]
route = {{ private = true }}
component = "internal"
[[trigger.http]]
route = "/nochain/..."
component = "nochain"
[[trigger.http]]
route = "/mw/..."
component = "probe"
dependencies.middleware = [{{ component = "mw" }}]
[[trigger.http]]
route = "/mw-inherit/..."
component = "probe"
dependencies.middleware = [{{ component = "mw", inherit_configuration = true }}]
[[trigger.http]]
route = "/mw-some/..."
component = "probe"
dependencies.middleware = [{{ component = "mw", inherit_configuration = ["key_value_stores"] }}]

[component.probe]
source = "{probe}"
key_value_stores = ["default", "shared"]
allowed_outbound_hosts = ["mysql://{{{{ db_host }}}}", "http://internal.spin.internal"]
[component.probe.variables]
message = "{{{{ greeting }}}}, world"
key = "{{{{ secret_key }}}}"
greeting = "{{{{ greeting }}}}"
db_url = "mysql://root@127.0.0.1/test"

[component.internal]
source = "{probe}"

[component.nochain]
source = "{probe}"

[component.mw]
source = "{mw}"
{extra}
"#
    )
}

struct TestApp {
    server: Option<RunningServer>,
    base: String,
    dir: tempfile::TempDir,
    _app: Arc<App>,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.unwrap()
    }

    async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            drop(server);
        }
    }
}

fn options(dir: &Path, manifest_text: &str, rc: Option<&str>, env: &[(&str, &str)]) -> AppOptions {
    std::fs::write(dir.join("spin.toml"), manifest_text).unwrap();
    let runtime_config = rc.map(|text| {
        let p = dir.join("runtime-config.toml");
        std::fs::write(&p, text).unwrap();
        p
    });
    let mut envs: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    envs.entry("SPIN_VARIABLE_SECRET_KEY".into())
        .or_insert_with(|| "s3cr3t".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/host-cache");
    AppOptions {
        manifest: dir.join("spin.toml"),
        runtime_config,
        state_dir: None,
        env: envs,
        reuse: ReuseConfig::default(),
        cache_dir: Some(root),
    }
}

async fn start_with(manifest_text: &str, rc: Option<&str>, env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), manifest_text, rc, env);
    let app = App::load(&opts).await.unwrap();
    let server = orderly_host::serve(app.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    TestApp {
        base: format!("http://{}", server.addr),
        server: Some(server),
        dir,
        _app: app,
    }
}

async fn start() -> TestApp {
    start_with(&manifest(""), Some(RUNTIME_CONFIG), &[]).await
}

async fn load_error(manifest_text: &str, rc: Option<&str>, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), manifest_text, rc, env);
    match App::load(&opts).await {
        Ok(_) => panic!("expected start-up to fail"),
        Err(e) => format!("{e:#}"),
    }
}

// ---------------------------------------------------------------- routing and headers

/// Spin: `crates/trigger-http/src/headers.rs` `compute_default_headers` — the `spin-*`
/// headers observed for `GET /hello/abc?q=1` on route `/hello/...`.
#[tokio::test(flavor = "multi_thread")]
async fn wildcard_route_gets_spins_request_headers() {
    let app = start().await;
    let body = app.text("/hello/headers?q=1").await;
    let port = app.base.rsplit(':').next().unwrap();
    assert!(body.contains("spin-path-info: /headers"), "{body}");
    assert!(
        body.contains(&format!(
            "spin-full-url: http://127.0.0.1:{port}/hello/headers?q=1"
        )),
        "{body}"
    );
    assert!(body.contains("spin-matched-route: /hello/..."), "{body}");
    assert!(body.contains("spin-base-path: /"), "{body}");
    assert!(
        body.contains("spin-raw-component-route: /hello/..."),
        "{body}"
    );
    assert!(body.contains("spin-component-route: /hello\n"), "{body}");
    assert!(body.contains("spin-client-addr: 127.0.0.1:"), "{body}");
}

/// Spin: `headers.rs` — `:name` captures become `spin-path-match-<name>`, path info is empty.
#[tokio::test(flavor = "multi_thread")]
async fn param_route_gets_path_match_headers_and_empty_path_info() {
    let app = start().await;
    let body = app.text("/plain/headers").await;
    assert!(body.contains("spin-path-match-id: headers"), "{body}");
    assert!(body.contains("spin-path-info: \n"), "{body}");
    assert!(body.contains("spin-component-route: /plain/:id"), "{body}");
}

/// Spin: `crates/trigger-http/src/server.rs` — no route: 404, `content-length: 0`, empty body.
/// An exact route also matches with a trailing slash, not a longer path (`routefinder`).
#[tokio::test(flavor = "multi_thread")]
async fn unmatched_path_is_404_with_an_empty_body() {
    let app = start().await;
    let resp = app.get("/nothing/here").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-length"], "0");
    assert_eq!(resp.text().await.unwrap(), "");
    assert_eq!(app.get("/exact").await.status(), 200);
    assert_eq!(app.get("/exact/").await.status(), 200);
    assert_eq!(app.get("/exact/x").await.status(), 404);
}

/// Spin: `server.rs` — a trapping guest yields 500 with an empty body; the host keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn guest_trap_is_an_empty_500_and_the_host_keeps_serving() {
    let app = start().await;
    let resp = app.get("/hello/panic").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.headers()["content-length"], "0");
    assert_eq!(resp.text().await.unwrap(), "");
    assert_eq!(app.text("/hello/ok").await, "probe /ok");
}

// ---------------------------------------------------------------- private routes, chaining

/// Spin: `crates/routes/src/lib.rs` (private routes are not routed) and
/// `crates/trigger-http/src/outbound_http.rs` (chaining to `<id>.spin.internal`).
#[tokio::test(flavor = "multi_thread")]
async fn private_route_is_404_from_outside_and_reachable_by_chaining() {
    let app = start().await;
    let client = reqwest::Client::new();
    let resp = client
        .get(app.url("/hello/counter"))
        .header("host", "internal.spin.internal")
        .send()
        .await
        .unwrap();
    // The public route still answers by path; the private component has no path at all.
    assert_eq!(resp.status(), 200);
    assert_eq!(app.get("/internal").await.status(), 404);
    let body = app
        .text("/hello/outbound?url=http://internal.spin.internal/anything/counter")
        .await;
    assert_eq!(body, "Ok(200) 1");
}

/// Spin: `crates/factor-outbound-http/src/wasi.rs` — a host not in `allowed_outbound_hosts`
/// is `error-code.http-request-denied`; chaining needs the exact internal host allowed.
#[tokio::test(flavor = "multi_thread")]
async fn outbound_http_is_denied_unless_allowed() {
    let app = start().await;
    assert_eq!(
        app.text("/hello/outbound?url=http://127.0.0.1:9/").await,
        "Err(ErrorCode::HttpRequestDenied)"
    );
    assert_eq!(
        app.text("/nochain/outbound?url=http://internal.spin.internal/x")
            .await,
        "Err(ErrorCode::HttpRequestDenied)"
    );
}

// ---------------------------------------------------------------- middleware

/// Spin: `crates/trigger-http/src/middleware.rs` — a pass-through middleware reaches the
/// route component and can edit its response; one that answers 401 stops the chain.
#[tokio::test(flavor = "multi_thread")]
async fn middleware_passes_through_or_stops_the_chain() {
    let app = start().await;
    let resp = app.get("/mw/counter").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-mw-seen"], "1");
    assert_eq!(resp.text().await.unwrap(), "1");
    let resp = reqwest::Client::new()
        .get(app.url("/mw/counter"))
        .header("x-mw", "deny")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.text().await.unwrap(), "denied by middleware");
}

async fn probe_middleware(app: &TestApp, route: &str) -> (String, String, String) {
    let resp = reqwest::Client::new()
        .get(app.url(route))
        .header("x-mw", "probe")
        .header("x-mysql", "mysql://root@127.0.0.1/test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = |n: &str| resp.headers()[n].to_str().unwrap().to_string();
    (h("x-probe-kv"), h("x-probe-var"), h("x-probe-mysql"))
}

/// Spin: `crates/capabilities/src/deny.rs` — without `inherit_configuration` a middleware is
/// denied, not trapped, with the errors observed on Spin 4.1.
#[tokio::test(flavor = "multi_thread")]
async fn middleware_without_inherit_configuration_gets_spins_denials() {
    let app = start().await;
    let (kv, var, db) = probe_middleware(&app, "/mw/x").await;
    assert_eq!(kv, "Err(Error::AccessDenied)");
    assert_eq!(var, "Err(Error::Undefined(\"greeting\"))");
    assert_eq!(
        db,
        "Err(MysqlError(Error::Other(\"\\\"spin:mysql/mysql\\\" is not permitted\")))"
    );
}

/// Spin: `deny.rs` `allow_list` — `inherit_configuration = true` grants everything; a list
/// grants only the named sets.
#[tokio::test(flavor = "multi_thread")]
async fn inherited_capabilities_succeed_with_the_route_components_configuration() {
    let app = start().await;
    let (kv, var, db) = probe_middleware(&app, "/mw-inherit/x").await;
    assert_eq!(kv, "Ok");
    assert_eq!(var, "Ok(\"hello\")");
    assert_eq!(db, "Ok");
    let (kv, var, db) = probe_middleware(&app, "/mw-some/x").await;
    assert_eq!(kv, "Ok");
    assert_eq!(var, "Err(Error::Undefined(\"greeting\"))");
    assert!(db.contains("is not permitted"), "{db}");
}

// ---------------------------------------------------------------- variables

/// Spin: `crates/factor-variables/src/host.rs` + `crates/expressions` — templates over
/// application variables, the `SPIN_VARIABLE_*` provider for secrets, and the error texts.
#[tokio::test(flavor = "multi_thread")]
async fn variables_resolve_templates_secrets_and_errors_like_spin() {
    let app = start().await;
    assert_eq!(
        app.text("/hello/var?name=message").await,
        "Ok(\"hello, world\")"
    );
    assert_eq!(app.text("/hello/var?name=key").await, "Ok(\"s3cr3t\")");
    assert_eq!(
        app.text("/hello/var?name=nope").await,
        "Err(Error::Undefined(\"no variable for \\\"probe\\\".\\\"nope\\\"\"))"
    );
    assert_eq!(
        app.text("/hello/var?name=Bad-Name").await,
        "Err(Error::InvalidName(\"\\\"Bad-Name\\\": invalid character 'B'. Variable names may contain only lower-case letters, numbers, and underscores.\"))"
    );
}

/// Spin refuses to start when a required variable has no value (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn required_variable_without_a_value_refuses_start_up() {
    let text = manifest("");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), &text, Some(RUNTIME_CONFIG), &[]);
    opts.env.remove("SPIN_VARIABLE_SECRET_KEY");
    let err = match App::load(&opts).await {
        Ok(_) => panic!("must refuse"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("no provider resolved required variable(s): [Key(\"secret_key\")]"),
        "{err}"
    );
}

// ---------------------------------------------------------------- key-value

/// Spin: `crates/factor-key-value/src/host.rs` — labels not granted are `AccessDenied`;
/// `default` is a SQLite file under `.spin/`; a `type = "redis"` store from runtime config.
#[tokio::test(flavor = "multi_thread")]
async fn key_value_stores_by_label_with_access_checks() {
    let app = start().await;
    assert_eq!(
        app.text("/hello/kv?label=nope").await,
        "open Err(Error::AccessDenied)"
    );
    assert_eq!(
        app.text("/nochain/kv?label=default").await,
        "open Err(Error::AccessDenied)"
    );
    let key = format!("k{}", std::process::id());
    assert_eq!(
        app.text(&format!(
            "/hello/kv?label=default&action=set&key={key}&value=v1"
        ))
        .await,
        "Ok(())"
    );
    assert_eq!(
        app.text(&format!("/hello/kv?label=default&action=get&key={key}"))
            .await,
        "Ok(Some(\"v1\"))"
    );
    assert!(app.dir.path().join(".spin/sqlite_key_value.db").exists());
    assert_eq!(
        app.text(&format!(
            "/hello/kv?label=shared&action=set&key={key}&value=r1"
        ))
        .await,
        "Ok(())"
    );
    assert_eq!(
        app.text(&format!("/hello/kv?label=shared&action=get&key={key}"))
            .await,
        "Ok(Some(\"r1\"))"
    );
    assert_eq!(
        app.text(&format!("/hello/kv?label=shared&action=delete&key={key}"))
            .await,
        "Ok(())"
    );
    assert_eq!(
        app.text(&format!("/hello/kv?label=shared&action=exists&key={key}"))
            .await,
        "Ok(false)"
    );
}

/// `wasi:keyvalue/atomics.increment` counts every concurrent request exactly on both store
/// kinds (`docs/spin-fidelity.md`, "Atomic counters").
#[tokio::test(flavor = "multi_thread")]
async fn atomic_increment_counts_every_concurrent_request() {
    let app = Arc::new(start().await);
    for label in ["default", "shared"] {
        let key = format!("ctr-{label}-{}-{}", std::process::id(), rand_suffix());
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let app = app.clone();
            let url = format!("/hello/kv?label={label}&action=increment&key={key}");
            tasks.push(tokio::spawn(async move { app.text(&url).await }));
        }
        let mut seen = Vec::new();
        for t in tasks {
            let body = t.await.unwrap();
            let n: i64 = body
                .trim_start_matches("Ok(")
                .trim_end_matches(')')
                .parse()
                .unwrap();
            seen.push(n);
        }
        seen.sort();
        assert_eq!(seen, (1..=40).collect::<Vec<i64>>(), "{label}");
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `spin up` refuses a component naming a label that is neither `default` nor configured.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_value_label_refuses_start_up_with_spins_text() {
    let text = manifest("").replace(
        "key_value_stores = [\"default\", \"shared\"]",
        "key_value_stores = [\"default\", \"shared\", \"other\"]",
    );
    let err = load_error(&text, Some(RUNTIME_CONFIG), &[]).await;
    assert!(
        err.contains("unknown key_value_stores label \"other\" for component \"probe\""),
        "{err}"
    );
}

/// Spin: `crates/factors/src/runtime_config/toml.rs` — unused top-level keys are an error.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_runtime_config_key_refuses_start_up() {
    let err = load_error(&manifest(""), Some("[nonsense]\nx = 1\n"), &[]).await;
    assert!(
        err.contains("unused runtime config key(s): nonsense"),
        "{err}"
    );
}

/// Spin: `allowed_hosts.rs` — an entry without a scheme is malformed.
#[tokio::test(flavor = "multi_thread")]
async fn allowed_outbound_host_without_scheme_refuses_start_up() {
    let text = manifest("").replace(
        "allowed_outbound_hosts = [\"mysql://{{ db_host }}\"",
        "allowed_outbound_hosts = [\"127.0.0.1:3306\"",
    );
    let err = load_error(&text, Some(RUNTIME_CONFIG), &[]).await;
    assert!(
        err.contains("`allowed_outbound_hosts` is malformed"),
        "{err}"
    );
    assert!(
        err.contains("does not contain a scheme (e.g., 'http://' or '*://')"),
        "{err}"
    );
}

// ---------------------------------------------------------------- mysql

async fn server_connections() -> u64 {
    use mysql_async::prelude::Queryable;
    let mut conn = mysql_async::Conn::from_url("mysql://root@127.0.0.1:3306/test")
        .await
        .unwrap();
    let row: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Connections'")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    row.unwrap().1.parse().unwrap()
}

/// Spin: `crates/factor-outbound-mysql/src/client.rs` — typed columns and values; an
/// address not allowed is `connection-failed("address … is not permitted")`.
#[tokio::test(flavor = "multi_thread")]
async fn mysql_queries_the_real_database_and_enforces_allowed_hosts() {
    let app = start().await;
    let body = app
        .text("/hello/mysql?sql=SELECT%2042%20AS%20n,%20'x'%20AS%20s,%20CAST(7%20AS%20UNSIGNED)%20AS%20u")
        .await;
    assert_eq!(
        body,
        "columns [\"n:DbDataType::Int32\", \"s:DbDataType::Str\", \"u:DbDataType::Uint32\"] rows [\"[DbValue::Int32(42), DbValue::Str(\\\"x\\\"), DbValue::Uint32(7)]\"]"
    );
    assert_eq!(
        app.text("/hello/mysql?address=mysql://probe:probe@10.0.0.1/probe")
            .await,
        "open Err(MysqlError(Error::ConnectionFailed(\"address mysql://probe:probe@10.0.0.1/probe is not permitted\")))"
    );
    let body = app.text("/hello/mysql?sql=SELECT%20NOW()%20AS%20t").await;
    assert!(body.contains("ValueConversionFailed"), "{body}");
}

/// Real Spin opens two server connections per `Connection::open` (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn each_open_makes_new_server_connections_as_spin_does() {
    let app = start().await;
    app.text("/hello/mysql").await; // warm the instance
    let before = server_connections().await;
    for _ in 0..5 {
        assert!(app.text("/hello/mysql").await.contains("rows"));
    }
    let after = server_connections().await;
    // +1 for our own measuring connection.
    let per_open = (after - before - 1) as f64 / 5.0;
    assert!(
        per_open >= 1.0,
        "each open must connect anew, got {per_open}"
    );
}

// ---------------------------------------------------------------- instances

/// Spin: `crates/trigger-http/src/server.rs` `HttpWorkerState` — one p3 instance serves 128
/// sequential requests (static state survives), then a new instance starts.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_serves_128_sequential_requests_then_is_replaced() {
    let app = start().await;
    let client = reqwest::Client::new();
    for expected in 1..=128u32 {
        let n: u32 = client
            .get(app.url("/hello/counter"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(n, expected);
    }
    let n: u32 = client
        .get(app.url("/hello/counter"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n, 1);
}

/// Spin: `HttpWorkerExpiration` — an instance idle for the 1 s timeout is dropped.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_instance_expires_after_one_second() {
    let app = start().await;
    assert_eq!(app.text("/hello/counter").await, "1");
    assert_eq!(app.text("/hello/counter").await, "2");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(app.text("/hello/counter").await, "1");
}

/// Up to 16 requests run concurrently in one instance; all complete.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_are_all_served() {
    let app = Arc::new(start().await);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.get("/hello/sleep?ms=50").await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

/// Spin: `HttpWorkerState::should_accept_request` — one instance takes at most 16 requests at
/// once; more concurrent requests start further instances.
#[tokio::test(flavor = "multi_thread")]
async fn one_instance_takes_at_most_16_concurrent_requests() {
    let app = Arc::new(start().await);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.text("/hello/sleep-count?ms=500")
                .await
                .parse::<u32>()
                .unwrap()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    assert!(
        seen.iter().all(|n| *n <= 16),
        "an instance took more than 16: {seen:?}"
    );
    assert!(seen.iter().filter(|n| **n == 1).count() >= 2, "{seen:?}");
}

/// Guest output goes to `.spin/logs/<component>_stdout.txt` / `_stderr.txt`
/// (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn guest_stdout_and_stderr_are_logged_per_component() {
    let app = start().await;
    assert_eq!(app.text("/hello/print").await, "printed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = std::fs::read_to_string(app.dir.path().join(".spin/logs/probe_stdout.txt")).unwrap();
    let err = std::fs::read_to_string(app.dir.path().join(".spin/logs/probe_stderr.txt")).unwrap();
    assert!(out.contains("probe stdout line"), "{out}");
    assert!(err.contains("probe stderr line"), "{err}");
}

// ---------------------------------------------------------------- bad input

async fn raw(app: &TestApp, request: &[u8]) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A garbage request line gets `400` and the connection is closed (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn malformed_request_line_is_400_and_closed() {
    let app = start().await;
    let resp = raw(&app, b"THIS IS NOT HTTP\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    // and the host still serves
    assert_eq!(app.get("/hello/x").await.status(), 200);
}

/// A 200 KB header is accepted; a body on GET is passed through; HEAD works; a 50 MB body to a
/// handler that never reads it is answered 200 (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn large_headers_bodies_on_get_head_and_huge_bodies_are_handled() {
    let app = start().await;
    let client = reqwest::Client::new();
    let big = "a".repeat(200 * 1024);
    let resp = client
        .get(app.url("/hello/x"))
        .header("x-big", big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .get(app.url("/hello/body"))
        .body("12345")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "5");
    let resp = client.head(app.url("/hello/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Like curl: send the 50 MB body while reading the response; the handler answers
    // without reading it, so the write side may be cut short — the answer must be 200.
    let addr = app.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST /hello/ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            50 * 1024 * 1024
        );
        let _ = wr.write_all(head.as_bytes()).await;
        let chunk = vec![0u8; 1024 * 1024];
        for _ in 0..50 {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    writer.abort();
    assert_eq!(app.get("/hello/x").await.status(), 200);
}

/// HTTP/2 with prior knowledge (h2c) works (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn http2_prior_knowledge_is_served() {
    let app = start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = client.get(app.url("/hello/x")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "probe /x");
}

/// Responses carry `date`; a guest that sets no length is sent chunked (`docs/spin-fidelity.md`).
#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_date_and_stream_chunked() {
    let app = start().await;
    let resp = raw(
        &app,
        b"GET /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("\r\ndate: "), "{resp}");
    assert!(lower.contains("transfer-encoding: chunked"), "{resp}");
}
