//! # admin — `orderly-admin`, the operator's commands
//!
//! What an operator needs to run Orderly that the HTTP API does not offer (yet), working
//! against a production database and production variables, not only the development
//! setup. The binary ships in the container image next to `orderly-migrate`.
//!
//! | command | module |
//! |---|---|
//! | `keys init / stage / promote / retire / show` | [`keys`]: ES256 signing keys and the JWKS variables; rotation next → current → retired |
//! | `client create / rotate-secret / disable / enable / list` | [`clients`]: OAuth clients in `oauth_clients` |
//! | `user create-admin` | [`users`]: the first administrator |
//! | `secret` | a random secret for `cursor_key` or a database password |
//! | `probe URL` | [`probe`]: the image's health check (no shell, no curl in it) |
//!
//! Database commands connect with the migration URL (`ORDERLY_DB_ADMIN_URL`, an account
//! that may write `oauth_clients` and `users`; the component accounts may not) to the
//! database `ORDERLY_DB_NAME` (default `orderly`). Secrets are read from files or the
//! environment, never from the command line, and printed only when generated.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clients;
pub mod error;
pub mod keys;
pub mod probe;
pub mod scopes;
pub mod users;

pub use error::{AdminError, Result};

/// Connects to `database` through `admin_url` (see `migrate::connect`: 10 s timeout, TCP).
pub async fn connect(admin_url: &str, database: &str) -> Result<mysql_async::Conn> {
    let database = migrate::DatabaseName::parse(database)?;
    Ok(migrate::connect(admin_url, Some(&database)).await?)
}

/// A random secret: 32 bytes from the OS generator, base64url (43 characters). Good for
/// `cursor_key` (>= 32 bytes) and for database passwords (`[A-Za-z0-9_-]`).
pub fn random_secret() -> Result<zeroize::Zeroizing<String>> {
    credentials::random_token()
        .map(zeroize::Zeroizing::new)
        .map_err(|e| AdminError::Crypto(format!("no randomness: {e}")))
}
