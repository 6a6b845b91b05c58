//! Outbound `wasi:http` requests: `allowed_outbound_hosts` and local service chaining.
//!
//! Spin: `crates/factor-outbound-http/src/wasi.rs` (a request to a host not allowed fails
//! with `error-code.http-request-denied`) and `crates/trigger-http/src/outbound_http.rs`
//! (`http://<component>.spin.internal` is dispatched in-process to that component, only
//! when that exact host — or `*.spin.internal` — is allowed; private routes are reachable
//! this way and only this way).

use std::sync::{Arc, Weak};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::{AllowedHosts, default_port};

/// The future a [`Chain`] returns: `None` when no component has that id.
pub type ChainFuture = std::pin::Pin<
    Box<dyn Future<Output = Option<Result<http::Response<WasiBody>, HttpError>>> + Send>,
>;

/// Dispatches a chained request to a component of this app.
pub trait Chain: Send + Sync {
    /// Handles `request` with component `component_id`, or `None` if there is no such component.
    fn dispatch(&self, component_id: String, request: http::Request<WasiBody>) -> ChainFuture;
}

/// Outbound HTTP policy of one instance.
pub struct OutboundHttp {
    /// Allow-list of the component.
    pub allowed: Arc<AllowedHosts>,
    /// The app, for service chaining (weak: the app owns the instances).
    pub chain: Weak<dyn Chain>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let _ = fut;
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .unwrap_or(0);

        if let Some(component) = host.strip_suffix(".spin.internal") {
            let component = component.to_string();
            let allowed = self.allowed.allows_chaining_to(&component);
            let chain = self.chain.upgrade();
            return Box::new(async move {
                if !allowed {
                    return Err(HttpError::HttpRequestDenied);
                }
                let chain = chain.ok_or(HttpError::InternalError(Some(
                    "app is shutting down".into(),
                )))?;
                match chain.dispatch(component, request).await {
                    Some(Ok(resp)) => Ok((
                        resp,
                        Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                    )),
                    Some(Err(e)) => Err(e),
                    None => Err(HttpError::DestinationNotFound),
                }
            });
        }
        if !self.allowed.allows(&scheme, &host, port) {
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
