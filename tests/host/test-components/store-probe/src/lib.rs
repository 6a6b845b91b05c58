//! A test component for the store's end-to-end tests (`tests/host/tests/store_e2e.rs`).
//! Each path runs the real `store` crate (`Guarded` over `SpinMysql`, `SpinShared`,
//! `SpinRuntime`) against the table `items (id, sku, stock)` that the test created in the
//! database named by the `db_url` variable, and answers with the typed result as plain
//! text (`{:?}`), e.g. `Err(Conflict { constraint: Some("uq_items_sku") })`.
#![forbid(unsafe_code)]

use std::time::Duration;

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_service;
use store::spin::{SpinMysql, SpinRuntime, SpinShared};
use store::{
    Breaker, BreakerConfig, Database, Guarded, Idempotency, StatementTimeout, StoreError,
    Transaction, Transactional, Value,
};

type Store = Guarded<SpinMysql<store::spin::FromVariable>, SpinShared, SpinRuntime>;

fn text(body: String) -> Response<String> {
    Response::new(body)
}

/// The value of `key` in the query string (tests send plain ASCII: no decoding).
fn param(req: &Request, key: &str) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| v.to_string())
        })
    })
}

fn int(req: &Request, key: &str, default: i64) -> i64 {
    param(req, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The store as a repository builds it; the breaker's key prefix comes from `breaker`
/// (one per test) so tests never share breaker state in Redis.
fn store(req: &Request, config: impl FnOnce(&mut BreakerConfig)) -> Store {
    let name = param(req, "breaker").unwrap_or_else(|| "breaker:store-probe".to_string());
    let mut cfg = BreakerConfig::new(name);
    config(&mut cfg);
    Guarded::new(
        SpinMysql::from_variable("db_url"),
        Breaker::new(SpinShared::new(), cfg),
        SpinRuntime::default(),
    )
}

fn timeout(req: &Request) -> Result<StatementTimeout, String> {
    let ms = u32::try_from(int(req, "timeout_ms", 2_000)).map_err(|e| format!("{e}"))?;
    StatementTimeout::from_millis(ms).map_err(|e| format!("{e:?}"))
}

const INSERT: &str = "INSERT INTO items (id, sku, stock) VALUES (?, ?, ?)";

fn item(req: &Request, id_key: &str, sku_key: &str) -> [Value; 3] {
    [
        Value::from(int(req, id_key, 0)),
        Value::from(param(req, sku_key).unwrap_or_default()),
        Value::from(int(req, "stock", 0)),
    ]
}

/// `INSERT` one item (not idempotent: tried once).
async fn insert(req: &Request) -> Result<(), StoreError> {
    store(req, |_| ())
        .execute(Idempotency::Unsafe, INSERT, &item(req, "id", "sku"))
        .await
}

/// Two inserts in one transaction; `end` says how it finishes: `commit`, `rollback`, or
/// `abandon` (the transaction is dropped without either).
async fn transaction(req: &Request, end: &str) -> Result<(), StoreError> {
    let s = store(req, |_| ());
    let first = item(req, "id", "sku");
    let second = item(req, "id2", "sku2");
    s.run(Idempotency::Unsafe, |db| {
        let (first, second) = (first.clone(), second.clone());
        async move {
            let tx = db.begin().await?;
            tx.execute(INSERT, &first).await?;
            tx.execute(INSERT, &second).await?;
            match end {
                "commit" => tx.commit().await,
                "rollback" => tx.rollback().await,
                _ => {
                    drop(tx);
                    Ok(())
                }
            }
        }
    })
    .await
}

/// `SELECT SLEEP(?)` under a `timeout_ms` statement timeout.
async fn sleep(req: &Request) -> Result<Option<i64>, StoreError> {
    let limit = timeout(req).map_err(|e| StoreError::other(&e))?;
    let secs = f64::from(u32::try_from(int(req, "sleep_ms", 2_000)).unwrap_or(2_000)) / 1_000.0;
    let row = store(req, |_| ())
        .with_timeout(limit)
        .query_opt("SELECT SLEEP(?)", &[Value::from(secs)])
        .await?;
    row.map(|r| r.get::<i64>(0)).transpose()
}

/// An `UPDATE` of item `id` to stock 99 that sleeps `sleep_ms` per row, under a
/// `timeout_ms` statement timeout: the rows changed.
async fn slow_update(req: &Request) -> Result<u64, StoreError> {
    let limit = timeout(req).map_err(|e| StoreError::other(&e))?;
    let secs = f64::from(u32::try_from(int(req, "sleep_ms", 2_000)).unwrap_or(2_000)) / 1_000.0;
    store(req, |_| ())
        .with_timeout(limit)
        .execute_affected(
            Idempotency::Unsafe,
            "UPDATE items SET stock = 99 WHERE id = ? AND SLEEP(?) = 0",
            &[Value::from(int(req, "id", 0)), Value::from(secs)],
        )
        .await
}

/// `UPDATE items SET stock = stock + ? WHERE stock >= ?`: the rows changed.
async fn restock(req: &Request) -> Result<u64, StoreError> {
    store(req, |_| ())
        .execute_affected(
            Idempotency::Unsafe,
            "UPDATE items SET stock = stock + ? WHERE stock >= ?",
            &[
                Value::from(int(req, "add", 1)),
                Value::from(int(req, "min", 0)),
            ],
        )
        .await
}

/// The oversell guard: takes one from `id` only while stock is left.
async fn decrement(req: &Request) -> Result<u64, StoreError> {
    store(req, |_| ())
        .execute_affected(
            Idempotency::Unsafe,
            "UPDATE items SET stock = stock - 1 WHERE id = ? AND stock >= 1",
            &[Value::from(int(req, "id", 0))],
        )
        .await
}

/// Typed read of one item's stock.
async fn stock(req: &Request) -> Result<Option<i64>, StoreError> {
    let row = store(req, |_| ())
        .query_opt(
            "SELECT stock FROM items WHERE id = ? LIMIT 1",
            &[Value::from(int(req, "id", 0))],
        )
        .await?;
    row.map(|r| r.get::<i64>(0)).transpose()
}

/// One statement through a breaker that opens after `threshold` counted failures:
/// `op=sleep` runs `SELECT SLEEP(1)` under a 100 ms timeout (a counted failure),
/// `op=insert` inserts an item.
async fn breaker(req: &Request) -> String {
    let threshold = u32::try_from(int(req, "threshold", 2)).unwrap_or(2);
    let s = store(req, |c| {
        c.failure_threshold = threshold;
        c.window = Duration::from_secs(60);
        c.open_for = Duration::from_secs(30);
    });
    match param(req, "op").as_deref() {
        Some("insert") => format!(
            "{:?}",
            s.execute(Idempotency::Unsafe, INSERT, &item(req, "id", "sku"))
                .await
        ),
        _ => match StatementTimeout::from_millis(100) {
            Ok(limit) => format!(
                "{:?}",
                s.with_timeout(limit)
                    .query_opt("SELECT SLEEP(1)", &[])
                    .await
                    .map(|_| ())
            ),
            Err(e) => format!("{e:?}"),
        },
    }
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let path = req
        .headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| req.uri().path().to_string());
    let op = path.rsplit('/').next().unwrap_or("").to_string();
    let body = match op.as_str() {
        "insert" | "conflict" => format!("{:?}", insert(&req).await),
        "tx-commit" => format!("{:?}", transaction(&req, "commit").await),
        "tx-rollback" => format!("{:?}", transaction(&req, "rollback").await),
        "tx-abandon" => format!("{:?}", transaction(&req, "abandon").await),
        "timeout" => format!("{:?}", sleep(&req).await),
        "timeout-update" => format!("{:?}", slow_update(&req).await),
        "affected" => format!("{:?}", restock(&req).await),
        "decrement" => format!("{:?}", decrement(&req).await),
        "stock" => format!("{:?}", stock(&req).await),
        "breaker" => breaker(&req).await,
        other => format!("unknown path {other:?}"),
    };
    text(body)
}
