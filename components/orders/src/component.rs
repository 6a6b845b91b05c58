//! Orders as a kit [`Service`]: settings, the per-caller rate limit and dispatch by route;
//! everything around it (settings once per instance, the rate-limit step, 405, problems,
//! headers, the log line) is the kit's.

use std::rc::Rc;

use edge_http::rate_limit::RateLimitPolicy;
use edge_http::{EdgeConfig, HandlerResult, InternalHeaders};
use kit::settings::ApiSettings;
use kit::{LimitRule, Request, Service, Subject};
use store::{Clock, Sleeper};

use crate::handlers;
use crate::repository::OrdersRepository;
use crate::service::OrdersService;

/// Order bodies are small: 50 lines of ~80 bytes; 16 KiB leaves room for whitespace.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Name of the per-caller rate-limit policy (`RateLimit-Policy: "orders";q=…;w=60`).
pub const RATE_LIMIT_POLICY: &str = "orders";

/// The orders component: the repository `R`, a sleeper `S` pacing waits for a duplicate
/// request's first answer, and the wall clock `C`.
pub struct Orders<R, S, C> {
    settings: Rc<ApiSettings>,
    repo: R,
    sleeper: S,
    clock: C,
}

impl<R, S, C> std::fmt::Debug for Orders<R, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").finish_non_exhaustive()
    }
}

impl<R, S, C> Orders<R, S, C>
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    /// The component with `settings` over `repo`.
    pub fn new(settings: Rc<ApiSettings>, repo: R, sleeper: S, clock: C) -> Self {
        Self {
            settings,
            repo,
            sleeper,
            clock,
        }
    }

    /// The service over this component's repository, sleeper and clock.
    pub fn service(&self) -> OrdersService<'_, R, S> {
        OrdersService::new(&self.repo, &self.sleeper, &self.clock)
    }
}

impl<R, S, C> Service for Orders<R, S, C>
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    type Settings = ApiSettings;

    /// Behind the `auth` middleware, which strips client copies of `x-orderly-*` and sets
    /// the verified principal.
    const EDGE: EdgeConfig = EdgeConfig::new("orders")
        .with_max_body_bytes(MAX_BODY_BYTES)
        .with_internal_headers(InternalHeaders::TrustMiddleware);

    fn settings(&self) -> &ApiSettings {
        &self.settings
    }

    /// Every request, per caller (the token's client and subject, else the address).
    fn rate_limit(&self, request: &Request) -> Option<LimitRule> {
        Some(LimitRule::new(
            RateLimitPolicy::per_minute(RATE_LIMIT_POLICY, self.settings.rate_limit_per_minute),
            Subject::caller(&request.context, request.headers()),
        ))
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        handlers::dispatch(self, &request).await
    }
}
