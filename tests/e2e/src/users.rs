//! Helpers for the users end-to-end tests: registration through the API, access tokens
//! minted with the app's signing key, and reads of the `users` table (as root) to
//! assert on.

use anyhow::{Context, Result, anyhow};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use serde_json::{Value, json};

use crate::{TestApp, unique};

pub use crate::AUDIENCE;
pub use crate::ISSUER;
/// What a signed-in user's browser token carries.
pub const USER_SCOPES: &str = "users:read users:write";
/// An administrator's token.
pub const ADMIN_SCOPES: &str = "users:read users:write admin";
/// A password that passes the NIST rules for any test address.
pub const GOOD_PASSWORD: &str = "violet tram sings loud";

/// A fresh address nobody else uses.
pub fn unique_email() -> String {
    format!("{}@users.example", unique("u", 24))
}

/// A root connection to the `orderly` database (`ORDERLY_DB_ADMIN_URL`).
pub async fn admin_conn() -> Result<Conn> {
    let url = std::env::var("ORDERLY_DB_ADMIN_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let database = std::env::var("ORDERLY_DB_NAME").unwrap_or_else(|_| "orderly".to_owned());
    let rest = url
        .strip_prefix("mysql://")
        .context("admin URL must be mysql://")?;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let opts = Opts::from_url(&format!("mysql://{authority}/{database}"))?;
    Conn::new(opts).await.context("admin connection")
}

/// A `users` row as stored: (id, email, password_hash, roles, status, version).
pub type UserRow = (String, String, String, String, String, u32);

/// The rows whose email equals `email` (case-insensitively, as the collation compares).
pub async fn user_rows(email: &str) -> Result<Vec<UserRow>> {
    let mut conn = admin_conn().await?;
    let rows: Vec<(Vec<u8>, String, String, String, String, u32)> = conn
        .exec(
            "SELECT id, email, password_hash, roles, status, version FROM users WHERE email = ?",
            (email,),
        )
        .await?;
    let _ = conn.disconnect().await;
    rows.into_iter()
        .map(|(id, email, hash, roles, status, version)| {
            let id = uuid::Uuid::from_slice(&id)?.hyphenated().to_string();
            Ok((id, email, hash, roles, status, version))
        })
        .collect()
}

/// `POST /api/v1/users` with a JSON body.
pub async fn register(app: &TestApp, body: &Value) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?)
}

/// Registers a fresh user and returns (id, email).
pub async fn registered_user(app: &TestApp) -> Result<(String, String)> {
    let email = unique_email();
    let response = register(app, &json!({"email": email, "password": GOOD_PASSWORD})).await?;
    if response.status() != 201 {
        return Err(anyhow!("registration answered {}", response.status()));
    }
    let body: Value = response.json().await?;
    let id = body["id"].as_str().context("no id")?.to_owned();
    Ok((id, email))
}

/// Promotes `id` to admin in the database (fixture).
pub async fn make_admin(id: &str) -> Result<()> {
    let mut conn = admin_conn().await?;
    let id = uuid::Uuid::parse_str(id)?;
    conn.exec_drop(
        "UPDATE users SET roles = 'customer,admin' WHERE id = ?",
        (id.as_bytes().to_vec(),),
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// An access token with `sub`, issued to `client_id`, with `scope`, signed by the app's key.
/// A token whose `sub` equals its `client_id` is a client credentials token.
pub fn access_token(app: &TestApp, sub: &str, client_id: &str, scope: &str) -> Result<String> {
    app.access_token(sub, client_id, scope)
}

/// A user's token (client `orderly-web`).
pub fn user_token(app: &TestApp, user_id: &str, scope: &str) -> Result<String> {
    access_token(app, user_id, "orderly-web", scope)
}

/// Gives `user_id` an order (fixture), so the user can no longer be deleted.
pub async fn give_an_order(user_id: &str) -> Result<()> {
    let mut conn = admin_conn().await?;
    let user = uuid::Uuid::parse_str(user_id)?;
    conn.exec_drop(
        "INSERT INTO orders (id, user_id, currency, total_minor) VALUES (?, ?, 'EUR', 0)",
        (
            uuid::Uuid::now_v7().as_bytes().to_vec(),
            user.as_bytes().to_vec(),
        ),
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}
