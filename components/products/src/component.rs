//! The catalogue as a kit [`Service`]: what this component declares — its edge settings,
//! its settings, its rate limit — and its dispatch by route. Everything around it (settings
//! once per instance, the rate-limit step, 405, problem documents, headers, the log line) is
//! the kit's.

use std::rc::Rc;

use contract::Route;
use domain::ProductId;
use edge_http::rate_limit::RateLimitPolicy;
use edge_http::{ApiError, EdgeConfig, HandlerResult, InternalHeaders};
use http::Method;
use kit::settings::ApiSettings;
use kit::{LimitRule, Request, Service, Subject};

use crate::handlers;
use crate::service::Catalogue;

/// Largest request body, in bytes (413 beyond, enforced by the edge).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The rate-limit policy name (`RateLimit-Policy: "products";q=…;w=60`).
pub const POLICY: &str = "products";

/// The catalogue component over a repository `C`.
#[derive(Debug)]
pub struct Products<C> {
    settings: Rc<ApiSettings>,
    catalogue: C,
}

impl<C> Products<C> {
    /// The component with `settings` over `catalogue`.
    pub fn new(settings: Rc<ApiSettings>, catalogue: C) -> Self {
        Self {
            settings,
            catalogue,
        }
    }

    /// The repository.
    pub fn catalogue(&self) -> &C {
        &self.catalogue
    }
}

impl<C: Catalogue> Service for Products<C> {
    type Settings = ApiSettings;

    /// Behind the `auth` middleware, which strips client copies of `x-orderly-*` and sets
    /// the verified principal.
    const EDGE: EdgeConfig = EdgeConfig::new("products")
        .with_max_body_bytes(MAX_BODY_BYTES)
        .with_internal_headers(InternalHeaders::TrustMiddleware);

    fn settings(&self) -> &ApiSettings {
        &self.settings
    }

    /// Every request, per caller (the token's client and subject, else the address).
    fn rate_limit(&self, request: &Request) -> Option<LimitRule> {
        Some(LimitRule::new(
            RateLimitPolicy::per_minute(POLICY, self.settings.rate_limit_per_minute),
            Subject::caller(&request.context, request.headers()),
        ))
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        match request.route {
            Route::Products if *request.method() == Method::POST => {
                handlers::create(self, &request).await
            }
            Route::Products => handlers::list(self, &request).await,
            Route::Product => {
                // An id that cannot exist is "no such product" (404), like an unknown one.
                let id = request
                    .path_param("id")
                    .and_then(|v| ProductId::parse(v).ok())
                    .ok_or_else(handlers::no_such_product)?;
                match *request.method() {
                    Method::PUT => handlers::replace(self, &request, id).await,
                    Method::PATCH => handlers::patch(self, &request, id).await,
                    Method::DELETE => handlers::delete(self, &request, id).await,
                    _ => handlers::read(self, &request, id).await,
                }
            }
            _ => Err(ApiError::not_found("No such resource.")),
        }
    }
}
