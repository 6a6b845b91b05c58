//! The request pipeline every component runs, in one fixed order.
//!
//! ```text
//! edge (request id, trace, body cap, internal headers)
//!   → CORS preflight (components with an allow-list)
//!   → settings (a failure: 500, the variable named in the log line)
//!   → route (contract::ROUTES; a route of another component: 404)
//!   → rate limit (the component's LimitRule; refused: 429)
//!   → method (the route table; not answered: 405 + Allow)
//!   → the component's handler
//!   → RateLimit headers on whatever was answered, errors included
//! edge (problem documents, compression, security headers, the log line)
//! ```
//!
//! The component supplies a [`Service`]; nothing in it turns errors into responses or
//! touches the limiter, so no route can skip or reorder a step.

use std::fmt::Display;

use bytes::Bytes;
use contract::Route;
use edge_http::rate_limit::{Counter, Decision};
use edge_http::{
    ApiError, EdgeConfig, EdgeResponse, Handled, HandlerResult, RequestContext, attach_log_cause,
    handle, handle_with_cors,
};
use http::{HeaderValue, Method, header};
use http_body::Body;
use store::Clock;

use crate::clock::Now;
use crate::limits::{self, ExtraDecisions, LimitRule};
use crate::settings::{Settings, SettingsError};

/// A request as a handler receives it: the HTTP request with its body read, what the edge
/// learnt about it, the matched route and the instant it arrived.
#[derive(Debug)]
pub struct Request {
    /// Method, URI, headers and the body (already capped by the edge).
    pub http: http::Request<Bytes>,
    /// Request id, trace, verified principal.
    pub context: RequestContext,
    /// The route from the table.
    pub route: Route,
    /// When it arrived.
    pub now: Now,
}

impl Request {
    /// The request's method.
    pub fn method(&self) -> &Method {
        self.http.method()
    }

    /// The request's headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.http.headers()
    }

    /// A Spin path capture (`spin-path-match-<name>`), e.g. `id` for `/api/v1/products/:id`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.http
            .headers()
            .get(format!("spin-path-match-{name}"))
            .and_then(|v| v.to_str().ok())
    }
}

/// A component: what differs between components, declared; everything else is the kit's.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Service {
    /// Settings read once per instance.
    type Settings: Settings;

    /// Edge settings: the component's name (also its row in the route table), body caps,
    /// CSP, whether it trusts the `auth` middleware's headers.
    const EDGE: EdgeConfig;

    /// The settings this instance of the service runs with.
    fn settings(&self) -> &Self::Settings;

    /// The rate limit this request counts against, if any.
    fn rate_limit(&self, request: &Request) -> Option<LimitRule>;

    /// Answers a request whose route, rate limit and method passed.
    async fn handle(&self, request: Request) -> HandlerResult;
}

/// Runs `service` for `request` through the pipeline in the module documentation.
/// `service` is `Err` when the component's settings could not be loaded. Returns the
/// response and its (unwritten) log record.
pub async fn serve<S, B, K, C>(
    service: Result<&S, SettingsError>,
    counter: &K,
    clock: &C,
    request: http::Request<B>,
) -> Handled
where
    S: Service,
    B: Body,
    B::Error: Display,
    K: Counter + ?Sized,
    C: Clock + ?Sized,
{
    let edge = S::EDGE;
    let cors = service.as_ref().ok().and_then(|s| s.settings().cors());
    let pipeline = |http: http::Request<Bytes>, context: RequestContext| async move {
        let service = service?;
        run(service, counter, clock, http, context).await
    };
    match cors {
        Some(cors) => handle_with_cors(&edge, cors, request, pipeline).await,
        None => handle(&edge, request, pipeline).await,
    }
}

async fn run<S, K, C>(
    service: &S,
    counter: &K,
    clock: &C,
    http: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult
where
    S: Service,
    K: Counter + ?Sized,
    C: Clock + ?Sized,
{
    let request_id = context.request_id().clone();
    let route = route_of(&S::EDGE, &http, &context)?;
    let now = Now::from_clock(clock);
    let request = Request {
        http,
        context,
        route,
        now,
    };

    let decision = match service.rate_limit(&request) {
        Some(rule) => {
            Some(limits::count(counter, service.settings().kv_prefix(), &rule, now.secs()).await?)
        }
        None => None,
    };
    if let Some(decision) = decision.as_ref().filter(|d| !d.allowed) {
        // The 429 carries its own RateLimit headers; no cache may keep a refusal.
        return Err(decision.to_error().with_headers(vec![(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        )]));
    }

    let outcome = if route.allows(request.method()) {
        service.handle(request).await
    } else {
        Err(ApiError::method_not_allowed(route.spec().methods))
    };

    let mut response: EdgeResponse = match outcome {
        Ok(response) => response,
        Err(error) => {
            let mut response = error.to_response(&request_id);
            if let Some(cause) = error.log_cause() {
                attach_log_cause(&mut response, cause);
            }
            response
        }
    };
    if let Some(decision) = &decision {
        decision.finish(&mut response);
    }
    if let Some(ExtraDecisions(extra)) = response.extensions_mut().remove::<ExtraDecisions>() {
        for decision in extra {
            decision.finish(&mut response);
        }
    }
    Ok(response)
}

/// The route from the table for the matched pattern (`spin-matched-route`), else for the
/// path; a route the table does not give this component is 404.
fn route_of(
    edge: &EdgeConfig,
    http: &http::Request<Bytes>,
    context: &RequestContext,
) -> Result<Route, ApiError> {
    Route::from_pattern(context.route())
        .or_else(|| Route::resolve(None, http.uri().path()))
        .filter(|route| route.spec().component.name() == edge.component())
        .ok_or_else(|| ApiError::not_found("No such resource."))
}

/// Attaches decisions a handler took itself (e.g. a per-account sign-in limit) to its
/// response, so that the kit adds their `RateLimit` headers with the rest.
pub fn attach_decision(response: &mut EdgeResponse, decision: Decision) {
    let extensions = response.extensions_mut();
    match extensions.get_mut::<ExtraDecisions>() {
        Some(ExtraDecisions(list)) => list.push(decision),
        None => {
            extensions.insert(ExtraDecisions(vec![decision]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Subject;
    use crate::settings::{MapVariables, Variables};
    use edge_http::rate_limit::RateLimitPolicy;
    use edge_http::{InternalHeaders, json_response};
    use futures::executor::block_on;
    use http::StatusCode;
    use http_body_util::{BodyExt, Full};
    use std::cell::Cell;
    use store::testing::FakeKv;

    struct Fixed;
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            1_764_072_000_000
        }
    }

    #[derive(Debug)]
    struct TestSettings {
        quota: u64,
    }

    impl Settings for TestSettings {
        async fn load(variables: &impl Variables) -> Result<Self, SettingsError> {
            Ok(Self {
                quota: variables.positive("rate_limit_per_minute").await?,
            })
        }

        fn kv_prefix(&self) -> &str {
            "t"
        }
    }

    struct Catalogue {
        settings: TestSettings,
        handled: Cell<u32>,
        answer: fn() -> HandlerResult,
    }

    impl Service for Catalogue {
        type Settings = TestSettings;
        const EDGE: EdgeConfig =
            EdgeConfig::new("products").with_internal_headers(InternalHeaders::TrustMiddleware);

        fn settings(&self) -> &TestSettings {
            &self.settings
        }

        fn rate_limit(&self, request: &Request) -> Option<LimitRule> {
            Some(LimitRule::new(
                RateLimitPolicy::per_minute("products", self.settings.quota),
                Subject::caller(&request.context, request.headers()),
            ))
        }

        async fn handle(&self, _request: Request) -> HandlerResult {
            self.handled.set(self.handled.get() + 1);
            (self.answer)()
        }
    }

    fn catalogue(quota: u64, answer: fn() -> HandlerResult) -> Catalogue {
        Catalogue {
            settings: TestSettings { quota },
            handled: Cell::new(0),
            answer,
        }
    }

    fn ok() -> HandlerResult {
        json_response(StatusCode::OK, &serde_json::json!({"ok": true}))
    }

    fn not_found() -> HandlerResult {
        Err(ApiError::not_found("No such product."))
    }

    fn request(method: Method, route: &str) -> http::Request<Full<Bytes>> {
        http::Request::builder()
            .method(method)
            .uri("/api/v1/products/x")
            .header("spin-matched-route", route)
            .header("spin-client-addr", "203.0.113.9:4000")
            .body(Full::new(Bytes::new()))
            .unwrap()
    }

    fn call(service: &Catalogue, kv: &FakeKv, method: Method, route: &str) -> EdgeResponse {
        block_on(serve(Ok(service), kv, &Fixed, request(method, route))).response
    }

    fn rate_headers(response: &EdgeResponse) -> (String, String) {
        let text = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        (text("ratelimit-policy"), text("ratelimit"))
    }

    #[test]
    fn every_answer_carries_the_rate_limit_headers_in_the_same_form() {
        let kv = FakeKv::default();
        let service = catalogue(5, ok);
        let success = call(&service, &kv, Method::GET, "/api/v1/products/:id");
        assert_eq!(success.status(), StatusCode::OK);
        assert_eq!(
            rate_headers(&success),
            (
                "\"products\";q=5;w=60".into(),
                "\"products\";r=4;t=60".into()
            )
        );
        let failing = catalogue(5, not_found);
        let error = call(&failing, &kv, Method::GET, "/api/v1/products/:id");
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(rate_headers(&error).1, "\"products\";r=3;t=60");
        let wrong_method = call(&service, &kv, Method::POST, "/api/v1/products/:id");
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            wrong_method.headers()["allow"],
            "GET, HEAD, PUT, PATCH, DELETE"
        );
        assert_eq!(rate_headers(&wrong_method).1, "\"products\";r=2;t=60");
        assert_eq!(
            service.handled.get(),
            1,
            "the 405 never reached the handler"
        );
    }

    #[test]
    fn past_the_quota_the_answer_is_429_before_the_method_check_and_the_handler() {
        let kv = FakeKv::default();
        let service = catalogue(1, ok);
        assert_eq!(
            call(&service, &kv, Method::GET, "/api/v1/products").status(),
            StatusCode::OK
        );
        for method in [Method::GET, Method::TRACE] {
            let refused = call(&service, &kv, method, "/api/v1/products");
            assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(refused.headers()["retry-after"], "60");
            assert_eq!(refused.headers()["cache-control"], "no-store");
            assert_eq!(
                rate_headers(&refused),
                (
                    "\"products\";q=1;w=60".into(),
                    "\"products\";r=0;t=60".into()
                )
            );
            assert_eq!(
                refused.headers().get_all("ratelimit").iter().count(),
                1,
                "headers once"
            );
        }
        assert_eq!(service.handled.get(), 1);
    }

    #[test]
    fn a_route_of_another_component_or_none_is_404() {
        let kv = FakeKv::default();
        let service = catalogue(5, ok);
        for route in ["/api/v1/orders/:id", "/nope"] {
            let mut req = request(Method::GET, route);
            *req.uri_mut() = "/nope".parse().unwrap();
            let response = block_on(serve(Ok(&service), &kv, &Fixed, req)).response;
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(service.handled.get(), 0);
    }

    #[test]
    fn settings_that_do_not_load_are_a_generic_500_naming_the_variable_in_the_log() {
        let kv = FakeKv::default();
        let error = block_on(TestSettings::load(&MapVariables::default())).unwrap_err();
        let handled = block_on(serve::<Catalogue, _, _, _>(
            Err(error),
            &kv,
            &Fixed,
            request(Method::GET, "/api/v1/products"),
        ));
        assert_eq!(handled.response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = block_on(handled.response.into_body().collect())
            .unwrap()
            .to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("rate_limit_per_minute"));
        assert!(
            handled
                .log
                .error
                .is_some_and(|e| e.contains("rate_limit_per_minute"))
        );
    }

    #[test]
    fn a_store_outage_lets_requests_through_without_a_count_unless_the_rule_is_strict() {
        let kv = FakeKv::default();
        kv.set_failing(true);
        let service = catalogue(5, ok);
        let response = call(&service, &kv, Method::GET, "/api/v1/products");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            rate_headers(&response),
            ("\"products\";q=5;w=60".into(), String::new())
        );
    }
}
