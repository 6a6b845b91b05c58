//! The OpenAPI document and its page as a kit [`Service`].
//!
//! No rate limit: static content behind `Cache-Control: public` and an `ETag`, cheap to
//! serve and meant to be cached by any proxy in front. The kit still gives it the edge and
//! 405 from the route table.

use edge_http::{EdgeConfig, HandlerResult};
use kit::{LimitRule, Request, Service};

use crate::handlers;
use crate::render::DOCS_CONTENT_SECURITY_POLICY;

/// The docs component (no state, no variables).
#[derive(Debug, Clone, Copy)]
pub struct Docs;

impl Service for Docs {
    type Settings = ();

    /// The docs read no bodies; the cap only bounds what a stray client may send. The
    /// page's CSP allows its one inline style sheet by hash and nothing else.
    const EDGE: EdgeConfig = EdgeConfig::new("docs")
        .with_max_body_bytes(16 * 1024)
        .with_content_security_policy(DOCS_CONTENT_SECURITY_POLICY);

    fn settings(&self) -> &() {
        &()
    }

    fn rate_limit(&self, _request: &Request) -> Option<LimitRule> {
        None
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        handlers::route(&request)
    }
}
