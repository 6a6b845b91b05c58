//! Routes: parse the request, call the service, map the result to a response.

use contract::Route;
use edge_http::{
    ApiError, HandlerResult, RequestContext, attach_log_cause, json_response, negotiate,
};
use http::{HeaderValue, StatusCode, header};
use kit::Request;
use serde::Serialize;
use serde_json::json;

use crate::service::{Dependencies, Readiness, check_readiness};

/// Seconds a client should wait before asking `/ready` again after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

const PRODUCES: &[&str] = &["application/json"];

/// Dispatches a request whose route (and method) the kit has checked: `/health` or `/ready`.
pub async fn route<D: Dependencies>(deps: &D, request: &Request) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    match request.route {
        Route::Ready => readiness(deps, &request.context).await,
        _ => liveness(),
    }
}

fn liveness() -> HandlerResult {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// One check as published: name, pass/fail and timing — never the cause.
#[derive(Debug, Serialize)]
struct CheckView {
    name: &'static str,
    status: &'static str,
    duration_ms: f64,
}

/// The 200 body of `/ready`.
#[derive(Debug, Serialize)]
struct ReadyView {
    status: &'static str,
    checks: Vec<CheckView>,
}

fn check_views(readiness: &Readiness) -> Vec<CheckView> {
    readiness
        .checks
        .iter()
        .map(|check| CheckView {
            name: check.name,
            status: if check.outcome.is_ok() { "ok" } else { "fail" },
            duration_ms: edge_http::log_line::duration_millis(check.duration),
        })
        .collect()
}

async fn readiness<D: Dependencies>(deps: &D, context: &RequestContext) -> HandlerResult {
    // Unique per request: our fresh span id.
    let probe_key = format!("health:ready:{}", context.trace().parent_id());
    let readiness = check_readiness(deps, &probe_key).await;
    let checks = check_views(&readiness);
    if readiness.is_ready() {
        return json_response(
            StatusCode::OK,
            &ReadyView {
                status: "ok",
                checks,
            },
        );
    }
    let checks = serde_json::to_value(&checks).map_err(ApiError::internal)?;
    let mut response = context
        .problem(StatusCode::SERVICE_UNAVAILABLE)
        .with_type("not-ready")
        .with_extension("failed_checks", json!(readiness.failed()))
        .with_extension("checks", checks)
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    attach_log_cause(&mut response, readiness.failure_causes());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Health;
    use crate::service::fakes::FakeDependencies;
    use crate::service::{ProbeError, ProbeFailure};
    use bytes::Bytes;
    use edge_http::{Handled, PROBLEM_JSON};
    use futures::executor::block_on;
    use http::Method;
    use http_body_util::{BodyExt, Full};
    use serde_json::Value;
    use store::testing::FakeKv;

    struct Fixed;
    impl store::Clock for Fixed {
        fn now_millis(&self) -> u64 {
            1_790_000_000_000
        }
    }

    fn call(deps: &FakeDependencies, method: Method, path: &str) -> Handled {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("spin-matched-route", path)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let health = Health::new(deps);
        block_on(kit::serve(Ok(&health), &FakeKv::default(), &Fixed, request))
    }

    fn json_body(handled: Handled) -> Value {
        let bytes = block_on(handled.response.into_body().collect())
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn health_answers_ok_without_touching_dependencies() {
        let deps = FakeDependencies {
            hang_database: true,
            ..Default::default()
        };
        let handled = call(&deps, Method::GET, "/health");
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_eq!(
            handled.response.headers()[header::CONTENT_TYPE],
            "application/json"
        );
        assert!(handled.response.headers().contains_key("x-request-id"));
        assert_eq!(json_body(handled), json!({"status": "ok"}));
    }

    #[test]
    fn ready_lists_every_check_with_its_timing() {
        let handled = call(&FakeDependencies::default(), Method::GET, "/ready");
        assert_eq!(handled.response.status(), StatusCode::OK);
        let body = json_body(handled);
        assert_eq!(body["status"], "ok");
        let checks = body["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 3);
        for check in checks {
            assert_eq!(check["status"], "ok");
            assert!(check["duration_ms"].is_number());
        }
    }

    #[test]
    fn ready_with_the_database_down_is_503_naming_it_without_the_cause() {
        let deps = FakeDependencies {
            database: Some(ProbeError::new(
                ProbeFailure::Unreachable,
                "address mysql://orderly_health:hunter2@127.0.0.1/orderly is not permitted",
            )),
            ..Default::default()
        };
        let handled = call(&deps, Method::GET, "/ready");
        assert_eq!(handled.response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(handled.response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            handled.response.headers()[header::CONTENT_TYPE],
            PROBLEM_JSON
        );
        let log_error = handled.log.error.clone().unwrap();
        assert!(log_error.contains("mariadb: unreachable"), "{log_error}");
        assert!(!log_error.contains("hunter2"), "{log_error}");
        let body = json_body(handled);
        assert_eq!(body["status"], 503);
        assert_eq!(body["failed_checks"], json!(["mariadb"]));
        assert_eq!(body["checks"][0]["status"], "fail");
        assert_eq!(body["checks"][1]["status"], "ok");
        assert!(body.get("detail").is_none());
        let text = body.to_string();
        assert!(
            !text.contains("mysql") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn other_methods_get_405_with_allow_as_a_problem() {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let handled = call(&FakeDependencies::default(), method.clone(), "/health");
            assert_eq!(
                handled.response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            assert_eq!(handled.response.headers()[header::ALLOW], "GET, HEAD");
            assert_eq!(
                handled.response.headers()[header::CONTENT_TYPE],
                PROBLEM_JSON
            );
        }
    }

    #[test]
    fn head_works_on_both_routes() {
        for path in ["/health", "/ready"] {
            let handled = call(&FakeDependencies::default(), Method::HEAD, path);
            assert_eq!(handled.response.status(), StatusCode::OK, "{path}");
            let bytes = block_on(handled.response.into_body().collect())
                .unwrap()
                .to_bytes();
            assert!(bytes.is_empty());
        }
    }

    #[test]
    fn an_unknown_path_is_a_404_problem() {
        let handled = call(&FakeDependencies::default(), Method::GET, "/nope");
        assert_eq!(handled.response.status(), StatusCode::NOT_FOUND);
    }
}
