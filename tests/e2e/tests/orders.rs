//! Orders end to end: the real components (auth middleware + orders) against MariaDB.
//! Fixtures (users, products) are written as root; tokens are minted with the app's key.

use std::collections::HashSet;

use anyhow::Result;
use orderly_e2e::orders::{
    SHOPPER_SCOPES, admin_pool, insert_product, insert_user, order_body, order_count, order_items,
    order_row, stock_of, token,
};
use orderly_e2e::{Settings, TestApp, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn post_order(
    app: &TestApp,
    bearer: &str,
    user: &str,
    body: &str,
    key: Option<&str>,
) -> Result<Response> {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/users/{user}/orders")))
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    Ok(request.send().await?)
}

async fn get(app: &TestApp, bearer: &str, path: &str) -> Result<Response> {
    Ok(app
        .client
        .get(app.url(path))
        .bearer_auth(bearer)
        .send()
        .await?)
}

async fn patch_status(
    app: &TestApp,
    bearer: &str,
    order: &str,
    status: &str,
    if_match: Option<&str>,
) -> Result<Response> {
    let mut request = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{order}")))
        .bearer_auth(bearer)
        .header("content-type", "application/merge-patch+json")
        .body(json!({ "status": status }).to_string());
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    Ok(request.send().await?)
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn placing_an_order_captures_prices_decrements_stock_and_links_the_order() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let widget = insert_product(&pool, 1250, "EUR", 10, "active").await?;
    let gadget = insert_product(&pool, 399, "EUR", 5, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;

    let response = post_order(
        &app,
        &bearer,
        &user,
        &order_body(&[(&widget.id, 3), (&gadget.id, 2)]),
        None,
    )
    .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, "location");
    let etag = header(&response, "etag");
    assert!(location.starts_with("/api/v1/orders/"), "{location}");
    assert!(etag.starts_with('"'), "{etag}");
    let body: Value = response.json().await?;
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(location, format!("/api/v1/orders/{id}"));
    assert_eq!(body["status"], "pending");
    assert_eq!(body["user_id"], user);
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["total_minor"], 3 * 1250 + 2 * 399);
    assert_eq!(body["items"][0]["sku"], widget.sku);
    assert_eq!(body["items"][0]["unit_price_minor"], 1250);
    assert_eq!(body["items"][1]["line_total_minor"], 798);
    assert_eq!(body["_links"]["self"]["href"], location);
    assert_eq!(body["_links"]["cancel"]["body"]["status"], "cancelled");
    assert!(body["_links"].get("pay").is_none(), "only an admin may pay");

    // The database holds the order, the captured prices and the new stock.
    assert_eq!(
        order_row(&pool, &id).await?,
        Some(("pending".to_owned(), 4548, "EUR".to_owned()))
    );
    let items = order_items(&pool, &id).await?;
    assert_eq!(
        items,
        vec![
            (
                widget.id.clone(),
                widget.sku.clone(),
                widget.name.clone(),
                1250,
                "EUR".to_owned(),
                3
            ),
            (
                gadget.id.clone(),
                gadget.sku.clone(),
                gadget.name.clone(),
                399,
                "EUR".to_owned(),
                2
            ),
        ]
    );
    assert_eq!(stock_of(&pool, &widget.id).await?, 7);
    assert_eq!(stock_of(&pool, &gadget.id).await?, 3);

    // Reading it back: same ETag, private caching, 304 on If-None-Match.
    let read = get(&app, &bearer, &location).await?;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(header(&read, "etag"), etag);
    assert!(header(&read, "cache-control").contains("private"));
    let read_body: Value = read.json().await?;
    assert_eq!(read_body["items"].as_array().map(Vec::len), Some(2));
    let cached = app
        .client
        .get(app.url(&location))
        .bearer_auth(&bearer)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&cached, "etag"), etag);
    Ok(())
}

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 50, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let body = order_body(&[(&product.id, 1)]);

    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (client, url, bearer, body) = (
            app.client.clone(),
            app.url(&format!("/api/v1/users/{user}/orders")),
            bearer.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            anyhow::Ok((status, problem))
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let (status, problem) = task.await??;
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                conflicts += 1;
                assert_eq!(
                    problem["type"], "urn:orderly:problem:out-of-stock",
                    "{problem}"
                );
                assert_eq!(problem["product_id"], product.id, "{problem}");
                assert_eq!(problem["sku"], product.sku, "{problem}");
            }
            other => panic!("unexpected {other}: {problem}"),
        }
    }
    assert_eq!((created, conflicts), (50, 150));
    assert_eq!(stock_of(&pool, &product.id).await?, 0);
    assert_eq!(order_count(&pool, &user).await?, 50);
    Ok(())
}

#[tokio::test]
async fn one_idempotency_key_sent_twenty_times_in_parallel_places_one_order() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 500, "USD", 100, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let body = order_body(&[(&product.id, 2)]);
    let key = orderly_e2e::unique("key-", 32);

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, bearer, body, key) = (
            app.client.clone(),
            app.url(&format!("/api/v1/users/{user}/orders")),
            bearer.clone(),
            body.clone(),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let location = header(&response, "location");
            let etag = header(&response, "etag");
            let body = response.text().await?;
            anyhow::Ok((status, location, etag, body))
        }));
    }
    let mut answers = HashSet::new();
    for task in tasks {
        answers.insert(task.await??);
    }
    assert_eq!(
        answers.len(),
        1,
        "every duplicate got the first response: {answers:?}"
    );
    let (status, location, _, _) = answers.into_iter().next().unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED);
    assert!(location.starts_with("/api/v1/orders/"));
    assert_eq!(order_count(&pool, &user).await?, 1);
    assert_eq!(stock_of(&pool, &product.id).await?, 98);

    // A later retry replays too; the same key with another body is refused.
    let replay = post_order(&app, &bearer, &user, &body, Some(&key)).await?;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(header(&replay, "location"), location);
    let other = post_order(
        &app,
        &bearer,
        &user,
        &order_body(&[(&product.id, 3)]),
        Some(&key),
    )
    .await?;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = other.json().await?;
    assert_eq!(
        problem["type"],
        "urn:orderly:problem:idempotency-key-reused"
    );
    assert_eq!(order_count(&pool, &user).await?, 1);
    assert_eq!(stock_of(&pool, &product.id).await?, 98);
    Ok(())
}

#[tokio::test]
async fn a_user_can_neither_see_nor_change_nor_create_another_users_orders() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let alice = insert_user(&pool).await?;
    let bob = insert_user(&pool).await?;
    let product = insert_product(&pool, 700, "EUR", 10, "active").await?;
    let alice_token = token(&app, &alice, SHOPPER_SCOPES)?;
    let bob_token = token(&app, &bob, SHOPPER_SCOPES)?;

    let placed = post_order(
        &app,
        &alice_token,
        &alice,
        &order_body(&[(&product.id, 1)]),
        None,
    )
    .await?;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let etag = header(&placed, "etag");
    let order: Value = placed.json().await?;
    let id = order["id"].as_str().unwrap_or_default().to_owned();

    let read = get(&app, &bob_token, &format!("/api/v1/orders/{id}")).await?;
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    let list = get(&app, &bob_token, &format!("/api/v1/users/{alice}/orders")).await?;
    assert_eq!(list.status(), StatusCode::NOT_FOUND);
    let cancel = patch_status(&app, &bob_token, &id, "cancelled", Some(&etag)).await?;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    let post = post_order(
        &app,
        &bob_token,
        &alice,
        &order_body(&[(&product.id, 1)]),
        None,
    )
    .await?;
    assert_eq!(post.status(), StatusCode::NOT_FOUND);

    // Nothing changed: Alice's one pending order, one unit sold.
    assert_eq!(
        order_row(&pool, &id).await?.map(|r| r.0),
        Some("pending".to_owned())
    );
    assert_eq!(order_count(&pool, &alice).await?, 1);
    assert_eq!(order_count(&pool, &bob).await?, 0);
    assert_eq!(stock_of(&pool, &product.id).await?, 9);

    // `me` is the caller's own collection.
    let mine = get(&app, &alice_token, "/api/v1/users/me/orders").await?;
    assert_eq!(mine.status(), StatusCode::OK);
    let mine: Value = mine.json().await?;
    assert_eq!(mine["orders"][0]["id"], id);
    Ok(())
}

#[tokio::test]
async fn the_status_machine_needs_if_match_and_cancelling_restocks() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let admin_id = insert_user(&pool).await?;
    let product = insert_product(&pool, 250, "EUR", 10, "active").await?;
    let owner = token(&app, &user, SHOPPER_SCOPES)?;
    let admin = token(&app, &admin_id, "admin orders:read orders:write")?;

    let placed = post_order(&app, &owner, &user, &order_body(&[(&product.id, 4)]), None).await?;
    let etag_v1 = header(&placed, "etag");
    let id = placed.json::<Value>().await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(stock_of(&pool, &product.id).await?, 6);

    // The owner may not mark it paid; nobody may skip If-Match.
    let pay = patch_status(&app, &owner, &id, "paid", Some(&etag_v1)).await?;
    assert_eq!(pay.status(), StatusCode::FORBIDDEN);
    let no_precondition = patch_status(&app, &admin, &id, "paid", None).await?;
    assert_eq!(no_precondition.status(), StatusCode::PRECONDITION_REQUIRED);

    // The admin sees the pay/cancel links and pays.
    let as_admin: Value = get(&app, &admin, &format!("/api/v1/orders/{id}"))
        .await?
        .json()
        .await?;
    assert_eq!(as_admin["_links"]["pay"]["body"]["status"], "paid");
    let paid = patch_status(&app, &admin, &id, "paid", Some(&etag_v1)).await?;
    assert_eq!(paid.status(), StatusCode::OK);
    let etag_v2 = header(&paid, "etag");
    assert_ne!(etag_v2, etag_v1);
    assert_eq!(paid.json::<Value>().await?["status"], "paid");

    // A stale ETag is a 412 and changes nothing.
    let stale = patch_status(&app, &owner, &id, "cancelled", Some(&etag_v1)).await?;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let stale_and_invalid = patch_status(&app, &owner, &id, "refunded", Some(&etag_v1)).await?;
    assert_eq!(
        stale_and_invalid.status(),
        StatusCode::PRECONDITION_FAILED,
        "preconditions first"
    );
    let invalid = patch_status(&app, &owner, &id, "refunded", Some(&etag_v2)).await?;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        order_row(&pool, &id).await?.map(|r| r.0),
        Some("paid".to_owned())
    );
    assert_eq!(stock_of(&pool, &product.id).await?, 6);

    // The owner cancels the paid order: the four units go back on the shelf.
    let cancelled = patch_status(&app, &owner, &id, "cancelled", Some(&etag_v2)).await?;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let etag_v3 = header(&cancelled, "etag");
    let body: Value = cancelled.json().await?;
    assert_eq!(body["status"], "cancelled");
    assert!(body["_links"].get("cancel").is_none());
    assert_eq!(
        order_row(&pool, &id).await?.map(|r| r.0),
        Some("cancelled".to_owned())
    );
    assert_eq!(stock_of(&pool, &product.id).await?, 10);

    // Cancelled is final: shipping it is a 409 and restocks nothing twice.
    let ship = patch_status(&app, &admin, &id, "shipped", Some(&etag_v3)).await?;
    assert_eq!(ship.status(), StatusCode::CONFLICT);
    let problem: Value = ship.json().await?;
    assert_eq!(problem["type"], "urn:orderly:problem:invalid-transition");
    assert_eq!(stock_of(&pool, &product.id).await?, 10);
    Ok(())
}

#[tokio::test]
async fn lists_page_with_signed_cursors_filter_sort_and_select_fields() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 100, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let mut ids = Vec::new();
    for quantity in [3, 1, 2] {
        let placed = post_order(
            &app,
            &bearer,
            &user,
            &order_body(&[(&product.id, quantity)]),
            None,
        )
        .await?;
        assert_eq!(placed.status(), StatusCode::CREATED);
        ids.push(
            placed.json::<Value>().await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let base = format!("/api/v1/users/{user}/orders");

    // Newest first, two per page, then the rest through `next`.
    let first = get(&app, &bearer, &format!("{base}?limit=2")).await?;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(header(&first, "cache-control").contains("private"));
    let etag = header(&first, "etag");
    let first: Value = first.json().await?;
    let page: Vec<&str> = first["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(page, [ids[2].as_str(), ids[1].as_str()]);
    let next = first["_links"]["next"]["href"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(next.contains("cursor="), "{next}");
    let second: Value = get(&app, &bearer, &next).await?.json().await?;
    assert_eq!(second["orders"][0]["id"], ids[0]);
    assert!(second["_links"].get("next").is_none());

    let again = app
        .client
        .get(app.url(&format!("{base}?limit=2")))
        .bearer_auth(&bearer)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // By total, ascending; only some fields.
    let by_total: Value = get(
        &app,
        &bearer,
        &format!("{base}?sort=total&fields=total_minor"),
    )
    .await?
    .json()
    .await?;
    let totals: Vec<i64> = by_total["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["total_minor"].as_i64())
        .collect();
    assert_eq!(totals, [100, 200, 300]);
    assert!(by_total["orders"][0].get("status").is_none());
    assert!(by_total["orders"][0].get("id").is_some());

    // Status filter.
    let cancelled: Value = get(&app, &bearer, &format!("{base}?status=cancelled"))
        .await?
        .json()
        .await?;
    assert_eq!(cancelled["orders"].as_array().map(Vec::len), Some(0));

    // A cursor is bound to its list: another sort refuses it.
    let cursor = next.split("cursor=").nth(1).unwrap_or_default();
    let foreign = get(
        &app,
        &bearer,
        &format!("{base}?sort=total&limit=2&cursor={cursor}"),
    )
    .await?;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

fn page_ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect()
}

fn link_href(page: &Value, rel: &str) -> Option<String> {
    page["_links"][rel]["href"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn prev_links_walk_back_through_the_same_pages_next_walked_forward() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 100, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let mut ids = Vec::new();
    for quantity in [3, 5, 1, 4, 2] {
        let placed = post_order(
            &app,
            &bearer,
            &user,
            &order_body(&[(&product.id, quantity)]),
            None,
        )
        .await?;
        assert_eq!(placed.status(), StatusCode::CREATED);
        ids.push(
            placed.json::<Value>().await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let base = format!("/api/v1/users/{user}/orders");
    for sort in ["-created_at", "total"] {
        let mut forward = Vec::new();
        let mut href = Some(format!("{base}?limit=2&sort={sort}"));
        while let Some(current) = href {
            let response = get(&app, &bearer, &current).await?;
            assert_eq!(response.status(), StatusCode::OK, "{current}");
            let page: Value = response.json().await?;
            assert!(link_href(&page, "self").is_some());
            if forward.is_empty() {
                assert!(
                    link_href(&page, "prev").is_none(),
                    "the first page has no prev"
                );
            } else {
                assert!(
                    link_href(&page, "prev").is_some(),
                    "{sort}: page {}",
                    forward.len()
                );
            }
            href = link_href(&page, "next");
            forward.push(page);
        }
        let pages: Vec<Vec<String>> = forward.iter().map(page_ids).collect();
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 2, 1],
            "{sort}"
        );
        let all: HashSet<&String> = pages.iter().flatten().collect();
        assert_eq!(all.len(), 5);
        if sort == "-created_at" {
            let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
            assert_eq!(pages.concat(), newest_first);
        }

        // Back from the last page through `prev`: the same pages in reverse, and each
        // backward page links forward to the page it came from.
        let mut backward = vec![page_ids(&forward[2])];
        let mut href = link_href(&forward[2], "prev");
        while let Some(current) = href {
            let response = get(&app, &bearer, &current).await?;
            assert_eq!(response.status(), StatusCode::OK, "{current}");
            let page: Value = response.json().await?;
            let next = link_href(&page, "next").unwrap_or_default();
            let after: Value = get(&app, &bearer, &next).await?.json().await?;
            assert_eq!(
                page_ids(&after),
                backward[backward.len() - 1],
                "{sort}: next of a prev page"
            );
            backward.push(page_ids(&page));
            href = link_href(&page, "prev");
        }
        backward.reverse();
        assert_eq!(backward, pages, "{sort}");
    }
    Ok(())
}

#[tokio::test]
async fn hostile_input_is_refused_and_changes_nothing() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 5, "active").await?;
    let archived = insert_product(&pool, 100, "EUR", 5, "archived").await?;
    let dollars = insert_product(&pool, 100, "USD", 5, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let p = &product.id;

    let bodies = [
        (
            format!(r#"{{"items":[{{"product_id":"{p}","quantity":-1}}]}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(r#"{{"items":[{{"product_id":"{p}","quantity":0}}]}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"unit_price_minor":0}}]}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(r#"{{"items":[{{"product_id":"{p}","quantity":1}}],"user_id":"x"}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"quantity":1000}}]}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(
                r#"{{"items":[{{"product_id":"{p}","quantity":1}},{{"product_id":"{p}","quantity":1}}]}}"#
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"items":[{"product_id":"1' OR '1'='1","quantity":1}]}"#.to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            order_body(&[(&archived.id, 1)]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            order_body(&[(p, 1), (&dollars.id, 1)]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (order_body(&[(p, 6)]), StatusCode::CONFLICT),
    ];
    for (body, expected) in bodies {
        let response = post_order(&app, &bearer, &user, &body, None).await?;
        assert_eq!(response.status(), expected, "{body}");
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
        if expected == StatusCode::BAD_REQUEST {
            let problem: Value = response.json().await?;
            assert!(
                problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
                "{problem}"
            );
        }
    }
    let archived_problem: Value = post_order(
        &app,
        &bearer,
        &user,
        &order_body(&[(&archived.id, 1)]),
        None,
    )
    .await?
    .json()
    .await?;
    assert_eq!(archived_problem["product_id"], archived.id);

    // Wrong media types and methods.
    let xml = app
        .client
        .post(app.url(&format!("/api/v1/users/{user}/orders")))
        .bearer_auth(&bearer)
        .header("content-type", "application/xml")
        .body("<items/>")
        .send()
        .await?;
    assert_eq!(xml.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let accept = app
        .client
        .get(app.url(&format!("/api/v1/users/{user}/orders")))
        .bearer_auth(&bearer)
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(accept.status(), StatusCode::NOT_ACCEPTABLE);
    let delete = app
        .client
        .delete(app.url(&format!("/api/v1/users/{user}/orders")))
        .bearer_auth(&bearer)
        .send()
        .await?;
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&delete, "allow"), "GET, HEAD, POST");
    let huge = "x".repeat(32 * 1024);
    let too_large = post_order(&app, &bearer, &user, &huge, None).await?;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Query parameters: SQL metacharacters, tampered cursor, huge limit, unknown names.
    let base = format!("/api/v1/users/{user}/orders");
    for query in [
        "status=pending'%20OR%20'1'='1",
        "sort=created_at;DROP%20TABLE%20orders",
        "sort=password_hash",
        "fields=id,user_id,password_hash",
        "limit=1000000000000000000000",
        "limit=-1",
        "cursor=eyJ0YW1wZXJlZCI6dHJ1ZX0.AAAA",
        "cursor=%27%20OR%201%3D1%20--",
        "user_id=someone-else",
        "limit=1&limit=2",
    ] {
        let response = get(&app, &bearer, &format!("{base}?{query}")).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }

    // Nothing was created, nothing sold.
    assert_eq!(order_count(&pool, &user).await?, 0);
    assert_eq!(stock_of(&pool, &product.id).await?, 5);
    assert_eq!(stock_of(&pool, &dollars.id).await?, 5);
    assert_eq!(stock_of(&pool, &archived.id).await?, 5);
    Ok(())
}

#[tokio::test]
async fn callers_are_rate_limited_with_ietf_headers() -> Result<()> {
    let app = spawn_app_with(Settings::default().variable("rate_limit_per_minute", "3")).await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let path = format!("/api/v1/users/{user}/orders");
    for remaining in 0..3 {
        let response = get(&app, &bearer, &path).await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), "\"orders\";q=3;w=60");
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"orders\";r={};", 2 - remaining)),
            "{}",
            header(&response, "ratelimit")
        );
    }
    let refused = get(&app, &bearer, &path).await?;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        header(&refused, "retry-after")
            .parse::<u64>()
            .is_ok_and(|s| (1..=60).contains(&s))
    );
    // Another caller has a quota of its own.
    let other = insert_user(&pool).await?;
    let other_bearer = token(&app, &other, SHOPPER_SCOPES)?;
    let response = get(
        &app,
        &other_bearer,
        &format!("/api/v1/users/{other}/orders"),
    )
    .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn an_admin_orders_for_any_existing_user_and_sees_their_orders() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let customer = insert_user(&pool).await?;
    let admin_id = insert_user(&pool).await?;
    let product = insert_product(&pool, 900, "GBP", 3, "active").await?;
    let admin = token(&app, &admin_id, "admin")?;
    let customer_token = token(&app, &customer, "orders:read")?;

    let placed = post_order(
        &app,
        &admin,
        &customer,
        &order_body(&[(&product.id, 1)]),
        None,
    )
    .await?;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let body: Value = placed.json().await?;
    assert_eq!(body["user_id"], customer);
    let listed: Value = get(&app, &admin, &format!("/api/v1/users/{customer}/orders"))
        .await?
        .json()
        .await?;
    assert_eq!(listed["orders"][0]["id"], body["id"]);

    // An unknown user is a 404 even for an admin, and nothing is sold.
    let ghost = uuid::Uuid::now_v7().hyphenated().to_string();
    let missing = post_order(&app, &admin, &ghost, &order_body(&[(&product.id, 1)]), None).await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(stock_of(&pool, &product.id).await?, 2);

    // A read-only token cannot place orders, even for itself.
    let refused = post_order(
        &app,
        &customer_token,
        &customer,
        &order_body(&[(&product.id, 1)]),
        None,
    )
    .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(order_count(&pool, &customer).await?, 1);
    assert_eq!(stock_of(&pool, &product.id).await?, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_patch_naming_status_twice_is_400_and_changes_nothing() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 5, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let placed = post_order(&app, &bearer, &user, &order_body(&[(&product.id, 2)]), None).await?;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let etag = header(&placed, "etag");
    let id = placed.json::<Value>().await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // With the last member winning, this would cancel the order and restock 2 units.
    let response = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{id}")))
        .bearer_auth(&bearer)
        .header("content-type", "application/merge-patch+json")
        .header("if-match", &etag)
        .body(r#"{"status":"pending","status":"cancelled"}"#)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    let problem: Value = response.json().await?;
    assert_eq!(
        problem["errors"][0]["code"], "duplicate_member",
        "{problem}"
    );
    assert_eq!(
        order_row(&pool, &id).await?.map(|r| r.0),
        Some("pending".to_owned())
    );
    assert_eq!(stock_of(&pool, &product.id).await?, 3, "nothing restocked");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_naming_a_member_twice_is_400_and_orders_nothing() -> Result<()> {
    let app = spawn_app().await?;
    let pool = admin_pool()?;
    let user = insert_user(&pool).await?;
    let product = insert_product(&pool, 100, "EUR", 5, "active").await?;
    let bearer = token(&app, &user, SHOPPER_SCOPES)?;
    let p = &product.id;
    for body in [
        // The second `quantity` would win with a plain serde_json parse: 5 units, not 1.
        format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"quantity":5}}]}}"#),
        format!(r#"{{"items":[{{"product_id":"{p}","quantity":1}}],"items":[]}}"#),
    ] {
        let response = post_order(&app, &bearer, &user, &body, None).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
        let problem: Value = response.json().await?;
        assert_eq!(
            problem["errors"][0]["code"], "duplicate_member",
            "{problem}"
        );
    }
    assert_eq!(order_count(&pool, &user).await?, 0);
    assert_eq!(stock_of(&pool, p).await?, 5);
    Ok(())
}
