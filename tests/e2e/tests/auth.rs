//! The `auth` middleware through the real composed components (`spin.toml`
//! `dependencies.middleware`): bearer verification, the token attack list, revocation,
//! per-route scopes, forged internal headers.
//!
//! "Passed the middleware" means: not 401/403, no Bearer challenge (every refusal of the
//! middleware carries one), and the response echoes the `X-Request-Id` we sent — the route
//! component answered with its own status (the components are built in parallel; a POST
//! without a body is their 400/415, a placeholder's 404, a missing table's 500).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::net::TcpListener;

use orderly_e2e::tokens_forge::{Forge, b64, b64_decode, now, unsigned};
use orderly_e2e::{TestApp, spawn_app, unique};
use reqwest::{Method, Response};
use serde_json::{Value, json};

const USER: &str = "0190b0c4-0000-7000-8000-00000000e2e1";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
) -> (Response, String) {
    let request_id = unique("auth-e2e-", 24);
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("x-request-id", &request_id);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    (request.send().await.unwrap(), request_id)
}

async fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> (Response, String) {
    send(app, method, path, Some(&format!("Bearer {token}"))).await
}

/// A 401 from the middleware: a Bearer challenge (with `error=` iff `error` is given), a
/// problem document with our request id, the security headers, and no trace of `secret`.
async fn assert_401(
    response: Response,
    request_id: &str,
    error: Option<&str>,
    secret: &str,
    what: &str,
) {
    assert_eq!(response.status(), 401, "{what}");
    assert_refusal(response, request_id, 401, error, secret, what).await;
}

async fn assert_refusal(
    response: Response,
    request_id: &str,
    status: u16,
    error: Option<&str>,
    secret: &str,
    what: &str,
) -> String {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"orderly\""),
        "{what}: {challenge}"
    );
    match error {
        Some(code) => assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{what}: {challenge}"
        ),
        None => assert!(!challenge.contains("error="), "{what}: {challenge}"),
    }
    assert_eq!(response.headers()["x-request-id"], request_id, "{what}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().contains_key("content-security-policy"));
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json"),
        "{what}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{what}");
    assert_eq!(body["request_id"], request_id, "{what}");
    if secret.len() > 8 {
        let probe = &secret[secret.len().saturating_sub(40)..];
        assert!(
            !challenge.contains(probe),
            "{what}: challenge echoes the token"
        );
        assert!(
            !body.to_string().contains(probe),
            "{what}: problem echoes the token"
        );
    }
    challenge
}

/// The request reached the route component.
fn assert_passed(response: &Response, request_id: &str, what: &str) {
    // Every refusal of the middleware but a 503 (revocation list down, not provoked here)
    // carries a Bearer challenge; the components answer with their own statuses.
    let status = response.status().as_u16();
    assert!(
        ![401, 403].contains(&status),
        "{what}: stopped with {status}"
    );
    assert!(
        !response.headers().contains_key("www-authenticate"),
        "{what}: challenged with {status}"
    );
    assert_eq!(response.headers()["x-request-id"], request_id, "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_token_with_the_scope_reaches_the_component() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let token = forge
        .access_token(USER, "e2e-web", "products:write")
        .unwrap();
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &token).await;
    assert_passed(&response, &id, "products:write on POST /api/v1/products");

    let admin = forge.access_token(USER, "e2e-web", "admin").unwrap();
    let (response, id) = bearer(&app, Method::GET, "/api/v1/users", &admin).await;
    assert_passed(&response, &id, "admin on GET /api/v1/users");

    let reader = forge.access_token(USER, "e2e-web", "users:read").unwrap();
    let (response, id) = bearer(&app, Method::GET, "/api/v1/users/me", &reader).await;
    assert_passed(&response, &id, "users:read on GET /api/v1/users/me");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_case_insensitive_but_basic_is_refused() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let token = forge
        .access_token(USER, "e2e-web", "products:write")
        .unwrap();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let (response, id) = send(
            &app,
            Method::POST,
            "/api/v1/products",
            Some(&format!("{scheme} {token}")),
        )
        .await;
        assert_passed(&response, &id, scheme);
    }
    let (response, id) = send(
        &app,
        Method::POST,
        "/api/v1/products",
        Some("Basic ZTJlOnNlY3JldA=="),
    )
    .await;
    assert_401(response, &id, None, "ZTJlOnNlY3JldA==", "Basic").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_token_on_a_protected_route_is_401_without_an_error_code() {
    let app = spawn_app().await.unwrap();
    for (method, path) in [
        (Method::POST, "/api/v1/products"),
        (Method::GET, "/api/v1/users/me"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/users/me/orders"),
        (
            Method::GET,
            "/api/v1/orders/0190b0c4-0000-7000-8000-000000000001",
        ),
    ] {
        let (response, id) = send(&app, method.clone(), path, None).await;
        assert_401(response, &id, None, "", &format!("{method} {path}")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_lacking_the_scope_is_403_insufficient_scope_naming_it() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let token = forge
        .access_token(USER, "e2e-web", "orders:read users:read")
        .unwrap();
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &token).await;
    assert_eq!(response.status(), 403);
    let challenge = assert_refusal(
        response,
        &id,
        403,
        Some("insufficient_scope"),
        &token,
        "POST products",
    )
    .await;
    assert!(
        challenge.contains("scope=\"products:write\""),
        "{challenge}"
    );

    let (response, id) = bearer(&app, Method::GET, "/api/v1/users", &token).await;
    assert_eq!(response.status(), 403);
    let challenge = assert_refusal(
        response,
        &id,
        403,
        Some("insufficient_scope"),
        &token,
        "GET users",
    )
    .await;
    assert!(challenge.contains("scope=\"admin\""), "{challenge}");
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_catalogue_reads_and_preflight_pass_but_a_bad_token_there_is_401() {
    let app = spawn_app().await.unwrap();
    for (method, path) in [
        (Method::GET, "/api/v1/products"),
        (Method::HEAD, "/api/v1/products"),
        (
            Method::GET,
            "/api/v1/products/0190b0c4-0000-7000-8000-000000000001",
        ),
        (Method::OPTIONS, "/api/v1/users/me"),
        (Method::POST, "/api/v1/users"),
    ] {
        let (response, id) = send(&app, method.clone(), path, None).await;
        assert_passed(&response, &id, &format!("anonymous {method} {path}"));
    }
    let (response, id) = bearer(&app, Method::GET, "/api/v1/products", "not-a-jwt").await;
    assert_401(
        response,
        &id,
        Some("invalid_token"),
        "not-a-jwt",
        "bad token on GET",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_internal_headers_without_a_token_do_not_make_a_principal() {
    let app = spawn_app().await.unwrap();
    let id = unique("auth-e2e-", 24);
    let response = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("x-request-id", &id)
        .header("x-orderly-subject", "admin")
        .header("x-orderly-subject-kind", "user")
        .header("x-orderly-client-id", "e2e-web")
        .header("x-orderly-scope", "admin users:read")
        .header("x-orderly-token-id", "forged")
        .send()
        .await
        .unwrap();
    assert_401(response, &id, None, "", "forged x-orderly-* headers").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_in_the_query_string_or_a_form_body_is_refused() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let token = forge
        .access_token(USER, "e2e-web", "products:write")
        .unwrap();

    let id = unique("auth-e2e-", 24);
    let response = app
        .client
        .get(app.url(&format!("/api/v1/products?access_token={token}")))
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_refusal(response, &id, 400, Some("invalid_request"), &token, "query").await;

    let id = unique("auth-e2e-", 24);
    let response = app
        .client
        .post(app.url("/api/v1/products"))
        .header("x-request-id", &id)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=x&access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_refusal(response, &id, 400, Some("invalid_request"), &token, "form").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let jti = unique("revoked-", 32);
    let token = forge
        .access_token_with_jti(USER, "e2e-web", "products:write", &jti)
        .unwrap();
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &token).await;
    assert_passed(&response, &id, "before revocation");

    let prefix = &app.settings.variables["SPIN_VARIABLE_KV_PREFIX"];
    let client = redis::Client::open(app.settings.redis_url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:revoked-jti:{jti}");
    redis::cmd("SET")
        .arg(&key)
        .arg((now() + 900).to_string())
        .arg("EX")
        .arg(900)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();

    // An instance trusts a "not revoked" answer for at most 1 s (components/auth
    // REVOCATION_CHECK_TTL_MILLIS): the revocation holds on every instance within that.
    let revoked_at = std::time::Instant::now();
    let (response, id) = loop {
        let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &token).await;
        if response.status() == 401
            || revoked_at.elapsed() > std::time::Duration::from_millis(1_500)
        {
            break (response, id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let what = "revoked jti";
    assert_401(response, &id, Some("invalid_token"), &token, what).await;
    let (response, id) = bearer(&app, Method::GET, "/api/v1/products", &token).await;
    assert_401(
        response,
        &id,
        Some("invalid_token"),
        &token,
        "revoked on a public GET",
    )
    .await;

    // Another token of the same user is not affected.
    let other = forge
        .access_token(USER, "e2e-web", "products:write")
        .unwrap();
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &other).await;
    assert_passed(&response, &id, "another jti");
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
}

/// Every entry of the attack list: 401 `invalid_token` with a problem document, on a route
/// the forged token's scope would otherwise open.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_attack_list_is_refused_with_401_invalid_token() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let scope = "products:write admin";
    let claims = forge.claims(USER, scope);
    let header = forge.header();
    let with_header = |name: &str, value: Value| {
        let mut h = header.clone();
        h[name] = value;
        h
    };
    let with_claim = |name: &str, value: Value| {
        let mut c = claims.clone();
        c[name] = value;
        c
    };

    // A listener that must never be contacted: `jku`/`x5u` point at it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let trap = format!("http://{}/jwks.json", listener.local_addr().unwrap());

    let mut attacks: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = with_header("alg", json!(alg));
        attacks.push((format!("alg {alg}, no signature"), unsigned(&h, &claims)));
        attacks.push((
            format!("alg {alg} with a real signature"),
            forge.sign(&h, &claims),
        ));
    }
    let hs = with_header("alg", json!("HS256"));
    let pem = forge.public_key_pem().unwrap();
    let jwk = forge.public_jwk_json().unwrap();
    attacks.push((
        "HS256 keyed with the public key PEM".into(),
        Forge::hs256(&hs, &claims, pem.as_bytes()).unwrap(),
    ));
    attacks.push((
        "HS256 keyed with the public key PEM (no trailing newline)".into(),
        Forge::hs256(&hs, &claims, pem.trim_end().as_bytes()).unwrap(),
    ));
    attacks.push((
        "HS256 keyed with the public JWK".into(),
        Forge::hs256(&hs, &claims, jwk.as_bytes()).unwrap(),
    ));
    attacks.push((
        "unknown kid".into(),
        forge.sign(&with_header("kid", json!("no-such-key")), &claims),
    ));
    for (label, kid) in [
        ("path traversal kid", json!("../../etc/passwd")),
        ("SQL kid", json!("' OR '1'='1' --")),
        ("1 KB kid", json!("k".repeat(1024))),
        ("10 KB kid", json!("k".repeat(10 * 1024))),
        ("NUL and newline in kid", json!("test-key-1\u{0}\n")),
        ("numeric kid", json!(1)),
    ] {
        attacks.push((label.into(), forge.sign(&with_header("kid", kid), &claims)));
    }
    let mut no_kid = header.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    attacks.push(("no kid".into(), forge.sign(&no_kid, &claims)));
    let public_jwk: Value = serde_json::from_str(&jwk).unwrap();
    attacks.push((
        "embedded jwk".into(),
        forge.sign(&with_header("jwk", public_jwk), &claims),
    ));
    attacks.push((
        "jku to a listener".into(),
        forge.sign(&with_header("jku", json!(trap)), &claims),
    ));
    attacks.push((
        "x5u to a listener".into(),
        forge.sign(&with_header("x5u", json!(trap)), &claims),
    ));
    attacks.push((
        "x5c".into(),
        forge.sign(&with_header("x5c", json!(["MIIBIjAN"])), &claims),
    ));
    attacks.push((
        "unknown crit".into(),
        forge.sign(
            &with_header("crit", json!(["exp-ext"])),
            &with_claim("exp-ext", json!(true)),
        ),
    ));
    let now = now();
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 1020);
    expired["nbf"] = json!(now - 1020);
    expired["exp"] = json!(now - 120);
    attacks.push(("expired".into(), forge.sign(&header, &expired)));
    attacks.push((
        "not yet valid beyond the leeway".into(),
        forge.sign(&header, &with_claim("nbf", json!(now + 600))),
    ));
    attacks.push((
        "issued in the future".into(),
        forge.sign(&header, &with_claim("iat", json!(now + 600))),
    ));
    attacks.push((
        "wrong iss".into(),
        forge.sign(&header, &with_claim("iss", json!("https://evil.example"))),
    ));
    attacks.push((
        "iss with a trailing slash".into(),
        forge.sign(
            &header,
            &with_claim("iss", json!(format!("{}/", forge.issuer))),
        ),
    ));
    attacks.push((
        "wrong aud".into(),
        forge.sign(
            &header,
            &with_claim("aud", json!("https://other.example/api")),
        ),
    ));
    let mut id_claims = claims.clone();
    id_claims["aud"] = json!("e2e-web");
    attacks.push((
        "an ID token (typ JWT)".into(),
        forge.sign(&with_header("typ", json!("JWT")), &id_claims),
    ));
    attacks.push((
        "an access token without typ".into(),
        forge.sign(
            &{
                let mut h = header.clone();
                h.as_object_mut().unwrap().remove("typ");
                h
            },
            &claims,
        ),
    ));
    let weak = forge.access_token(USER, "e2e-web", "orders:read").unwrap();
    let parts: Vec<&str> = weak.split('.').collect();
    let mut upgraded: Value = serde_json::from_slice(&b64_decode(parts[1]).unwrap()).unwrap();
    upgraded["scope"] = json!(scope);
    attacks.push((
        "edited payload (scope upgraded)".into(),
        format!(
            "{}.{}.{}",
            parts[0],
            b64(upgraded.to_string().as_bytes()),
            parts[2]
        ),
    ));
    attacks.push(("garbage".into(), "garbage".into()));
    attacks.push(("two segments".into(), format!("{}.{}", parts[0], parts[1])));
    attacks.push(("four segments".into(), format!("{weak}.{}", parts[2])));
    attacks.push((
        "bad base64 in the payload".into(),
        format!("{}.{}!!.{}", parts[0], parts[1], parts[2]),
    ));
    attacks.push((
        "padded base64".into(),
        format!("{}.{}==.{}", parts[0], parts[1], parts[2]),
    ));
    attacks.push((
        "oversized token".into(),
        forge.sign(&header, &with_claim("pad", json!("x".repeat(9 * 1024)))),
    ));
    let stranger = Forge::with_key_pem(&app.settings, &Forge::stranger_key_pem().unwrap()).unwrap();
    attacks.push((
        "signed by another key with the right kid".into(),
        stranger.sign(&header, &claims),
    ));
    attacks.push((
        "signed by another key, issued by the real code path".into(),
        stranger.access_token(USER, "e2e-web", scope).unwrap(),
    ));
    let mut empty_jti = claims.clone();
    empty_jti["jti"] = json!("");
    attacks.push(("empty jti".into(), forge.sign(&header, &empty_jti)));
    let mut no_sub = claims.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    attacks.push(("no sub".into(), forge.sign(&header, &no_sub)));

    // Sanity: the same header and claims, untampered, pass — so every refusal below is due
    // to the one thing each attack changed.
    let control = forge.sign(&header, &claims);
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &control).await;
    assert_passed(&response, &id, "control token");
    // A valid signature in its high-S form (what a KMS or HSM signer makes half the time,
    // RFC 7518 §3.4 allows it) passes like the low-S one.
    let high_s = forge.sign_high_s(&header, &claims).unwrap();
    let (response, id) = bearer(&app, Method::POST, "/api/v1/products", &high_s).await;
    assert_passed(
        &response,
        &id,
        "the control token's signature in high-S form",
    );

    for (label, token) in &attacks {
        let (response, id) = bearer(&app, Method::POST, "/api/v1/products", token).await;
        assert_401(response, &id, Some("invalid_token"), token, label).await;
    }
    assert!(
        matches!(listener.accept(), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the jku/x5u listener was contacted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_sent_spin_matched_route_cannot_pick_a_weaker_policy() {
    // `/api/v1/products` allows anonymous GETs; the host overwrites the header with the
    // route that really matched, so the client's copy never reaches the policy.
    let app = spawn_app().await.unwrap();
    let id = unique("auth-e2e-", 24);
    let response = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("x-request-id", &id)
        .header("spin-matched-route", "/api/v1/products")
        .send()
        .await
        .unwrap();
    assert_401(response, &id, None, "", "forged spin-matched-route").await;
}

/// Registers a user through the real `users` component; returns its id.
async fn register(app: &TestApp) -> String {
    let email = format!("{}@example.com", unique("auth-e2e-", 24));
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .json(&json!({"email": email, "password": "violet-harbour-lantern-1987"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "registration: {body}");
    assert_eq!(body["email"], email.as_str());
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verified_principal_reaches_the_component_and_forged_headers_are_replaced() {
    let app = spawn_app().await.unwrap();
    let forge = Forge::for_app(&app.settings).unwrap();
    let alice = register(&app).await;
    let bob = register(&app).await;
    let token = forge.access_token(&alice, "e2e-web", "users:read").unwrap();

    // `me` resolves to the token's subject, whatever the client claims to be.
    let response = app
        .client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(&token)
        .header("x-orderly-subject", &bob)
        .header("x-orderly-scope", "admin users:read")
        .header("x-orderly-subject-kind", "user")
        .header("x-orderly-client-id", "forged")
        .header("x-orderly-token-id", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], alice.as_str(), "{body}");

    // A forged `admin` scope does not open another user's record.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/users/{bob}")))
        .bearer_auth(&token)
        .header("x-orderly-scope", "admin users:read")
        .send()
        .await
        .unwrap();
    assert!(
        [403, 404].contains(&response.status().as_u16()),
        "{}",
        response.status()
    );

    // With no token at all, the forged headers are no principal: the middleware refuses.
    let (response, id) = {
        let id = unique("auth-e2e-", 24);
        let response = app
            .client
            .get(app.url(&format!("/api/v1/users/{alice}")))
            .header("x-request-id", &id)
            .header("x-orderly-subject", &alice)
            .header("x-orderly-subject-kind", "user")
            .header("x-orderly-client-id", "e2e-web")
            .header("x-orderly-scope", "admin users:read")
            .header("x-orderly-token-id", "forged")
            .send()
            .await
            .unwrap();
        (response, id)
    };
    assert_401(response, &id, None, "", "forged principal, no token").await;
}
