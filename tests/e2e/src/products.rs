//! Helpers for the products end-to-end tests: writer tokens, request bodies, unique
//! SKUs and price bands (tests share one database, so every assertion is scoped to the
//! rows a test made), and database reads/fixtures through the admin URL.

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};
use uuid::Uuid;

use crate::{TestApp, unique};

pub use crate::AUDIENCE;
pub use crate::ISSUER;

/// The scope catalogue writes need.
pub const WRITE_SCOPE: &str = "products:write";

pub use crate::admin_pool;

/// An access token (signed with the app's key) for a machine client with `scope`.
pub fn token(app: &TestApp, scope: &str) -> Result<String> {
    app.access_token("catalogue-admin", "products-e2e", scope)
}

/// A token with `products:write`.
pub fn writer(app: &TestApp) -> Result<String> {
    token(app, WRITE_SCOPE)
}

/// A fresh SKU (upper-case, exactly 24 characters).
pub fn sku() -> String {
    unique("PRD-", 24)[..24].to_ascii_uppercase()
}

/// A price band of its own for one test: `base .. base + 1000` minor units, far from
/// anything another test uses, so a `min_price`/`max_price` filter isolates its rows.
pub fn price_band() -> i64 {
    let n = u64::from_str_radix(&unique("", 12)[..12], 16).unwrap_or(1);
    1_000_000_000 + i64::try_from(n % 1_000_000_000_000).unwrap_or(1) * 1_000
}

/// A POST/PUT body.
pub fn body(sku: &str, price_minor: i64) -> serde_json::Value {
    serde_json::json!({
        "sku": sku,
        "name": format!("Lamp {sku}"),
        "description": "A lamp",
        "price": {"amount_minor": price_minor, "currency": "EUR"},
        "stock": 12,
    })
}

async fn conn(pool: &Pool) -> Result<Conn> {
    pool.get_conn().await.context("admin connection")
}

/// A product's row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `sku`.
    pub sku: String,
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// `price_minor`.
    pub price_minor: i64,
    /// `currency`.
    pub currency: String,
    /// `stock`.
    pub stock: i64,
    /// `status`.
    pub status: String,
    /// `version`.
    pub version: i64,
}

/// The row of product `id` (hyphenated UUID), if any.
pub async fn row(pool: &Pool, id: &str) -> Result<Option<Row>> {
    let id = Uuid::parse_str(id)?.as_bytes().to_vec();
    type Tuple = (
        String,
        String,
        Option<String>,
        i64,
        String,
        i64,
        String,
        i64,
    );
    let found: Option<Tuple> = conn(pool)
        .await?
        .exec_first(
            "SELECT sku, name, description, price_minor, currency, stock, CAST(status AS CHAR), \
             CAST(version AS SIGNED) FROM products WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(found.map(
        |(sku, name, description, price_minor, currency, stock, status, version)| Row {
            sku,
            name,
            description,
            price_minor,
            currency,
            stock,
            status,
            version,
        },
    ))
}

/// How many products have `sku`.
pub async fn count_sku(pool: &Pool, sku: &str) -> Result<i64> {
    let n: Option<i64> = conn(pool)
        .await?
        .exec_first("SELECT COUNT(*) FROM products WHERE sku = ?", (sku,))
        .await?;
    Ok(n.unwrap_or(0))
}

/// How many products are priced within `[min, max]`.
pub async fn count_band(pool: &Pool, min: i64, max: i64) -> Result<i64> {
    let n: Option<i64> = conn(pool)
        .await?
        .exec_first(
            "SELECT COUNT(*) FROM products WHERE price_minor BETWEEN ? AND ?",
            (min, max),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Places an order line referring to product `id` (sku/name/price copied), so the
/// product can no longer be deleted (`fk_order_items_product`).
pub async fn reference_from_an_order(pool: &Pool, id: &str, sku: &str) -> Result<()> {
    let user = Uuid::now_v7().as_bytes().to_vec();
    let order = Uuid::now_v7().as_bytes().to_vec();
    let product = Uuid::parse_str(id)?.as_bytes().to_vec();
    let mut conn = conn(pool).await?;
    conn.exec_drop(
        "INSERT INTO users (id, email, password_hash, display_name) VALUES (?, ?, ?, ?)",
        (
            user.clone(),
            format!("{}@products.example", unique("u", 20)),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "Products Test",
        ),
    )
    .await?;
    conn.exec_drop(
        "INSERT INTO orders (id, user_id, currency, total_minor) VALUES (?, ?, 'EUR', 100)",
        (order.clone(), user),
    )
    .await?;
    conn.exec_drop(
        "INSERT INTO order_items (order_id, line_no, product_id, sku, name, unit_price_minor, \
         currency, quantity) VALUES (?, 1, ?, ?, 'Lamp', 100, 'EUR', 1)",
        (order, product, sku),
    )
    .await?;
    Ok(())
}
