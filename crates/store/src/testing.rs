//! In-memory fakes of every I/O trait, for unit tests here and (feature `testing`) in
//! crates that use the store. Single-threaded, like a component.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::breaker::{BreakerStore, Clock, KvError};
use crate::database::{Database, Transaction, Transactional};
use crate::error::StoreError;
use crate::retry::{Random, Sleeper};
use crate::row::Row;
use crate::value::Value;

/// What a [`FakeDatabase`] call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// [`Database::query`].
    Query,
    /// [`Database::execute`].
    Execute,
    /// [`Database::execute_affected`].
    ExecuteAffected,
    /// [`Transactional::begin`].
    Begin,
    /// [`Transaction::commit`].
    Commit,
    /// [`Transaction::rollback`].
    Rollback,
    /// A transaction dropped without commit or rollback (the real one discards its
    /// connection, and the server rolls back).
    Dropped,
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Which method.
    pub kind: CallKind,
    /// The SQL as the database received it (empty for transaction control).
    pub sql: String,
    /// The parameters.
    pub params: Vec<Value>,
}

/// A scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Rows for a query.
    Rows(Vec<Row>),
    /// An affected-row count for `execute_affected`.
    Affected(u64),
    /// Success for `execute`, `begin`, `commit`, `rollback`.
    Ok,
    /// A failure for any call.
    Error(StoreError),
}

/// A database that records calls and answers from a script (then with empty success).
#[derive(Debug, Default)]
pub struct FakeDatabase {
    calls: RefCell<Vec<Call>>,
    replies: RefCell<VecDeque<Reply>>,
    fail_all: RefCell<Option<StoreError>>,
}

impl FakeDatabase {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the answer to the next call.
    pub fn push(&self, reply: Reply) {
        self.replies.borrow_mut().push_back(reply);
    }

    /// Makes every call fail with `error` (or stop failing with `None`), ahead of the script.
    pub fn fail_all_with(&self, error: Option<StoreError>) {
        *self.fail_all.borrow_mut() = error;
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn answer(&self, kind: CallKind, sql: &str, params: &[Value]) -> Reply {
        self.calls.borrow_mut().push(Call {
            kind,
            sql: sql.to_owned(),
            params: params.to_vec(),
        });
        if let Some(e) = self.fail_all.borrow().clone() {
            return Reply::Error(e);
        }
        self.replies.borrow_mut().pop_front().unwrap_or(match kind {
            CallKind::Query => Reply::Rows(Vec::new()),
            CallKind::ExecuteAffected => Reply::Affected(0),
            _ => Reply::Ok,
        })
    }

    fn unexpected(reply: &Reply, kind: CallKind) -> StoreError {
        StoreError::other(&format!(
            "fake: reply {reply:?} does not fit a {kind:?} call"
        ))
    }

    fn rows(&self, kind: CallKind, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self.answer(kind, sql, params) {
            Reply::Rows(rows) => Ok(rows),
            Reply::Error(e) => Err(e),
            other => Err(Self::unexpected(&other, kind)),
        }
    }

    fn unit(&self, kind: CallKind, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        match self.answer(kind, sql, params) {
            Reply::Ok | Reply::Affected(_) => Ok(()),
            Reply::Error(e) => Err(e),
            other => Err(Self::unexpected(&other, kind)),
        }
    }

    fn affected(&self, kind: CallKind, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self.answer(kind, sql, params) {
            Reply::Affected(n) => Ok(n),
            Reply::Error(e) => Err(e),
            other => Err(Self::unexpected(&other, kind)),
        }
    }
}

impl Database for FakeDatabase {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.rows(CallKind::Query, sql, params)
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        self.unit(CallKind::Execute, sql, params)
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.affected(CallKind::ExecuteAffected, sql, params)
    }
}

impl Transactional for FakeDatabase {
    type Tx<'a> = FakeTransaction<'a>;

    async fn begin(&self) -> Result<FakeTransaction<'_>, StoreError> {
        self.unit(CallKind::Begin, "", &[])?;
        Ok(FakeTransaction {
            db: self,
            finished: false,
        })
    }
}

/// A [`FakeDatabase`] transaction; statements are recorded on the database.
#[derive(Debug)]
pub struct FakeTransaction<'a> {
    db: &'a FakeDatabase,
    finished: bool,
}

impl Database for FakeTransaction<'_> {
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.db.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        self.db.execute(sql, params).await
    }

    async fn execute_affected(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.db.execute_affected(sql, params).await
    }
}

impl Transaction for FakeTransaction<'_> {
    async fn commit(mut self) -> Result<(), StoreError> {
        self.finished = true;
        self.db.unit(CallKind::Commit, "", &[])
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        self.finished = true;
        self.db.unit(CallKind::Rollback, "", &[])
    }
}

impl Drop for FakeTransaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.db.calls.borrow_mut().push(Call {
                kind: CallKind::Dropped,
                sql: String::new(),
                params: Vec::new(),
            });
        }
    }
}

/// A key-value store in memory; counters are decimal text, as on Redis. Every entry
/// expires as Redis would expire it, on the store's own clock ([`FakeKv::advance`]),
/// which starts at 0 and moves only when told.
#[derive(Debug, Default)]
pub struct FakeKv {
    map: RefCell<BTreeMap<String, Entry>>,
    ops: RefCell<Vec<String>>,
    failing: Cell<bool>,
    now: Cell<u64>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    /// The store clock's millisecond at which the entry is gone.
    expires_at: u64,
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl FakeKv {
    /// Moves the store's clock forward: entries whose expiry passes are gone.
    pub fn advance(&self, by: Duration) {
        let now = self.now.get().saturating_add(ttl_millis(by));
        self.now.set(now);
        self.map.borrow_mut().retain(|_, e| e.expires_at > now);
    }

    /// The time `key` has left (`PTTL`), if it is present.
    pub fn ttl(&self, key: &str) -> Option<Duration> {
        let now = self.now.get();
        self.map
            .borrow()
            .get(key)
            .map(|e| Duration::from_millis(e.expires_at.saturating_sub(now)))
    }

    /// Makes every operation fail (or work again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.set(failing);
    }

    /// Operations so far, as `"get <key>"`, `"set <key>"`, `"delete <key>"`, `"incr <key>"`.
    pub fn ops(&self) -> Vec<String> {
        self.ops.borrow().clone()
    }

    /// Forgets the recorded operations.
    pub fn clear_ops(&self) {
        self.ops.borrow_mut().clear();
    }

    /// The keys present.
    pub fn keys(&self) -> Vec<String> {
        self.map.borrow().keys().cloned().collect()
    }

    /// A value as text.
    pub fn get_text(&self, key: &str) -> Option<String> {
        self.map
            .borrow()
            .get(key)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
    }

    fn op(&self, name: &str, key: &str) -> Result<(), KvError> {
        self.ops.borrow_mut().push(format!("{name} {key}"));
        if self.failing.get() {
            Err(KvError::new("fake: key-value store unavailable"))
        } else {
            Ok(())
        }
    }
}

impl BreakerStore for FakeKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.op("get", key)?;
        Ok(self.map.borrow().get(key).map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.op("set", key)?;
        let expires_at = self.now.get().saturating_add(ttl_millis(ttl));
        self.map.borrow_mut().insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires_at,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.op("delete", key)?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, KvError> {
        self.op("incr", key)?;
        let mut map = self.map.borrow_mut();
        let (current, expires_at) = match map.get(key) {
            None => (0, self.now.get().saturating_add(ttl_millis(ttl))),
            Some(e) => (
                std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| KvError::new("fake: value is not a counter"))?,
                e.expires_at,
            ),
        };
        let next = current.wrapping_add(delta);
        map.insert(
            key.to_owned(),
            Entry {
                value: next.to_string().into_bytes(),
                expires_at,
            },
        );
        Ok(next)
    }
}

/// A clock that moves only when told.
#[derive(Debug)]
pub struct FakeClock {
    now: Cell<u64>,
}

impl Default for FakeClock {
    /// 2027-01-15T08:00:00Z.
    fn default() -> Self {
        Self::at(1_800_000_000_000)
    }
}

impl FakeClock {
    /// A clock reading `millis` since the epoch.
    pub fn at(millis: u64) -> Self {
        Self {
            now: Cell::new(millis),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.set(self.now.get().saturating_add(ms));
    }
}

impl Clock for FakeClock {
    fn now_millis(&self) -> u64 {
        self.now.get()
    }
}

/// A sleeper that returns at once and remembers what it was asked.
#[derive(Debug, Default)]
pub struct FakeSleeper {
    slept: RefCell<Vec<Duration>>,
}

impl FakeSleeper {
    /// The requested sleeps so far.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept.borrow().clone()
    }
}

impl Sleeper for FakeSleeper {
    async fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
    }
}

/// Scripted "randomness": a sequence, repeated from its last value.
#[derive(Debug)]
pub struct FakeRandom {
    values: RefCell<VecDeque<u64>>,
    last: Cell<u64>,
}

impl Default for FakeRandom {
    /// Always 0 (no jitter wait).
    fn default() -> Self {
        Self::always(0)
    }
}

impl FakeRandom {
    /// Always `value`.
    pub fn always(value: u64) -> Self {
        Self::sequence(vec![value])
    }

    /// `values` in order, then the last one forever (0 if empty).
    pub fn sequence(values: Vec<u64>) -> Self {
        Self {
            last: Cell::new(values.last().copied().unwrap_or(0)),
            values: RefCell::new(values.into()),
        }
    }
}

impl Random for FakeRandom {
    fn next_u64(&self) -> u64 {
        self.values
            .borrow_mut()
            .pop_front()
            .unwrap_or(self.last.get())
    }
}

/// Clock, sleeper and randomness together, as [`crate::Guarded`] wants them.
#[derive(Debug, Default)]
pub struct FakeEnv {
    /// The clock.
    pub clock: FakeClock,
    /// The sleeper.
    pub sleeper: FakeSleeper,
    /// The randomness.
    pub random: FakeRandom,
}

impl Clock for FakeEnv {
    fn now_millis(&self) -> u64 {
        self.clock.now_millis()
    }
}

impl Sleeper for FakeEnv {
    async fn sleep(&self, duration: Duration) {
        self.sleeper.sleep(duration).await;
    }
}

impl Random for FakeEnv {
    fn next_u64(&self) -> u64 {
        self.random.next_u64()
    }
}
