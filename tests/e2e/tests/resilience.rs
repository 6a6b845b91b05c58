//! docs/standards.md §12 / issue 4: with MariaDB gone, the catalogue and order routes answer 503 +
//! `Retry-After` fast (the breaker, state in the shared store, is open) and recover by
//! themselves when it returns, with no acknowledged order lost.
//!
//! "MariaDB stopped" is a TCP proxy in front of the real server that the test closes (every
//! connection dropped, the port refusing) and reopens on the same port: stopping the shared
//! server itself would break every other test running in parallel. The app under test reaches
//! MariaDB only through the proxy (`db_host` and the products/orders URLs point at it).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use orderly_e2e::orders::{admin_pool, insert_product, insert_user, order_body, token};
use orderly_e2e::{Settings, TestApp, spawn_app_with};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const MARIADB: &str = "127.0.0.1:3306";

/// A TCP proxy to MariaDB that can be taken down and brought back on the same port.
struct Proxy {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(addr: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(addr).await.context("proxy bind")?;
        let addr = listener.local_addr()?;
        let (shutdown, watching) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, watching));
        Ok(Self {
            addr,
            shutdown,
            task: Some(task),
        })
    }

    /// Closes the listener and every proxied connection.
    async fn down(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let mut pipes = Vec::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((mut client, _)) = accepted else { break };
                let mut stop = shutdown.clone();
                pipes.push(tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(MARIADB).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = stop.changed() => {}
                    }
                    let _ = client.shutdown().await;
                    let _ = server.shutdown().await;
                }));
            }
        }
    }
    drop(listener);
    for pipe in pipes {
        let _ = pipe.await;
    }
}

/// `url` through the proxy. `prefer_socket=false`: mysql_async (in Spin and in our host)
/// otherwise switches a loopback TCP connection to MariaDB's unix socket after the
/// handshake, which would bypass the proxy.
fn through(url: &str, proxy: SocketAddr) -> String {
    let url = url.replace(MARIADB, &proxy.to_string());
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}prefer_socket=false")
}

async fn app_behind(proxy: SocketAddr) -> Result<TestApp> {
    let mut settings = Settings::default().variable("db_host", &proxy.to_string());
    for name in [
        "SPIN_VARIABLE_PRODUCTS_DB_URL",
        "SPIN_VARIABLE_ORDERS_DB_URL",
    ] {
        let url = settings.variables.get(name).context("db url")?.to_string();
        anyhow::ensure!(
            url.contains(MARIADB),
            "expected the test URLs to name {MARIADB}"
        );
        settings
            .variables
            .insert(name.to_string(), through(&url, proxy));
    }
    spawn_app_with(settings).await
}

async fn place(app: &TestApp, user: &str, token: &str, product: &str) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url(&format!("/api/v1/users/{user}/orders")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(order_body(&[(product, 1)]))
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_mariadb_gone_routes_answer_503_fast_and_recover_without_losing_orders() -> Result<()>
{
    let mut proxy = Proxy::start("127.0.0.1:0".parse()?).await?;
    let app = app_behind(proxy.addr).await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 500, "EUR", 1000, "active").await?;
    let token = token(&app, &user, "orders:read orders:write")?;
    let product_url = app.url(&format!("/api/v1/products/{}", product.id));

    // Healthy: reads and an order work.
    assert_eq!(app.client.get(&product_url).send().await?.status(), 200);
    let mut acknowledged = Vec::new();
    let placed = place(&app, &user, &token, &product.id).await?;
    assert_eq!(placed.status(), 201);
    acknowledged.push(
        placed.json::<serde_json::Value>().await?["id"]
            .as_str()
            .context("id")?
            .to_owned(),
    );

    // MariaDB goes away.
    proxy.down().await;
    assert!(
        TcpStream::connect(proxy.addr).await.is_err(),
        "the proxy port refuses connections"
    );

    // Every answer is a 503 with Retry-After (never a 500, never a hang), on reads and writes.
    let mut fast = 0;
    for round in 0..12 {
        let started = Instant::now();
        let read = app.client.get(&product_url).send().await?;
        let read_took = started.elapsed();
        assert_eq!(read.status(), 503, "round {round}: GET product");
        let retry_after: u64 = read
            .headers()
            .get("retry-after")
            .context("Retry-After on the read")?
            .to_str()?
            .parse()?;
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        assert_eq!(read.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = read.json().await?;
        assert_eq!(body["status"], 503);
        assert!(
            !body.to_string().contains("3306"),
            "no connection detail leaks: {body}"
        );

        let started = Instant::now();
        let write = place(&app, &user, &token, &product.id).await?;
        let write_took = started.elapsed();
        assert_eq!(write.status(), 503, "round {round}: POST order");
        assert!(write.headers().contains_key("retry-after"));
        if read_took < Duration::from_millis(100) && write_took < Duration::from_millis(100) {
            fast += 1;
        }
    }
    // Once the breaker is open the routes do not even try the database.
    assert!(fast >= 6, "only {fast} of 12 rounds answered within 100 ms");

    // MariaDB comes back on the same address; the routes recover by themselves.
    let _proxy = Proxy::start(proxy.addr).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.client.get(&product_url).send().await?.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "while recovering");
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let placed = place(&app, &user, &token, &product.id).await?;
        if placed.status() == 201 {
            acknowledged.push(
                placed.json::<serde_json::Value>().await?["id"]
                    .as_str()
                    .context("id")?
                    .to_owned(),
            );
            break;
        }
        assert_eq!(placed.status(), 503, "while recovering");
        assert!(
            Instant::now() < deadline,
            "orders did not recover within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every acknowledged order is in the database, and the stock moved by exactly as many.
    for id in &acknowledged {
        assert!(
            orderly_e2e::orders::order_row(&pool, id).await?.is_some(),
            "acknowledged order {id} is missing"
        );
    }
    assert_eq!(
        orderly_e2e::orders::order_count(&pool, &user).await?,
        acknowledged.len() as i64
    );
    assert_eq!(
        orderly_e2e::orders::stock_of(&pool, &product.id).await?,
        1000 - acknowledged.len() as i64
    );
    Ok(())
}
