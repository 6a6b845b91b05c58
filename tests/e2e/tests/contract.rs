//! The OpenAPI document is the contract: schemathesis (PyPI, pinned in
//! `tests/contract/requirements.txt`) reads `/openapi.json` from a running app, generates
//! requests for every operation from the schemas (valid and invalid ones) and checks every
//! response against the document: no 5xx, only documented status codes, content types and
//! headers, bodies matching their schemas, 405 + `Allow` for undocumented methods, auth
//! actually enforced, and more (`--checks all`).
//!
//! The tool lives in a project-local venv, `target/contract-venv`, created here when it is
//! missing (`python3 -m venv` + `pip install -r tests/contract/requirements.txt`). Without
//! Python or network the test FAILS saying so — it never passes without running.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orderly_e2e::oauth::{ClientSpec, basic, insert_client};
use orderly_e2e::{Settings, TestApp, repo_root, spawn_app_with, unique};
use serde_json::{Value, json};

/// Every scope the product defines: the token may do anything, so what schemathesis
/// finds is about the contract, not about missing grants.
const ALL_SCOPES: &str = "products:read products:write orders:read orders:write users:read \
                          users:write admin openid profile email";

/// Test cases per operation and phase: enough to cover each documented status and
/// schema branch, small enough for the whole run to stay well under three minutes.
/// `CONTRACT_MAX_EXAMPLES` overrides it for a deeper run.
const MAX_EXAMPLES: &str = "12";

/// The venv's `st` executable, creating the venv when it is missing.
fn schemathesis() -> PathBuf {
    let root = repo_root();
    let venv = root.join("target/contract-venv");
    let st = venv.join("bin/st");
    if st.is_file() {
        return st;
    }
    let requirements = root.join("tests/contract/requirements.txt");
    let created = run_quietly(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv target/contract-venv",
    )
    .and_then(|()| {
        run_quietly(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "-r"])
                .arg(&requirements),
            "pip install -r tests/contract/requirements.txt",
        )
    });
    match created {
        Ok(()) if st.is_file() => st,
        Ok(()) => panic!(
            "schemathesis is not available: {} was not installed by pip",
            st.display()
        ),
        Err(why) => panic!(
            "schemathesis is not available and could not be installed ({why}). The contract \
             test needs Python 3 and PyPI once: python3 -m venv target/contract-venv && \
             target/contract-venv/bin/pip install -r tests/contract/requirements.txt"
        ),
    }
}

fn run_quietly(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A user registered through the API: the subject of the test's access token, so user
/// routes (`/api/v1/users/me`, a user's orders) have a real account behind them.
async fn registered_user(app: &TestApp) -> String {
    let email = format!("{}@contract.example", unique("c", 24));
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .json(&json!({ "email": email, "password": unique("Contract test pw ", 32) }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "registering the test user: {body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A product for sale and an order of it by the test user, created through the API, so
/// the item routes have real resources to answer with.
async fn product_and_order(app: &TestApp, token: &str, user_id: &str) -> (String, String) {
    let sku = unique("CT-", 24)[..24].to_ascii_uppercase();
    let created = app
        .client
        .post(app.url("/api/v1/products"))
        .bearer_auth(token)
        .json(&json!({
            "sku": sku,
            "name": "Contract test mug",
            "description": "For the contract test.",
            "price": {"amount_minor": 1299, "currency": "EUR"},
            "stock": 1_000_000,
        }))
        .send()
        .await
        .unwrap();
    let status = created.status();
    let product: Value = created.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "creating the test product: {product}");
    let product_id = product["id"].as_str().unwrap().to_owned();
    let placed = app
        .client
        .post(app.url(&format!("/api/v1/users/{user_id}/orders")))
        .bearer_auth(token)
        .json(&json!({ "items": [{ "product_id": product_id, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    let status = placed.status();
    let order: Value = placed.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "placing the test order: {order}");
    (product_id, order["id"].as_str().unwrap().to_owned())
}

/// An RFC 9068 access token for `subject` with every scope, signed with the app's key.
fn access_token(app: &TestApp, subject: &str) -> String {
    app.access_token(subject, "contract-test", ALL_SCOPES)
        .unwrap()
}

fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

/// What the tool needs from the test: credentials and the account behind them.
struct Fixtures {
    token: String,
    user_id: String,
    product_id: String,
    order_id: String,
    client_basic: String,
}

fn run_schemathesis(st: &Path, app: &TestApp, fixtures: &Fixtures) -> Output {
    let root = repo_root();
    let report_dir = root.join("target/contract-report");
    Command::new(st)
        .arg("--config-file")
        .arg(root.join("tests/contract/schemathesis.toml"))
        .arg("run")
        .arg(app.url("/openapi.json"))
        .args(["--url", &app.base])
        .args(["--checks", "all"])
        .args([
            "--max-examples",
            &std::env::var("CONTRACT_MAX_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned()),
        ])
        // One worker: hypothesis's lambda-source cache is not thread-safe on Python 3.11
        // ("AST constructor recursion depth mismatch" with several).
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--seed", "20261125"])
        .arg("--no-shrink")
        .args(["--report", "junit"])
        .arg("--report-dir")
        .arg(&report_dir)
        .env("SCHEMATHESIS_HOOKS", root.join("tests/contract/hooks.py"))
        .env("CONTRACT_TOKEN", &fixtures.token)
        .env("CONTRACT_USER_ID", &fixtures.user_id)
        .env("CONTRACT_PRODUCT_ID", &fixtures.product_id)
        .env("CONTRACT_ORDER_ID", &fixtures.order_id)
        .env("CONTRACT_CLIENT_BASIC", &fixtures.client_basic)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", st.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_openapi_document_says() {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    // Quotas far above what the run sends: the contract, not the rate limiter, is under
    // test here (429 stays documented and is accepted wherever it is).
    let settings = Settings::default()
        .variable("rate_limit_per_minute", "1000000")
        .variable("registrations_per_hour", "1000000")
        .variable("login_attempts_per_minute", "1000000");
    let app = spawn_app_with(settings).await.unwrap();

    // The document the tool reads is the one the docs component serves.
    let served = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let document: Value = served.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let user_id = registered_user(&app).await;
    let token = access_token(&app, &user_id);
    // A confidential client with every grant and scope, for the token, revocation and
    // introspection endpoints (HTTP Basic).
    let client = insert_client(ClientSpec {
        confidential: true,
        grant_types: "authorization_code,refresh_token,client_credentials",
        scopes: ALL_SCOPES,
        redirect_uris: vec!["http://127.0.0.1:9/callback".to_owned()],
    })
    .await
    .unwrap();
    let (product_id, order_id) = product_and_order(&app, &token, &user_id).await;
    let fixtures = Fixtures {
        token,
        user_id,
        product_id,
        order_id,
        client_basic: basic(&client.client_id, client.secret.as_deref().unwrap()),
    };

    let started = std::time::Instant::now();
    let output = {
        let st = st.clone();
        let app_ref = &app;
        // The tool is a blocking child process; the app keeps serving on tokio's workers.
        tokio::task::block_in_place(|| run_schemathesis(&st, app_ref, &fixtures))
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "schemathesis found contract violations after {:?} ({}; the JUnit report is in \
         target/contract-report):\n{}\n{}",
        started.elapsed(),
        output.status,
        tail(&stdout, 400),
        tail(&stderr, 40),
    );
    assert!(
        stdout.contains("passed") || stdout.contains("Passed"),
        "schemathesis ran no test:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_and_its_page_are_served_cacheable_through_the_host() {
    let app = orderly_e2e::spawn_app().await.unwrap();

    let served = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let document: Value = served.json().await.unwrap();
    let source: Value =
        serde_json::from_str(include_str!("../../../openapi/openapi.json")).unwrap();
    assert_eq!(document, source, "the served document is the repository's");

    let revalidated = app
        .client
        .get(app.url("/openapi.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"], etag.as_str());
    assert!(revalidated.bytes().await.unwrap().is_empty());

    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"));
    for (path, item) in source["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                assert!(
                    html.contains(&format!("id=\"op-{id}\"")),
                    "{method} {path} missing from /docs"
                );
            }
        }
    }

    let refused = app.client.post(app.url("/docs")).send().await.unwrap();
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "GET, HEAD");
}

#[test]
fn the_committed_document_is_what_openapi_generate_py_writes() {
    let root = repo_root();
    let output = Command::new("python3")
        .arg(root.join("openapi/generate.py"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to check openapi/openapi.json: {e}"));
    assert!(
        output.status.success(),
        "openapi/openapi.json is stale; run python3 openapi/generate.py\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
