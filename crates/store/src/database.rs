//! The I/O seam: [`Database`] (statements), [`Transactional`] / [`Transaction`]
//! (several statements on one connection), and [`Timed`], which puts every data statement
//! under a [`StatementTimeout`].
//!
//! The traits use `async fn` without `Send` bounds on purpose: components run on one
//! thread (wasm32-wasip2) and Spin's resources are not `Send`. The Spin implementations
//! are in `crate::spin` (feature `spin`), in-memory fakes in `crate::testing`.

use std::borrow::Cow;

use crate::error::StoreError;
use crate::row::Row;
use crate::timeout::StatementTimeout;
use crate::value::Value;

/// Runs statements. Parameters are positional (`?`); SQL text is always a constant of
/// the repository, never built from input.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Database {
    /// Runs a statement that returns rows and collects them.
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Runs a statement for its effect.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError>;

    /// Runs a statement for its effect and returns the number of rows it changed.
    ///
    /// Spin's `execute` returns nothing, so the Spin implementation asks
    /// `SELECT ROW_COUNT()` on the same connection: one more round trip. For `UPDATE`,
    /// MariaDB counts rows *changed*, not rows matched (unless the URL sets
    /// `client_found_rows=true`): make guarded updates always change something
    /// (`version = version + 1`, `stock = stock - ?` with `? > 0`, `used_at = NOW(6)`).
    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;

    /// The first row of a query, if any (put a `LIMIT 1` in the SQL).
    async fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}

/// A database that can give one caller a connection to itself for a transaction.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Transactional: Database {
    /// The open transaction.
    type Tx<'a>: Transaction
    where
        Self: 'a;

    /// `START TRANSACTION` on a connection reserved for the returned transaction until it
    /// is committed, rolled back or dropped. Dropping it without either discards the
    /// connection, which makes the server roll back.
    async fn begin(&self) -> Result<Self::Tx<'_>, StoreError>;
}

/// An open transaction: statements on it run on its connection.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Transaction: Database {
    /// `COMMIT`.
    async fn commit(self) -> Result<(), StoreError>;

    /// `ROLLBACK`.
    async fn rollback(self) -> Result<(), StoreError>;
}

impl<D: Database + ?Sized> Database for &D {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        (**self).query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        (**self).execute(sql, params).await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        (**self).execute_affected(sql, params).await
    }
}

impl<D: Transactional + ?Sized> Transactional for &D {
    type Tx<'a>
        = D::Tx<'a>
    where
        Self: 'a;

    async fn begin(&self) -> Result<Self::Tx<'_>, StoreError> {
        (**self).begin().await
    }
}

/// A [`Database`] whose data statements all run under `timeout`
/// (`SET STATEMENT max_statement_time=… FOR …`), transactions included.
#[derive(Debug, Clone, Copy)]
pub struct Timed<D> {
    inner: D,
    timeout: StatementTimeout,
}

impl<D> Timed<D> {
    /// Wraps `inner`.
    pub fn new(inner: D, timeout: StatementTimeout) -> Self {
        Self { inner, timeout }
    }

    /// The limit applied.
    pub fn timeout(&self) -> StatementTimeout {
        self.timeout
    }

    /// The wrapped database.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn wrap<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        self.timeout.apply(sql)
    }
}

impl<D: Database> Database for Timed<D> {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.inner.query(&self.wrap(sql), params).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        self.inner.execute(&self.wrap(sql), params).await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.inner.execute_affected(&self.wrap(sql), params).await
    }
}

impl<D: Transactional> Transactional for Timed<D> {
    type Tx<'a>
        = Timed<D::Tx<'a>>
    where
        Self: 'a;

    async fn begin(&self) -> Result<Self::Tx<'_>, StoreError> {
        Ok(Timed::new(self.inner.begin().await?, self.timeout))
    }
}

impl<T: Transaction> Transaction for Timed<T> {
    async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await
    }

    async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::testing::{CallKind, FakeDatabase, Reply};

    fn timed(db: &FakeDatabase) -> Timed<&FakeDatabase> {
        Timed::new(db, StatementTimeout::from_millis(1_500).unwrap())
    }

    #[test]
    fn every_data_statement_is_sent_with_the_timeout() {
        let db = FakeDatabase::new();
        db.push(Reply::Rows(vec![Row::from_values(vec![Value::Int(1)])]));
        db.push(Reply::Affected(2));
        block_on(async {
            let t = timed(&db);
            let rows = t.query("SELECT 1", &[]).await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(
                t.execute_affected("UPDATE t SET v = ?", &[Value::Int(3)])
                    .await
                    .unwrap(),
                2
            );
            t.execute("DELETE FROM t", &[]).await.unwrap();
        });
        let sql: Vec<String> = db.calls().into_iter().map(|c| c.sql).collect();
        assert_eq!(
            sql,
            [
                "SET STATEMENT max_statement_time=1.5 FOR SELECT 1",
                "SET STATEMENT max_statement_time=1.5 FOR UPDATE t SET v = ?",
                "SET STATEMENT max_statement_time=1.5 FOR DELETE FROM t",
            ]
        );
        assert_eq!(db.calls()[1].params, vec![Value::Int(3)]);
    }

    #[test]
    fn transactions_keep_the_timeout_but_not_on_control_statements() {
        let db = FakeDatabase::new();
        block_on(async {
            let db = timed(&db);
            let tx = db.begin().await.unwrap();
            tx.execute_affected(
                "UPDATE p SET stock = stock - ? WHERE id = ? AND stock >= ?",
                &[],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        });
        let calls = db.calls();
        assert_eq!(calls[0].kind, CallKind::Begin);
        assert!(
            calls[1]
                .sql
                .starts_with("SET STATEMENT max_statement_time=1.5 FOR UPDATE")
        );
        assert_eq!(calls[2].kind, CallKind::Commit);
    }

    #[test]
    fn query_opt_takes_the_first_row() {
        let db = FakeDatabase::new();
        db.push(Reply::Rows(vec![]));
        db.push(Reply::Rows(vec![
            Row::from_values(vec![Value::Int(1)]),
            Row::from_values(vec![Value::Int(2)]),
        ]));
        block_on(async {
            assert_eq!(db.query_opt("SELECT 1", &[]).await.unwrap(), None);
            let first = db.query_opt("SELECT 1", &[]).await.unwrap().unwrap();
            assert_eq!(first.get::<i64>(0).unwrap(), 1);
        });
    }
}
