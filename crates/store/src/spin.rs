//! The Spin implementations: [`SpinMysql`] over `spin:mysql/mysql@3.0.0`, [`SpinShared`]
//! (the shared store) over `spin:redis/redis@3.0.0` and [`SpinRuntime`] (clock, sleep,
//! jitter).
//!
//! ## Connections
//! Spin opens a new MariaDB connection on every `Connection::open` (two server
//! connections each, ~250 requests/s measured), but reuses a p3 instance for up to 128
//! sequential requests (16 concurrent). [`SpinMysql`] therefore keeps its connections in
//! instance state (a `thread_local`: components are single-threaded) and reuses them
//! across requests: real Spin measured 0.024 new server connections per request this
//! way. A connection that fails with a connection-level error is dropped and the next
//! call opens a fresh one.
//!
//! Every statement, and every transaction from `begin` to `commit`/`rollback`, *leases*
//! a connection: an idle one if there is one, else a new one, so two requests interleaved
//! on one instance never share a transaction or each other's `ROW_COUNT()`. Sequential
//! requests therefore use one connection per instance; concurrent requests of one
//! instance use up to [`SpinMysql::with_max_connections`] (default
//! [`DEFAULT_MAX_CONNECTIONS`]), which stay open, idle, until the instance ends.
//!
//! A caller finding all of them busy does **not** wait on the other requests: with
//! spin-sdk 7 (wit-bindgen 0.57 without its `inter-task-wakeup` feature), one request's
//! task waking another's traps the instance ("Rust task cannot sleep waiting only on
//! Rust-originating events", measured with an async mutex under `wrk -c32`). It polls
//! instead, sleeping a few milliseconds on the host clock between tries, for up to
//! [`CHECKOUT_TIMEOUT`], then fails with [`StoreError::Transient`] (nothing was sent).
//!
//! A transaction dropped without `commit`/`rollback` returns its connection marked, and
//! the next user sends `ROLLBACK` before anything else.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spin_sdk::mysql::{self, Connection, DbValue, MysqlError, ParameterValue};
use spin_sdk::redis::{self, RedisParameter, RedisResult};

use crate::breaker::{BreakerStore, Clock, KvError};
use crate::classify::{HostError, classify};
use crate::database::{Database, Transaction, Transactional};
use crate::error::StoreError;
use crate::pool::Pool;
use crate::retry::{Random, Sleeper};
use crate::row::Row;
use crate::value::Value;

/// Connections one instance may hold at once unless told otherwise: one, so sequential
/// requests reuse a single connection and concurrent requests of one instance take
/// turns on it.
///
/// Measured (this repo's host, MariaDB 10.11, `wrk -c32`, a point `SELECT` per request,
/// 2 cores shared by all): 1 → ~6,600 requests/s, p50 5.0 ms, 0.016 connects/request;
/// 2 → ~9,500 requests/s, p50 2.6 ms, 0.031 connects/request; 4 → ~8,600–10,200
/// requests/s, 0.063 connects/request (instances end after 128 requests, and each opens
/// what it uses). A hot read path may want 2; mind the account's `MAX_USER_CONNECTIONS`
/// (every live instance may hold this many).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1;

/// How long a caller polls for a free connection before giving up.
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause between polls for a free connection.
const CHECKOUT_POLL: Duration = Duration::from_millis(2);

// ---------------------------------------------------------------- addresses

/// Where the database URL comes from. Asked only when a connection must be opened,
/// i.e. rarely once connections are reused.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait AddressSource {
    /// The `mysql://user:password@host/db` URL.
    async fn address(&self) -> Result<String, StoreError>;
}

impl<F, Fut> AddressSource for F
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String, StoreError>>,
{
    async fn address(&self) -> Result<String, StoreError> {
        self().await
    }
}

/// The URL from a Spin component variable (`secret = true` in `spin.toml`).
#[derive(Debug, Clone, Copy)]
pub struct FromVariable(pub &'static str);

impl AddressSource for FromVariable {
    async fn address(&self) -> Result<String, StoreError> {
        spin_sdk::variables::get(self.0)
            .await
            .map_err(|e| StoreError::other(&format!("variable {}: {e}", self.0)))
    }
}

// ---------------------------------------------------------------- the instance's connections

thread_local! {
    /// The instance's connections (one database per component).
    static POOL: Pool<Connection> = Pool::default();
}

/// A connection (or the right to open one) held by one caller. Dropping it gives the
/// connection back to the pool, or, if it was lost, frees its place.
struct Lease {
    connection: Option<Connection>,
    needs_rollback: bool,
    /// Taken from the idle list (rather than opened for this caller).
    reused: bool,
}

impl Lease {
    /// An idle connection, or the right to open one if fewer than `max` exist.
    fn try_take(max: usize) -> Option<Self> {
        POOL.with(|pool| pool.try_take(max)).map(|taken| Self {
            reused: taken.connection.is_some(),
            connection: taken.connection,
            needs_rollback: taken.needs_rollback,
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let connection = self.connection.take();
        let needs_rollback = self.needs_rollback;
        POOL.with(|pool| pool.give_back(connection, needs_rollback));
    }
}

// ---------------------------------------------------------------- SpinMysql

/// MariaDB through `spin_sdk::mysql`, with connections kept per component instance.
/// Cheap to construct (per request is fine): the connections live in the instance.
#[derive(Debug, Clone)]
pub struct SpinMysql<A> {
    address: A,
    max_connections: usize,
}

impl SpinMysql<FromVariable> {
    /// The URL from component variable `name`.
    pub fn from_variable(name: &'static str) -> Self {
        Self::new(FromVariable(name))
    }
}

impl<A: AddressSource> SpinMysql<A> {
    /// Connections opened with the URL from `address`, at most
    /// [`DEFAULT_MAX_CONNECTIONS`] (one) per instance.
    pub fn new(address: A) -> Self {
        Self {
            address,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// At most `n` (at least 1) connections per instance.
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// A connection for this caller alone, open and clean.
    async fn lease(&self) -> Result<Lease, StoreError> {
        let started = Instant::now();
        let mut lease = loop {
            if let Some(lease) = Lease::try_take(self.max_connections) {
                break lease;
            }
            if started.elapsed() >= CHECKOUT_TIMEOUT {
                return Err(StoreError::transient(&format!(
                    "all {} connections of this instance stayed busy for {} ms",
                    self.max_connections,
                    CHECKOUT_TIMEOUT.as_millis()
                )));
            }
            spin_sdk::time::sleep(CHECKOUT_POLL).await;
        };
        if lease.needs_rollback {
            lease.needs_rollback = false;
            let outcome = match lease.connection.as_ref() {
                Some(c) => execute_on(c, "ROLLBACK", &[]).await,
                None => Ok(()),
            };
            if outcome.is_err() {
                lease.connection = None;
                lease.reused = false;
            }
        }
        if lease.connection.is_none() {
            self.open_into(&mut lease).await?;
        }
        Ok(lease)
    }

    async fn open_into(&self, lease: &mut Lease) -> Result<(), StoreError> {
        let address = self.address.address().await?;
        let connection = Connection::open(address)
            .await
            .map_err(|e| classify(&host_error(e)).error)?;
        lease.connection = Some(connection);
        lease.reused = false;
        Ok(())
    }

    /// Runs `op` on a leased connection, dropping the connection if `op` broke it.
    async fn with_connection<T>(
        &self,
        op: impl AsyncFn(&Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut lease = self.lease().await?;
        self.run_on(&mut lease, op).await
    }

    /// Runs `op` on `lease`'s connection, dropping the connection if `op` broke it.
    ///
    /// When a *reused* connection turns out dead before the request could be written
    /// ([`crate::Classified::not_sent`]: the server closed it while it sat idle — a
    /// restart, `KILL`, `wait_timeout`), the statement never reached the server, so it is
    /// sent once more on a new connection, whatever its idempotency. This is not a retry
    /// of work; work that may have run is only retried by [`crate::retry()`].
    async fn run_on<T>(
        &self,
        lease: &mut Lease,
        op: impl AsyncFn(&Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let outcome = match lease.connection.as_ref() {
            Some(c) => op(c).await,
            None => return Err(StoreError::transient("no connection after open")),
        };
        match outcome {
            Err(f) if lease.reused && f.first_call && classify(&f.error).not_sent => {
                lease.connection = None;
                self.open_into(lease).await?;
                let outcome = match lease.connection.as_ref() {
                    Some(c) => op(c).await,
                    None => return Err(StoreError::transient("no connection after open")),
                };
                settle(lease, outcome)
            }
            outcome => settle(lease, outcome),
        }
    }
}

/// A failed host call within one operation.
struct Failure {
    error: HostError,
    /// The failing call was the operation's first, so nothing of the operation can have
    /// run when the host says the request was not sent. False for `SELECT ROW_COUNT()`
    /// after a write: replaying then would apply the write twice.
    first_call: bool,
}

impl From<HostError> for Failure {
    fn from(error: HostError) -> Self {
        Self {
            error,
            first_call: true,
        }
    }
}

/// Maps a host failure and drops the connection when it is broken.
fn settle<T>(lease: &mut Lease, outcome: Result<T, Failure>) -> Result<T, StoreError> {
    outcome.map_err(|Failure { error: e, .. }| {
        let classified = classify(&e);
        if classified.connection_broken {
            lease.connection = None;
        }
        classified.error
    })
}

impl<A: AddressSource> Database for SpinMysql<A> {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| Ok(query_on(c, sql, &params).await?))
            .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| Ok(execute_on(c, sql, &params).await?))
            .await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| execute_affected_on(c, sql, &params).await)
            .await
    }
}

impl<A: AddressSource> Transactional for SpinMysql<A> {
    type Tx<'a>
        = SpinTransaction
    where
        Self: 'a;

    async fn begin(&self) -> Result<SpinTransaction, StoreError> {
        let mut lease = self.lease().await?;
        self.run_on(&mut lease, async |c| {
            Ok(execute_on(c, "START TRANSACTION", &[]).await?)
        })
        .await?;
        Ok(SpinTransaction {
            lease: Some(lease),
            broken: Cell::new(false),
        })
    }
}

/// A transaction on one leased connection. Dropping it without
/// [`commit`](Transaction::commit) or [`rollback`](Transaction::rollback) returns the
/// connection marked for a `ROLLBACK` before its next use.
pub struct SpinTransaction {
    lease: Option<Lease>,
    /// The connection failed mid-transaction: the work is gone, the connection too.
    broken: Cell<bool>,
}

impl std::fmt::Debug for SpinTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpinTransaction")
            .field("open", &self.lease.is_some())
            .field("broken", &self.broken.get())
            .finish()
    }
}

fn lost_in_transaction() -> StoreError {
    StoreError::transient("connection lost during the transaction")
}

impl SpinTransaction {
    /// Runs `op` on the transaction's connection. A transaction never reopens a lost
    /// connection: its work went with it, and the caller must start over.
    async fn with_connection<T>(
        &self,
        op: impl AsyncFnOnce(&Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let connection = match self.lease.as_ref().and_then(|l| l.connection.as_ref()) {
            Some(c) if !self.broken.get() => c,
            _ => return Err(lost_in_transaction()),
        };
        op(connection).await.map_err(|Failure { error: e, .. }| {
            let classified = classify(&e);
            if classified.connection_broken {
                self.broken.set(true);
            }
            classified.error
        })
    }

    async fn finish(mut self, statement: &str) -> Result<(), StoreError> {
        let Some(mut lease) = self.lease.take() else {
            return Err(lost_in_transaction());
        };
        if self.broken.get() {
            lease.connection = None;
            return Err(lost_in_transaction());
        }
        let outcome = match lease.connection.as_ref() {
            Some(c) => execute_on(c, statement, &[]).await.map_err(Failure::from),
            None => return Err(lost_in_transaction()),
        };
        settle(&mut lease, outcome)
    }
}

impl Database for SpinTransaction {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| Ok(query_on(c, sql, &params).await?))
            .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| Ok(execute_on(c, sql, &params).await?))
            .await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let params = to_params(params)?;
        self.with_connection(async |c| execute_affected_on(c, sql, &params).await)
            .await
    }
}

impl Transaction for SpinTransaction {
    async fn commit(self) -> Result<(), StoreError> {
        self.finish("COMMIT").await
    }

    async fn rollback(self) -> Result<(), StoreError> {
        self.finish("ROLLBACK").await
    }
}

impl Drop for SpinTransaction {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.as_mut() {
            if self.broken.get() {
                lease.connection = None;
            } else {
                lease.needs_rollback = true;
            }
        }
    }
}

// ---------------------------------------------------------------- host calls

fn host_error(e: mysql::Error) -> HostError {
    match e {
        mysql::Error::MysqlError(e) => match e {
            MysqlError::ConnectionFailed(t) => HostError::ConnectionFailed(t),
            MysqlError::BadParameter(t) => HostError::BadParameter(t),
            MysqlError::QueryFailed(t) => HostError::QueryFailed(t),
            MysqlError::ValueConversionFailed(t) => HostError::ValueConversionFailed(t),
            MysqlError::Other(t) => HostError::Other(t),
        },
        mysql::Error::Decode(t) => HostError::Other(t),
    }
}

fn to_params(params: &[Value]) -> Result<Vec<ParameterValue>, StoreError> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => Ok(ParameterValue::DbNull),
            Value::Int(n) => Ok(ParameterValue::Int64(*n)),
            Value::UInt(n) => Ok(ParameterValue::Uint64(*n)),
            Value::Float(f) => Ok(ParameterValue::Floating64(*f)),
            Value::Text(s) => Ok(ParameterValue::Str(s.clone())),
            Value::Bytes(b) => Ok(ParameterValue::Binary(b.clone())),
            Value::Unsupported => Err(StoreError::other(
                "an unsupported value cannot be a parameter",
            )),
        })
        .collect()
}

fn from_db(v: DbValue) -> Value {
    match v {
        DbValue::Boolean(b) => Value::Int(i64::from(b)),
        DbValue::Int8(n) => Value::Int(n.into()),
        DbValue::Int16(n) => Value::Int(n.into()),
        DbValue::Int32(n) => Value::Int(n.into()),
        DbValue::Int64(n) => Value::Int(n),
        DbValue::Uint8(n) => Value::UInt(n.into()),
        DbValue::Uint16(n) => Value::UInt(n.into()),
        DbValue::Uint32(n) => Value::UInt(n.into()),
        DbValue::Uint64(n) => Value::UInt(n),
        DbValue::Floating32(f) => Value::Float(f.into()),
        DbValue::Floating64(f) => Value::Float(f),
        DbValue::Str(s) => Value::Text(s),
        DbValue::Binary(b) => Value::Bytes(b),
        DbValue::DbNull => Value::Null,
        DbValue::Unsupported => Value::Unsupported,
    }
}

async fn query_on(
    connection: &Connection,
    sql: &str,
    params: &[ParameterValue],
) -> Result<Vec<Row>, HostError> {
    let result = connection
        .query(sql, params.to_vec())
        .await
        .map_err(host_error)?;
    let (columns, rows, done) = result.into_inner();
    let names: Arc<[String]> = columns.into_iter().map(|c| c.name).collect();
    let rows: Vec<Row> = rows
        .collect()
        .await
        .into_iter()
        .map(|values| Row::new(names.clone(), values.into_iter().map(from_db).collect()))
        .collect();
    done.await
        .map_err(|e| host_error(mysql::Error::MysqlError(e)))?;
    Ok(rows)
}

async fn execute_on(
    connection: &Connection,
    sql: &str,
    params: &[ParameterValue],
) -> Result<(), HostError> {
    connection
        .execute(sql, params.to_vec())
        .await
        .map_err(host_error)
}

/// `execute`, then `SELECT ROW_COUNT()` on the same connection (Spin's `execute` returns
/// no count). Measured through the host: right after the statement, prepared or not,
/// wrapped in `SET STATEMENT … FOR` or not.
async fn execute_affected_on(
    connection: &Connection,
    sql: &str,
    params: &[ParameterValue],
) -> Result<u64, Failure> {
    execute_on(connection, sql, params).await?;
    let after = |error| Failure {
        error,
        first_call: false,
    };
    let rows = query_on(connection, "SELECT ROW_COUNT()", &[])
        .await
        .map_err(after)?;
    let count: i64 = rows
        .first()
        .ok_or_else(|| after(HostError::Other("ROW_COUNT() returned no row".into())))?
        .get(0)
        .map_err(|e| after(HostError::Other(format!("ROW_COUNT(): {e}"))))?;
    // -1 after a statement that changes nothing by nature; a write reports 0 or more.
    Ok(u64::try_from(count).unwrap_or(0))
}

// ---------------------------------------------------------------- the shared store

thread_local! {
    /// The instance's connection to the shared Redis, once opened (Spin makes a new
    /// connection on every `open`, so it is kept and reused, like the MariaDB ones).
    static REDIS: RefCell<Option<Rc<redis::Connection>>> = const { RefCell::new(None) };
}

/// `INCRBY` then, when the key has no expiry yet (it was just created), `PEXPIRE`: one
/// atomic step, so no counter can be left without an expiry.
const INCREMENT_WITH_EXPIRY: &str = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
return n";

/// The shared store: Redis through Spin's outbound Redis (`spin:redis/redis@3.0.0`), at
/// the URL in the component variable [`SpinShared::URL_VARIABLE`] (which must be in the
/// component's `allowed_outbound_hosts`). Spin's key-value API has no expiry; this
/// interface does, so every write carries one (docs/shared-state.md): `SET … PX`, and
/// counters through one `EVAL` of `INCRBY` + `PEXPIRE`.
///
/// The connection lives in instance state; after any failure it is dropped and the next
/// call opens a new one (a Redis restart breaks a multiplexed connection for good).
#[derive(Debug, Clone, Copy)]
pub struct SpinShared {
    variable: &'static str,
}

impl Default for SpinShared {
    fn default() -> Self {
        Self::new()
    }
}

impl SpinShared {
    /// The component variable holding the Redis URL.
    pub const URL_VARIABLE: &'static str = "redis_url";

    /// The store at the URL in [`SpinShared::URL_VARIABLE`].
    pub const fn new() -> Self {
        Self {
            variable: Self::URL_VARIABLE,
        }
    }

    async fn connection(&self) -> Result<Rc<redis::Connection>, KvError> {
        if let Some(c) = REDIS.with(|c| c.borrow().clone()) {
            return Ok(c);
        }
        let url = spin_sdk::variables::get(self.variable)
            .await
            .map_err(|e| KvError::new(&format!("variable {}: {e}", self.variable)))?;
        let connection = Rc::new(
            redis::Connection::open(&url)
                .await
                .map_err(|e| KvError::new(&format!("open the shared store: {e:?}")))?,
        );
        REDIS.with(|c| *c.borrow_mut() = Some(connection.clone()));
        Ok(connection)
    }

    fn failed(op: &str, key: &str, e: &redis::Error) -> KvError {
        REDIS.with(|c| *c.borrow_mut() = None);
        KvError::new(&format!("{op} {key} in the shared store: {e:?}"))
    }
}

/// Milliseconds for `PX`/`PEXPIRE`: at least 1 (Redis refuses 0).
pub fn expiry_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl BreakerStore for SpinShared {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let c = self.connection().await?;
        c.get(key).await.map_err(|e| Self::failed("get", key, &e))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        let c = self.connection().await?;
        c.execute(
            "SET",
            [
                RedisParameter::Binary(key.as_bytes().to_vec()),
                RedisParameter::Binary(value.to_vec()),
                RedisParameter::Binary(b"PX".to_vec()),
                RedisParameter::Int64(expiry_millis(ttl)),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| Self::failed("set", key, &e))
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let c = self.connection().await?;
        c.del([key])
            .await
            .map(|_| ())
            .map_err(|e| Self::failed("delete", key, &e))
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, KvError> {
        let c = self.connection().await?;
        let results = c
            .execute(
                "EVAL",
                [
                    RedisParameter::Binary(INCREMENT_WITH_EXPIRY.as_bytes().to_vec()),
                    RedisParameter::Int64(1),
                    RedisParameter::Binary(key.as_bytes().to_vec()),
                    RedisParameter::Int64(delta),
                    RedisParameter::Int64(expiry_millis(ttl)),
                ],
            )
            .await
            .map_err(|e| Self::failed("increment", key, &e))?;
        match results.as_slice() {
            [RedisResult::Int64(n)] => Ok(*n),
            other => Err(KvError::new(&format!(
                "increment {key}: unexpected reply {other:?}"
            ))),
        }
    }
}

// ---------------------------------------------------------------- time and jitter

/// Clock, sleep and jitter for a component: wall clock from `SystemTime`
/// (`wasi:clocks/wall-clock`), sleep through `wasi:clocks/monotonic-clock.wait-for`
/// (`spin_sdk::time::sleep`, which wraps `spin_sdk::wasip3::clocks::monotonic_clock::wait_for`),
/// jitter from SipHash keyed by the host's random seed (jitter needs spread, not secrecy).
#[derive(Debug, Default)]
pub struct SpinRuntime {
    keys: RandomState,
    counter: Cell<u64>,
}

impl Clock for SpinRuntime {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

impl Sleeper for SpinRuntime {
    async fn sleep(&self, duration: Duration) {
        spin_sdk::time::sleep(duration).await;
    }
}

impl Random for SpinRuntime {
    fn next_u64(&self) -> u64 {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        let mut hasher = self.keys.build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_map_to_the_widest_spin_types() {
        let p = to_params(&[
            Value::Null,
            Value::Int(-1),
            Value::UInt(u64::MAX),
            Value::Float(0.5),
            Value::Text("x".into()),
            Value::Bytes(vec![1]),
        ])
        .unwrap();
        assert!(matches!(p[0], ParameterValue::DbNull));
        assert!(matches!(p[1], ParameterValue::Int64(-1)));
        assert!(matches!(p[2], ParameterValue::Uint64(u64::MAX)));
        assert!(matches!(p[3], ParameterValue::Floating64(f) if f == 0.5));
        assert!(matches!(&p[4], ParameterValue::Str(s) if s == "x"));
        assert!(matches!(&p[5], ParameterValue::Binary(b) if b == &[1]));
        assert!(to_params(&[Value::Unsupported]).is_err());
    }

    #[test]
    fn column_values_widen() {
        assert_eq!(from_db(DbValue::Boolean(true)), Value::Int(1));
        assert_eq!(from_db(DbValue::Int8(-3)), Value::Int(-3));
        assert_eq!(from_db(DbValue::Uint32(3)), Value::UInt(3));
        assert_eq!(from_db(DbValue::Floating32(0.5)), Value::Float(0.5));
        assert_eq!(from_db(DbValue::Str("s".into())), Value::Text("s".into()));
        assert_eq!(from_db(DbValue::Binary(vec![9])), Value::Bytes(vec![9]));
        assert_eq!(from_db(DbValue::DbNull), Value::Null);
        assert_eq!(from_db(DbValue::Unsupported), Value::Unsupported);
    }

    #[test]
    fn host_errors_keep_their_variant() {
        let e = host_error(mysql::Error::MysqlError(MysqlError::QueryFailed(
            "q".into(),
        )));
        assert_eq!(e, HostError::QueryFailed("q".into()));
        let e = host_error(mysql::Error::MysqlError(MysqlError::ConnectionFailed(
            "c".into(),
        )));
        assert_eq!(e, HostError::ConnectionFailed("c".into()));
    }

    #[test]
    fn jitter_spreads() {
        let r = SpinRuntime::default();
        let draws: std::collections::HashSet<u64> = (0..100).map(|_| r.next_u64()).collect();
        assert_eq!(draws.len(), 100);
    }
}
