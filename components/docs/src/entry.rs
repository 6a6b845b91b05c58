//! The component's `wasi:http` entry point: the edge around the router.

use edge_http::{EdgeConfig, EdgeResponse};
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::handlers;
use crate::render::DOCS_CONTENT_SECURITY_POLICY;

/// The docs read no bodies; the cap only bounds what a stray client may send.
/// The page's CSP allows its one inline style sheet by hash and nothing else.
static EDGE: EdgeConfig = EdgeConfig::new("docs")
    .with_max_body_bytes(16 * 1024)
    .with_content_security_policy(DOCS_CONTENT_SECURITY_POLICY);

#[http_service]
async fn handle(request: Request) -> EdgeResponse {
    edge_http::serve(&EDGE, request, |request, context| async move {
        handlers::route(&request, &context)
    })
    .await
}
