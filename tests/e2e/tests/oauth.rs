//! The identity component end to end: discovery, JWKS, authorization code + PKCE through
//! the real sign-in page, token endpoint grants and errors, refresh rotation and reuse
//! detection, revocation, introspection, userinfo, login CSRF and throttling.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::{Duration, Instant};

use orderly_e2e::oauth::*;
use orderly_e2e::{Settings, TEST_KID, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use tokens::Expectations;

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

fn assert_no_store(response: &reqwest::Response, what: &str) {
    assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
    assert_eq!(response.headers()["pragma"], "no-cache", "{what}");
}

async fn oauth_error(response: reqwest::Response, status: u16, error: &str, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    assert_no_store(&response, what);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
    body
}

/// Signs `user` in for `client` and exchanges the code; returns the token response.
async fn sign_in_and_exchange(
    app: &TestApp,
    client: &TestClient,
    user: &TestUser,
    scope: &str,
) -> Value {
    let pkce = Pkce::new();
    let params = code_request(client, &pkce, scope, "st-1", "n-1");
    let authorized = authorize_with_login(app, &params, user).await.unwrap();
    let response = exchange_code(app, client, &authorized.code, &pkce.verifier)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

// ------------------------------------------------------------------ discovery, JWKS

#[tokio::test(flavor = "multi_thread")]
async fn discovery_documents_describe_exactly_what_is_implemented() {
    let app = spawn_app().await.unwrap();
    let oidc = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(oidc.status(), 200);
    assert!(
        oidc.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    for h in SECURITY_HEADERS {
        assert!(oidc.headers().contains_key(*h), "{h}");
    }
    let oidc: Value = oidc.json().await.unwrap();
    let rfc8414: Value = app
        .client
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, rfc8414);
    assert_eq!(oidc["issuer"], ISSUER);
    assert_eq!(oidc["token_endpoint"], format!("{ISSUER}/oauth2/token"));
    assert_eq!(
        oidc["authorization_endpoint"],
        format!("{ISSUER}/oauth2/authorize")
    );
    assert_eq!(oidc["jwks_uri"], format!("{ISSUER}/oauth2/jwks"));
    assert_eq!(
        oidc["revocation_endpoint"],
        format!("{ISSUER}/oauth2/revoke")
    );
    assert_eq!(
        oidc["introspection_endpoint"],
        format!("{ISSUER}/oauth2/introspect")
    );
    assert_eq!(
        oidc["userinfo_endpoint"],
        format!("{ISSUER}/oauth2/userinfo")
    );
    assert_eq!(oidc["response_types_supported"], json!(["code"]));
    assert_eq!(oidc["response_modes_supported"], json!(["query"]));
    assert_eq!(
        oidc["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(oidc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        oidc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    assert!(
        oidc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_publishes_the_public_signing_key_only() {
    let app = spawn_app().await.unwrap();
    let response = app
        .client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], TEST_KID);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert!(keys[0].get("d").is_none(), "private part published");
    // What auth verifies with is what we publish.
    let published = tokens::VerifyingKeys::from_jwks_json(&jwks.to_string()).unwrap();
    assert!(published.get(TEST_KID).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_publishes_the_next_key_before_it_signs() {
    let next = tokens::SigningKey::generate(Some(tokens::Kid::new("next-1").unwrap())).unwrap();
    let settings = Settings::default()
        .variable("next_signing_key", &next.to_pkcs8_pem().unwrap())
        .variable("next_signing_kid", "next-1");
    let app = spawn_app_with(settings).await.unwrap();
    let jwks: Value = app
        .client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![TEST_KID, "next-1"]);
    // Tokens are still signed by the current key.
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let body: Value = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "client_credentials")],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let header = body["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let header: Value =
        serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(&header).unwrap()).unwrap();
    assert_eq!(header["kid"], TEST_KID);
}

use base64ct::Encoding as _;

// ------------------------------------------------------------------ client credentials

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_issues_an_rfc_9068_access_token_and_nothing_else() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let response = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "client_credentials")],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_store(&response, "token response");
    assert!(response.headers().contains_key("ratelimit-policy"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    // Default scope: the client's scopes without admin.
    let scope = body["scope"].as_str().unwrap();
    assert!(scope.contains("orders:read"));
    assert!(!scope.split(' ').any(|s| s == "admin"), "{scope}");

    let token = body["access_token"].as_str().unwrap();
    let keys = app_keys(&app).unwrap();
    let claims =
        tokens::verify_access_token(token, &keys, &Expectations::new(ISSUER, AUDIENCE, now()))
            .unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, client.client_id);
    assert_eq!(claims.client_id, client.client_id);
    assert_eq!(claims.exp - claims.iat, 900);

    // Asking for a subset works; asking for more than registered is invalid_scope.
    let narrowed: Value = post_form(
        &app,
        "/oauth2/token",
        Auth::Post(&client.client_id, client.secret.as_deref().unwrap()),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read admin"),
        ],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(narrowed["scope"], "admin orders:read");
    let wider = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "products:write"),
        ],
    )
    .await
    .unwrap();
    oauth_error(wider, 400, "invalid_scope", "scope beyond registration").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_for_a_public_client_is_unauthorized_client() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let response = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "client_credentials")],
    )
    .await
    .unwrap();
    oauth_error(response, 400, "unauthorized_client", "public client").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_or_missing_client_credentials_are_401_invalid_client() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let cases = [
        (
            Auth::Basic(&client.client_id, "wrong-secret"),
            "wrong secret (basic)",
        ),
        (
            Auth::Post(&client.client_id, "wrong-secret"),
            "wrong secret (post)",
        ),
        (Auth::Basic("no-such-client", "secret"), "unknown client"),
        (
            Auth::Public(&client.client_id),
            "confidential client without its secret",
        ),
        (Auth::Nothing, "no client authentication"),
    ];
    for (auth, what) in cases {
        let response = post_form(
            &app,
            "/oauth2/token",
            auth,
            &[("grant_type", "client_credentials")],
        )
        .await
        .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"orderly\"",
            "{what}"
        );
        oauth_error(response, 401, "invalid_client", what).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_implicit_and_unknown_grants_are_unsupported() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let response = post_form(
            &app,
            "/oauth2/token",
            Auth::of(&client),
            &[
                ("grant_type", grant),
                ("username", "a@b.c"),
                ("password", "x"),
            ],
        )
        .await
        .unwrap();
        oauth_error(response, 400, "unsupported_grant_type", grant).await;
    }
    let missing = post_form(&app, "/oauth2/token", Auth::of(&client), &[])
        .await
        .unwrap();
    oauth_error(missing, 400, "invalid_request", "no grant_type").await;
    let json = app
        .client
        .post(app.url("/oauth2/token"))
        .header(
            "authorization",
            basic(&client.client_id, client.secret.as_deref().unwrap()),
        )
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415, "JSON body");
    assert_eq!(json.headers()["cache-control"], "no-store");
}

// ------------------------------------------------------------------ authorization code

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce_issues_access_refresh_and_id_tokens_with_one_issuer() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let params = code_request(
        &client,
        &pkce,
        "openid email profile orders:read",
        "state-xyz",
        "nonce-abc",
    );
    let authorized = authorize_with_login(&app, &params, &user).await.unwrap();
    assert!(
        authorized.location.starts_with(&format!("{REDIRECT}?")),
        "{}",
        authorized.location
    );
    assert_eq!(authorized.state.as_deref(), Some("state-xyz"));
    assert_eq!(authorized.iss.as_deref(), Some(ISSUER));
    assert!(authorized.session_cookie.is_some());
    assert_eq!(code_used(&authorized.code).await.unwrap(), Some(false));

    let response = exchange_code(&app, &client, &authorized.code, &pkce.verifier)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_store(&response, "code exchange");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code_used(&authorized.code).await.unwrap(), Some(true));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email openid orders:read profile");
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh_state(refresh_token).await.unwrap(),
        Some((false, false))
    );

    let keys = app_keys(&app).unwrap();
    let access = tokens::verify_access_token(
        body["access_token"].as_str().unwrap(),
        &keys,
        &Expectations::new(ISSUER, AUDIENCE, now()),
    )
    .unwrap();
    assert_eq!(access.sub, user.id.hyphenated().to_string());
    assert_eq!(access.client_id, client.client_id);

    let id = tokens::verify_id_token(
        body["id_token"].as_str().unwrap(),
        &keys,
        &Expectations::new(ISSUER, &client.client_id, now()),
        Some("nonce-abc"),
    )
    .unwrap();
    assert_eq!(id.sub, access.sub);
    assert!(id.auth_time.unwrap() <= now());

    // One issuer, byte for byte: discovery, RFC 9207 `iss`, access and ID tokens.
    let discovery: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = discovery["issuer"].as_str().unwrap();
    assert_eq!(authorized.iss.as_deref(), Some(issuer));
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap()).unwrap()["iss"],
        issuer
    );
    assert_eq!(
        jwt_claims(body["id_token"].as_str().unwrap()).unwrap()["iss"],
        issuer
    );

    // Userinfo with the access token (GET and POST).
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let info = app
            .client
            .request(method.clone(), app.url("/oauth2/userinfo"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), 200, "{method}");
        assert_eq!(info.headers()["cache-control"], "no-store");
        let info: Value = info.json().await.unwrap();
        assert_eq!(info["sub"], access.sub);
        assert_eq!(info["email"], user.email);
        assert_eq!(info["email_verified"], false);
        assert_eq!(info["name"], "OAuth Tester");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_user_gets_a_code_without_the_login_page() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let params = code_request(&client, &pkce, "openid", "s1", "n1");
    let first = authorize_with_login(&app, &params, &user).await.unwrap();
    let cookie = first.session_cookie.unwrap();
    let pkce2 = Pkce::new();
    let params2 = code_request(&client, &pkce2, "openid", "s2", "n2");
    let response = app
        .client
        .get(app.url(&authorize_path(&params2)))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("s2"));
    let code = query_param(&location, "code").unwrap();
    let exchanged = exchange_code(&app, &client, &code, &pkce2.verifier)
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 200);
    // prompt=none without a session: login_required back at the client.
    let mut none = code_request(&client, &pkce2, "openid", "s3", "n3");
    none.push(("prompt", "none"));
    let response = app
        .client
        .get(app.url(&authorize_path(&none)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pkce_plain_missing_or_malformed_is_refused_at_the_client_with_state_and_iss() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let pkce = Pkce::new();
    let base = code_request(&client, &pkce, "openid", "st", "n");
    let without = |name: &str| -> Vec<(&str, &str)> {
        base.iter().filter(|(k, _)| *k != name).cloned().collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut params = without(name);
        params.push((name, value));
        params
    };
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            with("code_challenge_method", "plain"),
            "invalid_request",
            "plain PKCE",
        ),
        (
            without("code_challenge_method"),
            "invalid_request",
            "no method (defaults to plain)",
        ),
        (without("code_challenge"), "invalid_request", "no challenge"),
        (
            with("code_challenge", "short"),
            "invalid_request",
            "malformed challenge",
        ),
        (
            with("response_type", "token"),
            "unsupported_response_type",
            "implicit",
        ),
        (
            with("scope", "openid admin"),
            "invalid_scope",
            "scope beyond registration",
        ),
    ];
    for (params, error, what) in cases {
        let response = app
            .client
            .get(app.url(&authorize_path(&params)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{what}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{what}: {location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{what}"
        );
        assert!(
            query_param(&location, "error_description").is_some(),
            "{what}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("st"),
            "{what}"
        );
        assert_eq!(
            query_param(&location, "iss").as_deref(),
            Some(ISSUER),
            "{what}"
        );
        assert_eq!(query_param(&location, "code"), None, "{what}");
    }
    assert_eq!(code_count(&client).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_malformed_verifier_is_refused_without_consuming_the_code() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let params = code_request(&client, &pkce, "openid", "s", "n");
    let authorized = authorize_with_login(&app, &params, &user).await.unwrap();

    let wrong = exchange_code(&app, &client, &authorized.code, &Pkce::new().verifier)
        .await
        .unwrap();
    oauth_error(wrong, 400, "invalid_grant", "another verifier").await;
    let malformed = exchange_code(&app, &client, &authorized.code, "too-short")
        .await
        .unwrap();
    oauth_error(
        malformed,
        400,
        "invalid_request",
        "verifier outside the ABNF",
    )
    .await;
    let missing = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[
            ("grant_type", "authorization_code"),
            ("code", &authorized.code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
    .unwrap();
    oauth_error(missing, 400, "invalid_request", "no verifier").await;
    let other_redirect = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[
            ("grant_type", "authorization_code"),
            ("code", &authorized.code),
            ("redirect_uri", "http://127.0.0.1:9/callback/"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await
    .unwrap();
    oauth_error(other_redirect, 400, "invalid_grant", "another redirect_uri").await;
    assert_eq!(code_used(&authorized.code).await.unwrap(), Some(false));

    let right = exchange_code(&app, &client, &authorized.code, &pkce.verifier)
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let params = code_request(&client, &pkce, "openid orders:read", "s", "n");
    let authorized = authorize_with_login(&app, &params, &user).await.unwrap();
    let first: Value = exchange_code(&app, &client, &authorized.code, &pkce.verifier)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let access_token = first["access_token"].as_str().unwrap();

    let replay = exchange_code(&app, &client, &authorized.code, &pkce.verifier)
        .await
        .unwrap();
    oauth_error(replay, 400, "invalid_grant", "replayed code").await;

    assert_eq!(
        refresh_state(refresh_token).await.unwrap(),
        Some((false, true))
    );
    let refreshed = refresh(&app, &client, refresh_token).await.unwrap();
    oauth_error(refreshed, 400, "invalid_grant", "refresh after replay").await;
    for token in [refresh_token, access_token] {
        let introspected: Value = post_form(
            &app,
            "/oauth2/introspect",
            Auth::of(&client),
            &[("token", token)],
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(introspected, json!({"active": false}));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redirect_uri_must_match_exactly_and_an_untrusted_one_is_never_redirected_to() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let pkce = Pkce::new();
    for (uri, what) in [
        ("http://127.0.0.1:9/callback/", "trailing slash"),
        ("http://127.0.0.1:10/callback", "another port"),
        ("http://127.0.0.1:9/callback?x=1", "extra query parameter"),
        ("https://evil.example/callback", "another host"),
    ] {
        let mut params = code_request(&client, &pkce, "openid", "s", "n");
        params.retain(|(k, _)| *k != "redirect_uri");
        params.push(("redirect_uri", uri));
        let response = app
            .client
            .get(app.url(&authorize_path(&params)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{what}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect_uri"), "{what}");
        assert!(
            !html.contains("evil.example"),
            "{what}: the page echoes the URI"
        );
    }
    // An unknown client: an error page too, even with a valid-looking redirect.
    let mut params = code_request(&client, &pkce, "openid", "s", "n");
    params.retain(|(k, _)| *k != "client_id");
    params.push(("client_id", "no-such-client"));
    let response = app
        .client
        .get(app.url(&authorize_path(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());

    // Omitted redirect_uri with exactly one registered: that one is used.
    let mut params = code_request(&client, &pkce, "openid", "s", "n");
    params.retain(|(k, _)| *k != "redirect_uri");
    let response = app
        .client
        .get(app.url(&authorize_path(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?")
    );
}

// ------------------------------------------------------------------ refresh tokens

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_reuse_revokes_the_whole_family_newest_too() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let first = sign_in_and_exchange(&app, &client, &user, "openid orders:read orders:write").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    // Narrowing is allowed; widening is not (and consumes nothing).
    let wider = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "orders:read products:write"),
        ],
    )
    .await
    .unwrap();
    oauth_error(wider, 400, "invalid_scope", "wider scope").await;
    assert_eq!(refresh_state(&r1).await.unwrap(), Some((false, false)));

    let second = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "orders:read"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(second.status(), 200);
    assert_no_store(&second, "refresh");
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["scope"], "orders:read");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(refresh_state(&r1).await.unwrap(), Some((true, false)));
    assert_eq!(refresh_state(&r2).await.unwrap(), Some((false, false)));

    let third: Value = refresh(&app, &client, &r2)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();

    // Reuse of r1: invalid_grant, and r1, r2, r3 (the newest) are all revoked.
    let reuse = refresh(&app, &client, &r1).await.unwrap();
    oauth_error(reuse, 400, "invalid_grant", "reuse").await;
    for token in [&r1, &r2, &r3] {
        assert_eq!(refresh_state(token).await.unwrap().map(|s| s.1), Some(true));
    }
    let newest = refresh(&app, &client, &r3).await.unwrap();
    oauth_error(newest, 400, "invalid_grant", "newest after reuse").await;
    // The newest access token (from the last rotation) is revoked with its family.
    let latest_access = third["access_token"].as_str().unwrap();
    let introspected: Value = post_form(
        &app,
        "/oauth2/introspect",
        Auth::of(&client),
        &[("token", latest_access)],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(introspected, json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_refreshes_with_one_token_exactly_one_succeeds() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let first = sign_in_and_exchange(&app, &client, &user, "orders:read").await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, client, token) = (app.clone(), client.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let response = refresh(&app, &client, &token).await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }));
    }
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => ok += 1,
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        refresh_state(&token).await.unwrap().map(|s| s.0),
        Some(true)
    );
}

// ------------------------------------------------------------------ revocation, introspection

#[tokio::test(flavor = "multi_thread")]
async fn revoked_tokens_introspect_inactive_and_unknown_tokens_say_only_inactive() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let tokens = sign_in_and_exchange(&app, &client, &user, "openid orders:read").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let active = post_form(
        &app,
        "/oauth2/introspect",
        Auth::of(&client),
        &[("token", access)],
    )
    .await
    .unwrap();
    assert_eq!(active.status(), 200);
    assert_eq!(active.headers()["cache-control"], "no-store");
    let active: Value = active.json().await.unwrap();
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], client.client_id);
    assert_eq!(active["sub"], user.id.hyphenated().to_string());
    assert_eq!(active["iss"], ISSUER);
    assert_eq!(active["aud"], AUDIENCE);
    assert_eq!(active["scope"], "openid orders:read");
    assert!(active["exp"].is_u64() && active["iat"].is_u64() && active["jti"].is_string());
    let refresh_active: Value = post_form(
        &app,
        "/oauth2/introspect",
        Auth::of(&client),
        &[("token", refresh_token)],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(refresh_active["active"], true);
    assert_eq!(refresh_active["token_type"], "refresh_token");

    for token in [access, refresh_token] {
        let revoked = post_form(
            &app,
            "/oauth2/revoke",
            Auth::of(&client),
            &[("token", token)],
        )
        .await
        .unwrap();
        assert_eq!(revoked.status(), 200);
        let introspected: Value = post_form(
            &app,
            "/oauth2/introspect",
            Auth::of(&client),
            &[("token", token)],
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(introspected, json!({"active": false}));
    }
    assert_eq!(
        refresh_state(refresh_token).await.unwrap().map(|s| s.1),
        Some(true)
    );
    let info = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    assert!(
        info.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    for unknown in ["not-a-token", "a.b.c", &"x".repeat(43)] {
        let revoke = post_form(
            &app,
            "/oauth2/revoke",
            Auth::of(&client),
            &[("token", unknown)],
        )
        .await
        .unwrap();
        assert_eq!(revoke.status(), 200, "revoking {unknown}");
        let body: Value = post_form(
            &app,
            "/oauth2/introspect",
            Auth::of(&client),
            &[("token", unknown)],
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body, json!({"active": false}), "{unknown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_revocation_need_client_authentication() {
    let app = spawn_app().await.unwrap();
    for path in ["/oauth2/introspect", "/oauth2/revoke"] {
        let response = post_form(&app, path, Auth::Nothing, &[("token", "whatever")])
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"orderly\"",
            "{path}"
        );
        oauth_error(response, 401, "invalid_client", path).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let app = spawn_app().await.unwrap();
    let owner = insert_client(ClientSpec::confidential()).await.unwrap();
    let other = insert_client(ClientSpec::confidential()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let tokens = sign_in_and_exchange(&app, &owner, &user, "orders:read").await;
    for name in ["access_token", "refresh_token"] {
        let token = tokens[name].as_str().unwrap();
        let response = post_form(
            &app,
            "/oauth2/revoke",
            Auth::of(&other),
            &[("token", token)],
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = post_form(
            &app,
            "/oauth2/introspect",
            Auth::of(&owner),
            &[("token", token)],
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body["active"], true, "{name} was revoked by another client");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_needs_a_valid_bearer_token_with_openid() {
    let app = spawn_app().await.unwrap();
    let none = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"orderly\""
    );
    let bad = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // A client-credentials token without openid: insufficient scope.
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let client_token = |scope: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let body: Value = post_form(
                app,
                "/oauth2/token",
                Auth::of(client),
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    // With openid but no user behind it (sub = client_id): not a user's token.
    let no_user = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(client_token("openid").await)
        .send()
        .await
        .unwrap();
    assert_eq!(no_user.status(), 401);
    let response = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(client_token("orders:read").await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}

// ------------------------------------------------------------------ the sign-in page

#[tokio::test(flavor = "multi_thread")]
async fn the_login_page_is_a_plain_form_with_a_strict_csp() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let pkce = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &pkce, "openid", "s", "n")),
    )
    .await
    .unwrap();
    for h in SECURITY_HEADERS {
        assert!(page.headers.contains_key(*h), "{h}");
    }
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("orderly_csrf="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!page.html.contains("<script"));
    assert!(page.html.contains("autocomplete=\"username\""));
    assert!(page.html.contains("autocomplete=\"current-password\""));
    assert!(page.html.contains("<label for=\"password\">"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_without_the_right_csrf_token_or_cookie_is_403_and_issues_no_code() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &pkce, "openid", "s", "n")),
    )
    .await
    .unwrap();
    let other_cookie = format!("orderly_csrf={}", "A".repeat(43));
    let wrong_token = "B".repeat(43);
    let cases: Vec<(Option<&str>, Option<&str>, &str)> = vec![
        (Some(&page.cookie), None, "no csrf field"),
        (Some(&page.cookie), Some(&wrong_token), "wrong csrf field"),
        (None, Some(&page.csrf), "no csrf cookie"),
        (
            Some(&other_cookie),
            Some(&page.csrf),
            "another browser's cookie",
        ),
    ];
    for (cookie, csrf, what) in cases {
        let mut form = vec![
            ("request", page.request.as_str()),
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
        ];
        if let Some(csrf) = csrf {
            form.push(("csrf", csrf));
        }
        let mut request = app.client.post(app.url("/login")).form(&form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
        assert!(
            set_cookies(response.headers())
                .iter()
                .all(|c| !c.starts_with("orderly_session"))
        );
    }
    assert_eq!(code_count(&client).await.unwrap(), 0);
    // The real form still works.
    let response = submit_login(&app, &page, &user.email, &user.password)
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(code_count(&client).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_unknown_and_disabled_accounts_get_one_generic_answer_after_the_same_work()
{
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let disabled = insert_user("customer", "disabled").await.unwrap();
    let pkce = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &pkce, "openid", "s", "n")),
    )
    .await
    .unwrap();
    let cases = [
        (user.email.as_str(), "wrong-password", "wrong password"),
        (
            "nobody-here@oauth.example",
            user.password.as_str(),
            "unknown email",
        ),
        (
            disabled.email.as_str(),
            disabled.password.as_str(),
            "disabled account",
        ),
    ];
    for (email, password, what) in cases {
        let started = Instant::now();
        let response = submit_login(&app, &page, email, password).await.unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), 400, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("The email or password is incorrect."),
            "{what}"
        );
        // Argon2id (19 MiB, t=2) ran: the unknown email too (dummy verification).
        assert!(took > Duration::from_millis(5), "{what} took {took:?}");
    }
    assert_eq!(code_count(&client).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_attempts_are_throttled_per_account_and_address_with_ratelimit_headers() {
    let app = spawn_app_with(Settings::default().variable("login_attempts_per_minute", "3"))
        .await
        .unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let pkce = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &pkce, "openid", "s", "n")),
    )
    .await
    .unwrap();
    for attempt in 1..=3 {
        let response = submit_login(&app, &page, &user.email, "wrong")
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "attempt {attempt}");
    }
    // The fourth attempt is refused before the password is checked, even the right one.
    let response = submit_login(&app, &page, &user.email, &user.password)
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(response.headers()["ratelimit-policy"], "\"login\";q=3;w=60");
    assert_eq!(
        response.headers()["ratelimit"],
        format!("\"login\";r=0;t={retry_after}").as_str()
    );
    assert!(response.headers().get("location").is_none());
    assert_eq!(code_count(&client).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_is_rate_limited_per_address() {
    let app = spawn_app_with(Settings::default().variable("rate_limit_per_minute", "2"))
        .await
        .unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    for _ in 0..2 {
        let response = post_form(
            &app,
            "/oauth2/token",
            Auth::of(&client),
            &[("grant_type", "password")],
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 400);
    }
    let response = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "password")],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["ratelimit-policy"], "\"token\";q=2;w=60");
    assert!(
        response.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"token\";r=0;t=")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_discovery_and_introspection_share_a_per_address_limit_with_ratelimit_headers() {
    let app = spawn_app_with(Settings::default().variable("rate_limit_per_minute", "3"))
        .await
        .unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let jwks = app
        .client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    assert_eq!(jwks.headers()["ratelimit-policy"], "\"oauth\";q=3;w=60");
    let remaining = jwks.headers()["ratelimit"].to_str().unwrap().to_owned();
    assert!(remaining.starts_with("\"oauth\";r=2;t="), "{remaining}");
    let discovery = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    assert!(
        discovery.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"oauth\";r=1;t=")
    );
    let introspect = post_form(
        &app,
        "/oauth2/introspect",
        Auth::of(&client),
        &[("token", "not-a-token")],
    )
    .await
    .unwrap();
    assert_eq!(introspect.status(), 200);
    assert!(
        introspect.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"oauth\";r=0;t=")
    );
    assert_eq!(
        introspect.json::<Value>().await.unwrap(),
        json!({ "active": false })
    );

    for path in ["/oauth2/introspect", "/oauth2/jwks"] {
        let response = if path == "/oauth2/jwks" {
            app.client.get(app.url(path)).send().await.unwrap()
        } else {
            post_form(&app, path, Auth::of(&client), &[("token", "not-a-token")])
                .await
                .unwrap()
        };
        assert_eq!(response.status(), 429, "{path}");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{path}: {retry_after}");
        assert_eq!(response.headers()["ratelimit-policy"], "\"oauth\";q=3;w=60");
        assert!(
            response.headers()["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with("\"oauth\";r=0;t="),
            "{path}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 429, "{path}");
    }

    // The token endpoint counts on its own policy.
    let token = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "password")],
    )
    .await
    .unwrap();
    assert_eq!(token.status(), 400);
    assert_eq!(token.headers()["ratelimit-policy"], "\"token\";q=3;w=60");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_accepts_an_issued_token_and_refuses_it_once_revoked() {
    let app = spawn_app().await.unwrap();
    let client = insert_client(ClientSpec::confidential()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();
    let tokens = sign_in_and_exchange(&app, &client, &user, "users:read").await;
    let access = tokens["access_token"].as_str().unwrap();
    let me = app
        .client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], user.id.hyphenated().to_string());

    let revoked = post_form(
        &app,
        "/oauth2/revoke",
        Auth::of(&client),
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await
    .unwrap();
    assert_eq!(revoked.status(), 200);
    // Refused on every instance within 1 s (the auth middleware trusts a "not revoked"
    // answer for at most that long).
    let revoked_at = std::time::Instant::now();
    let after = loop {
        let after = app
            .client
            .get(app.url("/api/v1/users/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        if after.status() == 401 || revoked_at.elapsed() > std::time::Duration::from_millis(1_500) {
            break after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(after.status(), 401);
    assert!(
        after.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_issuer_is_used_verbatim_and_cookies_become_secure_host_cookies() {
    let issuer = "https://id.orderly.example";
    let app = spawn_app_with(Settings::default().variable("issuer", issuer))
        .await
        .unwrap();
    let discovery: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer);
    assert_eq!(
        discovery["token_endpoint"],
        format!("{issuer}/oauth2/token")
    );

    let client = insert_client(ClientSpec::public()).await.unwrap();
    let pkce = Pkce::new();
    let response = app
        .client
        .get(app.url(&authorize_path(&code_request(
            &client, &pkce, "openid", "s", "n",
        ))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let login = response.headers()["location"].to_str().unwrap().to_owned();
    let page = app.client.get(app.url(&login)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-orderly_csrf="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("Path=/;"), "{cookie}");

    // Errors sent back to the client carry the same issuer (RFC 9207).
    let mut plain = code_request(&client, &pkce, "openid", "s", "n");
    plain.retain(|(k, _)| *k != "code_challenge_method");
    plain.push(("code_challenge_method", "plain"));
    let response = app
        .client
        .get(app.url(&authorize_path(&plain)))
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&location, "iss").as_deref(), Some(issuer));
}
