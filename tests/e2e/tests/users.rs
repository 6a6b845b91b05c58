//! The users component end to end: the real `users.wasm` behind the real `auth`
//! middleware (spin.toml), against MariaDB and Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use orderly_e2e::users::{
    ADMIN_SCOPES, GOOD_PASSWORD, USER_SCOPES, access_token, give_an_order, make_admin, register,
    registered_user, unique_email, user_rows, user_token,
};
use orderly_e2e::{Settings, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .patch(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.send().await.unwrap()
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

fn pointers(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_201_with_location_and_stores_an_argon2id_hash_it_never_returns() {
    let app = spawn_app().await.unwrap();
    let email = unique_email();
    let response = register(
        &app,
        &json!({"email": email, "password": GOOD_PASSWORD, "display_name": "Ada"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    assert!(response.headers().contains_key("etag"));
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"register\";q=20;w=3600"
    );
    let text = response.text().await.unwrap();
    assert!(!text.contains("argon2"), "{text}");
    assert!(!text.contains("password"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/users/{id}"));
    assert_eq!(body["email"], email.as_str());
    assert_eq!(body["display_name"], "Ada");
    assert_eq!(body["roles"], json!(["customer"]));
    assert_eq!(body["status"], "active");
    assert_eq!(body["_links"]["self"]["href"], location.as_str());

    let rows = user_rows(&email).await.unwrap();
    assert_eq!(rows.len(), 1);
    let (row_id, _, hash, roles, status, version) = &rows[0];
    assert_eq!(row_id, id);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(credentials::verify_secret(GOOD_PASSWORD, hash).unwrap());
    assert_eq!(
        (roles.as_str(), status.as_str(), *version),
        ("customer", "active", 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_email_in_another_case_is_409_saying_nothing_more_and_adds_no_row() {
    let app = spawn_app().await.unwrap();
    let (_, email) = registered_user(&app).await.unwrap();
    let shouted = email
        .to_ascii_uppercase()
        .replace("@USERS.EXAMPLE", "@users.example");
    let response = register(
        &app,
        &json!({"email": shouted, "password": "another fine passphrase"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "This email address cannot be used.");
    assert!(body.get("errors").is_none() || body["errors"] == json!([]));
    assert_eq!(user_rows(&email).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_passwords_are_400_with_a_field_error_and_no_row() {
    let app = spawn_app().await.unwrap();
    for (password, code) in [
        ("password123", "common_password"),
        ("Zq9!x", "too_short"),
        ("11111111111", "repetitive_or_sequential"),
    ] {
        let email = unique_email();
        let response = register(&app, &json!({"email": email, "password": password}))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{password}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["pointer"], "/password");
        assert_eq!(body["errors"][0]["code"], code);
        assert!(!body.to_string().contains(password));
        assert!(user_rows(&email).await.unwrap().is_empty());
    }
    // Containing the address's local part.
    let email = unique_email();
    let local = email.split('@').next().unwrap();
    let response = register(
        &app,
        &json!({"email": email, "password": format!("x{local}y")}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "contains_email");
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_and_status_cannot_be_set_at_registration() {
    let app = spawn_app().await.unwrap();
    let email = unique_email();
    let response = register(
        &app,
        &json!({"email": email, "password": GOOD_PASSWORD, "roles": ["admin"], "status": "active"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let mut found = pointers(&body);
    found.sort();
    assert_eq!(found, ["/roles", "/status"]);
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    assert!(user_rows(&email).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_needs_json_and_reports_every_bad_field() {
    let app = spawn_app().await.unwrap();
    let email = unique_email();
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={email}&password=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert!(user_rows(&email).await.unwrap().is_empty());

    let response = register(&app, &json!({"email": "not-an-email", "display_name": 7}))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let mut found = pointers(&body);
    found.sort();
    assert_eq!(found, ["/display_name", "/email", "/password"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn me_is_the_callers_own_profile_and_a_client_token_has_none() {
    let app = spawn_app().await.unwrap();
    let (id, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let response = get(&app, "/api/v1/users/me", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["email"], email.as_str());
    assert_eq!(body["_links"]["update"]["method"], "PATCH");
    assert!(body.get("password_hash").is_none());

    let machine = access_token(&app, "orderly-machine", "orderly-machine", "users:read").unwrap();
    let response = get(&app, "/api/v1/users/me", &machine).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_id_is_404_unless_the_caller_is_an_admin() {
    let app = spawn_app().await.unwrap();
    let (a, _) = registered_user(&app).await.unwrap();
    let (b, b_email) = registered_user(&app).await.unwrap();
    let token_a = user_token(&app, &a, USER_SCOPES).unwrap();
    let response = get(&app, &format!("/api/v1/users/{b}"), &token_a).await;
    assert_eq!(response.status(), 404);
    let missing = get(
        &app,
        "/api/v1/users/019ab000-0000-7000-8000-000000000000",
        &token_a,
    )
    .await;
    assert_eq!(missing.status(), 404);
    let a_body: Value = response.json().await.unwrap();
    let missing_body: Value = missing.json().await.unwrap();
    assert_eq!(a_body["detail"], missing_body["detail"]);

    // Patching or deleting B is as invisible, and changes nothing.
    let response = patch(
        &app,
        &format!("/api/v1/users/{b}"),
        &token_a,
        Some("*"),
        &json!({"display_name": "pwned"}),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(user_rows(&b_email).await.unwrap()[0].5, 1);

    let (admin, _) = registered_user(&app).await.unwrap();
    make_admin(&admin).await.unwrap();
    let admin_token = user_token(&app, &admin, ADMIN_SCOPES).unwrap();
    let response = get(&app, &format!("/api/v1/users/{b}"), &admin_token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], b_email.as_str());
    assert_eq!(body["_links"]["collection"]["href"], "/api/v1/users");
}

#[tokio::test(flavor = "multi_thread")]
async fn etags_answer_304_and_guard_patches() {
    let app = spawn_app().await.unwrap();
    let (id, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let path = format!("/api/v1/users/{id}");
    let first = get(&app, &path, &token).await;
    let tag = etag(&first);
    assert!(tag.starts_with('"') && !tag.starts_with("W/"), "{tag}");

    let not_modified = app
        .client
        .get(app.url(&path))
        .bearer_auth(&token)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(etag(&not_modified), tag);

    let missing = patch(&app, &path, &token, None, &json!({"display_name": "Ada"})).await;
    assert_eq!(missing.status(), 428);
    let wrong_type = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("if-match", &tag)
        .body(r#"{"display_name":"Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);

    let updated = patch(
        &app,
        &path,
        &token,
        Some(&tag),
        &json!({"display_name": "Ada"}),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let new_tag = etag(&updated);
    assert_ne!(new_tag, tag);
    let body: Value = updated.json().await.unwrap();
    assert_eq!(body["display_name"], "Ada");
    assert_eq!(body["version"], 2);
    assert_eq!(user_rows(&email).await.unwrap()[0].5, 2);

    let stale = patch(
        &app,
        &path,
        &token,
        Some(&tag),
        &json!({"display_name": "Eve"}),
    )
    .await;
    assert_eq!(stale.status(), 412);
    let changed = get(&app, &path, &token).await;
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["display_name"], "Ada");

    // Merge patch: null clears the name.
    let cleared = patch(
        &app,
        &path,
        &token,
        Some(&new_tag),
        &json!({"display_name": null}),
    )
    .await;
    assert_eq!(cleared.status(), 200);
    let body: Value = cleared.json().await.unwrap();
    assert_eq!(body["display_name"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_admin_may_change_roles_or_status() {
    let app = spawn_app().await.unwrap();
    let (id, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let path = format!("/api/v1/users/{id}");
    let promote = patch(&app, &path, &token, Some("*"), &json!({"roles": ["admin"]})).await;
    assert_eq!(promote.status(), 403);
    let rows = user_rows(&email).await.unwrap();
    assert_eq!((rows[0].3.as_str(), rows[0].5), ("customer", 1));

    let (admin, _) = registered_user(&app).await.unwrap();
    make_admin(&admin).await.unwrap();
    let admin_token = user_token(&app, &admin, ADMIN_SCOPES).unwrap();
    let disabled = patch(
        &app,
        &path,
        &admin_token,
        Some("*"),
        &json!({"status": "disabled", "roles": ["customer", "admin"]}),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    let rows = user_rows(&email).await.unwrap();
    assert_eq!(
        (rows[0].3.as_str(), rows[0].4.as_str(), rows[0].5),
        ("customer,admin", "disabled", 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_needs_if_match_and_removes_the_row() {
    let app = spawn_app().await.unwrap();
    let (id, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let path = format!("/api/v1/users/{id}");
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 428);
    let tag = etag(&get(&app, &path, &token).await);
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&token)
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(user_rows(&email).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await.unwrap();
    let (id, _) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let response = app
        .client
        .put(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, PATCH, DELETE");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_list_pages_with_signed_cursors_and_refuses_tampered_ones() {
    let app = spawn_app().await.unwrap();
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(registered_user(&app).await.unwrap().0);
    }
    let (admin, _) = registered_user(&app).await.unwrap();
    make_admin(&admin).await.unwrap();
    let admin_token = user_token(&app, &admin, ADMIN_SCOPES).unwrap();

    // Not for customers.
    let customer = user_token(&app, &created[0], USER_SCOPES).unwrap();
    assert_eq!(get(&app, "/api/v1/users", &customer).await.status(), 403);

    // Newest first, two per page, walked with `next` until our four users went by. Other
    // tests register and delete users concurrently in the same database, so the walk checks
    // what keyset pagination promises: our users come in order (the admin, then the three,
    // newest to oldest), no user twice, and `prev` leads back to the page before.
    let ids_of = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = get(&app, "/api/v1/users?limit=2&sort=-created_at", &admin_token).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "private, no-store");
    let mut page: Value = first.json().await.unwrap();
    assert!(page["_links"].get("prev").is_none());
    let ours = [
        admin.clone(),
        created[2].clone(),
        created[1].clone(),
        created[0].clone(),
    ];
    let mut seen: Vec<String> = Vec::new();
    let mut pages: Vec<(String, Vec<String>)> = Vec::new();
    let mut href = "/api/v1/users?limit=2&sort=-created_at".to_owned();
    let mut next = None;
    for _ in 0..200 {
        let ids = ids_of(&page);
        assert!(ids.len() <= 2);
        seen.extend(ids.iter().cloned());
        pages.push((href.clone(), ids));
        if ours.iter().all(|id| seen.contains(id)) {
            break;
        }
        let Some(link) = page["_links"]["next"]["href"].as_str() else {
            break;
        };
        href = link.to_owned();
        next.get_or_insert_with(|| href.clone());
        page = get(&app, &href, &admin_token).await.json().await.unwrap();
    }
    let positions: Vec<usize> = ours
        .iter()
        .map(|id| {
            seen.iter()
                .position(|s| s == id)
                .expect("every user of ours was listed")
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    // `prev` of the second page leads back to the first page's users.
    let next = next.expect("more than one page");
    let second: Value = get(&app, &next, &admin_token).await.json().await.unwrap();
    let prev = second["_links"]["prev"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let back: Value = get(&app, &prev, &admin_token).await.json().await.unwrap();
    assert_eq!(ids_of(&back), pages[0].1);

    // A cursor altered by one character, or replayed with another sort, is refused.
    let cursor = next.split("cursor=").nth(1).unwrap();
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[3] = if tampered[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let response = get(
        &app,
        &format!("/api/v1/users?limit=2&sort=-created_at&cursor={tampered}"),
        &admin_token,
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["pointer"], "/query/cursor");
    let replayed = get(
        &app,
        &format!("/api/v1/users?limit=2&sort=created_at&cursor={cursor}"),
        &admin_token,
    )
    .await;
    assert_eq!(replayed.status(), 400);

    let too_many = get(&app, "/api/v1/users?limit=101", &admin_token).await;
    assert_eq!(too_many.status(), 400);
    let unknown = get(&app, "/api/v1/users?sort=email", &admin_token).await;
    assert_eq!(unknown.status(), 400);
    let stray = get(&app, "/api/v1/users?role=admin", &admin_token).await;
    assert_eq!(stray.status(), 400);
    let body: Value = stray.json().await.unwrap();
    assert_eq!(body["errors"][0]["pointer"], "/query/role");
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_are_rate_limited_per_address_with_ratelimit_headers() {
    let app = spawn_app_with(Settings::default().variable("registrations_per_hour", "3"))
        .await
        .unwrap();
    for remaining in [2, 1, 0] {
        let response = register(
            &app,
            &json!({"email": unique_email(), "password": GOOD_PASSWORD}),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"register\";q=3;w=3600"
        );
        let state = response.headers()["ratelimit"].to_str().unwrap();
        assert!(
            state.starts_with(&format!("\"register\";r={remaining};t=")),
            "{state}"
        );
    }
    let email = unique_email();
    let response = register(&app, &json!({"email": email, "password": GOOD_PASSWORD}))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after));
    let state = response.headers()["ratelimit"].to_str().unwrap();
    assert!(state.starts_with("\"register\";r=0;t="), "{state}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(user_rows(&email).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_with_orders_is_not_deleted_but_can_be_disabled() {
    let app = spawn_app().await.unwrap();
    let (id, email) = registered_user(&app).await.unwrap();
    give_an_order(&id).await.unwrap();
    let (admin, _) = registered_user(&app).await.unwrap();
    make_admin(&admin).await.unwrap();
    let admin_token = user_token(&app, &admin, ADMIN_SCOPES).unwrap();
    let path = format!("/api/v1/users/{id}");
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin_token)
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("disable"));
    assert_eq!(user_rows(&email).await.unwrap().len(), 1);

    let disabled = patch(
        &app,
        &path,
        &admin_token,
        Some("*"),
        &json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    // The admin list filters by status.
    let listed: Value = get(
        &app,
        "/api/v1/users?status=disabled&limit=100",
        &admin_token,
    )
    .await
    .json()
    .await
    .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert!(items.iter().all(|u| u["status"] == "disabled"));
    assert!(
        listed["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .contains("status=disabled")
    );
}

/// Waits for a fresh rate-limit window when fewer than 6 seconds of this one are left,
/// so a test's requests all fall into one window.
async fn start_of_a_window() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if secs % 60 >= 54 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - secs % 60)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn me_is_rate_limited_per_caller_with_ratelimit_headers_then_429() {
    let app = spawn_app_with(Settings::default().variable("rate_limit_per_minute", "3"))
        .await
        .unwrap();
    let (alice, _) = registered_user(&app).await.unwrap();
    let (bob, _) = registered_user(&app).await.unwrap();
    let alice_token = user_token(&app, &alice, USER_SCOPES).unwrap();
    start_of_a_window().await;
    for remaining in [2, 1, 0] {
        let response = get(&app, "/api/v1/users/me", &alice_token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-policy"], "\"api\";q=3;w=60");
        let state = response.headers()["ratelimit"].to_str().unwrap();
        assert!(
            state.starts_with(&format!("\"api\";r={remaining};t=")),
            "{state}"
        );
    }
    let refused = get(&app, "/api/v1/users/me", &alice_token).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers()["ratelimit-policy"], "\"api\";q=3;w=60");
    let state = refused.headers()["ratelimit"].to_str().unwrap();
    assert!(state.starts_with("\"api\";r=0;t="), "{state}");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], 429);

    // The quota is the caller's: another user of the same client still gets in.
    let bob_token = user_token(&app, &bob, USER_SCOPES).unwrap();
    let response = get(&app, "/api/v1/users/me", &bob_token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], bob.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_list_has_a_strong_etag_and_answers_304_with_ratelimit_headers() {
    let app = spawn_app().await.unwrap();
    let (admin, _) = registered_user(&app).await.unwrap();
    make_admin(&admin).await.unwrap();
    let token = user_token(&app, &admin, ADMIN_SCOPES).unwrap();
    // The oldest accounts of the shared database: a page other tests do not change.
    let path = "/api/v1/users?limit=2&sort=created_at";
    let first = get(&app, path, &token).await;
    assert_eq!(first.status(), 200);
    let policy = first.headers()["ratelimit-policy"].to_str().unwrap();
    assert!(policy.starts_with("\"api\";q="), "{policy}");
    assert!(first.headers().contains_key("ratelimit"));
    let tag = etag(&first);
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    let body = first.bytes().await.unwrap();

    let again = get(&app, path, &token).await;
    assert_eq!(again.status(), 200);
    assert_eq!(etag(&again), tag, "the same page has the same tag");
    assert_eq!(again.bytes().await.unwrap(), body);

    let conditional = app
        .client
        .get(app.url(path))
        .bearer_auth(&token)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(conditional.status(), 304);
    assert_eq!(etag(&conditional), tag);
    assert_eq!(conditional.headers()["cache-control"], "private, no-store");
    assert!(conditional.headers().contains_key("ratelimit"));
    assert!(conditional.bytes().await.unwrap().is_empty());

    // Another page (or another tag) is sent in full.
    let other = app
        .client
        .get(app.url("/api/v1/users?limit=1&sort=created_at"))
        .bearer_auth(&token)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_ne!(etag(&other), tag);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_naming_a_member_twice_is_400_and_stores_nothing() {
    let app = spawn_app().await.unwrap();
    // Registration: serde_json alone would keep the second email and register it.
    let (first, second) = (unique_email(), unique_email());
    let body = format!(r#"{{"email":"{first}","password":"{GOOD_PASSWORD}","email":"{second}"}}"#);
    let response = app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["code"], "duplicate_member");
    assert!(user_rows(&first).await.unwrap().is_empty());
    assert!(user_rows(&second).await.unwrap().is_empty());

    // A merge patch: the duplicate changes nothing, version included.
    let (id, email) = registered_user(&app).await.unwrap();
    let token = user_token(&app, &id, USER_SCOPES).unwrap();
    let path = format!("/api/v1/users/{id}");
    let tag = etag(&get(&app, &path, &token).await);
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .header("if-match", &tag)
        .body(r#"{"display_name":"Ada","display_name":"Eve"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["code"], "duplicate_member");
    let rows = user_rows(&email).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].5, 1, "the version did not move");
}
