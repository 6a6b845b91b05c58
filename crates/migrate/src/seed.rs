//! Development seed: the OAuth clients and accounts `cargo xtask up` needs, written
//! idempotently (a second run with the same inputs changes no row and adds none).
//!
//! | what | details |
//! |---|---|
//! | `orderly-machine` | confidential, `client_credentials` only, `client_secret_basic`; scopes [`MACHINE_SCOPES`] (least privilege: a back-office integration that maintains the catalogue and reads orders — no `users:*`, no `admin`, no `orders:write` since orders belong to users) |
//! | `orderly-web` | public (PKCE, auth method `none`), `authorization_code` + `refresh_token`, loopback redirect URIs [`WEB_REDIRECT_URIS`]; scopes [`WEB_SCOPES`] — `admin` is registered so an administrator can ask for it, and identity grants it only to users with the admin role |
//! | admin user | email from `ORDERLY_SEED_ADMIN_EMAIL` (default [`DEFAULT_ADMIN_EMAIL`]), password from the secret `ORDERLY_SEED_ADMIN_PASSWORD`, roles `customer,admin` |
//! | demo customer | email from `ORDERLY_SEED_DEMO_EMAIL` (default [`DEFAULT_DEMO_EMAIL`]), password `ORDERLY_SEED_DEMO_PASSWORD`; skipped when no password is given |
//! | demo catalogue | [`DEMO_PRODUCTS`]: a dozen products in four currencies, active and archived, so a first `GET /api/v1/products` lists, filters and pages; off with `ORDERLY_SEED_CATALOGUE=0`. A product whose SKU exists is left as it is (a developer's edits survive a re-seed) |
//!
//! Passwords are stored only as Argon2id hashes (`credentials::hash_secret`), the client
//! secret as `credentials::hash_client_secret` stores it. A stored hash that still
//! verifies (and, for the client, is in the current form) is kept (a re-hash would change
//! the row on every run); one that does not (the secret was rotated) is replaced and the
//! row's `version` bumped.
//! Passwords that fail the NIST rules of `domain::Password` are refused, admin included.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};

use crate::error::{MigrateError, Result};
use crate::names::DatabaseName;

/// The confidential machine client's id.
pub const MACHINE_CLIENT_ID: &str = "orderly-machine";
/// Its scopes.
pub const MACHINE_SCOPES: &str = "products:read products:write orders:read";
/// The public browser client's id.
pub const WEB_CLIENT_ID: &str = "orderly-web";
/// Its scopes.
pub const WEB_SCOPES: &str =
    "openid profile email products:read orders:read orders:write users:read users:write admin";
/// Its exact redirect URIs (loopback, RFC 8252 §7.3).
pub const WEB_REDIRECT_URIS: &[&str] = &[
    "http://127.0.0.1:8400/callback",
    "http://localhost:8400/callback",
];
/// The admin's email when `ORDERLY_SEED_ADMIN_EMAIL` is unset.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@orderly.local";
/// The demo customer's email when `ORDERLY_SEED_DEMO_EMAIL` is unset.
pub const DEFAULT_DEMO_EMAIL: &str = "demo@orderly.local";
/// Shortest machine client secret accepted.
pub const MIN_CLIENT_SECRET_CHARS: usize = 32;

/// What to seed. Build it with [`SeedConfig::from_env`] or by hand (tests).
pub struct SeedConfig {
    /// Secret of `orderly-machine`.
    pub machine_client_secret: String,
    /// The admin's email.
    pub admin_email: String,
    /// The admin's password.
    pub admin_password: String,
    /// The demo customer's email and password, if one is wanted.
    pub demo: Option<(String, String)>,
    /// Whether to add the demo catalogue ([`DEMO_PRODUCTS`]).
    pub catalogue: bool,
}

/// One demo product as seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoProduct {
    /// Unique SKU (the idempotency key of the seed).
    pub sku: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Price in minor units of `currency` (JPY has none: 1 yen is 1).
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: &'static str,
    /// Units in stock.
    pub stock: i32,
    /// `active` or `archived`.
    pub status: &'static str,
}

const fn demo(
    sku: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
    currency: &'static str,
    stock: i32,
    status: &'static str,
) -> DemoProduct {
    DemoProduct {
        sku,
        name,
        description,
        price_minor,
        currency,
        stock,
        status,
    }
}

/// The demo catalogue: twelve products, four currencies, ten active and two archived,
/// one out of stock — enough for `?limit=5` to page, `?currency=`, `?status=` and the
/// sorts to show something.
pub const DEMO_PRODUCTS: &[DemoProduct] = &[
    demo(
        "DEMO-MUG-001",
        "Enamel camp mug",
        "A 350 ml enamel mug that survives a campfire.",
        1450,
        "EUR",
        120,
        "active",
    ),
    demo(
        "DEMO-TEE-002",
        "Organic cotton tee",
        "Heavyweight organic cotton, relaxed fit.",
        2900,
        "EUR",
        80,
        "active",
    ),
    demo(
        "DEMO-BAG-003",
        "Waxed canvas tote",
        "Waxed canvas with leather handles, 20 litres.",
        6400,
        "EUR",
        35,
        "active",
    ),
    demo(
        "DEMO-LMP-004",
        "Brass desk lamp",
        "Adjustable brass lamp with a warm LED bulb.",
        8900,
        "EUR",
        0,
        "active",
    ),
    demo(
        "DEMO-KBD-005",
        "Mechanical keyboard",
        "Tenkeyless, hot-swappable switches, USB-C.",
        12900,
        "USD",
        42,
        "active",
    ),
    demo(
        "DEMO-MSE-006",
        "Wireless mouse",
        "Silent clicks, three months per charge.",
        3900,
        "USD",
        150,
        "active",
    ),
    demo(
        "DEMO-HUB-007",
        "USB-C hub",
        "Seven ports, 100 W pass-through charging.",
        5400,
        "USD",
        60,
        "active",
    ),
    demo(
        "DEMO-TEA-008",
        "Assam breakfast tea",
        "Loose leaf, 250 g tin.",
        850,
        "GBP",
        200,
        "active",
    ),
    demo(
        "DEMO-BRL-009",
        "Stoneware teapot",
        "1.2 litres, hand-glazed, with an infuser.",
        3200,
        "GBP",
        25,
        "active",
    ),
    demo(
        "DEMO-KNF-010",
        "Santoku knife",
        "165 mm blade of layered steel, walnut handle.",
        18500,
        "JPY",
        15,
        "active",
    ),
    demo(
        "DEMO-NTB-011",
        "Dot-grid notebook (2023 edition)",
        "A5, 160 pages; replaced by the 2024 edition.",
        1800,
        "EUR",
        0,
        "archived",
    ),
    demo(
        "DEMO-CBL-012",
        "Micro-USB cable",
        "One metre; retired with the move to USB-C.",
        700,
        "USD",
        10,
        "archived",
    ),
];

impl std::fmt::Debug for SeedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedConfig")
            .field("admin_email", &self.admin_email)
            .field("demo", &self.demo.as_ref().map(|(email, _)| email))
            .finish_non_exhaustive()
    }
}

fn required_env(name: &'static str) -> Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MigrateError::Invalid {
            what: name,
            reason: "not set".to_owned(),
        })
}

impl SeedConfig {
    /// Reads `ORDERLY_SEED_MACHINE_CLIENT_SECRET`, `ORDERLY_SEED_ADMIN_EMAIL`,
    /// `ORDERLY_SEED_ADMIN_PASSWORD`, `ORDERLY_SEED_DEMO_EMAIL` and
    /// `ORDERLY_SEED_DEMO_PASSWORD`.
    /// `ORDERLY_SEED_CATALOGUE=0` (or `false`) leaves the demo catalogue out.
    pub fn from_env() -> Result<Self> {
        let demo_password = std::env::var("ORDERLY_SEED_DEMO_PASSWORD")
            .ok()
            .filter(|v| !v.is_empty());
        Ok(Self {
            machine_client_secret: required_env("ORDERLY_SEED_MACHINE_CLIENT_SECRET")?,
            admin_email: std::env::var("ORDERLY_SEED_ADMIN_EMAIL")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned()),
            admin_password: required_env("ORDERLY_SEED_ADMIN_PASSWORD")?,
            demo: demo_password.map(|password| {
                let email = std::env::var("ORDERLY_SEED_DEMO_EMAIL")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| DEFAULT_DEMO_EMAIL.to_owned());
                (email, password)
            }),
            catalogue: !matches!(
                std::env::var("ORDERLY_SEED_CATALOGUE").as_deref(),
                Ok("0" | "false" | "no")
            ),
        })
    }
}

/// What happened to one seeded row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Inserted.
    Created,
    /// Existed with other values; brought in line (version bumped).
    Updated,
    /// Already as wanted; not touched.
    Unchanged,
}

/// One line per seeded row: (what, outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// `client orderly-machine`, `user admin@orderly.local`, …
    pub rows: Vec<(String, Outcome)>,
}

/// A client row as seeded.
struct ClientSpec {
    client_id: &'static str,
    name: &'static str,
    confidential: bool,
    secret: Option<String>,
    auth_method: &'static str,
    redirect_uris: String,
    grant_types: &'static str,
    scopes: &'static str,
}

fn json_string_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| {
            let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\"")
        })
        .collect();
    format!("[{}]", quoted.join(","))
}

fn hash(secret: &str) -> Result<String> {
    credentials::hash_secret(secret).map_err(|e| MigrateError::Invalid {
        what: "seed secret",
        reason: format!("cannot hash: {e}"),
    })
}

fn client_hash(secret: &str) -> Result<String> {
    credentials::hash_client_secret(secret).map_err(|e| MigrateError::Invalid {
        what: "seed client secret",
        reason: format!("cannot hash: {e}"),
    })
}

/// Keeps `stored` when it still verifies `secret`, else a fresh hash; `true` if new.
fn keep_or_rehash(stored: Option<&str>, secret: &str) -> Result<(String, bool)> {
    if let Some(stored) = stored
        && credentials::verify_secret(secret, stored).unwrap_or(false)
    {
        return Ok((stored.to_owned(), false));
    }
    Ok((hash(secret)?, true))
}

fn db(context: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> MigrateError {
    MigrateError::db(context)
}

type ClientRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
);

async fn seed_client(conn: &mut Conn, spec: &ClientSpec) -> Result<Outcome> {
    let existing: Option<ClientRow> = conn
        .exec_first(
            "SELECT client_name, client_type, secret_hash, token_endpoint_auth_method, \
             CAST(redirect_uris AS CHAR), grant_types, scopes, status \
             FROM oauth_clients WHERE client_id = ?",
            (spec.client_id,),
        )
        .await
        .map_err(db(format!("reading client {}", spec.client_id)))?;
    let client_type = if spec.confidential {
        "confidential"
    } else {
        "public"
    };
    let Some((name, kind, stored_hash, method, uris, grants, scopes, status)) = existing else {
        let secret_hash = spec.secret.as_deref().map(client_hash).transpose()?;
        conn.exec_drop(
            "INSERT INTO oauth_clients (id, client_id, client_name, client_type, secret_hash, \
             token_endpoint_auth_method, redirect_uris, grant_types, scopes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            Params::Positional(vec![
                Value::from(uuid::Uuid::now_v7().as_bytes().to_vec()),
                Value::from(spec.client_id),
                Value::from(spec.name),
                Value::from(client_type),
                Value::from(secret_hash),
                Value::from(spec.auth_method),
                Value::from(spec.redirect_uris.as_str()),
                Value::from(spec.grant_types),
                Value::from(spec.scopes),
            ]),
        )
        .await
        .map_err(db(format!("inserting client {}", spec.client_id)))?;
        return Ok(Outcome::Created);
    };
    let (secret_hash, rehashed) = match spec.secret.as_deref() {
        Some(secret) => match stored_hash.as_deref() {
            Some(stored) if credentials::client_secret_hash_is_current(secret, stored) => {
                (Some(stored.to_owned()), false)
            }
            _ => (Some(client_hash(secret)?), true),
        },
        None => (None, stored_hash.is_some()),
    };
    let same = !rehashed
        && name == spec.name
        && kind == client_type
        && method == spec.auth_method
        && uris == spec.redirect_uris
        && grants == spec.grant_types
        && scopes == spec.scopes
        && status == "active";
    if same {
        return Ok(Outcome::Unchanged);
    }
    conn.exec_drop(
        "UPDATE oauth_clients SET client_name = ?, client_type = ?, secret_hash = ?, \
         token_endpoint_auth_method = ?, redirect_uris = ?, grant_types = ?, scopes = ?, \
         status = 'active', version = version + 1 WHERE client_id = ?",
        Params::Positional(vec![
            Value::from(spec.name),
            Value::from(client_type),
            Value::from(secret_hash),
            Value::from(spec.auth_method),
            Value::from(spec.redirect_uris.as_str()),
            Value::from(spec.grant_types),
            Value::from(spec.scopes),
            Value::from(spec.client_id),
        ]),
    )
    .await
    .map_err(db(format!("updating client {}", spec.client_id)))?;
    Ok(Outcome::Updated)
}

/// Checks the email and the password against the NIST rules; the error never carries
/// the password.
fn check_account(what: &'static str, email: &str, password: &str) -> Result<domain::Email> {
    let email = domain::Email::parse(email).map_err(|e| MigrateError::Invalid {
        what,
        reason: format!("email: {e}"),
    })?;
    domain::Password::parse(password.to_owned(), &email).map_err(|e| MigrateError::Invalid {
        what,
        reason: format!("password refused: {e}"),
    })?;
    Ok(email)
}

async fn seed_user(
    conn: &mut Conn,
    email: &domain::Email,
    password: &str,
    roles: &str,
) -> Result<Outcome> {
    let existing: Option<(Vec<u8>, String, String, String)> = conn
        .exec_first(
            "SELECT id, password_hash, roles, status FROM users WHERE email = ?",
            (email.as_str(),),
        )
        .await
        .map_err(db(format!("reading user {email}")))?;
    let Some((id, stored_hash, stored_roles, status)) = existing else {
        let id = domain::UserId::generate().to_bytes().to_vec();
        conn.exec_drop(
            "INSERT INTO users (id, email, password_hash, roles, status) \
             VALUES (?, ?, ?, ?, 'active')",
            (id, email.as_str(), hash(password)?, roles),
        )
        .await
        .map_err(db(format!("inserting user {email}")))?;
        return Ok(Outcome::Created);
    };
    let (password_hash, rehashed) = keep_or_rehash(Some(&stored_hash), password)?;
    if !rehashed && stored_roles == roles && status == "active" {
        return Ok(Outcome::Unchanged);
    }
    conn.exec_drop(
        "UPDATE users SET password_hash = ?, roles = ?, status = 'active', \
         version = version + 1 WHERE id = ?",
        (password_hash, roles, id),
    )
    .await
    .map_err(db(format!("updating user {email}")))?;
    Ok(Outcome::Updated)
}

/// Inserts the demo products whose SKU is not there yet; `Created` when any was added.
async fn seed_catalogue(conn: &mut Conn) -> Result<Outcome> {
    let mut created = false;
    for product in DEMO_PRODUCTS {
        conn.exec_drop(
            "INSERT INTO products (id, sku, name, description, price_minor, currency, stock, status) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM DUAL \
             WHERE NOT EXISTS (SELECT 1 FROM products WHERE sku = ?)",
            Params::Positional(vec![
                Value::from(uuid::Uuid::now_v7().as_bytes().to_vec()),
                Value::from(product.sku),
                Value::from(product.name),
                Value::from(product.description),
                Value::from(product.price_minor),
                Value::from(product.currency),
                Value::from(product.stock),
                Value::from(product.status),
                Value::from(product.sku),
            ]),
        )
        .await
        .map_err(db(format!("inserting demo product {}", product.sku)))?;
        created |= conn.affected_rows() > 0;
    }
    Ok(if created {
        Outcome::Created
    } else {
        Outcome::Unchanged
    })
}

/// Seeds `database` (already migrated) through `admin_url`. Every input is checked
/// before the first write.
pub async fn seed(
    admin_url: &str,
    database: &DatabaseName,
    config: &SeedConfig,
) -> Result<SeedReport> {
    if config.machine_client_secret.chars().count() < MIN_CLIENT_SECRET_CHARS {
        return Err(MigrateError::Invalid {
            what: "ORDERLY_SEED_MACHINE_CLIENT_SECRET",
            reason: format!("shorter than {MIN_CLIENT_SECRET_CHARS} characters"),
        });
    }
    let admin_email = check_account(
        "admin account (ORDERLY_SEED_ADMIN_EMAIL / ORDERLY_SEED_ADMIN_PASSWORD)",
        &config.admin_email,
        &config.admin_password,
    )?;
    let demo = match &config.demo {
        Some((email, password)) => Some((
            check_account(
                "demo account (ORDERLY_SEED_DEMO_EMAIL / ORDERLY_SEED_DEMO_PASSWORD)",
                email,
                password,
            )?,
            password.as_str(),
        )),
        None => None,
    };
    let clients = [
        ClientSpec {
            client_id: MACHINE_CLIENT_ID,
            name: "Orderly machine client (dev seed)",
            confidential: true,
            secret: Some(config.machine_client_secret.clone()),
            auth_method: "client_secret_basic",
            redirect_uris: json_string_array(&[]),
            grant_types: "client_credentials",
            scopes: MACHINE_SCOPES,
        },
        ClientSpec {
            client_id: WEB_CLIENT_ID,
            name: "Orderly web (dev seed)",
            confidential: false,
            secret: None,
            auth_method: "none",
            redirect_uris: json_string_array(WEB_REDIRECT_URIS),
            grant_types: "authorization_code,refresh_token",
            scopes: WEB_SCOPES,
        },
    ];

    let mut conn = crate::connect(admin_url, Some(database)).await?;
    let mut report = SeedReport::default();
    for client in &clients {
        let outcome = seed_client(&mut conn, client).await?;
        report
            .rows
            .push((format!("client {}", client.client_id), outcome));
    }
    let outcome = seed_user(
        &mut conn,
        &admin_email,
        &config.admin_password,
        "customer,admin",
    )
    .await?;
    report.rows.push((format!("user {admin_email}"), outcome));
    if let Some((email, password)) = demo {
        let outcome = seed_user(&mut conn, &email, password, "customer").await?;
        report.rows.push((format!("user {email}"), outcome));
    }
    if config.catalogue {
        let outcome = seed_catalogue(&mut conn).await?;
        report.rows.push((
            format!("catalogue ({} demo products)", DEMO_PRODUCTS.len()),
            outcome,
        ));
    }
    let _ = conn.disconnect().await;
    Ok(report)
}

/// Blocking [`seed`] for callers without a runtime (`cargo xtask`).
pub fn seed_blocking(
    admin_url: &str,
    database: &DatabaseName,
    config: &SeedConfig,
) -> Result<SeedReport> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| MigrateError::Io {
            path: "tokio runtime".into(),
            source,
        })?
        .block_on(seed(admin_url, database, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_a_json_array_of_exact_strings() {
        assert_eq!(json_string_array(&[]), "[]");
        assert_eq!(
            json_string_array(WEB_REDIRECT_URIS),
            r#"["http://127.0.0.1:8400/callback","http://localhost:8400/callback"]"#
        );
    }

    #[test]
    fn the_machine_client_gets_neither_admin_nor_user_scopes() {
        assert!(
            !MACHINE_SCOPES
                .split(' ')
                .any(|s| s == "admin" || s.starts_with("users:"))
        );
    }

    #[test]
    fn a_weak_admin_password_is_refused_without_echoing_it() {
        let err = check_account("admin", DEFAULT_ADMIN_EMAIL, "password1").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("password refused"), "{text}");
        assert!(!text.contains("password1"), "{text}");
        assert!(check_account("admin", DEFAULT_ADMIN_EMAIL, "admin-orderly-2026!").is_err());
        assert!(check_account("admin", DEFAULT_ADMIN_EMAIL, "violet tram sings loud").is_ok());
    }
}
