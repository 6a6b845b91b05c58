//! # migrate — Orderly's schema and database accounts
//!
//! - [`migrate`] applies the pending `migrations/NNNN_*.sql` files in version order,
//!   records each (name, SHA-256, time) in `schema_migrations`, refuses a file whose
//!   checksum changed after it was applied, and does nothing on a second run.
//! - [`provision`] creates one MariaDB account per component with only the table
//!   grants it needs and a `MAX_USER_CONNECTIONS` quota ([`accounts`]).
//!
//! Both take a MariaDB admin URL (`mysql://root@127.0.0.1:3306`) and a database name.
//! Native only (mysql_async on tokio); [`blocking`] wraps them for callers without a
//! runtime, such as `cargo xtask`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accounts;
pub mod error;
pub mod migrations;
pub mod names;
pub mod seed;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

pub use accounts::{
    COMPONENT_ACCOUNTS, ComponentAccount, DEFAULT_DATABASE, DEFAULT_USER_PREFIX, TableGrant,
    drop_accounts, provision_accounts, user_name, user_prefix,
};
pub use error::{MigrateError, Result};
pub use migrations::{Migration, MigrationReport, apply, load_dir};
pub use names::{AccountHost, AccountPassword, DatabaseName};

/// How long to wait for MariaDB to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects with `admin_url`, optionally selecting `database` as the default schema.
pub async fn connect(admin_url: &str, database: Option<&DatabaseName>) -> Result<Conn> {
    let opts = Opts::from_url(admin_url).map_err(|e| MigrateError::Invalid {
        what: "MariaDB URL",
        reason: e.to_string(),
    })?;
    let opts = OptsBuilder::from_opts(opts)
        .db_name(database.map(DatabaseName::as_str))
        .prefer_socket(false);
    tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts))
        .await
        .map_err(|_| MigrateError::Database {
            context: format!("connecting to MariaDB (no answer in {CONNECT_TIMEOUT:?})"),
            source: mysql_async::Error::Other("connect timeout".into()),
        })?
        .map_err(MigrateError::db("connecting to MariaDB"))
}

/// `CREATE DATABASE IF NOT EXISTS` with utf8mb4.
pub async fn create_database(conn: &mut Conn, database: &DatabaseName) -> Result<()> {
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        database.quoted()
    ))
    .await
    .map_err(MigrateError::db(format!("creating database {database}")))
}

/// `DROP DATABASE IF EXISTS` (tests and teardown).
pub async fn drop_database(conn: &mut Conn, database: &DatabaseName) -> Result<()> {
    conn.query_drop(format!("DROP DATABASE IF EXISTS {}", database.quoted()))
        .await
        .map_err(MigrateError::db(format!("dropping database {database}")))
}

/// Creates `database` if needed and applies the pending `migrations` to it.
pub async fn migrate(
    admin_url: &str,
    database: &DatabaseName,
    migrations: &[Migration],
) -> Result<MigrationReport> {
    let mut admin = connect(admin_url, None).await?;
    create_database(&mut admin, database).await?;
    let _ = admin.disconnect().await;
    let mut conn = connect(admin_url, Some(database)).await?;
    let report = apply(&mut conn, database.as_str(), migrations).await;
    let _ = conn.disconnect().await;
    report
}

/// Provisions the component accounts on `database` (see [`provision_accounts`]).
pub async fn provision(
    admin_url: &str,
    database: &DatabaseName,
    prefix: &str,
    host: &AccountHost,
    passwords: &[(&str, AccountPassword)],
) -> Result<Vec<String>> {
    let mut conn = connect(admin_url, None).await?;
    let result = provision_accounts(&mut conn, database, prefix, host, passwords).await;
    let _ = conn.disconnect().await;
    result
}

/// Drops `database` and its component accounts ([`user_prefix`]); both may be absent.
pub async fn remove(admin_url: &str, database: &DatabaseName, host: &AccountHost) -> Result<()> {
    let mut conn = connect(admin_url, None).await?;
    let result = async {
        drop_database(&mut conn, database).await?;
        drop_accounts(&mut conn, &user_prefix(database), host).await
    }
    .await;
    let _ = conn.disconnect().await;
    result
}

/// The databases whose name starts with `name_prefix` (`[a-z0-9_]` only), with those
/// that only have component accounts left ([`user_prefix`] form, not hashed), sorted.
pub async fn databases_named(admin_url: &str, name_prefix: &str) -> Result<Vec<DatabaseName>> {
    if !name_prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(MigrateError::Invalid {
            what: "database name prefix",
            reason: format!("{name_prefix:?} must be [a-z0-9_]"),
        });
    }
    let pattern = format!("{}%", name_prefix.replace('_', "\\_"));
    let mut conn = connect(admin_url, None).await?;
    let schemas: Result<Vec<String>> = conn
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (pattern.clone(),),
        )
        .await
        .map_err(MigrateError::db("listing databases"));
    let users: Result<Vec<String>> = conn
        .exec(
            "SELECT DISTINCT User FROM mysql.user WHERE User LIKE ?",
            (pattern,),
        )
        .await
        .map_err(MigrateError::db("listing accounts"));
    let _ = conn.disconnect().await;
    let mut names: Vec<String> = schemas?;
    for user in users? {
        let database = COMPONENT_ACCOUNTS.iter().find_map(|account| {
            user.strip_suffix(account.component)
                .and_then(|rest| rest.strip_suffix('_'))
        });
        if let Some(database) = database {
            names.push(database.to_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names
        .iter()
        .filter_map(|name| DatabaseName::parse(name).ok())
        .collect())
}

/// Whether MariaDB at `admin_url` accepts a connection and answers `SELECT 1`.
pub async fn ping(admin_url: &str) -> Result<()> {
    let mut conn = connect(admin_url, None).await?;
    conn.query_drop("SELECT 1")
        .await
        .map_err(MigrateError::db("SELECT 1"))?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Blocking wrappers (a private current-thread runtime per call) for callers that
/// have no async runtime, such as `cargo xtask`.
pub mod blocking {
    use super::*;

    fn run<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| MigrateError::Io {
                path: "tokio runtime".into(),
                source,
            })?
            .block_on(future)
    }

    /// See [`super::migrate`].
    pub fn migrate(
        admin_url: &str,
        database: &DatabaseName,
        migrations: &[Migration],
    ) -> Result<MigrationReport> {
        run(super::migrate(admin_url, database, migrations))
    }

    /// See [`super::provision`].
    pub fn provision(
        admin_url: &str,
        database: &DatabaseName,
        prefix: &str,
        host: &AccountHost,
        passwords: &[(&str, AccountPassword)],
    ) -> Result<Vec<String>> {
        run(super::provision(
            admin_url, database, prefix, host, passwords,
        ))
    }

    /// See [`super::remove`].
    pub fn remove(admin_url: &str, database: &DatabaseName, host: &AccountHost) -> Result<()> {
        run(super::remove(admin_url, database, host))
    }

    /// See [`super::databases_named`].
    pub fn databases_named(admin_url: &str, name_prefix: &str) -> Result<Vec<DatabaseName>> {
        run(super::databases_named(admin_url, name_prefix))
    }

    /// See [`super::ping`].
    pub fn ping(admin_url: &str) -> Result<()> {
        run(super::ping(admin_url))
    }
}
