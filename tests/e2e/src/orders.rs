//! Helpers for the orders end-to-end tests: fixtures written through the admin URL
//! (`ORDERLY_DB_ADMIN_URL`, root), access tokens minted with the app's signing key, and
//! database reads to assert on.

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};
use uuid::Uuid;

use crate::{TestApp, unique};

pub use crate::AUDIENCE;
pub use crate::ISSUER;
/// The scopes of an ordinary shopper's token.
pub const SHOPPER_SCOPES: &str = "orders:read orders:write";

pub use crate::admin_pool;

async fn conn(pool: &Pool) -> Result<Conn> {
    pool.get_conn().await.context("admin connection")
}

/// Inserts an active customer and returns its id (UUIDv7, hyphenated).
pub async fn insert_user(pool: &Pool) -> Result<String> {
    let id = Uuid::now_v7();
    let email = format!("{}@orders.example", unique("u", 20));
    conn(pool)
        .await?
        .exec_drop(
            "INSERT INTO users (id, email, password_hash, display_name) VALUES (?, ?, ?, ?)",
            (
                id.as_bytes().to_vec(),
                email,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
                "Orders Test",
            ),
        )
        .await?;
    Ok(id.hyphenated().to_string())
}

/// A product fixture.
#[derive(Debug, Clone)]
pub struct Product {
    /// Its id.
    pub id: String,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Its price in minor units.
    pub price_minor: i64,
    /// Its currency.
    pub currency: &'static str,
}

/// Inserts a product and returns it.
pub async fn insert_product(
    pool: &Pool,
    price_minor: i64,
    currency: &'static str,
    stock: i64,
    status: &str,
) -> Result<Product> {
    let id = Uuid::now_v7();
    let sku = unique("ORD-", 24).to_ascii_uppercase();
    let name = format!("Widget {sku}");
    conn(pool)
        .await?
        .exec_drop(
            "INSERT INTO products (id, sku, name, price_minor, currency, stock, status) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                id.as_bytes().to_vec(),
                sku.clone(),
                name.clone(),
                price_minor,
                currency,
                stock,
                status,
            ),
        )
        .await?;
    Ok(Product {
        id: id.hyphenated().to_string(),
        sku,
        name,
        price_minor,
        currency,
    })
}

fn id_bytes(id: &str) -> Result<Vec<u8>> {
    Ok(Uuid::parse_str(id)?.as_bytes().to_vec())
}

/// The product's stock now.
pub async fn stock_of(pool: &Pool, product_id: &str) -> Result<i64> {
    let stock: Option<i64> = conn(pool)
        .await?
        .exec_first(
            "SELECT stock FROM products WHERE id = ?",
            (id_bytes(product_id)?,),
        )
        .await?;
    stock.context("no such product")
}

/// How many orders the user has.
pub async fn order_count(pool: &Pool, user_id: &str) -> Result<i64> {
    let count: Option<i64> = conn(pool)
        .await?
        .exec_first(
            "SELECT COUNT(*) FROM orders WHERE user_id = ?",
            (id_bytes(user_id)?,),
        )
        .await?;
    Ok(count.unwrap_or(0))
}

/// The order's status, total and currency as stored.
pub async fn order_row(pool: &Pool, order_id: &str) -> Result<Option<(String, i64, String)>> {
    Ok(conn(pool)
        .await?
        .exec_first(
            "SELECT CAST(status AS CHAR), total_minor, currency FROM orders WHERE id = ?",
            (id_bytes(order_id)?,),
        )
        .await?)
}

/// The order's items as stored: (product id bytes, sku, name, unit price, currency, quantity).
pub async fn order_items(
    pool: &Pool,
    order_id: &str,
) -> Result<Vec<(String, String, String, i64, String, u32)>> {
    let rows: Vec<(Vec<u8>, String, String, i64, String, u32)> = conn(pool)
        .await?
        .exec(
            "SELECT product_id, sku, name, unit_price_minor, currency, quantity \
             FROM order_items WHERE order_id = ? ORDER BY line_no",
            (id_bytes(order_id)?,),
        )
        .await?;
    rows.into_iter()
        .map(|(id, sku, name, price, currency, quantity)| {
            let id = Uuid::from_slice(&id)?.hyphenated().to_string();
            Ok((id, sku, name, price, currency, quantity))
        })
        .collect()
}

/// An access token for `sub` with `scope`, signed by the app's key.
pub fn token(app: &TestApp, sub: &str, scope: &str) -> Result<String> {
    token_for_client(app, sub, "orders-e2e-web", scope)
}

/// An access token for `sub` issued to `client_id`.
pub fn token_for_client(app: &TestApp, sub: &str, client_id: &str, scope: &str) -> Result<String> {
    app.access_token(sub, client_id, scope)
}

/// `{"items":[{"product_id":…,"quantity":…}…]}`.
pub fn order_body(lines: &[(&str, i64)]) -> String {
    let items: Vec<serde_json::Value> = lines
        .iter()
        .map(|(id, q)| serde_json::json!({"product_id": id, "quantity": q}))
        .collect();
    serde_json::json!({ "items": items }).to_string()
}
