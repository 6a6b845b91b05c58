//! The authorization server as a kit [`Service`]: its settings (parsed once per instance),
//! its rate limits and its dispatch; everything around it is the kit's.
//!
//! Rate limits, all per client address and per minute:
//! - `POST /oauth2/token`: policy `token` (`rate_limit_per_minute`), **strict** — when the
//!   shared store cannot count, 503 + `Retry-After` rather than unthrottled guessing;
//! - `POST /login`: policy `login` (`login_attempts_per_minute`) per address *and* per
//!   account, strict — counted by the handler (the account is in the form), which hands
//!   its decisions to the kit for the headers ([`kit::serve::attach_decision`]);
//! - everything else (discovery, JWKS, authorize, revoke, introspect, userinfo, `GET
//!   /login`): policy `oauth` (`rate_limit_per_minute`), failing open: a Redis outage must
//!   not take discovery and JWKS down.

use std::rc::Rc;

use edge_http::rate_limit::RateLimitPolicy;
use edge_http::{EdgeConfig, HandlerResult};
use http::Method;
use kit::{LimitRule, Request, Service, Subject};
use store::BreakerStore;

use crate::config::Config;
use crate::html;
use crate::model::{Env, Repository};
use crate::rate_limit::{OAUTH, TOKEN};
use crate::router;

/// The identity component over a repository `R` and the shared store `K` (sessions,
/// revoked token ids, rate limits).
#[derive(Debug)]
pub struct Identity<R, K> {
    config: Rc<Config>,
    repo: R,
    kv: K,
}

impl<R, K> Identity<R, K> {
    /// The component with `config` over `repo` and `kv`.
    pub fn new(config: Rc<Config>, repo: R, kv: K) -> Self {
        Self { config, repo, kv }
    }

    /// What a handler needs for `request`.
    pub fn env(&self, request: &Request) -> Env<'_, R, K> {
        Env {
            repo: &self.repo,
            kv: &self.kv,
            config: &self.config,
            now: request.now.secs(),
        }
    }
}

impl<R: Repository, K: BreakerStore> Service for Identity<R, K> {
    type Settings = Config;

    /// Forms and token requests are small; 16 KiB is plenty. HTML pages get the strict
    /// page policy; JSON responses keep it too (nothing loads from them).
    const EDGE: EdgeConfig = EdgeConfig::new("identity")
        .with_max_body_bytes(16 * 1024)
        .with_content_security_policy(html::HTML_POLICY);

    fn settings(&self) -> &Config {
        &self.config
    }

    fn rate_limit(&self, request: &Request) -> Option<LimitRule> {
        let path = router::normalized(request.http.uri().path());
        let post = *request.method() == Method::POST;
        let address = Subject::address(request.headers());
        match path {
            "/oauth2/token" => Some(
                LimitRule::new(
                    RateLimitPolicy::per_minute(TOKEN, self.config.rate_limit_per_minute),
                    address,
                )
                .strict(),
            ),
            // Counted per address and per account by the handler.
            "/login" if post => None,
            _ => Some(LimitRule::new(
                RateLimitPolicy::per_minute(OAUTH, self.config.rate_limit_per_minute),
                address,
            )),
        }
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        router::dispatch(&self.env(&request), &request).await
    }
}
