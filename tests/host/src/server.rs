//! The HTTP front door. Spin: `crates/trigger-http/src/server.rs` (routing, 404 with an
//! empty body, 500 with an empty body when the guest fails), `headers.rs` (the `spin-*`
//! request headers, `Connection` removed), `wasip3.rs` (p3 dispatch through
//! `wasmtime_wasi_http::handler::ProxyHandler`).
//!
//! One deliberate difference: accepted sockets get `TCP_NODELAY`. Real Spin 4.1-pre does not
//! set it and every keep-alive response whose body follows an `await` stalls ~44 ms
//! (`docs/spin-fidelity.md`); the stall is a transport artefact, not guest-visible behaviour.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::routing::RouteMatch;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Response body type.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A running server.
pub struct RunningServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting and waits for the accept loop to end, which closes the listener: new
    /// connections are refused from then on. Connections already accepted keep running until
    /// the runtime drops them; nothing drains them, as in Spin, whose accept loop
    /// (`crates/trigger-http/src/server.rs:278-285`) is aborted on a signal and whose
    /// connection tasks (`server.rs:561`) are detached (see `main.rs`).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Binds and serves the app until shut down.
pub async fn serve(app: Arc<App>, listen: SocketAddr) -> Result<RunningServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = rx.changed() => break,
            };
            let (stream, client_addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(app, req, addr, client_addr).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("connection from {client_addr} ended: {e}");
                }
            });
        }
    });
    Ok(RunningServer {
        addr,
        shutdown: tx,
        task,
    })
}

fn set(headers: &mut http::HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        headers.insert(n, v);
    }
}

/// Adds the `spin-*` headers (Spin: `crates/trigger-http/src/headers.rs`
/// `compute_default_headers`, names lower-cased with `-`).
fn add_spin_headers(
    req: &mut Request<Incoming>,
    m: &RouteMatch,
    full_url: &str,
    client: SocketAddr,
) {
    let headers = req.headers_mut();
    set(headers, "spin-path-info", &m.path_info);
    set(headers, "spin-full-url", full_url);
    set(headers, "spin-matched-route", &m.raw_route);
    set(headers, "spin-base-path", "/");
    set(headers, "spin-raw-component-route", &m.raw_route);
    set(headers, "spin-component-route", m.component_route());
    set(headers, "spin-client-addr", &client.to_string());
    for (name, value) in &m.params {
        set(
            headers,
            &format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        );
    }
}

async fn handle(
    app: Arc<App>,
    mut req: Request<Incoming>,
    local: SocketAddr,
    client: SocketAddr,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(m) = app.router.route(&path) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let Some(handler) = app.handlers.get(m.index).cloned() else {
        return empty(StatusCode::NOT_FOUND);
    };
    let authority = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| local.to_string());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let full_url = format!("http://{authority}{path_and_query}");
    match http::Uri::try_from(full_url.as_str()) {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    }
    req.headers_mut().remove(http::header::CONNECTION);
    add_spin_headers(&mut req, &m, &full_url, client);
    let req = req.map(|b| b.map_err(wasmtime_wasi_http::Error::Hyper).boxed_unsync());
    match handler.handle((), req).await {
        Ok(resp) => resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
        Err(e) => {
            tracing::error!(route = %m.raw_route, "guest failed: {e:?}");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
