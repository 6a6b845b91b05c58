//! Users as a kit [`Service`]: settings, rate limits and dispatch by route; everything around
//! it (settings once per instance, the rate-limit step, 405, problems, headers, the log line)
//! is the kit's.

use std::rc::Rc;

use contract::Route;
use edge_http::rate_limit::RateLimitPolicy;
use edge_http::{ApiError, EdgeConfig, HandlerResult, InternalHeaders};
use http::Method;
use kit::settings::ApiSettings;
use kit::{LimitRule, Request, Service, Settings, SettingsError, Subject, Variables};

use crate::handlers;
use crate::service::UserRepository;

/// Registration and patch bodies are small; 16 KiB is far above any valid one.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The registration limit's window.
pub const REGISTRATION_WINDOW_SECS: u64 = 3600;
/// Per-address policy of self-registration (`RateLimit-Policy: "register";q=…;w=3600`).
pub const REGISTER_POLICY: &str = "register";
/// Per-caller policy of every other route (`RateLimit-Policy: "api";q=…;w=60`).
pub const API_POLICY: &str = "api";

/// What users reads from its variables.
#[derive(Debug, Clone)]
pub struct UsersSettings {
    /// What every API component reads.
    pub api: ApiSettings,
    /// Self-registrations allowed per client address per hour (`registrations_per_hour`).
    pub registrations_per_hour: u64,
}

impl Settings for UsersSettings {
    async fn load(variables: &impl Variables) -> Result<Self, SettingsError> {
        Ok(Self {
            api: ApiSettings::load(variables).await?,
            registrations_per_hour: variables.positive("registrations_per_hour").await?,
        })
    }

    fn kv_prefix(&self) -> &str {
        &self.api.kv_prefix
    }

    fn cors(&self) -> Option<&edge_http::CorsPolicy> {
        self.api.cors()
    }
}

/// The users component over a repository `R`.
#[derive(Debug)]
pub struct Users<R> {
    settings: Rc<UsersSettings>,
    users: R,
}

impl<R> Users<R> {
    /// The component with `settings` over `users`.
    pub fn new(settings: Rc<UsersSettings>, users: R) -> Self {
        Self { settings, users }
    }

    /// The repository.
    pub fn users(&self) -> &R {
        &self.users
    }
}

fn is_registration(request: &Request) -> bool {
    request.route == Route::Users && *request.method() == Method::POST
}

impl<R: UserRepository> Service for Users<R> {
    type Settings = UsersSettings;

    /// Behind the `auth` middleware, which strips client copies of `x-orderly-*` and sets
    /// the verified principal.
    const EDGE: EdgeConfig = EdgeConfig::new("users")
        .with_max_body_bytes(MAX_BODY_BYTES)
        .with_internal_headers(InternalHeaders::TrustMiddleware);

    fn settings(&self) -> &UsersSettings {
        &self.settings
    }

    /// Registration per client address and hour (every attempt counts, valid or not, so
    /// the limit also caps enumeration probes); every other request per caller and minute.
    fn rate_limit(&self, request: &Request) -> Option<LimitRule> {
        Some(if is_registration(request) {
            LimitRule::new(
                RateLimitPolicy::new(
                    REGISTER_POLICY,
                    self.settings.registrations_per_hour,
                    REGISTRATION_WINDOW_SECS,
                ),
                Subject::address(request.headers()),
            )
        } else {
            LimitRule::new(
                RateLimitPolicy::per_minute(API_POLICY, self.settings.api.rate_limit_per_minute),
                Subject::caller(&request.context, request.headers()),
            )
        })
    }

    async fn handle(&self, request: Request) -> HandlerResult {
        match request.route {
            Route::Users if is_registration(&request) => handlers::register(self, &request).await,
            Route::Users => handlers::list(self, &request).await,
            Route::User => handlers::item(self, &request).await,
            _ => Err(ApiError::not_found("No such resource.")),
        }
    }
}
