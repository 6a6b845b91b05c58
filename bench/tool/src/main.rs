//! `orderly-bench <command>` — what `bench/api.sh` needs besides wrk:
//!
//! - `token <pem-file> <kid> <issuer> <audience> <sub> <client_id> <scope>`: prints an access
//!   token signed with the dev key (so the benchmark needs no browser login).
//! - `fixture <admin-url> <db>`: creates a product with a huge stock and prints `<product-id>
//!   <demo-user-id>` (the demo user must exist: `cargo xtask up` seeds it).
//! - `connections <admin-url>`: prints MariaDB's `Connections` counter.
//! - `ceiling <url> <scenario> <concurrency> <secs> <product-id> <user-id>`: the same SQL the
//!   components issue for `get`, `list` or `order`, from a native `mysql_async` pool of
//!   `concurrency` connections, as fast as it goes; prints requests/s and latency percentiles.
//! - `argon2 <secs>`: Argon2id verifications per second natively with Orderly's parameters.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, Params, Pool, PoolConstraints, PoolOpts, Value};

/// Every data statement of the components runs under this prefix (crates/store `Timed`).
const TIMED: &str = "SET STATEMENT max_statement_time=2 FOR ";

/// `epoch_micros!(col)` of crates/store, for the columns the components read.
const PRODUCT_COLUMNS: &str = "id, sku, name, description, price_minor, currency, stock, status, version, \
     CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at) AS SIGNED), \
     CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', updated_at) AS SIGNED)";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("token") => token(&args[1..]),
        Some("fixture") => rt.block_on(fixture(&args[1..])),
        Some("connections") => rt.block_on(connections(&args[1..])),
        Some("ceiling") => rt.block_on(ceiling(&args[1..])),
        Some("argon2") => argon2(&args[1..]),
        _ => bail!("usage: orderly-bench token|fixture|connections|ceiling|argon2 …"),
    }
}

fn arg<'a>(args: &'a [String], i: usize, name: &str) -> Result<&'a str> {
    args.get(i)
        .map(String::as_str)
        .with_context(|| format!("missing argument <{name}>"))
}

fn token(args: &[String]) -> Result<()> {
    let pem = std::fs::read_to_string(arg(args, 0, "pem-file")?)?;
    let key = tokens::SigningKey::from_config(&pem, Some(arg(args, 1, "kid")?))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = tokens::AccessClaims::new(
        arg(args, 2, "issuer")?,
        arg(args, 4, "sub")?,
        arg(args, 3, "audience")?,
        arg(args, 5, "client_id")?,
        tokens::ScopeSet::parse(arg(args, 6, "scope")?)?,
        tokens::random_jti()?,
        now,
    );
    println!("{}", tokens::issue_access_token(&key, &claims)?);
    Ok(())
}

async fn fixture(args: &[String]) -> Result<()> {
    let url = format!("{}/{}", arg(args, 0, "admin-url")?, arg(args, 1, "db")?);
    let pool = Pool::new(Opts::from_url(&url)?);
    let mut conn = pool.get_conn().await?;
    let id = uuid::Uuid::now_v7();
    let sku = format!(
        "BENCH-{}",
        id.simple().to_string()[20..].to_ascii_uppercase()
    );
    conn.exec_drop(
        "INSERT INTO products (id, sku, name, description, price_minor, currency, stock, status) \
         VALUES (?, ?, 'Benchmark widget', 'A product for the benchmark', 1999, 'EUR', 1000000000, 'active')",
        (id.as_bytes().to_vec(), sku),
    )
    .await?;
    let user: Option<Vec<u8>> = conn
        .exec_first(
            "SELECT id FROM users WHERE email LIKE 'demo@%' ORDER BY created_at LIMIT 1",
            (),
        )
        .await?;
    let user = user.context("no demo user: run `cargo xtask up` once to seed it")?;
    println!("{} {}", id, uuid::Uuid::from_slice(&user)?);
    drop(conn);
    pool.disconnect().await?;
    Ok(())
}

async fn connections(args: &[String]) -> Result<()> {
    let pool = Pool::new(Opts::from_url(arg(args, 0, "admin-url")?)?);
    let mut conn = pool.get_conn().await?;
    let row: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Connections'")
        .await?;
    println!("{}", row.context("no Connections counter")?.1);
    drop(conn);
    pool.disconnect().await?;
    Ok(())
}

async fn ceiling(args: &[String]) -> Result<()> {
    let url = arg(args, 0, "url")?;
    let scenario = arg(args, 1, "scenario")?.to_owned();
    let concurrency: usize = arg(args, 2, "concurrency")?.parse()?;
    let secs: u64 = arg(args, 3, "secs")?.parse()?;
    let product = uuid::Uuid::parse_str(arg(args, 4, "product-id")?)?;
    let user = uuid::Uuid::parse_str(arg(args, 5, "user-id")?)?;
    let constraints = PoolConstraints::new(concurrency, concurrency).context("pool size")?;
    let opts = mysql_async::OptsBuilder::from_opts(Opts::from_url(url)?)
        .pool_opts(PoolOpts::default().with_constraints(constraints));
    let pool = Pool::new(opts);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let scenario = scenario.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut conn = pool.get_conn().await?;
            while Instant::now() < deadline {
                let started = Instant::now();
                match scenario.as_str() {
                    "get" => get(&mut conn, product).await?,
                    "list" => list(&mut conn).await?,
                    "order" => order(&mut conn, product, user).await?,
                    other => bail!("unknown scenario {other}"),
                }
                latencies.push(started.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    pool.disconnect().await?;
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1));
        all.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{scenario}: {:.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} requests, {concurrency} pooled connections)",
        all.len() as f64 / secs as f64,
        pct(0.50),
        pct(0.99),
        all.len()
    );
    Ok(())
}

async fn get(conn: &mut mysql_async::Conn, product: uuid::Uuid) -> Result<()> {
    let sql = format!("{TIMED}SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ? LIMIT 1");
    let rows: Vec<mysql_async::Row> = conn.exec(sql, (product.as_bytes().to_vec(),)).await?;
    anyhow::ensure!(rows.len() == 1, "product missing");
    Ok(())
}

async fn list(conn: &mut mysql_async::Conn) -> Result<()> {
    // products' first page: status filter, newest first, limit 20 (+1 to see a next page).
    let sql = format!(
        "{TIMED}SELECT {PRODUCT_COLUMNS} FROM products WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT 21"
    );
    let _rows: Vec<mysql_async::Row> = conn.exec(sql, ("active",)).await?;
    Ok(())
}

async fn order(conn: &mut mysql_async::Conn, product: uuid::Uuid, user: uuid::Uuid) -> Result<()> {
    let pid = product.as_bytes().to_vec();
    let order = uuid::Uuid::now_v7().as_bytes().to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as i64;
    let from_micros = "TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00')";
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    tx.exec_drop(
        format!(
            "{TIMED}UPDATE products SET stock = stock - ?, version = version + 1 WHERE id = ? AND stock >= ? AND status = 'active'"
        ),
        (1, pid.clone(), 1),
    )
    .await?;
    let _rows: Vec<mysql_async::Row> = tx
        .exec(
            format!(
                "{TIMED}SELECT id, sku, name, price_minor, currency FROM products WHERE id IN (?)"
            ),
            (pid.clone(),),
        )
        .await?;
    tx.exec_drop(
        format!(
            "{TIMED}INSERT INTO orders (id, user_id, status, currency, total_minor, version, created_at, updated_at) \
             VALUES (?, ?, 'pending', 'EUR', 1999, 1, {from_micros}, {from_micros})"
        ),
        Params::Positional(vec![
            Value::from(order.clone()),
            Value::from(user.as_bytes().to_vec()),
            Value::from(now),
            Value::from(now),
        ]),
    )
    .await?;
    tx.exec_drop(
        format!(
            "{TIMED}INSERT INTO order_items (order_id, line_no, product_id, sku, name, unit_price_minor, currency, quantity) \
             VALUES (?, 1, ?, 'BENCH', 'Benchmark widget', 1999, 'EUR', 1)"
        ),
        (order, pid),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn argon2(args: &[String]) -> Result<()> {
    let secs: u64 = arg(args, 0, "secs")?.parse()?;
    let hash = credentials::hash_secret("correct horse battery staple")?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u64;
    while Instant::now() < deadline {
        anyhow::ensure!(credentials::verify_secret(
            "correct horse battery staple",
            &hash
        )?);
        n += 1;
    }
    println!(
        "argon2id (m={} KiB, t={}, p={}) native, one core: {:.1} verifications/s",
        credentials::MEMORY_KIB,
        credentials::ITERATIONS,
        credentials::PARALLELISM,
        n as f64 / secs as f64
    );
    Ok(())
}
