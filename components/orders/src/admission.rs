//! Queueing for a database connection when the account is at its connection quota.
//!
//! The orders account has `MAX_USER_CONNECTIONS` 40 (the bulkhead of docs/standards.md §12). A
//! burst of orders can start more component instances than that, each wanting its own
//! connection; MariaDB refuses the rest at login with 1226 (or 1040 when the server is
//! full). Such a refusal happens *before* any statement is sent, so trying again cannot
//! apply anything twice, whatever the work's idempotency. [`WaitForConnection`] sits
//! under `store::Guarded` and retries exactly those refusals with jittered backoff for a
//! bounded time, so a burst queues for connections instead of failing with 503 and
//! opening the circuit breaker. The same goes for the store's own checkout timeout
//! (every connection of this instance busy for 2 s: nothing was sent either). Any other
//! error passes straight through.

use std::time::Duration;

use store::{Database, Random, Row, Sleeper, StoreError, Transactional, Value, parse_server_error};

/// How long a request may wait for a connection in all.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(8);
const FIRST_PAUSE_MS: u64 = 10;
const MAX_PAUSE_MS: u64 = 250;

/// What `store::spin` says when every connection of this instance stayed busy for its
/// checkout timeout; its docs guarantee nothing was sent then.
const CHECKOUT_BUSY: &str = "connections of this instance stayed busy";

/// Whether `error` means no connection could be had, before anything was sent: a login
/// refused for the account's quota (1226) or a full server (1040), or every connection
/// of this instance busy past the store's checkout timeout.
pub fn over_connection_limit(error: &StoreError) -> bool {
    match error {
        StoreError::Transient { detail } => {
            detail.as_str().contains(CHECKOUT_BUSY)
                || parse_server_error(detail.as_str())
                    .is_some_and(|server| matches!(server.code, 1226 | 1040))
        }
        _ => false,
    }
}

/// A database that waits (bounded) for a connection slot instead of failing at once.
#[derive(Debug)]
pub struct WaitForConnection<D, E> {
    inner: D,
    env: E,
    budget: Duration,
}

impl<D, E: Sleeper + Random> WaitForConnection<D, E> {
    /// `inner`, waiting up to [`CONNECTION_WAIT`] using `env`'s sleep and jitter.
    pub fn new(inner: D, env: E) -> Self {
        Self {
            inner,
            env,
            budget: CONNECTION_WAIT,
        }
    }

    /// Another total wait.
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    async fn retrying<T, Fut>(&self, mut op: impl FnMut() -> Fut) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut waited = Duration::ZERO;
        let mut ceiling = FIRST_PAUSE_MS;
        loop {
            match op().await {
                Err(e) if over_connection_limit(&e) && waited < self.budget => {
                    // Full jitter: anywhere in [ceiling/2, ceiling].
                    let half = ceiling / 2;
                    let pause = Duration::from_millis(half + self.env.next_u64() % (half + 1));
                    self.env.sleep(pause).await;
                    waited += pause;
                    ceiling = (ceiling * 2).min(MAX_PAUSE_MS);
                }
                other => return other,
            }
        }
    }
}

impl<D: Database, E: Sleeper + Random> Database for WaitForConnection<D, E> {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.retrying(|| self.inner.query(sql, params)).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        self.retrying(|| self.inner.execute(sql, params)).await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.retrying(|| self.inner.execute_affected(sql, params))
            .await
    }
}

impl<D: Transactional, E: Sleeper + Random> Transactional for WaitForConnection<D, E> {
    type Tx<'a>
        = D::Tx<'a>
    where
        Self: 'a;

    async fn begin(&self) -> Result<Self::Tx<'_>, StoreError> {
        self.retrying(|| self.inner.begin()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use store::testing::{CallKind, FakeDatabase, FakeEnv, Reply};
    use store::{Transaction, Transactional};

    fn over_quota() -> StoreError {
        StoreError::transient(
            r#"Server(ServerError { code: 1226, message: "User 'orderly_orders' has exceeded the 'max_user_connections' resource (current value: 40)", state: "42000" })"#,
        )
    }

    #[test]
    fn a_login_refused_for_quota_is_waited_out() {
        let (db, env) = (FakeDatabase::new(), FakeEnv::default());
        db.push(Reply::Error(over_quota()));
        db.push(Reply::Error(over_quota()));
        db.push(Reply::Ok); // begin
        let wrapped = WaitForConnection::new(&db, &env);
        block_on(async {
            let tx = wrapped.begin().await.unwrap();
            tx.commit().await.unwrap();
        });
        let kinds: Vec<_> = db.calls().iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::Begin,
                CallKind::Begin,
                CallKind::Begin,
                CallKind::Commit
            ]
        );
        assert_eq!(env.sleeper.slept().len(), 2);
    }

    #[test]
    fn the_wait_is_bounded_and_other_errors_are_not_retried() {
        let (db, env) = (FakeDatabase::new(), FakeEnv::default());
        db.fail_all_with(Some(over_quota()));
        let wrapped = WaitForConnection::new(&db, &env).with_budget(Duration::from_millis(100));
        assert!(over_connection_limit(
            &block_on(wrapped.query("SELECT 1", &[])).unwrap_err()
        ));
        let slept: Duration = env.sleeper.slept().iter().sum();
        assert!(slept >= Duration::from_millis(100) && slept < Duration::from_millis(400));

        let (db, env) = (FakeDatabase::new(), FakeEnv::default());
        db.push(Reply::Error(StoreError::transient(
            "Driver(ConnectionClosed)",
        )));
        let wrapped = WaitForConnection::new(&db, &env);
        assert!(block_on(wrapped.execute("UPDATE t SET v = 1", &[])).is_err());
        assert!(over_connection_limit(&StoreError::transient(
            "all 1 connections of this instance stayed busy for 2000 ms"
        )));
        assert_eq!(
            db.calls().len(),
            1,
            "a lost connection may have run it: no retry"
        );
    }
}
