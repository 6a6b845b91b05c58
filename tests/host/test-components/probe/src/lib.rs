//! A test component for the host's fidelity tests (like Spin's `tests/test-components`).
//! Each path exercises one host capability and answers with plain text describing what the
//! guest saw, errors included, so a test can compare it with what Spin gives.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::BodyExt;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_service;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn text(status: u16, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = spin_sdk::http::StatusCode::from_u16(status).unwrap_or_default();
    r
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| percent_decode(v))
        })
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    match op.as_str() {
        "headers" => {
            let mut lines: Vec<String> = req
                .headers()
                .iter()
                .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("<binary>")))
                .collect();
            lines.sort();
            lines.push(format!("uri: {}", req.uri()));
            lines.push(format!("method: {}", req.method()));
            text(200, lines.join("\n"))
        }
        "counter" => text(
            200,
            (COUNTER.fetch_add(1, Ordering::SeqCst) + 1).to_string(),
        ),
        "panic" => {
            #[allow(clippy::panic, reason = "this endpoint exists to trap the guest")]
            {
                panic!("probe asked to trap")
            }
        }
        "print" => {
            println!("probe stdout line");
            eprintln!("probe stderr line");
            text(200, "printed".into())
        }
        "sleep-count" => {
            // Counts requests in this instance, then holds the request open, so concurrent
            // callers reveal how many requests one instance takes at once.
            let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
            let ms: u64 = query(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(300);
            spin_sdk::wasip3::clocks::monotonic_clock::wait_for(ms * 1_000_000).await;
            text(200, n.to_string())
        }
        "sleep" => {
            let ms: u64 = query(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
            // Busy-free wait through the host clock: yield via a zero-length KV call is
            // overkill; a monotonic wait is enough for concurrency tests.
            while std::time::Instant::now() < until {
                spin_sdk::wasip3::clocks::monotonic_clock::wait_for(1_000_000).await;
            }
            text(200, format!("slept {ms}"))
        }
        "hold" => {
            // Says on stdout that the request is in the guest, then holds it `ms`: a test can
            // signal the host while a request is in flight (`tests/signals.rs`).
            let ms: u64 = query(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5_000);
            println!("holding {ms}");
            spin_sdk::wasip3::clocks::monotonic_clock::wait_for(ms * 1_000_000).await;
            text(200, format!("held {ms}"))
        }
        "body" => {
            let n = match req.into_body().collect().await {
                Ok(b) => b.to_bytes().len(),
                Err(e) => return text(500, format!("body error: {e:?}")),
            };
            text(200, format!("{n}"))
        }
        "ignore-body" => text(200, "ignored".into()),
        "var" => {
            let name = query(&req, "name").unwrap_or_default();
            match spin_sdk::variables::get(&name).await {
                Ok(v) => text(200, format!("Ok({v:?})")),
                Err(e) => text(200, format!("Err({e:?})")),
            }
        }
        "kv" => kv(&req).await,
        "mysql" => mysql(&req).await,
        "outbound" => {
            let url = query(&req, "url").unwrap_or_default();
            match spin_sdk::http::get(url).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = match resp.into_body().collect().await {
                        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                        Err(e) => format!("<body error {e:?}>"),
                    };
                    text(200, format!("Ok({status}) {body}"))
                }
                Err(e) => text(200, format!("Err({e:?})")),
            }
        }
        _ => text(200, format!("probe {path}")),
    }
}

async fn kv(req: &Request) -> Response<String> {
    use spin_sdk::key_value::Store;
    let label = query(req, "label").unwrap_or_else(|| "default".into());
    let action = query(req, "action").unwrap_or_else(|| "roundtrip".into());
    let store = match Store::open(&label).await {
        Ok(s) => s,
        Err(e) => return text(200, format!("open Err({e:?})")),
    };
    let key = query(req, "key").unwrap_or_else(|| "probe-key".into());
    match action.as_str() {
        "set" => {
            let value = query(req, "value").unwrap_or_default();
            text(
                200,
                format!("{:?}", store.set(&key, value.as_bytes()).await),
            )
        }
        "get" => match store.get(&key).await {
            Ok(v) => text(
                200,
                format!(
                    "Ok({:?})",
                    v.map(|b| String::from_utf8_lossy(&b).into_owned())
                ),
            ),
            Err(e) => text(200, format!("Err({e:?})")),
        },
        "delete" => text(200, format!("{:?}", store.delete(&key).await)),
        "exists" => text(200, format!("{:?}", store.exists(&key).await)),
        "keys" => {
            let keys = store.get_keys().await.collect().await;
            match keys {
                Ok(mut k) => {
                    k.sort();
                    text(200, format!("Ok({k:?})"))
                }
                Err(e) => text(200, format!("Err({e:?})")),
            }
        }
        "increment" => {
            use spin_sdk::experimental::wasi::keyvalue::{atomics, store};
            let delta: i64 = query(req, "delta")
                .and_then(|d| d.parse().ok())
                .unwrap_or(1);
            match store::open(&label) {
                Ok(bucket) => match atomics::increment(&bucket, &key, delta) {
                    Ok(v) => text(200, format!("Ok({v})")),
                    Err(e) => text(200, format!("Err({e:?})")),
                },
                Err(e) => text(200, format!("open Err({e:?})")),
            }
        }
        _ => {
            let set = store.set(&key, b"v1").await;
            let got = store.get(&key).await;
            text(200, format!("set {set:?} get {got:?}"))
        }
    }
}

async fn mysql(req: &Request) -> Response<String> {
    use spin_sdk::mysql::Connection;
    let address = match query(req, "address") {
        Some(a) => a,
        None => match spin_sdk::variables::get("db_url").await {
            Ok(a) => a,
            Err(e) => return text(200, format!("variable Err({e:?})")),
        },
    };
    let sql = query(req, "sql").unwrap_or_else(|| "SELECT 1".into());
    let conn = match Connection::open(address).await {
        Ok(c) => c,
        Err(e) => return text(200, format!("open Err({e:?})")),
    };
    if query(req, "execute").is_some() {
        return text(200, format!("{:?}", conn.execute(sql, Vec::new()).await));
    }
    match conn.query(sql, Vec::new()).await {
        Ok(result) => {
            let columns: Vec<String> = result
                .columns()
                .iter()
                .map(|c| format!("{}:{:?}", c.name, c.data_type))
                .collect();
            match result.collect().await {
                Ok(rows) => {
                    let n = columns.len();
                    let rows: Vec<String> = rows
                        .iter()
                        .map(|r| format!("{:?}", (0..n).map(|i| &r[i]).collect::<Vec<_>>()))
                        .collect();
                    text(200, format!("columns {columns:?} rows {rows:?}"))
                }
                Err(e) => text(200, format!("rows Err({e:?})")),
            }
        }
        Err(e) => text(200, format!("query Err({e:?})")),
    }
}
