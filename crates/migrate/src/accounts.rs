//! One MariaDB account per component, with table-level grants and
//! `MAX_USER_CONNECTIONS`: the bulkhead of docs/standards.md §12. A compromised or runaway
//! component can only touch its own tables and only exhaust its own connection quota.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::error::{MigrateError, Result};
use crate::names::{AccountHost, AccountPassword, DatabaseName};

/// Privileges on one table, as written after `GRANT` (`SELECT, INSERT` or column
/// lists like `UPDATE (stock, version)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableGrant {
    /// The table.
    pub table: &'static str,
    /// The privileges.
    pub privileges: &'static str,
}

/// A component's account: what it may touch and how many connections it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentAccount {
    /// The component name (`health`, `identity`, …); the account is
    /// `<prefix><component>`.
    pub component: &'static str,
    /// `MAX_USER_CONNECTIONS`. Spin opens two server connections per `open()`
    /// (`docs/spin-fidelity.md`); the sum across components stays under MariaDB's default
    /// `max_connections` (151).
    pub max_user_connections: u32,
    /// Table grants on the application database.
    pub grants: &'static [TableGrant],
}

const fn grant(table: &'static str, privileges: &'static str) -> TableGrant {
    TableGrant { table, privileges }
}

/// The accounts, in the order they are provisioned.
pub const COMPONENT_ACCOUNTS: &[ComponentAccount] = &[
    // Health only needs a connection; MariaDB refuses `USE orderly` to an account with
    // no privilege in it (error 1044), so it may read the migration list and nothing
    // else.
    ComponentAccount {
        component: "health",
        max_user_connections: 4,
        grants: &[grant("schema_migrations", "SELECT")],
    },
    // Identity reads users (login, userinfo) but never writes them, and never touches
    // the catalogue or orders.
    ComponentAccount {
        component: "identity",
        max_user_connections: 30,
        grants: &[
            grant("users", "SELECT"),
            grant("oauth_clients", "SELECT"),
            grant("authorization_codes", "SELECT, INSERT, UPDATE, DELETE"),
            grant("refresh_tokens", "SELECT, INSERT, UPDATE, DELETE"),
        ],
    },
    ComponentAccount {
        component: "users",
        max_user_connections: 20,
        grants: &[grant("users", "SELECT, INSERT, UPDATE, DELETE")],
    },
    // The catalogue cannot read users.
    ComponentAccount {
        component: "products",
        max_user_connections: 40,
        grants: &[grant("products", "SELECT, INSERT, UPDATE, DELETE")],
    },
    // Orders read the catalogue and may only change a product's stock (and bump its
    // version); they never read users: ownership comes from the token's subject.
    ComponentAccount {
        component: "orders",
        max_user_connections: 40,
        grants: &[
            grant("orders", "SELECT, INSERT, UPDATE"),
            grant("order_items", "SELECT, INSERT"),
            grant("products", "SELECT, UPDATE (stock, version)"),
            grant("idempotency_keys", "SELECT, INSERT, UPDATE, DELETE"),
        ],
    },
];

/// The prefix of production account names: `orderly_health`, `orderly_orders`, ….
pub const DEFAULT_USER_PREFIX: &str = "orderly_";

/// The database whose accounts keep [`DEFAULT_USER_PREFIX`] (the deploy manifests
/// name them).
pub const DEFAULT_DATABASE: &str = "orderly";

/// The account prefix of `database`: accounts are per database, so two databases on
/// one server (two checkouts, the dev service and a test run) never share an account
/// or reset each other's passwords.
///
/// - `orderly` → `orderly_` (`orderly_health`, …: what deploy/ names);
/// - any other name of `[a-z0-9_]` up to 31 characters → the name and `_`
///   (`orderly_test_42_…` → `orderly_test_42_…_health`);
/// - any other name (upper case, or longer) → its first 14 characters lowercased,
///   `_`, 16 hex digits of a hash of the whole name, `_`.
///
/// A prefix is at most 32 characters, so an account name (prefix + component) stays
/// far under MariaDB's 80-character limit; prefixes end in `_` and component names
/// have none, so distinct prefixes never give the same account name.
pub fn user_prefix(database: &DatabaseName) -> String {
    let name = database.as_str();
    if name == DEFAULT_DATABASE {
        return DEFAULT_USER_PREFIX.to_owned();
    }
    let plain = name.len() < 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return format!("{name}_");
    }
    // FNV-1a, 64 bits: stable across Rust versions and platforms.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let head: String = name
        .chars()
        .take(14)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("{head}_{hash:016x}_")
}

/// The account name for `component` under `prefix`.
pub fn user_name(prefix: &str, component: &str) -> String {
    format!("{prefix}{component}")
}

/// Creates or updates every component account on `database`: password and
/// `MAX_USER_CONNECTIONS` set, all previous privileges revoked, exactly the grants of
/// [`COMPONENT_ACCOUNTS`] given. Safe to run again (it also rotates passwords).
/// `passwords` must name every component. Returns the account names.
///
/// An account's privileges are reset on every database, so give each database its
/// own `prefix` if one server hosts several Orderly databases.
pub async fn provision_accounts(
    conn: &mut Conn,
    database: &DatabaseName,
    prefix: &str,
    host: &AccountHost,
    passwords: &[(&str, AccountPassword)],
) -> Result<Vec<String>> {
    check_prefix(prefix)?;
    // Every password first: a missing one must not leave half the accounts changed.
    let planned = COMPONENT_ACCOUNTS
        .iter()
        .map(|account| {
            passwords
                .iter()
                .find(|(component, _)| *component == account.component)
                .map(|(_, password)| (account, password))
                .ok_or_else(|| MigrateError::MissingPassword {
                    component: account.component.to_owned(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut created = Vec::new();
    for (account, password) in planned {
        let user = user_name(prefix, account.component);
        let who = format!("'{user}'@'{}'", host.as_str());
        // Identifiers and the password were parsed into charsets that cannot leave
        // their quotes; MariaDB takes no placeholders in account statements.
        let identified = format!(
            "IDENTIFIED BY '{}' WITH MAX_USER_CONNECTIONS {}",
            password.expose(),
            account.max_user_connections
        );
        let statements = [
            format!("CREATE USER IF NOT EXISTS {who} {identified}"),
            format!("ALTER USER {who} {identified}"),
            format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}"),
        ];
        for statement in statements {
            conn.query_drop(statement)
                .await
                .map_err(MigrateError::db(format!("provisioning account {user}")))?;
        }
        for grant in account.grants {
            let statement = format!(
                "GRANT {} ON {}.`{}` TO {who}",
                grant.privileges,
                database.quoted(),
                grant.table
            );
            conn.query_drop(statement)
                .await
                .map_err(MigrateError::db(format!(
                    "granting {} to {user}",
                    grant.table
                )))?;
        }
        created.push(user);
    }
    Ok(created)
}

/// Drops every component account under `prefix` (tests and teardown).
pub async fn drop_accounts(conn: &mut Conn, prefix: &str, host: &AccountHost) -> Result<()> {
    check_prefix(prefix)?;
    for account in COMPONENT_ACCOUNTS {
        let user = user_name(prefix, account.component);
        conn.query_drop(format!("DROP USER IF EXISTS '{user}'@'{}'", host.as_str()))
            .await
            .map_err(MigrateError::db(format!("dropping account {user}")))?;
    }
    Ok(())
}

/// Prefixes are `[a-z0-9_]`, at most 32 characters (account names max out at 80).
fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(MigrateError::Invalid {
            what: "account prefix",
            reason: format!("{prefix:?} must be 1-32 characters of [a-z0-9_]"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_architecture_component_has_an_account() {
        let names: Vec<_> = COMPONENT_ACCOUNTS.iter().map(|a| a.component).collect();
        assert_eq!(names, ["health", "identity", "users", "products", "orders"]);
    }

    #[test]
    fn identity_never_writes_users_or_touches_orders() {
        let identity = COMPONENT_ACCOUNTS
            .iter()
            .find(|a| a.component == "identity")
            .unwrap();
        let users = identity.grants.iter().find(|g| g.table == "users").unwrap();
        assert_eq!(users.privileges, "SELECT");
        assert!(!identity.grants.iter().any(|g| g.table.starts_with("order")));
    }

    #[test]
    fn products_and_orders_cannot_read_users() {
        for component in ["products", "orders"] {
            let account = COMPONENT_ACCOUNTS
                .iter()
                .find(|a| a.component == component)
                .unwrap();
            assert!(
                !account.grants.iter().any(|g| g.table == "users"),
                "{component}"
            );
        }
    }

    #[test]
    fn connection_quotas_fit_under_the_server_default() {
        let total: u32 = COMPONENT_ACCOUNTS
            .iter()
            .map(|a| a.max_user_connections)
            .sum();
        assert!(total < 151, "{total}");
    }

    #[test]
    fn each_database_has_its_own_prefix_and_the_default_keeps_orderly() {
        let prefix = |name: &str| user_prefix(&DatabaseName::parse(name).unwrap());
        assert_eq!(prefix("orderly"), DEFAULT_USER_PREFIX);
        assert_eq!(prefix("orderly_test_42_7"), "orderly_test_42_7_");
        assert_ne!(prefix("orderly_a"), prefix("orderly_b"));
        // Case or length forces a hash; still distinct, valid and short.
        let long = "x".repeat(64);
        let longer = format!("{}y", "x".repeat(63));
        for name in ["Orderly", "orderly_A", long.as_str(), longer.as_str()] {
            let p = prefix(name);
            assert!(check_prefix(&p).is_ok(), "{p}");
            assert!(user_name(&p, "products").len() <= 80);
        }
        assert_ne!(prefix(&long), prefix(&longer));
        assert_ne!(prefix("Orderly"), prefix("orderly"));
    }

    #[test]
    fn prefixes_outside_the_charset_are_refused() {
        assert!(check_prefix("orderly_").is_ok());
        for bad in ["", "Orderly", "a'b", "a-b", &"x".repeat(33)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
