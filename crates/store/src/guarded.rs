//! [`Guarded`]: the way repositories reach the database. One call is
//! breaker check → attempts (each statement under the statement timeout, transient
//! failures retried when idempotent) → breaker bookkeeping.
//!
//! ```
//! # use futures::executor::block_on;
//! use store::testing::{FakeDatabase, FakeEnv, FakeKv, Reply};
//! use store::{Breaker, BreakerConfig, Database, Guarded, Idempotency, Row, StoreError, Value};
//!
//! let db = FakeDatabase::new();
//! db.push(Reply::Error(StoreError::transient("Io(Io(Kind(UnexpectedEof)))")));
//! db.push(Reply::Rows(vec![Row::from_values(vec![Value::Int(41)])]));
//! let kv = FakeKv::default();
//! let store = Guarded::new(&db, Breaker::new(&kv, BreakerConfig::new("breaker:db")), FakeEnv::default());
//!
//! // A read is retried after the lost connection, under a 2 s statement timeout.
//! let stock: i64 = block_on(store.query_opt("SELECT stock FROM products WHERE id = ?", &[Value::Int(1)]))?
//!     .map(|row| row.get(0))
//!     .transpose()?
//!     .unwrap_or(0);
//! assert_eq!(stock, 41);
//! assert_eq!(db.calls().len(), 2);
//! assert!(db.calls()[1].sql.starts_with("SET STATEMENT max_statement_time=2 FOR SELECT"));
//!
//! // Several statements in one transaction, retried as a whole when safe to.
//! block_on(store.run(Idempotency::Safe, |db| async move {
//!     use store::{Transaction, Transactional};
//!     let tx = db.begin().await?;
//!     tx.execute("UPDATE products SET stock = stock - 1 WHERE id = ?", &[Value::Int(1)]).await?;
//!     tx.commit().await
//! }))?;
//! # Ok::<(), StoreError>(())
//! ```

use std::future::Future;

use crate::breaker::{Breaker, BreakerStore, Clock, KvError};
use crate::database::{Database, Timed};
use crate::error::StoreError;
use crate::retry::{Idempotency, Random, RetryPolicy, Sleeper, retry};
use crate::row::Row;
use crate::timeout::StatementTimeout;
use crate::value::Value;

/// A database behind the breaker, the retry policy and the statement timeout.
///
/// `E` supplies time, sleep and jitter (`crate::spin::SpinRuntime` in a component,
/// `crate::testing::FakeEnv` in tests).
#[derive(Debug, Clone)]
pub struct Guarded<D, K, E> {
    db: D,
    breaker: Breaker<K>,
    env: E,
    timeout: StatementTimeout,
    retry: RetryPolicy,
}

impl<D, K, E> Guarded<D, K, E>
where
    D: Database,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
{
    /// `db` guarded by `breaker`, with the default statement timeout (2 s) and retry
    /// policy (3 attempts, 20–200 ms full-jitter backoff).
    pub fn new(db: D, breaker: Breaker<K>, env: E) -> Self {
        Self {
            db,
            breaker,
            env,
            timeout: StatementTimeout::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Another statement timeout (per repository).
    #[must_use]
    pub fn with_timeout(mut self, timeout: StatementTimeout) -> Self {
        self.timeout = timeout;
        self
    }

    /// Another retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The statement timeout in force.
    pub fn timeout(&self) -> StatementTimeout {
        self.timeout
    }

    /// Runs `op` against the timed database: fails fast with
    /// [`StoreError::Unavailable`] when the breaker is open, retries transient failures
    /// of [`Idempotency::Safe`] work (the whole `op`, so a transaction is re-run from
    /// `begin`), and tells the breaker how it ended.
    pub async fn run<'a, T, F, Fut>(
        &'a self,
        idempotency: Idempotency,
        mut op: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut(Timed<&'a D>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let permit = self.breaker.check(self.env.now_millis()).await?;
        if let Some(e) = permit.kv_error() {
            report_kv(e);
        }
        let result = retry(&self.retry, idempotency, &self.env, &self.env, |_| {
            op(Timed::new(&self.db, self.timeout))
        })
        .await;
        if let Err(e) = self
            .breaker
            .record(permit, result.as_ref().err(), self.env.now_millis())
            .await
        {
            report_kv(&e);
        }
        result
    }

    /// A read (always [`Idempotency::Safe`]).
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.run(Idempotency::Safe, |db| async move {
            db.query(sql, params).await
        })
        .await
    }

    /// The first row of a read, if any.
    pub async fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        self.run(Idempotency::Safe, |db| async move {
            db.query_opt(sql, params).await
        })
        .await
    }

    /// A write for its effect.
    pub async fn execute(
        &self,
        idempotency: Idempotency,
        sql: &str,
        params: &[Value],
    ) -> Result<(), StoreError> {
        self.run(
            idempotency,
            |db| async move { db.execute(sql, params).await },
        )
        .await
    }

    /// A write, returning the rows it changed (see [`Database::execute_affected`]).
    pub async fn execute_affected(
        &self,
        idempotency: Idempotency,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, StoreError> {
        self.run(idempotency, |db| async move {
            db.execute_affected(sql, params).await
        })
        .await
    }
}

/// The breaker fails open; say so on stderr (Spin sends a component's stderr to its
/// log), redacted like every [`KvError`].
fn report_kv(error: &KvError) {
    eprintln!("store: circuit breaker key-value error, letting the call through: {error}");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::executor::block_on;

    use super::*;
    use crate::breaker::BreakerConfig;
    use crate::database::{Transaction, Transactional};
    use crate::testing::{CallKind, FakeDatabase, FakeEnv, FakeKv, Reply};

    fn lost() -> StoreError {
        StoreError::transient("Driver(ConnectionClosed)")
    }

    fn guarded<'a>(
        db: &'a FakeDatabase,
        kv: &'a FakeKv,
        env: &'a FakeEnv,
    ) -> Guarded<&'a FakeDatabase, &'a FakeKv, &'a FakeEnv> {
        Guarded::new(db, Breaker::new(kv, BreakerConfig::new("breaker:db")), env)
    }

    #[test]
    fn reads_are_timed_and_retried() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        db.push(Reply::Error(lost()));
        db.push(Reply::Error(lost()));
        db.push(Reply::Rows(vec![]));
        let g = guarded(&db, &kv, &env);
        assert_eq!(block_on(g.query("SELECT 1", &[])).unwrap(), vec![]);
        assert_eq!(db.calls().len(), 3);
        assert!(
            db.calls()
                .iter()
                .all(|c| c.sql == "SET STATEMENT max_statement_time=2 FOR SELECT 1")
        );
        assert_eq!(env.sleeper.slept().len(), 2);
    }

    #[test]
    fn unsafe_writes_are_tried_once() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        db.push(Reply::Error(lost()));
        let g = guarded(&db, &kv, &env);
        let err = block_on(g.execute(Idempotency::Unsafe, "INSERT INTO orders VALUES (?)", &[]))
            .unwrap_err();
        assert!(err.is_transient());
        assert_eq!(db.calls().len(), 1);
        assert!(env.sleeper.slept().is_empty());
    }

    #[test]
    fn a_per_repository_timeout_is_applied() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        db.push(Reply::Affected(1));
        let g = guarded(&db, &kv, &env).with_timeout(StatementTimeout::from_millis(300).unwrap());
        assert_eq!(
            block_on(g.execute_affected(Idempotency::Safe, "UPDATE t SET v = 1", &[])).unwrap(),
            1
        );
        assert_eq!(
            db.calls()[0].sql,
            "SET STATEMENT max_statement_time=0.3 FOR UPDATE t SET v = 1"
        );
    }

    #[test]
    fn a_dead_database_opens_the_breaker_and_then_is_left_alone() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        db.fail_all_with(Some(lost()));
        let g = guarded(&db, &kv, &env);
        for _ in 0..5 {
            assert!(
                block_on(g.query("SELECT 1", &[]))
                    .unwrap_err()
                    .is_transient()
            );
            env.clock.advance(Duration::from_millis(10));
        }
        // Five requests × three attempts reached the database; the sixth does not.
        assert_eq!(db.calls().len(), 15);
        let err = block_on(g.query("SELECT 1", &[])).unwrap_err();
        assert_eq!(
            err,
            StoreError::Unavailable {
                retry_after_secs: 5
            }
        );
        assert_eq!(db.calls().len(), 15);

        // The database comes back; after the open period one probe closes the breaker.
        db.fail_all_with(None);
        env.clock.advance(Duration::from_secs(5));
        assert!(block_on(g.query("SELECT 1", &[])).is_ok());
        assert!(block_on(g.query("SELECT 1", &[])).is_ok());
        assert_eq!(db.calls().len(), 17);
    }

    #[test]
    fn a_transaction_is_retried_from_begin() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        db.push(Reply::Ok); // begin
        db.push(Reply::Error(StoreError::transient(
            "ERROR 40001 (1213): Deadlock found",
        )));
        let g = guarded(&db, &kv, &env);
        let attempts = std::cell::Cell::new(0);
        let stock_left = block_on(g.run(Idempotency::Safe, |db| {
            attempts.set(attempts.get() + 1);
            async move {
                let tx = db.begin().await?;
                let changed = tx
                    .execute_affected(
                        "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
                        &[Value::Int(2), Value::Int(9), Value::Int(2)],
                    )
                    .await?;
                tx.commit().await?;
                Ok(changed)
            }
        }))
        .unwrap();
        assert_eq!(stock_left, 0, "the fake's default affected count");
        assert_eq!(attempts.get(), 2);
        let kinds: Vec<CallKind> = db.calls().into_iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::Begin,
                CallKind::ExecuteAffected,
                CallKind::Dropped,
                CallKind::Begin,
                CallKind::ExecuteAffected,
                CallKind::Commit
            ]
        );
    }

    #[test]
    fn a_failing_breaker_store_does_not_stop_reads() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        kv.set_failing(true);
        let g = guarded(&db, &kv, &env);
        assert!(block_on(g.query("SELECT 1", &[])).is_ok());
        assert_eq!(db.calls().len(), 1);
    }
}
