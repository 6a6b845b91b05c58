//! Signing-key rotation through the real components: the keys files `orderly-admin keys`
//! writes at each documented step (init → stage → promote → retire) are given to the app
//! as the Kubernetes Deployment gives them (every variable of the keys file as
//! `SPIN_VARIABLE_*`), one app per step as successive rollouts, all on one database.
//!
//! "Verifies" is checked at both verifiers: the `auth` middleware (a `products:write` POST
//! is let through and creates the product) and identity (`/oauth2/introspect` says
//! `active`), and identity's JWKS lists exactly the keys of the step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure should stop the test loudly"
)]

use admin::keys::{JWKS_MAX_AGE_SECS, KeySet};
use base64ct::Encoding as _;
use orderly_e2e::oauth::{Auth, ClientSpec, TestClient, insert_client, now, post_form};
use orderly_e2e::products::{body, sku};
use orderly_e2e::{AUDIENCE, ISSUER, Settings, TestApp, spawn_app_with, unique};
use serde_json::Value;
use tokens::{AccessClaims, ScopeSet, SigningKey, issue_access_token, random_jti};

const SCOPE: &str = "products:write";

/// An app configured with `keys` the way the Deployment configures it.
async fn rollout(keys: &KeySet, kv_prefix: &str) -> TestApp {
    let mut settings = Settings::default().variable("kv_prefix", kv_prefix);
    for (name, value) in keys.variables().unwrap() {
        settings = settings.variable(name, &value);
    }
    settings.signing_key_pem = keys.current().to_pkcs8_pem().unwrap().to_string();
    spawn_app_with(settings).await.unwrap()
}

/// A client_credentials token from identity.
async fn issued_token(app: &TestApp, client: &TestClient) -> String {
    let response = post_form(
        app,
        "/oauth2/token",
        Auth::of(client),
        &[("grant_type", "client_credentials"), ("scope", SCOPE)],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A token signed with `key` as identity would have signed it at `issued_at`.
fn token_signed_at(key: &SigningKey, client: &TestClient, issued_at: u64) -> String {
    let claims = AccessClaims::new(
        ISSUER,
        &client.client_id,
        AUDIENCE,
        &client.client_id,
        ScopeSet::parse(SCOPE).unwrap(),
        random_jti().unwrap(),
        issued_at,
    );
    issue_access_token(key, &claims).unwrap()
}

/// Whether the auth middleware lets `token` through to the products component (201, the
/// product exists) or refuses it (401 `invalid_token`).
async fn middleware_accepts(app: &TestApp, token: &str) -> bool {
    let response = app
        .client
        .post(app.url("/api/v1/products"))
        .bearer_auth(token)
        .json(&body(&sku(), 1999))
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        201 => true,
        401 => {
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("invalid_token"), "{challenge}");
            false
        }
        other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
    }
}

/// Whether identity's introspection says the token is active.
async fn identity_accepts(app: &TestApp, client: &TestClient, token: &str) -> bool {
    let response = post_form(
        app,
        "/oauth2/introspect",
        Auth::of(client),
        &[("token", token)],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["active"].as_bool().unwrap()
}

async fn verifies_everywhere(app: &TestApp, client: &TestClient, token: &str) -> bool {
    let middleware = middleware_accepts(app, token).await;
    let identity = identity_accepts(app, client, token).await;
    assert_eq!(
        middleware, identity,
        "the middleware and identity disagree about a token"
    );
    middleware
}

/// The kids identity publishes, in order, and the JWKS cache lifetime.
async fn published(app: &TestApp) -> (Vec<String>, String) {
    let response = app
        .client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let jwks: Value = response.json().await.unwrap();
    let kids = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    (kids, cache)
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_stay_valid_through_a_rotation_until_they_expire_and_new_ones_verify_everywhere() {
    let client = insert_client(ClientSpec {
        grant_types: "client_credentials",
        scopes: SCOPE,
        redirect_uris: Vec::new(),
        ..ClientSpec::confidential()
    })
    .await
    .unwrap();
    let prefix = unique("rot", 12);
    let t = now();

    // Step 0: one key.
    let s0 = KeySet::init(Some("k1"), t).unwrap();
    let app0 = rollout(&s0, &prefix).await;
    let before = issued_token(&app0, &client).await;
    assert_eq!(kid_of(&before), "k1");
    let (kids, cache) = published(&app0).await;
    assert_eq!(kids, ["k1"]);
    // Promotion waits exactly as long as clients may cache this document.
    assert_eq!(cache, format!("public, max-age={JWKS_MAX_AGE_SECS}"));

    // Step 1 (stage): k2 is published and known to every verifier, but signs nothing yet.
    let s1 = s0.stage(Some("k2"), t).unwrap();
    let app1 = rollout(&s1, &prefix).await;
    assert_eq!(published(&app1).await.0, ["k1", "k2"]);
    assert_eq!(kid_of(&issued_token(&app1, &client).await), "k1");
    assert!(verifies_everywhere(&app1, &client, &before).await);

    // Step 2 (promote): k2 signs, k1 is retired but still published.
    let s2 = s1.promote(t + JWKS_MAX_AGE_SECS, false).unwrap();
    let app2 = rollout(&s2, &prefix).await;
    assert_eq!(published(&app2).await.0, ["k2", "k1"]);
    let after = issued_token(&app2, &client).await;
    assert_eq!(kid_of(&after), "k2");
    // Tokens signed before the rotation still verify after it…
    assert!(verifies_everywhere(&app2, &client, &before).await);
    // …until they expire: a k1 token about to expire passes, an expired one does not.
    let k1 = s0.current();
    let expiring = token_signed_at(k1, &client, now() - 840);
    assert!(verifies_everywhere(&app2, &client, &expiring).await);
    let expired = token_signed_at(k1, &client, now() - 1_000);
    assert!(!verifies_everywhere(&app2, &client, &expired).await);
    // Tokens signed after verify everywhere: on promoted pods and on pods of the
    // previous step still running during the rollout (they hold k2 as `next`).
    assert!(verifies_everywhere(&app2, &client, &after).await);
    assert!(verifies_everywhere(&app1, &client, &after).await);
    // Skipping the stage step would have broken that: a step-0 pod refuses k2 tokens.
    assert!(!verifies_everywhere(&app0, &client, &after).await);

    // Step 3 (retire, once k1's tokens have expired): only k2 is left.
    let s3 = s2
        .retire(
            &[],
            t + JWKS_MAX_AGE_SECS + admin::keys::RETIRE_AFTER_SECS,
            false,
        )
        .unwrap();
    let app3 = rollout(&s3, &prefix).await;
    assert_eq!(published(&app3).await.0, ["k2"]);
    assert!(verifies_everywhere(&app3, &client, &after).await);
    assert!(!verifies_everywhere(&app3, &client, &before).await);
}
