//! The identity component's SQL, over `store::Guarded` (breaker, retries, timeouts).
//! Times are compared by the database clock (`UTC_TIMESTAMP(6)`), and selected as
//! seconds since the epoch (Spin cannot carry `DATETIME` columns).

use store::{
    BreakerStore, Clock, Database, Guarded, Idempotency, Random, Row, Sleeper, StoreError, Value,
};
use tokens::ScopeSet;
use uuid::Uuid;

use crate::model::{
    ClientRecord, CodeRecord, NewCode, NewRefresh, RefreshRecord, Repository, UserRecord,
};

const SELECT_CLIENT: &str = "SELECT id, client_id, client_name, client_type, secret_hash, \
     CAST(redirect_uris AS CHAR(4000) CHARACTER SET utf8mb4), grant_types, scopes, status \
     FROM oauth_clients WHERE client_id = ? LIMIT 1";

const SELECT_USER: &str = "SELECT id, email, password_hash, display_name, roles, status FROM users";

const INSERT_CODE: &str = "INSERT INTO authorization_codes \
     (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, code_challenge_method, \
      nonce, auth_time, expires_at) \
     VALUES (?, ?, ?, ?, ?, ?, 'S256', ?, TIMESTAMPADD(SECOND, ?, '1970-01-01 00:00:00'), \
      UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";

const SELECT_CODE: &str = "SELECT client_id, user_id, redirect_uri, scope, code_challenge, nonce, \
     TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', auth_time), used_at IS NOT NULL, \
     expires_at > UTC_TIMESTAMP(6) \
     FROM authorization_codes WHERE code_hash = ? LIMIT 1";

/// The one atomic consumption (docs/standards.md §11): only one caller can see 1 row changed.
const CONSUME_CODE: &str = "UPDATE authorization_codes SET used_at = UTC_TIMESTAMP(6) \
     WHERE code_hash = ? AND used_at IS NULL AND expires_at > UTC_TIMESTAMP(6)";

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens \
     (id, token_hash, family_id, parent_id, client_id, user_id, scope, issued_at, expires_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";

const SELECT_REFRESH: &str = "SELECT r.id, r.family_id, r.client_id, c.client_id, r.user_id, r.scope, \
     TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', r.issued_at), \
     TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', r.expires_at), \
     r.used_at IS NOT NULL, r.revoked_at IS NOT NULL, r.expires_at > UTC_TIMESTAMP(6) \
     FROM refresh_tokens r JOIN oauth_clients c ON c.id = r.client_id \
     WHERE r.token_hash = ? LIMIT 1";

/// Rotation: one atomic single-row update (docs/standards.md §11).
const USE_REFRESH: &str = "UPDATE refresh_tokens SET used_at = UTC_TIMESTAMP(6) \
     WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL \
     AND expires_at > UTC_TIMESTAMP(6)";

const REVOKE_FAMILY: &str = "UPDATE refresh_tokens SET revoked_at = UTC_TIMESTAMP(6) \
     WHERE family_id = ? AND revoked_at IS NULL";

const FAMILY_REVOKED: &str =
    "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL";

/// [`Repository`] over a guarded database.
#[derive(Debug)]
pub struct SqlRepository<D, K, E> {
    db: Guarded<D, K, E>,
}

impl<D, K, E> SqlRepository<D, K, E> {
    /// Wraps a guarded database.
    pub fn new(db: Guarded<D, K, E>) -> Self {
        Self { db }
    }
}

fn epoch(row: &Row, index: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.get::<i64>(index)?).unwrap_or(0))
}

/// A text column: `*_bin` collations (ascii_bin ids, URIs, challenges) arrive as binary
/// through Spin's MySQL interface, other collations as text.
fn text(row: &Row, index: usize) -> Result<String, StoreError> {
    match row.value(index)? {
        Value::Bytes(bytes) => String::from_utf8(bytes.clone()).map_err(|_| StoreError::Decode {
            column: index,
            name: row.column_name(index).unwrap_or_default().to_owned(),
            expected: "UTF-8 text",
            found: "binary",
        }),
        _ => row.get(index),
    }
}

fn client_from(row: &Row) -> Result<ClientRecord, StoreError> {
    let redirect_json: String = row.get(5)?;
    let redirect_uris: Vec<String> = serde_json::from_str(&redirect_json).unwrap_or_default();
    let grant_types: String = row.get(6)?;
    let scopes: String = row.get(7)?;
    Ok(ClientRecord {
        id: row.get(0)?,
        client_id: text(row, 1)?,
        name: row.get(2)?,
        confidential: row.get::<String>(3)? == "confidential",
        secret_hash: row.get(4)?,
        redirect_uris,
        grant_types: grant_types
            .split(',')
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        // A malformed registration grants nothing rather than failing every request.
        scopes: ScopeSet::parse(&scopes).unwrap_or_else(|_| ScopeSet::empty()),
        active: row.get::<String>(8)? == "active",
    })
}

fn user_from(row: &Row) -> Result<UserRecord, StoreError> {
    let roles: String = row.get(4)?;
    Ok(UserRecord {
        id: row.get(0)?,
        email: row.get(1)?,
        password_hash: row.get(2)?,
        display_name: row.get(3)?,
        is_admin: roles.split(',').any(|r| r == "admin"),
        active: row.get::<String>(5)? == "active",
    })
}

impl<D, K, E> Repository for SqlRepository<D, K, E>
where
    D: Database,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
{
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        // `client_id` is an ASCII column of at most 64 characters (RFC 6749 VSCHAR): anything
        // else names no client, and comparing it with the column would be MariaDB error 1267
        // (illegal mix of collations), i.e. a 500 for hostile input.
        if !is_possible_client_id(client_id) {
            return Ok(None);
        }
        self.db
            .query_opt(SELECT_CLIENT, &[Value::from(client_id)])
            .await?
            .map(|row| client_from(&row))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE email = ? LIMIT 1");
        self.db
            .query_opt(&sql, &[Value::from(email)])
            .await?
            .map(|row| user_from(&row))
            .transpose()
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{SELECT_USER} WHERE id = ? LIMIT 1");
        self.db
            .query_opt(&sql, &[Value::from(id)])
            .await?
            .map(|row| user_from(&row))
            .transpose()
    }

    async fn insert_code(&self, code: &NewCode) -> Result<(), StoreError> {
        let params = [
            Value::from(code.code_hash),
            Value::from(code.client),
            Value::from(code.user),
            Value::from(code.redirect_uri.as_str()),
            Value::from(code.scope.as_str()),
            Value::from(code.code_challenge.as_str()),
            Value::from(code.nonce.clone()),
            Value::from(code.auth_time),
            Value::from(code.lifetime_secs),
        ];
        // A retry after a lost connection may hit the primary key: a 256-bit random
        // hash cannot collide otherwise, so the insert is safe to repeat.
        self.db
            .execute(Idempotency::Safe, INSERT_CODE, &params)
            .await
    }

    async fn code(&self, code_hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(SELECT_CODE, &[Value::from(*code_hash)])
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(CodeRecord {
            client: row.get(0)?,
            user: row.get(1)?,
            redirect_uri: text(&row, 2)?,
            scope: row.get(3)?,
            code_challenge: text(&row, 4)?,
            nonce: row.get(5)?,
            auth_time: epoch(&row, 6)?,
            used: row.get(7)?,
            live: row.get(8)?,
        }))
    }

    async fn consume_code(&self, code_hash: &[u8; 32]) -> Result<bool, StoreError> {
        // Safe to retry after a deadlock (nothing was applied); after a lost connection
        // the retry sees 0 rows and the exchange fails closed (invalid_grant).
        let changed = self
            .db
            .execute_affected(Idempotency::Safe, CONSUME_CODE, &[Value::from(*code_hash)])
            .await?;
        Ok(changed == 1)
    }

    async fn insert_refresh(&self, token: &NewRefresh) -> Result<(), StoreError> {
        let params = [
            Value::from(token.id),
            Value::from(token.token_hash),
            Value::from(token.family),
            Value::from(token.parent),
            Value::from(token.client),
            Value::from(token.user),
            Value::from(token.scope.as_str()),
            Value::from(token.lifetime_secs),
        ];
        self.db
            .execute(Idempotency::Safe, INSERT_REFRESH, &params)
            .await
    }

    async fn refresh(&self, token_hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(SELECT_REFRESH, &[Value::from(*token_hash)])
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(RefreshRecord {
            id: row.get(0)?,
            family: row.get(1)?,
            client: row.get(2)?,
            client_id: text(&row, 3)?,
            user: row.get(4)?,
            scope: row.get(5)?,
            issued_at: epoch(&row, 6)?,
            expires_at: epoch(&row, 7)?,
            used: row.get(8)?,
            revoked: row.get(9)?,
            live: row.get(10)?,
        }))
    }

    async fn use_refresh(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute_affected(Idempotency::Safe, USE_REFRESH, &[Value::from(*token_hash)])
            .await?;
        Ok(changed == 1)
    }

    async fn revoke_family(&self, family: Uuid) -> Result<(), StoreError> {
        self.db
            .execute(Idempotency::Safe, REVOKE_FAMILY, &[Value::from(family)])
            .await
    }

    async fn family_revoked(&self, family: Uuid) -> Result<bool, StoreError> {
        let row = self
            .db
            .query_opt(FAMILY_REVOKED, &[Value::from(family)])
            .await?;
        Ok(match row {
            Some(row) => row.get::<i64>(0)? > 0,
            None => false,
        })
    }
}

/// Whether `client_id` could be stored in `oauth_clients.client_id` (ASCII, 1–64 visible
/// characters).
fn is_possible_client_id(client_id: &str) -> bool {
    (1..=64).contains(&client_id.len()) && client_id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod client_id_tests {
    use super::is_possible_client_id;

    #[test]
    fn only_short_visible_ascii_can_name_a_client() {
        assert!(is_possible_client_id("orderly-web"));
        assert!(!is_possible_client_id(""));
        assert!(!is_possible_client_id("caf\u{e9}"));
        assert!(!is_possible_client_id("\u{1f600}"));
        assert!(!is_possible_client_id("a\nb"));
        assert!(!is_possible_client_id(&"x".repeat(65)));
    }
}
