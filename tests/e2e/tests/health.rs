//! `/health` and `/ready` through the real `health` component, and the edge layer every
//! route shares (request id, trace context, security headers, problem documents).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use orderly_e2e::{Settings, spawn_app, spawn_app_with};
use serde_json::Value;

const SECURITY_HEADERS: &[&str] = &[
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "permissions-policy",
];

fn assert_edge_headers(resp: &reqwest::Response) {
    for h in SECURITY_HEADERS {
        assert!(
            resp.headers().contains_key(*h),
            "missing {h} on {}",
            resp.url()
        );
    }
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    assert!(resp.headers().contains_key("x-request-id"));
    assert!(!resp.headers().contains_key("server"));
    assert!(!resp.headers().contains_key("x-powered-by"));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_200_json_with_request_id_and_security_headers() {
    let app = spawn_app().await.unwrap();
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_edge_headers(&resp);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_is_200_with_a_timed_check_per_dependency() {
    let app = spawn_app().await.unwrap();
    let resp = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_edge_headers(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let checks = body["checks"].as_array().unwrap();
    assert!(checks.len() >= 3, "mariadb + two key-value stores: {body}");
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.iter().any(|n| n.contains("mariadb")), "{names:?}");
    for check in checks {
        assert_eq!(check["status"], "ok", "{check}");
        assert!(check["duration_ms"].as_f64().unwrap() >= 0.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_is_503_with_retry_after_when_the_database_is_unreachable_while_health_stays_200() {
    // Nothing listens on 3399: the connection is refused, as when MariaDB is down.
    let settings = Settings::default()
        .variable("db_host", "127.0.0.1:3399")
        .variable(
            "health_db_url",
            "mysql://orderly_health:secret-pw@127.0.0.1:3399/orderly",
        );
    let app = spawn_app_with(settings).await.unwrap();
    let resp = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_edge_headers(&resp);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("secret-pw"),
        "the connection string leaked: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 503);
    assert!(
        body["failed_checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("mariadb")),
        "{body}"
    );
    assert!(
        text.contains(&request_id),
        "problem carries the request id: {text}"
    );

    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn post_to_health_is_405_with_allow_as_a_problem_document() {
    let app = spawn_app().await.unwrap();
    for path in ["/health", "/ready"] {
        let resp = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 405, "{path}");
        assert_edge_headers(&resp);
        let allow = resp.headers()["allow"].to_str().unwrap().to_string();
        assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], 405);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn head_health_is_200_without_a_body() {
    let app = spawn_app().await.unwrap();
    let resp = app.client.head(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_path_is_404_with_an_empty_body() {
    let app = spawn_app().await.unwrap();
    let resp = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_well_formed_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = spawn_app().await.unwrap();
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123.XYZ_9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123.XYZ_9");
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "<script>alert(1)</script>");
    assert!(!id.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn traceparent_is_accepted_and_propagated_with_the_same_trace_id() {
    let app = spawn_app().await.unwrap();
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let resp = app
        .client
        .get(app.url("/health"))
        .header("traceparent", incoming)
        .send()
        .await
        .unwrap();
    let out = resp.headers()["traceparent"].to_str().unwrap();
    assert!(
        out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{out}"
    );
    assert_ne!(out, incoming, "a new span id for this hop");
    let resp = app
        .client
        .get(app.url("/health"))
        .header(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    let out = resp.headers()["traceparent"].to_str().unwrap();
    assert!(
        !out.contains("00000000000000000000000000000000"),
        "an invalid trace id is replaced: {out}"
    );
}
