//! The catalogue through the real `auth` middleware and `products` component against
//! MariaDB: CRUD with conditional requests, validation, pagination, hostile input,
//! scopes and rate limits. Every assertion on the database is scoped to the rows the
//! test made (tests share one database).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::HashSet;

use orderly_e2e::products::{
    admin_pool, body, count_band, count_sku, price_band, reference_from_an_order, row, sku, token,
    writer,
};
use orderly_e2e::{Settings, TestApp, spawn_app, spawn_app_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const PRODUCTS: &str = "/api/v1/products";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    request.send().await.unwrap()
}

async fn create(app: &TestApp, token: &str, document: &Value) -> Response {
    send(
        app,
        Method::POST,
        PRODUCTS,
        Some(token),
        &[("content-type", "application/json")],
        Some(document.to_string()),
    )
    .await
}

/// Creates a product and returns (id, etag, body).
async fn created(app: &TestApp, token: &str, document: &Value) -> (String, String, Value) {
    let resp = create(app, token, document).await;
    let status = resp.status();
    let etag = header(&resp, "etag");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["id"].as_str().unwrap().to_owned(), etag, body)
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn error_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["pointer"].as_str().unwrap().to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn path_of(id: &str) -> String {
    format!("{PRODUCTS}/{id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn create_read_replace_patch_and_delete_a_product() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();

    // POST → 201 + Location + ETag + the product; the row is stored.
    let resp = create(&app, &token, &body(&sku, 1299)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = header(&resp, "location");
    let etag = header(&resp, "etag");
    assert!(etag.starts_with('"'), "{etag}");
    assert_eq!(header(&resp, "cache-control"), "no-store");
    assert!(
        header(&resp, "content-type").starts_with("application/json"),
        "{}",
        header(&resp, "content-type")
    );
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, path_of(&id));
    assert_eq!(created["sku"], sku);
    assert_eq!(
        created["price"],
        json!({"amount_minor": 1299, "currency": "EUR"})
    );
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "active");
    assert_eq!(created["_links"]["self"]["href"], location);
    assert_eq!(created["_links"]["update"]["method"], "PUT");
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(stored.sku, sku);
    assert_eq!(stored.price_minor, 1299);
    assert_eq!(stored.currency, "EUR");
    assert_eq!(stored.stock, 12);
    assert_eq!(stored.description.as_deref(), Some("A lamp"));
    assert_eq!(stored.version, 1);

    // GET (anonymous) → 200, public cache, Vary, ETag, no write links.
    let resp = send(&app, Method::GET, &location, None, &[], None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), "public, max-age=60");
    assert!(header(&resp, "vary").contains("Authorization"));
    assert_eq!(header(&resp, "etag"), etag);
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["id"], id);
    assert!(read["_links"].get("update").is_none());
    assert!(read["created_at"].as_str().unwrap().ends_with('Z'));

    // If-None-Match → 304 with the validators and no body.
    let resp = send(
        &app,
        Method::GET,
        &location,
        None,
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&resp, "etag"), etag);
    assert_eq!(header(&resp, "cache-control"), "public, max-age=60");
    assert!(resp.bytes().await.unwrap().is_empty());

    // PUT with If-Match → 200, version 2, row replaced.
    let mut replacement = body(&sku, 2500);
    replacement["name"] = json!("Desk lamp");
    replacement["stock"] = json!(3);
    let resp = send(
        &app,
        Method::PUT,
        &location,
        Some(&token),
        &[("content-type", "application/json"), ("if-match", &etag)],
        Some(replacement.to_string()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag2 = header(&resp, "etag");
    assert_ne!(etag2, etag);
    let replaced: Value = resp.json().await.unwrap();
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["name"], "Desk lamp");
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.price_minor,
            stored.stock,
            stored.version
        ),
        ("Desk lamp", 2500, 3, 2)
    );

    // PATCH (merge patch) → only what it names changes; null removes the description.
    let resp = send(
        &app,
        Method::PATCH,
        &location,
        Some(&token),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", &etag2),
        ],
        Some(r#"{"description":null,"price":{"amount_minor":1999},"status":"archived"}"#.into()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag3 = header(&resp, "etag");
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["name"], "Desk lamp");
    assert_eq!(patched["version"], 3);
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(stored.description, None);
    assert_eq!(
        (
            stored.price_minor,
            stored.currency.as_str(),
            stored.status.as_str()
        ),
        (1999, "EUR", "archived")
    );

    // DELETE with If-Match → 204; the row is gone and GET is 404.
    let resp = send(
        &app,
        Method::DELETE,
        &location,
        Some(&token),
        &[("if-match", &etag3)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(row(&pool, &id).await.unwrap().is_none());
    let resp = send(&app, Method::GET, &location, None, &[], None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(header(&resp, "content-type").starts_with("application/problem+json"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_sku_is_409_and_leaves_one_row() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();
    created(&app, &token, &body(&sku, 100)).await;
    let resp = create(&app, &token, &body(&sku, 200)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(header(&resp, "content-type").starts_with("application/problem+json"));
    assert_eq!(count_sku(&pool, &sku).await.unwrap(), 1);

    // Renaming another product onto the SKU is refused the same way.
    let other = orderly_e2e::products::sku();
    let (id, etag, _) = created(&app, &token, &body(&other, 300)).await;
    let resp = send(
        &app,
        Method::PUT,
        &path_of(&id),
        Some(&token),
        &[("content-type", "application/json"), ("if-match", &etag)],
        Some(body(&sku, 300).to_string()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(count_sku(&pool, &sku).await.unwrap(), 1);
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!((stored.sku.as_str(), stored.version), (other.as_str(), 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_without_if_match_are_428_and_with_a_stale_one_412_and_change_nothing() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();
    let (id, stale, _) = created(&app, &token, &body(&sku, 100)).await;
    let path = path_of(&id);
    // Move the product on to version 2: the creation ETag is now stale.
    let resp = send(
        &app,
        Method::PATCH,
        &path,
        Some(&token),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", &stale),
        ],
        Some(r#"{"stock":5}"#.into()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ne!(header(&resp, "etag"), stale);
    let replacement = body(&sku, 999).to_string();
    for (method, content_type, payload) in [
        (Method::PUT, "application/json", Some(replacement.clone())),
        (
            Method::PATCH,
            "application/merge-patch+json",
            Some(r#"{"stock":1}"#.to_owned()),
        ),
        (Method::DELETE, "application/json", None),
    ] {
        let resp = send(
            &app,
            method.clone(),
            &path,
            Some(&token),
            &[("content-type", content_type)],
            payload.clone(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::PRECONDITION_REQUIRED, "{method}");
        let resp = send(
            &app,
            method.clone(),
            &path,
            Some(&token),
            &[("content-type", content_type), ("if-match", &stale)],
            payload,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED, "{method}");
    }
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(
        (stored.price_minor, stored.stock, stored.version),
        (100, 5, 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_bodies_and_media_types_are_refused_and_store_nothing() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();

    let mut unknown = body(&sku, 100);
    unknown["owner_id"] = json!("someone");
    let duplicate = format!(
        r#"{{"sku":"{sku}","sku":"OTHER-SKU","name":"x","price":{{"amount_minor":1,"currency":"EUR"}},"stock":1}}"#
    );
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (unknown.to_string(), vec![("/owner_id", "unknown_field")]),
        (duplicate, vec![("", "duplicate_member")]),
        (
            body(&sku, -1).to_string(),
            vec![("/price/amount_minor", "negative")],
        ),
        (
            json!({"sku": sku, "name": "", "price": {"amount_minor": 1, "currency": "ZZZ"}, "stock": -2})
                .to_string(),
            vec![("/name", ""), ("/price/currency", ""), ("/stock", "")],
        ),
    ];
    for (payload, expected) in cases {
        let resp = send(
            &app,
            Method::POST,
            PRODUCTS,
            Some(&token),
            &[("content-type", "application/json")],
            Some(payload.clone()),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{payload}");
        assert!(header(&resp, "content-type").starts_with("application/problem+json"));
        let problem: Value = resp.json().await.unwrap();
        let got = error_codes(&problem);
        assert_eq!(got.len(), expected.len(), "{payload}: {got:?}");
        for ((pointer, code), (want_pointer, want_code)) in got.iter().zip(&expected) {
            assert_eq!(pointer, want_pointer, "{payload}");
            if !want_code.is_empty() {
                assert_eq!(code, want_code, "{payload}");
            }
        }
    }

    let valid = body(&sku, 100).to_string();
    let resp = send(
        &app,
        Method::POST,
        PRODUCTS,
        Some(&token),
        &[("content-type", "text/plain")],
        Some(valid.clone()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = send(
        &app,
        Method::POST,
        PRODUCTS,
        Some(&token),
        &[
            ("content-type", "application/json"),
            ("accept", "text/html"),
        ],
        Some(valid),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    let resp = send(
        &app,
        Method::POST,
        PRODUCTS,
        Some(&token),
        &[("content-type", "application/json")],
        Some(format!(
            r#"{{"sku":"{sku}","name":"{}"}}"#,
            "x".repeat(20_000)
        )),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count_sku(&pool, &sku).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_or_merge_patch_naming_a_member_twice_is_400_and_changes_nothing() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();
    let (id, etag, _) = created(&app, &token, &body(&sku, 100)).await;
    let other = orderly_e2e::products::sku();
    // A plain serde_json parse keeps the last member: the price would become 999, the
    // SKU `other`, the stock 0.
    let replacement = format!(
        r#"{{"sku":"{sku}","name":"x","price":{{"amount_minor":100,"currency":"EUR","amount_minor":999}},"stock":5,"sku":"{other}"}}"#
    );
    for (method, content_type, payload) in [
        (Method::PUT, "application/json", replacement),
        (
            Method::PATCH,
            "application/merge-patch+json",
            r#"{"stock":7,"stock":0}"#.to_owned(),
        ),
        (
            Method::PATCH,
            "application/merge-patch+json",
            r#"{"price":{"amount_minor":5,"amount_minor":6}}"#.to_owned(),
        ),
    ] {
        let resp = send(
            &app,
            method.clone(),
            &path_of(&id),
            Some(&token),
            &[("content-type", content_type), ("if-match", &etag)],
            Some(payload.clone()),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{method} {payload}");
        assert_eq!(header(&resp, "content-type"), "application/problem+json");
        let problem: Value = resp.json().await.unwrap();
        let codes = error_codes(&problem);
        assert_eq!(codes.len(), 1, "{payload}: {codes:?}");
        assert_eq!(codes[0].1, "duplicate_member", "{payload}: {codes:?}");
    }
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.sku.as_str(),
            stored.price_minor,
            stored.stock,
            stored.version
        ),
        (
            sku.as_str(),
            100,
            body(&sku, 100)["stock"].as_i64().unwrap(),
            1
        ),
        "nothing changed"
    );
    assert_eq!(count_sku(&pool, &other).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_patch_nulling_a_required_field_is_400_and_changes_nothing() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let (id, etag, _) = created(&app, &token, &body(&sku(), 100)).await;
    for patch in [
        r#"{"name":null}"#,
        r#"{"price":{"currency":null}}"#,
        r#"{"stock":-1}"#,
        r#"{"id":"0192f0c4-6d2a-7c3e-9a51-3c1f2b4d5e6f"}"#,
        r#"[{"op":"remove","path":"/name"}]"#,
    ] {
        let resp = send(
            &app,
            Method::PATCH,
            &path_of(&id),
            Some(&token),
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", &etag),
            ],
            Some(patch.to_owned()),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{patch}");
    }
    let resp = send(
        &app,
        Method::PATCH,
        &path_of(&id),
        Some(&token),
        &[("content-type", "application/json"), ("if-match", &etag)],
        Some("{}".into()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.stock), (1, 12));
    assert!(stored.name.starts_with("Lamp "));
}

/// Walks `first` by `next` links; returns the prices in page order and the number of pages.
async fn walk(app: &TestApp, first: &str) -> (Vec<(i64, String)>, usize) {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    let mut pages = 0;
    loop {
        let resp = send(app, Method::GET, &path, None, &[], None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&resp, "cache-control"), "public, max-age=60");
        assert!(!header(&resp, "etag").is_empty());
        let page: Value = resp.json().await.unwrap();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["price"]["amount_minor"].as_i64().unwrap(),
                item["id"].as_str().unwrap().to_owned(),
            ));
        }
        if pages > 1 {
            assert!(page["_links"]["prev"]["href"].is_string(), "{page}");
        } else {
            assert!(page["_links"].get("prev").is_none(), "{page}");
        }
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return (seen, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_walks_every_product_once_under_each_sort() {
    let app = spawn_app().await.unwrap();
    let token = writer(&app).unwrap();
    let base = price_band();
    let mut ids = Vec::new();
    // Prices repeat in pairs so the id tie-breaker decides within a pair.
    for i in 0..7 {
        let (id, _, _) = created(&app, &token, &body(&sku(), base + i / 2)).await;
        ids.push(id);
    }
    let band = format!("min_price={base}&max_price={}", base + 999);
    for sort in [
        "price",
        "-price",
        "created_at",
        "-created_at",
        "name",
        "-name",
    ] {
        let (seen, pages) = walk(&app, &format!("{PRODUCTS}?limit=3&sort={sort}&{band}")).await;
        assert_eq!(pages, 3, "{sort}");
        let unique: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
        assert_eq!(unique.len(), 7, "{sort}: duplicates in {seen:?}");
        assert_eq!(unique, ids.iter().collect::<HashSet<_>>(), "{sort}: misses");
        let prices: Vec<i64> = seen.iter().map(|(p, _)| *p).collect();
        let mut sorted = prices.clone();
        sorted.sort_unstable();
        if sort == "-price" {
            sorted.reverse();
        }
        if sort.ends_with("price") {
            assert_eq!(prices, sorted, "{sort}");
        }
        if sort == "created_at" {
            let in_creation_order: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
            assert_eq!(in_creation_order, ids.iter().collect::<Vec<_>>());
        }
    }

    // prev goes back to the first page.
    let first_path = format!("{PRODUCTS}?limit=3&sort=price&{band}");
    let first: Value = send(&app, Method::GET, &first_path, None, &[], None)
        .await
        .json()
        .await
        .unwrap();
    let next = first["_links"]["next"]["href"].as_str().unwrap();
    let second: Value = send(&app, Method::GET, next, None, &[], None)
        .await
        .json()
        .await
        .unwrap();
    let prev = second["_links"]["prev"]["href"].as_str().unwrap();
    let back: Value = send(&app, Method::GET, prev, None, &[], None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(back["items"], first["items"]);

    // A list answers 304 to its own ETag.
    let resp = send(&app, Method::GET, &first_path, None, &[], None).await;
    let etag = header(&resp, "etag");
    let resp = send(
        &app,
        Method::GET,
        &first_path,
        None,
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Sparse fieldsets keep id and _links.
    let sparse: Value = send(
        &app,
        Method::GET,
        &format!("{PRODUCTS}?fields=name&{band}"),
        None,
        &[],
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let mut keys: Vec<String> = sparse["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(keys, ["_links", "id", "name"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_cursors_and_values_outside_the_allow_lists_are_400() {
    let app = spawn_app().await.unwrap();
    let token = writer(&app).unwrap();
    let base = price_band();
    for i in 0..3 {
        created(&app, &token, &body(&sku(), base + i)).await;
    }
    let band = format!("min_price={base}&max_price={}", base + 999);
    let first: Value = send(
        &app,
        Method::GET,
        &format!("{PRODUCTS}?limit=1&{band}"),
        None,
        &[],
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let next = first["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let cursor_at = next.find("cursor=").unwrap() + "cursor=".len();
    let mut tampered = next.clone().into_bytes();
    tampered[cursor_at + 3] = if tampered[cursor_at + 3] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(tampered).unwrap();
    let rebound = next.replace("sort=-created_at", "sort=price");
    for path in [
        tampered,
        rebound,
        format!("{PRODUCTS}?cursor=abc.def"),
        format!("{PRODUCTS}?sort=password_hash"),
        format!("{PRODUCTS}?sort=-created_at,price"),
        format!("{PRODUCTS}?fields=sku,password_hash"),
        format!("{PRODUCTS}?limit=101"),
        format!("{PRODUCTS}?limit=99999999999999999999999"),
        format!("{PRODUCTS}?min_price=-1"),
        format!("{PRODUCTS}?status=deleted"),
        format!("{PRODUCTS}?page=2"),
    ] {
        let resp = send(&app, Method::GET, &path, None, &[], None).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        let problem: Value = resp.json().await.unwrap();
        assert!(!error_codes(&problem).is_empty(), "{path}: {problem}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_metacharacters_in_every_parameter_are_4xx_and_the_table_is_intact() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let base = price_band();
    let (id, etag, _) = created(&app, &token, &body(&sku(), base)).await;
    let hostile = [
        "' OR '1'='1",
        "1; DROP TABLE products; --",
        "\" OR 1=1 --",
        "%",
        "active' UNION SELECT password_hash FROM users --",
    ];
    let encode = |v: &str| v.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    for value in hostile {
        let value = encode(value);
        for param in [
            "limit",
            "cursor",
            "sort",
            "fields",
            "status",
            "currency",
            "min_price",
            "max_price",
            "x';--",
        ] {
            let path = format!("{PRODUCTS}?{param}={value}");
            let resp = send(&app, Method::GET, &path, None, &[], None).await;
            assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        }
        let resp = send(
            &app,
            Method::GET,
            &format!("{PRODUCTS}/{value}"),
            None,
            &[],
            None,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = send(
            &app,
            Method::DELETE,
            &format!("{PRODUCTS}/{value}"),
            Some(&token),
            &[("if-match", "*")],
            None,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    // The row and the table are intact; a lookup still works.
    assert_eq!(count_band(&pool, base, base + 999).await.unwrap(), 1);
    let stored = row(&pool, &id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    let resp = send(&app, Method::GET, &path_of(&id), None, &[], None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "etag"), etag);
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_need_products_write_and_a_refused_write_stores_nothing() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let sku = sku();
    let reader = token(&app, "products:read orders:read").unwrap();
    let resp = create(&app, &reader, &body(&sku, 100)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = send(
        &app,
        Method::POST,
        PRODUCTS,
        None,
        &[("content-type", "application/json")],
        Some(body(&sku, 100).to_string()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&resp, "www-authenticate").starts_with("Bearer"));
    assert_eq!(count_sku(&pool, &sku).await.unwrap(), 0);

    // A writer sees the write actions in _links; a reader does not.
    let (id, _, _) = created(&app, &writer(&app).unwrap(), &body(&sku, 100)).await;
    let as_reader: Value = send(&app, Method::GET, &path_of(&id), Some(&reader), &[], None)
        .await
        .json()
        .await
        .unwrap();
    assert!(as_reader["_links"].get("delete").is_none());
    let resp = send(
        &app,
        Method::DELETE,
        &path_of(&id),
        Some(&reader),
        &[("if-match", "*")],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(row(&pool, &id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_product_on_an_order_cannot_be_deleted_and_can_be_archived() {
    let app = spawn_app().await.unwrap();
    let pool = admin_pool().unwrap();
    let token = writer(&app).unwrap();
    let sku = sku();
    let (id, etag, _) = created(&app, &token, &body(&sku, 100)).await;
    reference_from_an_order(&pool, &id, &sku).await.unwrap();
    let resp = send(
        &app,
        Method::DELETE,
        &path_of(&id),
        Some(&token),
        &[("if-match", &etag)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let problem: Value = resp.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("archive"));
    assert!(row(&pool, &id).await.unwrap().is_some());
    let resp = send(
        &app,
        Method::PATCH,
        &path_of(&id),
        Some(&token),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", &etag),
        ],
        Some(r#"{"status":"archived"}"#.into()),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(row(&pool, &id).await.unwrap().unwrap().status, "archived");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_methods_are_405_with_allow() {
    let app = spawn_app().await.unwrap();
    let token = writer(&app).unwrap();
    let resp = send(&app, Method::PUT, PRODUCTS, Some(&token), &[], None).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&resp, "allow"), "GET, HEAD, POST");
    let item = path_of("0192f0c4-6d2a-7c3e-9a51-3c1f2b4d5e6f");
    let resp = send(&app, Method::POST, &item, Some(&token), &[], None).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&resp, "allow"), "GET, HEAD, PUT, PATCH, DELETE");
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_over_the_rate_limit_get_429_with_retry_after() {
    let app = spawn_app_with(Settings::default().variable("rate_limit_per_minute", "3"))
        .await
        .unwrap();
    let list = format!("{PRODUCTS}?limit=1");
    // Three per window; even if the minute rolls over once during the loop, the 429
    // comes within seven requests.
    let mut limited = None;
    for attempt in 0..7 {
        let resp = send(&app, Method::GET, &list, None, &[], None).await;
        assert_eq!(
            header(&resp, "ratelimit-policy"),
            "\"products\";q=3;w=60",
            "request {attempt}: {} {:?}",
            resp.status(),
            resp.headers()
        );
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((attempt, resp));
            break;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(header(&resp, "ratelimit").starts_with("\"products\";r="));
    }
    let (attempt, resp) = limited.expect("no 429 within seven requests");
    assert!(attempt >= 3, "limited after {attempt} requests");
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(header(&resp, "ratelimit").starts_with("\"products\";r=0;"));
    assert!(header(&resp, "content-type").starts_with("application/problem+json"));
    // Another caller (a token's client) has its own budget.
    let token = writer(&app).unwrap();
    let resp = send(&app, Method::GET, &list, Some(&token), &[], None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_are_compressed_on_request_and_still_revalidate() {
    let app = spawn_app().await.unwrap();
    let token = writer(&app).unwrap();
    let base = price_band();
    for i in 0..6 {
        created(&app, &token, &body(&sku(), base + i)).await;
    }
    let path = format!("{PRODUCTS}?min_price={base}&max_price={}", base + 999);
    let plain = send(&app, Method::GET, &path, None, &[], None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(header(&plain, "content-encoding").is_empty());
    let plain_len = plain.bytes().await.unwrap().len();
    assert!(plain_len > 1024, "{plain_len}");

    let resp = send(
        &app,
        Method::GET,
        &path,
        None,
        &[("accept-encoding", "gzip")],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-encoding"), "gzip");
    // Vary may come as several field lines (RFC 9110 §5.3): read them all.
    let vary = resp
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ");
    for name in ["accept-encoding", "accept", "authorization"] {
        assert!(vary.contains(name), "{vary}");
    }
    let etag = header(&resp, "etag");
    let compressed_len = resp.bytes().await.unwrap().len();
    assert!(
        compressed_len < plain_len,
        "{compressed_len} >= {plain_len}"
    );

    // The compressed representation's tag still revalidates.
    let resp = send(
        &app,
        Method::GET,
        &path,
        None,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // HEAD answers the same headers without a body.
    let resp = send(&app, Method::HEAD, &path, None, &[], None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), "public, max-age=60");
    assert!(resp.bytes().await.unwrap().is_empty());
}
