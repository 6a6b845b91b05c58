//! The development seed against the real MariaDB (`ORDERLY_DB_ADMIN_URL`, default
//! `mysql://root@127.0.0.1:3306`). Each test migrates a fresh database of its own with the
//! repository's migrations, and drops it afterwards even when the test fails.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration test helpers: a failure should stop the test loudly"
)]

use std::path::Path;

use migrate::seed::{
    DEMO_PRODUCTS, MACHINE_CLIENT_ID, MACHINE_SCOPES, Outcome, SeedConfig, WEB_CLIENT_ID,
    WEB_SCOPES, seed,
};
use migrate::{DatabaseName, MigrateError};
use mysql_async::prelude::Queryable;
use rand::Rng;

fn admin_url() -> String {
    std::env::var("ORDERLY_DB_ADMIN_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A fresh, migrated database, dropped on drop.
struct Scratch {
    database: DatabaseName,
}

impl Scratch {
    async fn migrated() -> Self {
        let tag: u64 = rand::rng().random();
        let database = DatabaseName::parse(&format!("orderly_seed_{tag:016x}")).unwrap();
        let migrations =
            migrate::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations"))
                .unwrap();
        let scratch = Self { database };
        migrate::migrate(&admin_url(), &scratch.database, &migrations)
            .await
            .unwrap();
        scratch
    }

    async fn conn(&self) -> mysql_async::Conn {
        migrate::connect(&admin_url(), Some(&self.database))
            .await
            .unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let database = self.database.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = migrate::connect(&admin_url(), None).await {
                        let _ = migrate::drop_database(&mut conn, &database).await;
                        let _ = conn.disconnect().await;
                    }
                });
            }
        })
        .join();
    }
}

const MACHINE_SECRET: &str = "machine-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const ADMIN_PASSWORD: &str = "violet tram sings loud";
const DEMO_PASSWORD: &str = "quiet harbour lanterns";

fn config() -> SeedConfig {
    SeedConfig {
        machine_client_secret: MACHINE_SECRET.to_owned(),
        admin_email: "admin@orderly.local".to_owned(),
        admin_password: ADMIN_PASSWORD.to_owned(),
        demo: Some(("demo@orderly.local".to_owned(), DEMO_PASSWORD.to_owned())),
        catalogue: true,
    }
}

/// A client row: id, type, hash, auth method, redirect URIs, grants, scopes, version,
/// update time.
type ClientSnapshot = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    u32,
    String,
);

/// A product row: SKU, name, price, currency, stock, status, version, update time.
type ProductSnapshot = (String, String, i64, String, i32, String, u32, String);

/// Every seeded row, as comparable text (hashes, versions and update times included).
async fn snapshot(scratch: &Scratch) -> Vec<String> {
    let mut conn = scratch.conn().await;
    let clients: Vec<ClientSnapshot> = conn
        .query(
            "SELECT client_id, client_type, secret_hash, token_endpoint_auth_method, \
             CAST(redirect_uris AS CHAR), grant_types, scopes, version, CAST(updated_at AS CHAR) \
             FROM oauth_clients ORDER BY client_id",
        )
        .await
        .unwrap();
    let users: Vec<(String, String, String, String, u32, String)> = conn
        .query(
            "SELECT email, password_hash, roles, status, version, CAST(updated_at AS CHAR) \
             FROM users ORDER BY email",
        )
        .await
        .unwrap();
    let products: Vec<ProductSnapshot> = conn
        .query(
            "SELECT sku, name, price_minor, currency, stock, status, version, \
             CAST(updated_at AS CHAR) FROM products ORDER BY sku",
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    clients
        .into_iter()
        .map(|c| format!("{c:?}"))
        .chain(users.into_iter().map(|u| format!("{u:?}")))
        .chain(products.into_iter().map(|p| format!("{p:?}")))
        .collect()
}

#[tokio::test]
async fn seeding_creates_both_clients_and_both_accounts_and_the_demo_catalogue() {
    let scratch = Scratch::migrated().await;
    let report = seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    assert_eq!(
        report.rows,
        [
            (format!("client {MACHINE_CLIENT_ID}"), Outcome::Created),
            (format!("client {WEB_CLIENT_ID}"), Outcome::Created),
            ("user admin@orderly.local".to_owned(), Outcome::Created),
            ("user demo@orderly.local".to_owned(), Outcome::Created),
            ("catalogue (12 demo products)".to_owned(), Outcome::Created),
        ]
    );

    let mut conn = scratch.conn().await;
    let machine: (String, Option<String>, String, String, String, String) = conn
        .exec_first(
            "SELECT client_type, secret_hash, token_endpoint_auth_method, grant_types, scopes, \
             CAST(redirect_uris AS CHAR) FROM oauth_clients WHERE client_id = ?",
            (MACHINE_CLIENT_ID,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(machine.0, "confidential");
    let hash = machine.1.unwrap();
    assert!(hash.starts_with("$sha256$"), "{hash}");
    assert!(!hash.contains(MACHINE_SECRET));
    assert!(credentials::verify_client_secret(MACHINE_SECRET, &hash).unwrap());
    assert_eq!(machine.2, "client_secret_basic");
    assert_eq!(machine.3, "client_credentials");
    assert_eq!(machine.4, MACHINE_SCOPES);
    assert_eq!(machine.5, "[]");

    let web: (String, Option<String>, String, String, String, String) = conn
        .exec_first(
            "SELECT client_type, secret_hash, token_endpoint_auth_method, grant_types, scopes, \
             CAST(redirect_uris AS CHAR) FROM oauth_clients WHERE client_id = ?",
            (WEB_CLIENT_ID,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        web,
        (
            "public".to_owned(),
            None,
            "none".to_owned(),
            "authorization_code,refresh_token".to_owned(),
            WEB_SCOPES.to_owned(),
            r#"["http://127.0.0.1:8400/callback","http://localhost:8400/callback"]"#.to_owned(),
        )
    );

    let users: Vec<(String, String, String, String)> = conn
        .query("SELECT email, password_hash, roles, status FROM users ORDER BY email")
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    assert_eq!(users.len(), 2);
    let (admin_email, admin_hash, admin_roles, admin_status) = &users[0];
    assert_eq!(admin_email, "admin@orderly.local");
    assert_eq!(admin_roles, "customer,admin");
    assert_eq!(admin_status, "active");
    assert!(admin_hash.starts_with("$argon2id$"));
    assert!(credentials::verify_secret(ADMIN_PASSWORD, admin_hash).unwrap());
    let (demo_email, demo_hash, demo_roles, _) = &users[1];
    assert_eq!(demo_email, "demo@orderly.local");
    assert_eq!(demo_roles, "customer");
    assert!(credentials::verify_secret(DEMO_PASSWORD, demo_hash).unwrap());
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_duplicates_nothing() {
    let scratch = Scratch::migrated().await;
    seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    let before = snapshot(&scratch).await;
    let report = seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    assert!(
        report.rows.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{report:?}"
    );
    assert_eq!(snapshot(&scratch).await, before);
    assert_eq!(before.len(), 4 + DEMO_PRODUCTS.len());
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_hash_and_bumps_the_version() {
    let scratch = Scratch::migrated().await;
    seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    let rotated = SeedConfig {
        machine_client_secret: "another-machine-secret-abcdefghijklmnopq".to_owned(),
        admin_password: "amber kites over dunes".to_owned(),
        ..config()
    };
    let report = seed(&admin_url(), &scratch.database, &rotated)
        .await
        .unwrap();
    assert_eq!(report.rows[0].1, Outcome::Updated);
    assert_eq!(report.rows[1].1, Outcome::Unchanged);
    assert_eq!(report.rows[2].1, Outcome::Updated);
    assert_eq!(report.rows[3].1, Outcome::Unchanged);
    let mut conn = scratch.conn().await;
    let (hash, version): (String, u32) = conn
        .exec_first(
            "SELECT password_hash, version FROM users WHERE email = 'admin@orderly.local'",
            (),
        )
        .await
        .unwrap()
        .unwrap();
    let _ = conn.disconnect().await;
    assert!(credentials::verify_secret("amber kites over dunes", &hash).unwrap());
    assert!(!credentials::verify_secret(ADMIN_PASSWORD, &hash).unwrap());
    assert_eq!(version, 2);
}

#[tokio::test]
async fn a_weak_admin_password_is_refused_before_anything_is_written() {
    let scratch = Scratch::migrated().await;
    for weak in ["password123", "admin@orderly", "short"] {
        let weak_config = SeedConfig {
            admin_password: weak.to_owned(),
            ..config()
        };
        let err = seed(&admin_url(), &scratch.database, &weak_config)
            .await
            .unwrap_err();
        assert!(matches!(err, MigrateError::Invalid { .. }), "{err}");
        assert!(!err.to_string().contains(weak), "{err}");
    }
    assert!(snapshot(&scratch).await.is_empty());
}

#[tokio::test]
async fn the_demo_catalogue_spans_currencies_and_statuses_and_keeps_a_developers_edits() {
    let scratch = Scratch::migrated().await;
    seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    let mut conn = scratch.conn().await;
    let rows: Vec<(String, String, String, i32)> = conn
        .query("SELECT sku, currency, status, stock FROM products ORDER BY sku")
        .await
        .unwrap();
    assert_eq!(rows.len(), 12);
    let skus: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut expected: Vec<&str> = DEMO_PRODUCTS.iter().map(|p| p.sku).collect();
    expected.sort_unstable();
    assert_eq!(skus, expected);
    let mut currencies: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    assert_eq!(currencies, ["EUR", "GBP", "JPY", "USD"]);
    assert_eq!(rows.iter().filter(|r| r.2 == "archived").count(), 2);
    assert!(
        rows.iter().any(|r| r.2 == "active" && r.3 == 0),
        "one active item out of stock"
    );

    // A developer renames a demo product and deletes another; a re-seed restores the
    // deleted one and leaves the edit alone.
    conn.query_drop(
        "UPDATE products SET name = 'My mug', version = version + 1 WHERE sku = 'DEMO-MUG-001'",
    )
    .await
    .unwrap();
    conn.query_drop("DELETE FROM products WHERE sku = 'DEMO-TEA-008'")
        .await
        .unwrap();
    let report = seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    assert_eq!(
        report.rows.last().unwrap(),
        &("catalogue (12 demo products)".to_owned(), Outcome::Created)
    );
    let (name, version): (String, u32) = conn
        .query_first("SELECT name, version FROM products WHERE sku = 'DEMO-MUG-001'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((name.as_str(), version), ("My mug", 2));
    let count: u64 = conn
        .query_first("SELECT COUNT(*) FROM products")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 12);
    let _ = conn.disconnect().await;
}

#[tokio::test]
async fn without_the_catalogue_no_product_is_written() {
    let scratch = Scratch::migrated().await;
    let report = seed(
        &admin_url(),
        &scratch.database,
        &SeedConfig {
            catalogue: false,
            ..config()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.rows.len(), 4);
    let mut conn = scratch.conn().await;
    let count: u64 = conn
        .query_first("SELECT COUNT(*) FROM products")
        .await
        .unwrap()
        .unwrap();
    let _ = conn.disconnect().await;
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_client_secret_stored_as_argon2id_before_is_moved_to_the_fast_digest() {
    let scratch = Scratch::migrated().await;
    seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    let legacy = credentials::hash_secret(MACHINE_SECRET).unwrap();
    let mut conn = scratch.conn().await;
    conn.exec_drop(
        "UPDATE oauth_clients SET secret_hash = ? WHERE client_id = ?",
        (legacy, MACHINE_CLIENT_ID),
    )
    .await
    .unwrap();
    let report = seed(&admin_url(), &scratch.database, &config())
        .await
        .unwrap();
    assert_eq!(
        report.rows[0],
        (format!("client {MACHINE_CLIENT_ID}"), Outcome::Updated)
    );
    let hash: String = conn
        .exec_first(
            "SELECT secret_hash FROM oauth_clients WHERE client_id = ?",
            (MACHINE_CLIENT_ID,),
        )
        .await
        .unwrap()
        .unwrap();
    let _ = conn.disconnect().await;
    assert!(hash.starts_with("$sha256$"), "{hash}");
    assert!(credentials::verify_client_secret(MACHINE_SECRET, &hash).unwrap());
}
