//! Bounded shared state (docs/shared-state.md): after a workload of sign-ins, code
//! exchanges, refreshes, revocations, refused logins and rate-limited catalogue reads, every
//! key the app wrote under its `kv_prefix` in the shared Redis carries an expiry no longer
//! than its purpose, and once the short expiries (rate-limit windows, breaker state) have
//! passed only the keys whose purpose is still running remain — still all with an expiry.
//! The documented set of keys without an expiry is empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use orderly_e2e::oauth::*;
use orderly_e2e::{Settings, TestApp, spawn_app_with};
use serde_json::Value;

/// The keys the app wrote under `prefix`, each with its `PTTL` in milliseconds (-1: no
/// expiry; -2: gone between `SCAN` and `PTTL`).
async fn keys_with_ttl(
    redis: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Vec<(String, i64)> {
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(redis)
            .await
            .unwrap();
        if ttl != -2 {
            out.push((key, ttl));
        }
    }
    out.sort();
    out
}

/// The longest expiry docs/shared-state.md allows for `key` (after `{prefix}:`), in ms.
fn documented_bound_millis(kind: &str, access_lifetime_secs: u64) -> Option<i64> {
    let token = i64::try_from((access_lifetime_secs + 60) * 1000).unwrap();
    if kind.starts_with("revoked-jti:") || kind.starts_with("family-jti:") {
        Some(token)
    } else if kind.starts_with("session:") {
        Some(8 * 3600 * 1000)
    } else if kind.starts_with("rl:") {
        // Per-minute windows + 1 s (the registrations policy is hourly; not used here).
        Some(61_000)
    } else if kind.starts_with("breaker:") {
        Some(15_000)
    } else {
        None
    }
}

async fn post(app: &TestApp, client: &TestClient, form: &[(&str, &str)], path: &str) -> u16 {
    post_form(app, path, Auth::of(client), form)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_workload_every_shared_key_expires_with_its_purpose_and_none_lacks_an_expiry() {
    let app = spawn_app_with(Settings::default().variable("login_attempts_per_minute", "2"))
        .await
        .unwrap();
    let prefix = app.settings.variables["SPIN_VARIABLE_KV_PREFIX"].clone();
    let mut redis = redis::Client::open(app.settings.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();
    let user = insert_user("customer", "active").await.unwrap();

    // Sign in (a session, login counters), exchange the code (a family pointer).
    let pkce = Pkce::new();
    let params = code_request(&client, &pkce, "openid orders:read", "st", "n");
    let authorized = authorize_with_login(&app, &params, &user).await.unwrap();
    let first = exchange_code(&app, &client, &authorized.code, &pkce.verifier)
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let access_lifetime = first["expires_in"].as_u64().unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let a1 = first["access_token"].as_str().unwrap().to_owned();

    // Rotate (the family pointer is rewritten), revoke an access token (a marker), reuse
    // the rotated refresh token (the family and its newest access token are revoked).
    let second = refresh(&app, &client, &r1).await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(
        post(&app, &client, &[("token", &a1)], "/oauth2/revoke").await,
        200
    );
    assert_eq!(refresh(&app, &client, &r1).await.unwrap().status(), 400);

    // Refused sign-ins (strict per-account and per-address counters, 429 past the quota).
    let other = Pkce::new();
    let page = open_login(
        &app,
        &authorize_path(&code_request(&client, &other, "openid", "s2", "n2")),
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = submit_login(&app, &page, &user.email, "wrong")
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");

    // Rate-limited catalogue reads, with and without a token.
    for i in 0..5 {
        let mut request = app.client.get(app.url("/api/v1/products"));
        if i % 2 == 0 {
            request = request.bearer_auth(second_access(&app).await);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("ratelimit"));
    }

    // Every key has an expiry within its documented bound; each kind was written.
    let keys = keys_with_ttl(&mut redis, &prefix).await;
    let without_expiry: Vec<&String> = keys
        .iter()
        .filter(|(_, ttl)| *ttl < 0)
        .map(|(k, _)| k)
        .collect();
    assert!(
        without_expiry.is_empty(),
        "keys without an expiry (the documented fixed set is empty): {without_expiry:?}"
    );
    for (key, ttl) in &keys {
        let kind = key.strip_prefix(&format!("{prefix}:")).unwrap();
        let bound = documented_bound_millis(kind, access_lifetime)
            .unwrap_or_else(|| panic!("{key} is not a documented key"));
        assert!(*ttl > 0 && *ttl <= bound, "{key}: PTTL {ttl} ms > {bound}");
    }
    for kind in [
        "session:",
        "family-jti:",
        "revoked-jti:",
        "rl:login:",
        "rl:token:",
    ] {
        assert!(
            keys.iter()
                .any(|(k, _)| k.starts_with(&format!("{prefix}:{kind}"))),
            "no {kind} key in {keys:?}"
        );
    }
    assert!(
        keys.iter().filter(|(k, _)| k.contains(":rl:")).count() >= 3,
        "{keys:?}"
    );

    // Let the short expiries pass: every rate-limit window and breaker state is gone; what
    // remains is a session, family pointers and revocation markers, all still expiring.
    let longest_short = keys
        .iter()
        .filter(|(k, _)| k.contains(":rl:") || k.contains(":breaker:"))
        .map(|(_, ttl)| *ttl)
        .max()
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(longest_short).unwrap() + 500,
    ))
    .await;
    let after = keys_with_ttl(&mut redis, &prefix).await;
    assert!(after.iter().all(|(_, ttl)| *ttl > 0), "{after:?}");
    let kinds: Vec<&str> = after
        .iter()
        .map(|(k, _)| {
            let kind = k.strip_prefix(&format!("{prefix}:")).unwrap();
            kind.split(':').next().unwrap()
        })
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["session", "family-jti", "revoked-jti"].contains(k)),
        "{after:?}"
    );
    assert!(after.len() < keys.len(), "{after:?}");
}

/// A fresh access token for the catalogue reads (client credentials would need a
/// confidential client; a forged token of the app's own key is the same to `auth`).
async fn second_access(app: &TestApp) -> String {
    app.access_token(
        "00000000-0000-7000-8000-000000000001",
        "e2e-web",
        "products:read",
    )
    .unwrap()
}

/// With the shared Redis unreachable (`redis_url` at a port nothing listens on), each route
/// does what its policy says (docs/shared-state.md): catalogue reads fail open, a bearer
/// token's revocation check fails closed and the token endpoint fails closed, each 503 with
/// `Retry-After` (sign-in's strict counters: `kit`'s and identity's unit tests).
#[tokio::test(flavor = "multi_thread")]
async fn with_redis_unreachable_reads_fail_open_and_revocation_and_token_fail_closed() {
    let settings = Settings {
        redis_url: "redis://127.0.0.1:1".to_string(),
        ..Settings::default()
    };
    let app = spawn_app_with(settings).await.unwrap();
    let client = insert_client(ClientSpec::public()).await.unwrap();

    let read = app
        .client
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "catalogue reads fail open");
    assert!(read.headers().contains_key("ratelimit-policy"));
    assert!(!read.headers().contains_key("ratelimit"), "count unknown");

    let token = app
        .access_token(
            "00000000-0000-7000-8000-000000000001",
            "e2e-web",
            "products:read",
        )
        .unwrap();
    let checked = app
        .client
        .get(app.url("/api/v1/products"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 503, "revocation check fails closed");
    assert!(checked.headers().contains_key("retry-after"));

    let issued = post_form(
        &app,
        "/oauth2/token",
        Auth::of(&client),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await
    .unwrap();
    assert_eq!(issued.status(), 503, "token endpoint fails closed");
    assert!(issued.headers().contains_key("retry-after"));
}
