//! The kit's promise, end to end (issue 8): every rate-limiting component answers a request
//! over its quota the same way — 429, `Retry-After`, `Cache-Control: no-store`,
//! `RateLimit-Policy` and `RateLimit` (`r=0`), an RFC 9457 problem naming the request id,
//! the security headers, every header in the same order — and the steps happen in the same
//! order everywhere: the request is counted after routing and *before* the method check and
//! the handler, so under the quota a success, a 404 and a 405 all carry the RateLimit
//! headers and each takes one unit; past it a wrong method is a 429 (not a 405) and the
//! handler never runs (nothing is stored).
//!
//! One test per policy: products, users (`api` per caller, `register` per address), orders,
//! identity (`token`, `oauth` per address) and identity's sign-in form (`login`, counted by
//! its handler; its 429 is an HTML page by design, so only its headers are compared).
//! Quotas are made small through the app's variables; each test has its own `kv_prefix`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orderly_e2e::oauth::{
    Auth, ClientSpec, Pkce, authorize_path, code_count, code_request, insert_client, open_login,
    post_form, submit_login,
};
use orderly_e2e::orders::{SHOPPER_SCOPES, insert_product, order_body, order_count, stock_of};
use orderly_e2e::products::{body as product_body, count_sku, sku, writer};
use orderly_e2e::users::{
    GOOD_PASSWORD, USER_SCOPES, registered_user, unique_email, user_rows, user_token,
};
use orderly_e2e::{Settings, TestApp, admin_pool, spawn_app_with};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

/// The quota every test sets (requests per window).
const QUOTA: u64 = 3;

/// The security headers every answer carries (docs/standards.md §4), with their values.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
];

/// The header fields of a refused request, in the order the kit and the edge write them
/// (the server's own `date` and `content-length` left out). The same list for every
/// component: a change to the order changes it for all of them at once.
const REFUSED_HEADER_ORDER: &[&str] = &[
    "content-type",
    "cache-control",
    "retry-after",
    "ratelimit-policy",
    "ratelimit",
    "vary",
    "strict-transport-security",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "permissions-policy",
    "content-security-policy",
    "x-request-id",
    "traceparent",
];

/// A rate-limit policy as announced in `RateLimit-Policy`.
#[derive(Debug, Clone, Copy)]
struct Policy {
    name: &'static str,
    window_secs: u64,
}

const PER_MINUTE: u64 = 60;

/// An answer read whole: status, every header field line in the order received, body.
#[derive(Debug)]
struct Answer {
    what: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    async fn of(what: &str, request: RequestBuilder) -> Self {
        Self::of_response(what, request.send().await.unwrap()).await
    }

    async fn of_response(what: &str, response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or("<not text>").to_owned(),
                )
            })
            .collect();
        Self {
            what: what.to_owned(),
            status,
            headers,
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Every field line named `name`.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name`, which must be sent exactly once.
    fn one(&self, name: &str) -> &str {
        match self.all(name).as_slice() {
            [value] => value,
            other => panic!(
                "{}: {name} sent {} times: {other:?}",
                self.what,
                other.len()
            ),
        }
    }

    /// The header names in the order received, `date` and `content-length` left out.
    fn order(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in &self.headers {
            if name != "date" && name != "content-length" && names.last() != Some(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e})", self.what))
    }

    /// The edge's part, on every answer: a request id and the security headers.
    fn assert_edge_headers(&self) {
        let id = self.one("x-request-id");
        assert!(!id.is_empty(), "{}", self.what);
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(self.one(name), *value, "{}: {name}", self.what);
        }
        assert!(
            !self.one("content-security-policy").is_empty(),
            "{}",
            self.what
        );
    }

    /// Counted under `policy` (quota [`QUOTA`]) with `remaining` left; returns `t`.
    fn assert_counted(&self, policy: Policy, remaining: u64) -> u64 {
        assert_eq!(
            self.one("ratelimit-policy"),
            format!("\"{}\";q={QUOTA};w={}", policy.name, policy.window_secs),
            "{}",
            self.what
        );
        let state = self.one("ratelimit");
        let prefix = format!("\"{}\";r={remaining};t=", policy.name);
        let reset: u64 = state
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{}: RateLimit {state}, wanted {prefix}…", self.what))
            .parse()
            .unwrap();
        assert!(
            (1..=policy.window_secs).contains(&reset),
            "{}: t={reset}",
            self.what
        );
        reset
    }

    /// An answer under the quota: its own status, counted, the edge's headers.
    fn assert_under_quota(&self, status: u16, policy: Policy, remaining: u64) {
        assert_eq!(self.status, status, "{}: {:?}", self.what, self.headers);
        self.assert_counted(policy, remaining);
        self.assert_edge_headers();
        if status >= 400 {
            self.assert_problem_of_this_request(status);
        }
        if status == 405 {
            assert!(!self.one("allow").is_empty(), "{}", self.what);
        }
    }

    /// An RFC 9457 problem with `status` whose request id is this answer's.
    fn assert_problem_of_this_request(&self, status: u16) -> Value {
        assert_eq!(
            self.one("content-type"),
            "application/problem+json",
            "{}",
            self.what
        );
        let problem = self.json();
        let id = self.one("x-request-id");
        assert_eq!(problem["status"], status, "{}: {problem}", self.what);
        assert_eq!(problem["request_id"], id, "{}: {problem}", self.what);
        assert_eq!(
            problem["instance"],
            format!("urn:orderly:request:{id}"),
            "{}",
            self.what
        );
        problem
    }

    /// The one shape of a refused request, identical for every component.
    fn assert_refused(&self, policy: Policy) {
        assert_eq!(self.status, 429, "{}: {:?}", self.what, self.headers);
        let retry_after: u64 = self.one("retry-after").parse().unwrap();
        assert!(
            (1..=policy.window_secs).contains(&retry_after),
            "{}: Retry-After {retry_after}",
            self.what
        );
        assert_eq!(self.one("cache-control"), "no-store", "{}", self.what);
        let reset = self.assert_counted(policy, 0);
        assert_eq!(reset, retry_after, "{}: t is Retry-After", self.what);
        assert!(
            self.all("allow").is_empty(),
            "{}: refused before the method check",
            self.what
        );
        self.assert_edge_headers();
        let problem = self.assert_problem_of_this_request(429);
        let id = self.one("x-request-id");
        assert_eq!(
            problem,
            json!({
                "type": "urn:orderly:problem:too-many-requests",
                "title": "Too Many Requests",
                "status": 429,
                "detail": format!("Too many requests; retry after {retry_after} seconds."),
                "instance": format!("urn:orderly:request:{id}"),
                "request_id": id,
            }),
            "{}",
            self.what
        );
        assert_eq!(self.order(), REFUSED_HEADER_ORDER, "{}", self.what);
    }
}

/// Waits for the next window when fewer than 10 seconds of this one are left, so that a
/// test's requests fall into one window and their counts are exact.
async fn fresh_window(window_secs: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = window_secs - now % window_secs;
    if left < 10 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

async fn app_with(variable: &str) -> TestApp {
    spawn_app_with(Settings::default().variable(variable, &QUOTA.to_string()))
        .await
        .unwrap()
}

fn request(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
    let request = app.client.request(method, app.url(path));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

fn unknown_id() -> String {
    Uuid::now_v7().hyphenated().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn products_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("rate_limit_per_minute").await;
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let policy = Policy {
        name: "products",
        window_secs: PER_MINUTE,
    };
    let item = format!("/api/v1/products/{}", unknown_id());
    fresh_window(policy.window_secs).await;

    let get = |path: &str| request(&app, Method::GET, path, Some(&token));
    Answer::of("list", get("/api/v1/products?limit=1"))
        .await
        .assert_under_quota(200, policy, 2);
    Answer::of("unknown product", get(&item))
        .await
        .assert_under_quota(404, policy, 1);
    let wrong_method = Answer::of(
        "PUT on the collection",
        request(&app, Method::PUT, "/api/v1/products", Some(&token)),
    )
    .await;
    wrong_method.assert_under_quota(405, policy, 0);
    assert_eq!(wrong_method.one("allow"), "GET, HEAD, POST");

    let sku = sku();
    Answer::of(
        "create past the quota",
        request(&app, Method::POST, "/api/v1/products", Some(&token))
            .header("content-type", "application/json")
            .body(product_body(&sku, 100).to_string()),
    )
    .await
    .assert_refused(policy);
    assert_eq!(count_sku(&pool, &sku).await.unwrap(), 0, "nothing created");
    Answer::of(
        "PUT on the collection past the quota",
        request(&app, Method::PUT, "/api/v1/products", Some(&token)),
    )
    .await
    .assert_refused(policy);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("rate_limit_per_minute").await;
    let (user, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &user, USER_SCOPES).unwrap();
    let policy = Policy {
        name: "api",
        window_secs: PER_MINUTE,
    };
    fresh_window(policy.window_secs).await;

    let me = Answer::of(
        "me",
        request(&app, Method::GET, "/api/v1/users/me", Some(&token)),
    )
    .await;
    me.assert_under_quota(200, policy, 2);
    let etag = me.one("etag").to_owned();
    Answer::of(
        "someone else",
        request(
            &app,
            Method::GET,
            &format!("/api/v1/users/{}", unknown_id()),
            Some(&token),
        ),
    )
    .await
    .assert_under_quota(404, policy, 1);
    let wrong_method = Answer::of(
        "PUT on me",
        request(&app, Method::PUT, "/api/v1/users/me", Some(&token)),
    )
    .await;
    wrong_method.assert_under_quota(405, policy, 0);
    assert_eq!(wrong_method.one("allow"), "GET, HEAD, PATCH, DELETE");

    Answer::of(
        "PATCH me past the quota",
        request(&app, Method::PATCH, "/api/v1/users/me", Some(&token))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", &etag)
            .body(r#"{"display_name":"Past The Quota"}"#),
    )
    .await
    .assert_refused(policy);
    Answer::of(
        "PUT on me past the quota",
        request(&app, Method::PUT, "/api/v1/users/me", Some(&token)),
    )
    .await
    .assert_refused(policy);
    // The patch never reached the handler: the stored user is unchanged.
    let rows = user_rows(&email).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].5, 1, "the version did not move");
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("registrations_per_hour").await;
    let policy = Policy {
        name: "register",
        window_secs: 3600,
    };
    fresh_window(policy.window_secs).await;
    let post = |body: &str| {
        request(&app, Method::POST, "/api/v1/users", None)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };

    let email = unique_email();
    let account = json!({"email": email, "password": GOOD_PASSWORD}).to_string();
    Answer::of("registration", post(&account))
        .await
        .assert_under_quota(201, policy, 2);
    // Registration has no 404 or 405 of its own (other methods and paths count under
    // `api`): its errors are a refused body and a taken address.
    Answer::of("invalid body", post(r#"{"email":"nobody"}"#))
        .await
        .assert_under_quota(400, policy, 1);
    Answer::of("taken address", post(&account))
        .await
        .assert_under_quota(409, policy, 0);

    let late = unique_email();
    Answer::of(
        "registration past the quota",
        post(&json!({"email": late, "password": GOOD_PASSWORD}).to_string()),
    )
    .await
    .assert_refused(policy);
    assert!(user_rows(&late).await.unwrap().is_empty(), "nobody stored");
    assert_eq!(user_rows(&email).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("rate_limit_per_minute").await;
    let pool = admin_pool().unwrap();
    let user = orderly_e2e::orders::insert_user(&pool).await.unwrap();
    let product = insert_product(&pool, 100, "EUR", 5, "active")
        .await
        .unwrap();
    let token = orderly_e2e::orders::token(&app, &user, SHOPPER_SCOPES).unwrap();
    let policy = Policy {
        name: "orders",
        window_secs: PER_MINUTE,
    };
    let orders = format!("/api/v1/users/{user}/orders");
    let unknown = format!("/api/v1/orders/{}", unknown_id());
    fresh_window(policy.window_secs).await;

    Answer::of(
        "the user's orders",
        request(&app, Method::GET, &orders, Some(&token)),
    )
    .await
    .assert_under_quota(200, policy, 2);
    Answer::of(
        "unknown order",
        request(&app, Method::GET, &unknown, Some(&token)),
    )
    .await
    .assert_under_quota(404, policy, 1);
    let wrong_method = Answer::of(
        "DELETE an order",
        request(&app, Method::DELETE, &unknown, Some(&token)),
    )
    .await;
    wrong_method.assert_under_quota(405, policy, 0);
    assert_eq!(wrong_method.one("allow"), "GET, HEAD, PATCH");

    Answer::of(
        "place an order past the quota",
        request(&app, Method::POST, &orders, Some(&token))
            .header("content-type", "application/json")
            .body(order_body(&[(&product.id, 1)])),
    )
    .await
    .assert_refused(policy);
    assert_eq!(
        order_count(&pool, &user).await.unwrap(),
        0,
        "nothing ordered"
    );
    assert_eq!(
        stock_of(&pool, &product.id).await.unwrap(),
        5,
        "nothing sold"
    );
    Answer::of(
        "DELETE an order past the quota",
        request(&app, Method::DELETE, &unknown, Some(&token)),
    )
    .await
    .assert_refused(policy);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("rate_limit_per_minute").await;
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let policy = Policy {
        name: "token",
        window_secs: PER_MINUTE,
    };
    fresh_window(policy.window_secs).await;
    let grant = async |grant_type: &str| {
        let response = post_form(
            &app,
            "/oauth2/token",
            Auth::of(&client),
            &[("grant_type", grant_type)],
        )
        .await
        .unwrap();
        Answer::of_response(&format!("token grant {grant_type}"), response).await
    };

    let issued = grant("client_credentials").await;
    issued.assert_under_quota(200, policy, 2);
    assert!(issued.json()["access_token"].is_string());
    // An OAuth error (RFC 6749 §5.2) is counted too.
    let refused_grant = grant("password").await;
    assert_eq!(refused_grant.status, 400);
    refused_grant.assert_counted(policy, 1);
    refused_grant.assert_edge_headers();
    assert_eq!(refused_grant.json()["error"], "unsupported_grant_type");
    Answer::of(
        "GET on the token endpoint",
        request(&app, Method::GET, "/oauth2/token", None),
    )
    .await
    .assert_under_quota(405, policy, 0);

    grant("client_credentials").await.assert_refused(policy);
    Answer::of(
        "GET on the token endpoint past the quota",
        request(&app, Method::GET, "/oauth2/token", None),
    )
    .await
    .assert_refused(policy);
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_counts_every_answer_and_refuses_past_its_quota_like_every_component() {
    let app = app_with("rate_limit_per_minute").await;
    let policy = Policy {
        name: "oauth",
        window_secs: PER_MINUTE,
    };
    fresh_window(policy.window_secs).await;

    Answer::of("jwks", request(&app, Method::GET, "/oauth2/jwks", None))
        .await
        .assert_under_quota(200, policy, 2);
    Answer::of(
        "unknown OAuth path",
        request(&app, Method::GET, "/oauth2/nothing-here", None),
    )
    .await
    .assert_under_quota(404, policy, 1);
    let wrong_method = Answer::of(
        "DELETE on the sign-in page",
        request(&app, Method::DELETE, "/login", None),
    )
    .await;
    wrong_method.assert_under_quota(405, policy, 0);
    assert_eq!(wrong_method.one("allow"), "GET, HEAD, POST");

    Answer::of(
        "discovery past the quota",
        request(&app, Method::GET, "/.well-known/openid-configuration", None),
    )
    .await
    .assert_refused(policy);
    Answer::of(
        "POST on jwks past the quota",
        request(&app, Method::POST, "/oauth2/jwks", None),
    )
    .await
    .assert_refused(policy);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_counts_every_attempt_and_refuses_past_its_quota_with_an_html_429() {
    let app = app_with("login_attempts_per_minute").await;
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = orderly_e2e::oauth::insert_user("customer", "active")
        .await
        .unwrap();
    let pkce = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &pkce, "openid", "s", "n")),
    )
    .await
    .unwrap();
    let policy = Policy {
        name: "login",
        window_secs: PER_MINUTE,
    };
    fresh_window(policy.window_secs).await;

    // Counted per address and per account: one field line for each, the same policy.
    let lines = |answer: &Answer, remaining: u64| {
        assert_eq!(
            answer.all("ratelimit-policy"),
            vec![format!("\"login\";q={QUOTA};w=60"); 2],
            "{}",
            answer.what
        );
        let states = answer.all("ratelimit");
        assert_eq!(states.len(), 2, "{}: {states:?}", answer.what);
        for state in states {
            let reset: u64 = state
                .strip_prefix(&format!("\"login\";r={remaining};t="))
                .unwrap_or_else(|| panic!("{}: {state}", answer.what))
                .parse()
                .unwrap();
            assert!((1..=60).contains(&reset), "{}: {state}", answer.what);
        }
    };
    for remaining in [2, 1, 0] {
        let response = submit_login(&app, &page, &user.email, "wrong")
            .await
            .unwrap();
        let answer = Answer::of_response("wrong password", response).await;
        assert_eq!(answer.status, 400);
        lines(&answer, remaining);
        answer.assert_edge_headers();
    }

    // Even the right password is refused now, before it is checked.
    let response = submit_login(&app, &page, &user.email, &user.password)
        .await
        .unwrap();
    let refused = Answer::of_response("sign-in past the quota", response).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.one("content-type"), "text/html; charset=utf-8");
    assert_eq!(refused.one("cache-control"), "no-store");
    let retry_after: u64 = refused.one("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    lines(&refused, 0);
    assert!(
        refused
            .all("ratelimit")
            .iter()
            .all(|s| s.ends_with(&format!(";t={retry_after}"))),
        "{:?}",
        refused.headers
    );
    refused.assert_edge_headers();
    assert!(refused.all("location").is_empty(), "no redirect");
    assert!(String::from_utf8_lossy(&refused.body).contains("Too many"));
    assert_eq!(code_count(&client).await.unwrap(), 0, "no code issued");
}
