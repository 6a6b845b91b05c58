//! The SQL of the users component: the only code here that speaks to MariaDB, through
//! `store::Guarded` (breaker, retries for safe work, statement timeout, error
//! classification). Placeholders only; the sort and filter fragments are constants
//! chosen from an allow-list, never built from input.

use domain::{AccountStatus, Roles, UserId};
use store::{
    BreakerStore, Clock, Database, Guarded, Idempotency, Random, Row, Sleeper, StoreError, Value,
};

use crate::service::{Direction, NewUser, PageQuery, SortOrder, User, UserChanges, UserRepository};

/// The columns every read selects, in [`decode`] order. No `password_hash`.
macro_rules! user_columns {
    () => {
        concat!(
            "id, email, display_name, roles, status, version, ",
            store::epoch_micros!("created_at"),
            ", ",
            store::epoch_micros!("updated_at")
        )
    };
}

const SELECT_BY_ID: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE id = ? LIMIT 1"
);

const INSERT: &str = "INSERT INTO users (id, email, password_hash, display_name, roles, status) \
                      VALUES (?, ?, ?, ?, 'customer', 'active')";

const UPDATE: &str = "UPDATE users SET display_name = ?, roles = ?, status = ?, \
                      version = version + 1 WHERE id = ? AND version = ?";

const DELETE: &str = "DELETE FROM users WHERE id = ? AND version = ?";

const SELECT_PAGE: &str = concat!("SELECT ", user_columns!(), " FROM users");

const AT: &str = store::from_epoch_micros!();

/// Users in MariaDB.
#[derive(Debug)]
pub struct SqlUsers<D, K, E> {
    db: Guarded<D, K, E>,
}

impl<D, K, E> SqlUsers<D, K, E> {
    /// Users reached through `db`.
    pub fn new(db: Guarded<D, K, E>) -> Self {
        Self { db }
    }
}

fn decode(row: &Row) -> Result<User, StoreError> {
    let bad = |column: usize, expected: &'static str| StoreError::Decode {
        column,
        name: row.column_name(column).unwrap_or("").to_owned(),
        expected,
        found: "text",
    };
    let uuid: uuid::Uuid = row.get(0)?;
    let id = UserId::try_from(uuid).map_err(|_| bad(0, "UUIDv7"))?;
    let roles: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(User {
        id,
        email: row.get(1)?,
        display_name: row.get(2)?,
        roles: Roles::parse(&roles).map_err(|_| bad(3, "roles"))?,
        status: AccountStatus::parse(&status).map_err(|_| bad(4, "account status"))?,
        version: row.get(5)?,
        created_at_micros: row.get(6)?,
        updated_at_micros: row.get(7)?,
    })
}

/// The `WHERE`/`ORDER BY` of a page: fixed fragments per (filter, direction, order).
fn page_sql(query: &PageQuery) -> (String, Vec<Value>) {
    let ascending = matches!(
        (query.sort, query.from.map(|(d, _)| d)),
        (SortOrder::CreatedAsc, None | Some(Direction::After))
            | (SortOrder::CreatedDesc, Some(Direction::Before))
    );
    let mut sql = String::from(SELECT_PAGE);
    let mut params = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(status) = query.status {
        conditions.push("status = ?".to_owned());
        params.push(Value::from(status.as_str()));
    }
    if let Some((_, position)) = query.from {
        let cmp = if ascending { ">" } else { "<" };
        conditions.push(format!(
            "(created_at {cmp} {AT} OR (created_at = {AT} AND id {cmp} ?))"
        ));
        params.push(Value::from(position.created_at_micros));
        params.push(Value::from(position.created_at_micros));
        params.push(Value::from(position.id.to_bytes().to_vec()));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(if ascending {
        " ORDER BY created_at ASC, id ASC"
    } else {
        " ORDER BY created_at DESC, id DESC"
    });
    sql.push_str(" LIMIT ?");
    params.push(Value::from(query.fetch));
    (sql, params)
}

impl<D, K, E> UserRepository for SqlUsers<D, K, E>
where
    D: Database,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
{
    async fn insert(&self, user: &NewUser) -> Result<User, StoreError> {
        let params = [
            Value::from(user.id.to_bytes().to_vec()),
            Value::from(user.email.as_str()),
            Value::from(user.password_hash.as_str()),
            user.display_name
                .as_ref()
                .map_or(Value::Null, |n| Value::from(n.as_str())),
        ];
        // Not retried: after a lost connection the row may exist, and a retry would
        // answer "email taken" for the caller's own registration.
        self.db
            .execute(Idempotency::Unsafe, INSERT, &params)
            .await?;
        self.find(user.id)
            .await?
            .ok_or_else(|| StoreError::other("inserted user not found"))
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.db
            .query_opt(SELECT_BY_ID, &[Value::from(id.to_bytes().to_vec())])
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn update(
        &self,
        id: UserId,
        expected_version: u32,
        changes: &UserChanges,
    ) -> Result<bool, StoreError> {
        let params = [
            changes
                .display_name
                .as_deref()
                .map_or(Value::Null, Value::from),
            Value::from(changes.roles.to_string()),
            Value::from(changes.status.as_str()),
            Value::from(id.to_bytes().to_vec()),
            Value::from(expected_version),
        ];
        // Safe to retry: guarded by the version, a second run changes nothing.
        let affected = self
            .db
            .execute_affected(Idempotency::Safe, UPDATE, &params)
            .await?;
        Ok(affected > 0)
    }

    async fn delete(&self, id: UserId, expected_version: u32) -> Result<bool, StoreError> {
        let params = [
            Value::from(id.to_bytes().to_vec()),
            Value::from(expected_version),
        ];
        let affected = self
            .db
            .execute_affected(Idempotency::Safe, DELETE, &params)
            .await?;
        Ok(affected > 0)
    }

    async fn page(&self, query: &PageQuery) -> Result<Vec<User>, StoreError> {
        let (sql, params) = page_sql(query);
        self.db
            .query(&sql, &params)
            .await?
            .iter()
            .map(decode)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Position;

    #[test]
    fn pages_use_the_index_order_and_placeholders_only() {
        let query = PageQuery {
            status: Some(AccountStatus::Active),
            sort: SortOrder::CreatedDesc,
            from: Some((
                Direction::After,
                Position {
                    created_at_micros: 5,
                    id: UserId::generate(),
                },
            )),
            fetch: 21,
        };
        let (sql, params) = page_sql(&query);
        assert!(sql.contains("WHERE status = ? AND (created_at < "), "{sql}");
        assert!(
            sql.ends_with("ORDER BY created_at DESC, id DESC LIMIT ?"),
            "{sql}"
        );
        assert!(!sql.contains("password_hash"));
        assert_eq!(params.len(), 5);
        let back = PageQuery {
            from: Some((Direction::Before, query.from.unwrap().1)),
            status: None,
            ..query
        };
        let (sql, _) = page_sql(&back);
        assert!(sql.contains("WHERE (created_at > "), "{sql}");
        assert!(
            sql.ends_with("ORDER BY created_at ASC, id ASC LIMIT ?"),
            "{sql}"
        );
    }
}
