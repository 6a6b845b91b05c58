//! The component's `wasi:http` entry point: the edge around the router.

use edge_http::{EdgeConfig, EdgeResponse};
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::handlers;
use crate::probes::SpinDependencies;

/// Health reads no bodies; the cap only bounds what a stray client may send
/// (large enough that `POST /health` with a small body still answers 405).
static EDGE: EdgeConfig = EdgeConfig::new("health").with_max_body_bytes(16 * 1024);

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| {
        handlers::route(&SpinDependencies, request, context)
    })
    .await
}
