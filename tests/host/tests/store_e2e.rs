//! The `store` crate end to end: the real crate inside a real spin-sdk 7 component
//! (`test-components/store-probe`), run by this host against the real MariaDB
//! (127.0.0.1:3306, root) and the real Redis (the breaker's shared store, through outbound
//! Redis).
//!
//! Each test creates its own database `store_e2e_<random>` with a table
//! `items (id, sku UNIQUE uq_items_sku, stock)`, starts the host with the probe's
//! `db_url` pointing at it, calls the probe, checks the typed result it reports *and*
//! what the database holds afterwards, then drops the database (and its breaker keys).
//!
//! The `.wasm` is built by `cargo xtask test` (or `cargo build --target wasm32-wasip2
//! --release -p store-probe`) before these tests run.
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
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use orderly_host::{App, AppOptions, ReuseConfig, RunningServer};
use support::{RUNTIME_CONFIG, wasm};

const SERVER: &str = "mysql://root@127.0.0.1:3306";
const REDIS: &str = "redis://127.0.0.1:6379";

/// A database of the test's own, dropped (with the breaker keys named after it) when the
/// test ends, failed or not.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> Self {
        let name = format!("store_e2e_{:016x}", rand::random::<u64>());
        let mut conn = mysql_async::Conn::from_url(format!("{SERVER}/"))
            .await
            .unwrap();
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .unwrap();
        conn.query_drop(format!(
            "CREATE TABLE `{name}`.items (
                 id BIGINT NOT NULL PRIMARY KEY,
                 sku VARCHAR(64) NOT NULL,
                 stock BIGINT NOT NULL,
                 CONSTRAINT uq_items_sku UNIQUE (sku)
             ) ENGINE = InnoDB"
        ))
        .await
        .unwrap();
        conn.disconnect().await.unwrap();
        Self { name }
    }

    fn breaker(&self) -> String {
        format!("breaker:{}", self.name)
    }

    async fn conn(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(format!("{SERVER}/{}", self.name))
            .await
            .unwrap()
    }

    async fn exec(&self, sql: &str) {
        let mut conn = self.conn().await;
        conn.query_drop(sql).await.unwrap();
        conn.disconnect().await.unwrap();
    }

    /// `(id, sku, stock)` of every item, by id, read on a fresh connection.
    async fn items(&self) -> Vec<(i64, String, i64)> {
        let mut conn = self.conn().await;
        let rows = conn
            .query("SELECT id, sku, stock FROM items ORDER BY id")
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        rows
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let breaker = self.breaker();
        // Drop runs inside the test's runtime: clean up on a thread with its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) = mysql_async::Conn::from_url(format!("{SERVER}/")).await {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = conn.disconnect().await;
                }
                if let Ok(client) = redis::Client::open(REDIS)
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{breaker}:*"))
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The host serving the store probe on `/store/...` against `db`.
struct TestApp {
    server: Option<RunningServer>,
    base: String,
    breaker: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _app: Arc<App>,
}

impl TestApp {
    async fn start(db: &TestDb) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            r#"
spin_manifest_version = 2
[application]
name = "store-e2e"

[[trigger.http]]
route = "/store/..."
component = "store-probe"

[component.store-probe]
source = "{source}"
key_value_stores = ["default"]
allowed_outbound_hosts = ["mysql://127.0.0.1:3306", "redis://127.0.0.1:6379"]
[component.store-probe.variables]
db_url = "mysql://root@127.0.0.1:3306/{db}"
redis_url = "redis://127.0.0.1:6379"
"#,
            source = wasm("store_probe").display(),
            db = db.name,
        );
        std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
        let runtime_config = dir.path().join("runtime-config.toml");
        std::fs::write(&runtime_config, RUNTIME_CONFIG).unwrap();
        let opts = AppOptions {
            manifest: dir.path().join("spin.toml"),
            runtime_config: Some(runtime_config),
            state_dir: None,
            env: HashMap::new(),
            reuse: ReuseConfig::default(),
            cache_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/host-cache")),
        };
        let app = App::load(&opts).await.unwrap();
        let server = orderly_host::serve(app.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            base: format!("http://{}", server.addr),
            server: Some(server),
            breaker: db.breaker(),
            client: reqwest::Client::new(),
            _dir: dir,
            _app: app,
        }
    }

    /// GET `/store/{op}?{query}` (plus this test's breaker name): the probe's answer.
    async fn call(&self, op: &str, query: &str) -> String {
        let url = format!("{}/store/{op}?{query}&breaker={}", self.base, self.breaker);
        let resp = self.client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        resp.text().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

async fn setup() -> (TestDb, TestApp) {
    let db = TestDb::create().await;
    let app = TestApp::start(&db).await;
    (db, app)
}

fn item(id: i64, sku: &str, stock: i64) -> (i64, String, i64) {
    (id, sku.to_string(), stock)
}

// ---------------------------------------------------------------- constraint errors

/// MariaDB 1062 on `uq_items_sku` becomes `Conflict` naming the key; the failed insert
/// leaves nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn unique_violation_is_a_conflict_naming_the_constraint_and_adds_nothing() {
    let (db, app) = setup().await;
    assert_eq!(app.call("insert", "id=1&sku=a&stock=5").await, "Ok(())");
    assert_eq!(
        app.call("conflict", "id=2&sku=a&stock=7").await,
        r#"Err(Conflict { constraint: Some("uq_items_sku") })"#
    );
    assert_eq!(db.items().await, vec![item(1, "a", 5)]);
}

/// A duplicate primary key is a `Conflict` on `PRIMARY`, and the original row is intact.
#[tokio::test(flavor = "multi_thread")]
async fn duplicate_primary_key_is_a_conflict_on_primary_and_changes_nothing() {
    let (db, app) = setup().await;
    assert_eq!(app.call("insert", "id=1&sku=a&stock=5").await, "Ok(())");
    assert_eq!(
        app.call("conflict", "id=1&sku=b&stock=7").await,
        r#"Err(Conflict { constraint: Some("PRIMARY") })"#
    );
    assert_eq!(db.items().await, vec![item(1, "a", 5)]);
}

// ---------------------------------------------------------------- transactions

/// Both statements of a committed transaction are there afterwards, seen from another
/// connection.
#[tokio::test(flavor = "multi_thread")]
async fn committed_transaction_is_persisted() {
    let (db, app) = setup().await;
    assert_eq!(
        app.call("tx-commit", "id=1&sku=a&id2=2&sku2=b&stock=3")
            .await,
        "Ok(())"
    );
    assert_eq!(db.items().await, vec![item(1, "a", 3), item(2, "b", 3)]);
}

/// An explicit `ROLLBACK` leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn rolled_back_transaction_leaves_nothing() {
    let (db, app) = setup().await;
    assert_eq!(
        app.call("tx-rollback", "id=1&sku=a&id2=2&sku2=b&stock=3")
            .await,
        "Ok(())"
    );
    assert!(db.items().await.is_empty());
    // The locks went with it: the same keys insert at once.
    assert_eq!(app.call("insert", "id=1&sku=a&stock=4").await, "Ok(())");
    assert_eq!(db.items().await, vec![item(1, "a", 4)]);
}

/// A transaction dropped without `commit`/`rollback` is rolled back: its rows never
/// appear, and its row locks do not outlive it (the same keys insert right after).
#[tokio::test(flavor = "multi_thread")]
async fn abandoned_transaction_is_rolled_back() {
    let (db, app) = setup().await;
    assert_eq!(
        app.call("tx-abandon", "id=1&sku=a&id2=2&sku2=b&stock=3")
            .await,
        "Ok(())"
    );
    assert!(db.items().await.is_empty());
    assert_eq!(app.call("insert", "id=1&sku=a&stock=4").await, "Ok(())");
    assert_eq!(app.call("stock", "id=1").await, "Ok(Some(4))");
    assert_eq!(db.items().await, vec![item(1, "a", 4)]);
}

/// A conflict inside a transaction ends it: the statement before it is not kept.
#[tokio::test(flavor = "multi_thread")]
async fn conflict_inside_a_transaction_keeps_none_of_it() {
    let (db, app) = setup().await;
    db.exec("INSERT INTO items VALUES (9, 'b', 1)").await;
    assert_eq!(
        app.call("tx-commit", "id=1&sku=a&id2=2&sku2=b&stock=3")
            .await,
        r#"Err(Conflict { constraint: Some("uq_items_sku") })"#
    );
    assert_eq!(db.items().await, vec![item(9, "b", 1)]);
    // The instance's connection is usable (and clean) afterwards.
    assert_eq!(app.call("insert", "id=1&sku=a&stock=4").await, "Ok(())");
    assert_eq!(db.items().await, vec![item(1, "a", 4), item(9, "b", 1)]);
}

// ---------------------------------------------------------------- statement timeout

/// `SELECT SLEEP(2)` under a 100 ms `max_statement_time` is cut short: `Timeout`, well
/// before the two seconds.
#[tokio::test(flavor = "multi_thread")]
async fn statement_over_max_statement_time_is_a_timeout() {
    let (_db, app) = setup().await;
    let started = Instant::now();
    let body = app.call("timeout", "timeout_ms=100&sleep_ms=2000").await;
    let took = started.elapsed();
    assert!(body.starts_with("Err(Timeout {"), "{body}");
    assert!(took < Duration::from_millis(1_500), "took {took:?}: {body}");
    // Under the limit the same statement answers.
    assert_eq!(
        app.call("timeout", "timeout_ms=2000&sleep_ms=10").await,
        "Ok(Some(0))"
    );
}

/// A write cut by the statement timeout changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn write_over_max_statement_time_is_a_timeout_and_changes_nothing() {
    let (db, app) = setup().await;
    db.exec("INSERT INTO items VALUES (1, 'a', 5)").await;
    let body = app
        .call("timeout-update", "id=1&timeout_ms=100&sleep_ms=2000")
        .await;
    assert!(body.starts_with("Err(Timeout {"), "{body}");
    assert_eq!(db.items().await, vec![item(1, "a", 5)]);
}

// ---------------------------------------------------------------- affected rows

/// `execute_affected` counts the rows an `UPDATE` changed, and 0 when none match.
#[tokio::test(flavor = "multi_thread")]
async fn execute_affected_counts_the_rows_changed() {
    let (db, app) = setup().await;
    db.exec("INSERT INTO items VALUES (1, 'a', 5), (2, 'b', 0), (3, 'c', 10)")
        .await;
    assert_eq!(app.call("affected", "add=1&min=5").await, "Ok(2)");
    assert_eq!(
        db.items().await,
        vec![item(1, "a", 6), item(2, "b", 0), item(3, "c", 11)]
    );
    assert_eq!(app.call("affected", "add=1&min=100").await, "Ok(0)");
    assert_eq!(app.call("affected", "add=2&min=0").await, "Ok(3)");
    assert_eq!(
        db.items().await,
        vec![item(1, "a", 8), item(2, "b", 2), item(3, "c", 13)]
    );
}

/// The oversell guard: 50 concurrent `stock = stock - 1 … AND stock >= 1` on stock 20 —
/// exactly 20 change a row, 30 change none, and the stock ends at 0.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_guarded_decrements_never_oversell() {
    let (db, app) = setup().await;
    db.exec("INSERT INTO items VALUES (1, 'a', 20)").await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.call("decrement", "id=1").await })
        })
        .collect();
    let mut answers: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        *answers.entry(t.await.unwrap()).or_default() += 1;
    }
    assert_eq!(
        answers,
        HashMap::from([("Ok(1)".to_string(), 20), ("Ok(0)".to_string(), 30)])
    );
    assert_eq!(db.items().await, vec![item(1, "a", 0)]);
    assert_eq!(app.call("stock", "id=1").await, "Ok(Some(0))");
}

// ---------------------------------------------------------------- circuit breaker

/// Two statement timeouts open a threshold-2 breaker kept in Redis; the next call is
/// `Unavailable` without reaching the database (the insert is not there).
#[tokio::test(flavor = "multi_thread")]
async fn breaker_opens_after_counted_failures_and_keeps_calls_off_the_database() {
    let (db, app) = setup().await;
    for _ in 0..2 {
        let body = app.call("breaker", "threshold=2&op=sleep").await;
        assert!(body.starts_with("Err(Timeout {"), "{body}");
    }
    let body = app
        .call("breaker", "threshold=2&op=insert&id=1&sku=a&stock=1")
        .await;
    assert!(
        body.starts_with("Err(Unavailable { retry_after_secs: "),
        "{body}"
    );
    assert!(db.items().await.is_empty());
    // Written through Spin's outbound Redis, every breaker key carries an expiry.
    let mut redis = redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", db.breaker()))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(keys.iter().any(|k| k.ends_with(":open_until")), "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{key}: PTTL {ttl}");
    }
}

/// Constraint violations are the caller's fault: they do not open the breaker.
#[tokio::test(flavor = "multi_thread")]
async fn conflicts_do_not_open_the_breaker() {
    let (db, app) = setup().await;
    assert_eq!(
        app.call("breaker", "threshold=2&op=insert&id=1&sku=a&stock=1")
            .await,
        "Ok(())"
    );
    for id in 2..5 {
        assert_eq!(
            app.call(
                "breaker",
                &format!("threshold=2&op=insert&id={id}&sku=a&stock=1")
            )
            .await,
            r#"Err(Conflict { constraint: Some("uq_items_sku") })"#
        );
    }
    assert_eq!(
        app.call("breaker", "threshold=2&op=insert&id=5&sku=b&stock=1")
            .await,
        "Ok(())"
    );
    assert_eq!(db.items().await, vec![item(1, "a", 1), item(5, "b", 1)]);
}
