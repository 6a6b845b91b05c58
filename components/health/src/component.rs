//! Liveness and readiness as a kit [`Service`].
//!
//! No rate limit: orchestrators probe these routes on a schedule (a probe refused with 429
//! would restart a healthy pod), and `/health` does no I/O to protect. The kit still gives
//! them the edge (request id, security headers, the log line) and 405 from the route table.

use edge_http::{EdgeConfig, HandlerResult};
use kit::{LimitRule, Request, Service};

use crate::handlers;
use crate::service::Dependencies;

/// The health component over its dependency probes `D`.
#[derive(Debug)]
pub struct Health<D> {
    deps: D,
}

impl<D> Health<D> {
    /// The component probing `deps`.
    pub fn new(deps: D) -> Self {
        Self { deps }
    }
}

impl<D: Dependencies> Service for Health<D> {
    type Settings = ();

    /// Health reads no bodies; the cap only bounds what a stray client may send (large
    /// enough that `POST /health` with a small body still answers 405).
    const EDGE: EdgeConfig = EdgeConfig::new("health").with_max_body_bytes(16 * 1024);

    fn settings(&self) -> &() {
        &()
    }

    fn rate_limit(&self, _request: &Request) -> Option<LimitRule> {
        None
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        handlers::route(&self.deps, &request).await
    }
}
