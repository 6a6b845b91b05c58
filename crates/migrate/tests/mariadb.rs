//! Integration tests against the real MariaDB (`ORDERLY_DB_ADMIN_URL`, default
//! `mysql://root@127.0.0.1:3306`). Each test gets its own freshly created database and
//! account prefix, dropped afterwards even when the test fails.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration test helpers: a failure should stop the test loudly"
)]

use std::path::Path;

use migrate::{
    AccountHost, AccountPassword, COMPONENT_ACCOUNTS, DatabaseName, MigrateError, Migration,
    blocking,
};
use mysql_async::prelude::Queryable;
use rand::Rng;

fn admin_url() -> String {
    std::env::var("ORDERLY_DB_ADMIN_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A fresh database and account prefix, removed on drop.
struct Scratch {
    database: DatabaseName,
    prefix: String,
}

impl Scratch {
    fn new() -> Self {
        let tag: u64 = rand::rng().random();
        let tag = format!("{tag:016x}");
        Self {
            database: DatabaseName::parse(&format!("orderly_test_{tag}")).unwrap(),
            prefix: format!("t{}_", &tag[..10]),
        }
    }

    /// A fresh database whose accounts use its own prefix (`migrate::user_prefix`),
    /// as `orderly-migrate --accounts` and `cargo xtask` provision them.
    fn per_database() -> Self {
        let mut scratch = Self::new();
        scratch.prefix = migrate::user_prefix(&scratch.database);
        scratch
    }

    fn url_for(&self, user: &str, password: &AccountPassword) -> String {
        let admin = admin_url();
        let host = admin
            .rsplit('@')
            .next()
            .unwrap_or("127.0.0.1:3306")
            .trim_end_matches('/');
        format!(
            "mysql://{user}:{}@{host}/{}",
            password.expose(),
            self.database
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let database = self.database.clone();
        let prefix = self.prefix.clone();
        // A private runtime on its own thread: Drop may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = migrate::connect(&admin_url(), None).await {
                        let _ = migrate::drop_database(&mut conn, &database).await;
                        let _ =
                            migrate::drop_accounts(&mut conn, &prefix, &AccountHost::any()).await;
                        let _ = conn.disconnect().await;
                    }
                });
            }
        })
        .join();
    }
}

fn migrations(files: &[(&str, &str)]) -> Vec<Migration> {
    migrate::migrations::sort_and_check(
        files
            .iter()
            .map(|(name, sql)| Migration::new(name, *sql).unwrap())
            .collect(),
    )
    .unwrap()
}

fn repository_migrations() -> Vec<Migration> {
    migrate::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")).unwrap()
}

async fn recorded(scratch: &Scratch) -> Vec<(String, String)> {
    let mut conn = migrate::connect(&admin_url(), Some(&scratch.database))
        .await
        .unwrap();
    let rows = conn
        .query("SELECT name, checksum FROM schema_migrations ORDER BY applied_at, name")
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    rows
}

#[tokio::test]
async fn pending_migrations_are_applied_in_version_order_and_recorded() {
    let scratch = Scratch::new();
    // Given out of order; each file depends on the one before it.
    let files = migrations(&[
        ("0010_add_index.sql", "CREATE INDEX ix_t_v ON t (v)"),
        (
            "0002_add_column.sql",
            "ALTER TABLE t ADD COLUMN v INT NOT NULL DEFAULT 0",
        ),
        (
            "0001_create.sql",
            "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB",
        ),
    ]);
    let report = migrate::migrate(&admin_url(), &scratch.database, &files)
        .await
        .unwrap();
    assert_eq!(
        report.applied,
        [
            "0001_create.sql",
            "0002_add_column.sql",
            "0010_add_index.sql"
        ]
    );
    let rows = recorded(&scratch).await;
    let names: Vec<_> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 3);
    for (name, checksum) in &rows {
        let file = files.iter().find(|m| m.name() == name).unwrap();
        assert_eq!(checksum, file.checksum(), "{name}");
    }
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    let scratch = Scratch::new();
    let files = repository_migrations();
    let first = migrate::migrate(&admin_url(), &scratch.database, &files)
        .await
        .unwrap();
    assert!(!first.applied.is_empty());
    let second = migrate::migrate(&admin_url(), &scratch.database, &files)
        .await
        .unwrap();
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.already_applied, first.applied);
}

#[tokio::test]
async fn a_file_changed_after_it_was_applied_is_refused_by_name() {
    let scratch = Scratch::new();
    let original = migrations(&[("0001_create.sql", "CREATE TABLE t (id INT PRIMARY KEY)")]);
    migrate::migrate(&admin_url(), &scratch.database, &original)
        .await
        .unwrap();

    let edited = migrations(&[
        ("0001_create.sql", "CREATE TABLE t (id BIGINT PRIMARY KEY)"),
        ("0002_more.sql", "CREATE TABLE u (id INT PRIMARY KEY)"),
    ]);
    let error = migrate::migrate(&admin_url(), &scratch.database, &edited)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MigrateError::ChecksumMismatch { name, .. } if name == "0001_create.sql"),
        "{error}"
    );
    assert!(error.to_string().contains("0001_create.sql"), "{error}");
    // Nothing after the changed file ran.
    assert_eq!(recorded(&scratch).await.len(), 1);
}

#[tokio::test]
async fn a_failing_migration_is_named_and_not_recorded() {
    let scratch = Scratch::new();
    let files = migrations(&[
        ("0001_ok.sql", "CREATE TABLE t (id INT PRIMARY KEY)"),
        ("0002_broken.sql", "CREATE TABLE t (id INT PRIMARY KEY)"),
    ]);
    let error = migrate::migrate(&admin_url(), &scratch.database, &files)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MigrateError::Apply { name, .. } if name == "0002_broken.sql"),
        "{error}"
    );
    let names: Vec<_> = recorded(&scratch)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0001_ok.sql"]);
}

fn passwords() -> Vec<(&'static str, AccountPassword)> {
    COMPONENT_ACCOUNTS
        .iter()
        .map(|a| (a.component, AccountPassword::generate()))
        .collect()
}

async fn connect_as(
    scratch: &Scratch,
    component: &str,
    passwords: &[(&str, AccountPassword)],
) -> mysql_async::Conn {
    let password = &passwords.iter().find(|(c, _)| *c == component).unwrap().1;
    let url = scratch.url_for(&format!("{}{component}", scratch.prefix), password);
    mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
        .await
        .unwrap()
}

fn server_code(error: mysql_async::Error) -> u16 {
    match error {
        mysql_async::Error::Server(e) => e.code,
        other => panic!("expected a server error, got {other}"),
    }
}

async fn provisioned() -> (Scratch, Vec<(&'static str, AccountPassword)>) {
    let scratch = Scratch::new();
    migrate::migrate(&admin_url(), &scratch.database, &repository_migrations())
        .await
        .unwrap();
    let passwords = passwords();
    migrate::provision(
        &admin_url(),
        &scratch.database,
        &scratch.prefix,
        &AccountHost::any(),
        &passwords,
    )
    .await
    .unwrap();
    (scratch, passwords)
}

/// MariaDB: ER_TABLEACCESS_DENIED_ERROR.
const TABLE_ACCESS_DENIED: u16 = 1142;
/// MariaDB: ER_COLUMNACCESS_DENIED_ERROR.
const COLUMN_ACCESS_DENIED: u16 = 1143;

#[tokio::test]
async fn products_cannot_read_users() {
    let (scratch, passwords) = provisioned().await;
    let mut products = connect_as(&scratch, "products", &passwords).await;
    products
        .query_drop("SELECT COUNT(*) FROM products")
        .await
        .unwrap();
    let denied = products
        .query_drop("SELECT * FROM users")
        .await
        .unwrap_err();
    assert_eq!(server_code(denied), TABLE_ACCESS_DENIED);
    let _ = products.disconnect().await;
}

#[tokio::test]
async fn identity_reads_users_but_never_writes_users_or_orders() {
    let (scratch, passwords) = provisioned().await;
    let mut identity = connect_as(&scratch, "identity", &passwords).await;
    identity
        .query_drop("SELECT COUNT(*) FROM users")
        .await
        .unwrap();
    identity
        .query_drop("SELECT COUNT(*) FROM refresh_tokens")
        .await
        .unwrap();
    let write_users = identity
        .query_drop("UPDATE users SET display_name = 'x' WHERE id = 0x00")
        .await
        .unwrap_err();
    assert_eq!(server_code(write_users), TABLE_ACCESS_DENIED);
    let write_orders = identity
        .query_drop(
            "INSERT INTO orders (id, user_id, currency, total_minor) VALUES (0x01, 0x02, 'EUR', 0)",
        )
        .await
        .unwrap_err();
    assert_eq!(server_code(write_orders), TABLE_ACCESS_DENIED);
    let _ = identity.disconnect().await;
}

#[tokio::test]
async fn orders_may_change_stock_but_not_prices() {
    let (scratch, passwords) = provisioned().await;
    let mut orders = connect_as(&scratch, "orders", &passwords).await;
    orders
        .query_drop("UPDATE products SET stock = stock - 1, version = version + 1 WHERE id = 0x00 AND stock >= 1")
        .await
        .unwrap();
    let price = orders
        .query_drop("UPDATE products SET price_minor = 0 WHERE id = 0x00")
        .await
        .unwrap_err();
    assert_eq!(server_code(price), COLUMN_ACCESS_DENIED);
    let users = orders.query_drop("SELECT * FROM users").await.unwrap_err();
    assert_eq!(server_code(users), TABLE_ACCESS_DENIED);
    let _ = orders.disconnect().await;
}

#[tokio::test]
async fn health_can_connect_and_nothing_more() {
    let (scratch, passwords) = provisioned().await;
    let mut health = connect_as(&scratch, "health", &passwords).await;
    health.query_drop("SELECT 1").await.unwrap();
    for table in ["users", "products", "orders"] {
        let denied = health
            .query_drop(format!("SELECT * FROM {table}"))
            .await
            .unwrap_err();
        assert_eq!(server_code(denied), TABLE_ACCESS_DENIED, "{table}");
    }
    let _ = health.disconnect().await;
}

#[tokio::test]
async fn accounts_carry_their_connection_quota_and_reprovisioning_rotates_passwords() {
    let (scratch, old) = provisioned().await;
    let mut admin = migrate::connect(&admin_url(), None).await.unwrap();
    for account in COMPONENT_ACCOUNTS {
        let quota: Option<u64> = admin
            .exec_first(
                "SELECT max_user_connections FROM mysql.user WHERE user = ? AND host = '%'",
                (format!("{}{}", scratch.prefix, account.component),),
            )
            .await
            .unwrap();
        assert_eq!(
            quota,
            Some(u64::from(account.max_user_connections)),
            "{}",
            account.component
        );
    }
    let _ = admin.disconnect().await;

    let new = passwords();
    blocking_provision(&scratch, &new).await;
    let mut health = connect_as(&scratch, "health", &new).await;
    health.query_drop("SELECT 1").await.unwrap();
    let _ = health.disconnect().await;
    let password = &old.iter().find(|(c, _)| *c == "health").unwrap().1;
    let stale = scratch.url_for(&format!("{}health", scratch.prefix), password);
    assert!(
        mysql_async::Conn::new(mysql_async::Opts::from_url(&stale).unwrap())
            .await
            .is_err()
    );
}

/// The blocking facade, run off the test's runtime thread.
async fn blocking_provision(scratch: &Scratch, passwords: &[(&'static str, AccountPassword)]) {
    let (database, prefix, passwords) = (
        scratch.database.clone(),
        scratch.prefix.clone(),
        passwords.to_vec(),
    );
    tokio::task::spawn_blocking(move || {
        blocking::provision(
            &admin_url(),
            &database,
            &prefix,
            &AccountHost::any(),
            &passwords,
        )
        .unwrap()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_missing_password_is_refused_before_anything_changes() {
    let scratch = Scratch::new();
    migrate::migrate(&admin_url(), &scratch.database, &repository_migrations())
        .await
        .unwrap();
    let mut partial = passwords();
    partial.retain(|(c, _)| *c != "orders");
    let error = migrate::provision(
        &admin_url(),
        &scratch.database,
        &scratch.prefix,
        &AccountHost::any(),
        &partial,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, MigrateError::MissingPassword { component } if component == "orders"),
        "{error}"
    );
}

/// Two databases (two checkouts, or the dev service and a test run) migrated and
/// provisioned on one server: each has its own accounts, so the second run's migrate
/// and password reset leave the first's accounts connecting and querying, and the
/// other way round (issue 15: one shared `orderly_*` account set broke both with 1045).
#[tokio::test]
async fn two_databases_on_one_server_keep_their_own_working_accounts() {
    async fn setup(scratch: &Scratch) -> Vec<(&'static str, AccountPassword)> {
        migrate::migrate(&admin_url(), &scratch.database, &repository_migrations())
            .await
            .unwrap();
        let passwords = passwords();
        let users = migrate::provision(
            &admin_url(),
            &scratch.database,
            &scratch.prefix,
            &AccountHost::any(),
            &passwords,
        )
        .await
        .unwrap();
        for user in &users {
            assert!(user.starts_with(&scratch.prefix), "{user}");
            assert!(user.len() <= 80, "{user}");
        }
        passwords
    }
    async fn works(scratch: &Scratch, passwords: &[(&'static str, AccountPassword)]) {
        for (component, table) in [
            ("health", "schema_migrations"),
            ("identity", "users"),
            ("users", "users"),
            ("products", "products"),
            ("orders", "orders"),
        ] {
            let mut conn = connect_as(scratch, component, passwords).await;
            let count: Option<u64> = conn
                .query_first(format!("SELECT COUNT(*) FROM `{table}`"))
                .await
                .unwrap();
            assert!(count.is_some(), "{component} on {}", scratch.database);
            let _ = conn.disconnect().await;
        }
    }

    let first = Scratch::per_database();
    let second = Scratch::per_database();
    assert_ne!(first.prefix, second.prefix);
    let first_passwords = setup(&first).await;
    works(&first, &first_passwords).await;
    let second_passwords = setup(&second).await;
    works(&first, &first_passwords).await;
    works(&second, &second_passwords).await;
    // The first checkout migrates again (idempotent) and rotates its own passwords:
    // the second is not affected.
    let report = migrate::migrate(&admin_url(), &first.database, &repository_migrations())
        .await
        .unwrap();
    assert!(report.applied.is_empty());
    let first_passwords = setup(&first).await;
    works(&second, &second_passwords).await;
    works(&first, &first_passwords).await;
    // One database's accounts cannot see the other's tables.
    let mut products = connect_as(&first, "products", &first_passwords).await;
    let denied = products
        .query_drop(format!(
            "SELECT COUNT(*) FROM `{}`.products",
            second.database
        ))
        .await
        .unwrap_err();
    assert_eq!(server_code(denied), TABLE_ACCESS_DENIED);
    let _ = products.disconnect().await;
}

/// What the test command's cleanup relies on: a database and its accounts are found by
/// name prefix (also when only the accounts are left) and `remove` drops both.
#[tokio::test]
async fn remove_drops_a_database_and_its_accounts_and_listing_finds_leftovers() {
    let scratch = Scratch::per_database();
    migrate::migrate(&admin_url(), &scratch.database, &repository_migrations())
        .await
        .unwrap();
    let passwords = passwords();
    migrate::provision(
        &admin_url(),
        &scratch.database,
        &scratch.prefix,
        &AccountHost::any(),
        &passwords,
    )
    .await
    .unwrap();
    let name_prefix = &scratch.database.as_str()[..scratch.database.as_str().len() - 4];
    let found = migrate::databases_named(&admin_url(), name_prefix)
        .await
        .unwrap();
    assert!(found.contains(&scratch.database), "{found:?}");
    // Only the accounts left (a run killed between DROP DATABASE and DROP USER).
    let mut admin = migrate::connect(&admin_url(), None).await.unwrap();
    migrate::drop_database(&mut admin, &scratch.database)
        .await
        .unwrap();
    let found = migrate::databases_named(&admin_url(), name_prefix)
        .await
        .unwrap();
    assert!(found.contains(&scratch.database), "{found:?}");
    migrate::remove(&admin_url(), &scratch.database, &AccountHost::any())
        .await
        .unwrap();
    let left: Vec<String> = admin
        .exec(
            "SELECT User FROM mysql.user WHERE User LIKE CONCAT(?, '%')",
            (scratch.prefix.clone(),),
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let found = migrate::databases_named(&admin_url(), name_prefix)
        .await
        .unwrap();
    assert!(!found.contains(&scratch.database), "{found:?}");
    let _ = admin.disconnect().await;
}
