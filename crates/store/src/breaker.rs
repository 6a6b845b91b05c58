//! A circuit breaker whose state lives in a key-value store, so every instance on every
//! host sees one breaker (docs/standards.md §12; `shared` is Redis in the runtime config).
//!
//! States and keys (`<p>` is [`BreakerConfig::name`]):
//!
//! * **closed** — `<p>:open_until` absent. Calls pass. A call that fails in a way that
//!   [counts](StoreError::counts_against_breaker) increments `<p>:failures:<window>`
//!   (fixed windows of [`BreakerConfig::window`]); reaching
//!   [`BreakerConfig::failure_threshold`] in one window opens the breaker. Successes
//!   write nothing, so the hot path costs one key-value read.
//! * **open** — `now < open_until`. Calls fail at once with [`StoreError::Unavailable`]
//!   and `retry_after_secs` = time left, without touching the database.
//! * **half-open** — `now ≥ open_until`. The first caller to win
//!   `increment(<p>:probe:<open_until>:<slot>) == 1` is the probe; everyone else still
//!   gets `Unavailable` (retry after 1 s). A probe that gets any answer from the database
//!   closes the breaker (deletes `open_until`); a counted failure re-opens it for another
//!   [`BreakerConfig::open_for`]. Slots last [`BreakerConfig::probe_timeout`], so a probe
//!   whose instance died is replaced by the next slot's.
//!
//! The breaker protects the database; it must not become a failure of its own. When
//! the key-value store fails, calls pass ([`Permit::kv_error`] says why).
//!
//! **The hot path's read is cached per instance** when [`BreakerConfig::state_ttl`] is set
//! (components use 1 s): an instance that read `open_until` reuses what it read for that
//! long, so a closed breaker costs one shared-store read per instance per second rather than
//! one per request. Transitions this instance makes itself (opening, a probe closing it) take
//! effect here at once; a transition made by another instance or host is seen here at most
//! `state_ttl` later. Meanwhile this instance keeps calling a database another one found
//! down — each such call fails and counts, so it opens the breaker here too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::error::{Detail, StoreError};

/// The shared store (Redis through Spin's outbound Redis in a component:
/// `crate::spin::SpinShared`) as the breaker, the rate limiter and identity use it.
///
/// **Every write carries an expiry** (docs/shared-state.md): nothing written through this
/// trait can outlive its purpose, so the shared store stays bounded however much traffic
/// it sees. A `ttl` below 1 ms counts as 1 ms.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait BreakerStore {
    /// The value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Sets `key`, expiring `ttl` from now (`SET key value PX ttl`).
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError>;
    /// Removes `key` (absent is fine).
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Atomically adds `delta` to the counter at `key` (absent counts as 0) and returns
    /// the new value. A counter this call creates expires `ttl` from now; later
    /// increments keep that expiry (a fixed window ends when it ends).
    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, KvError>;
}

impl<K: BreakerStore + ?Sized> BreakerStore for &K {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        (**self).get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        (**self).set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        (**self).delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, KvError> {
        (**self).increment(key, delta, ttl).await
    }
}

/// A key-value failure (text redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct KvError(Detail);

impl KvError {
    /// A failure described by `text` (redacted).
    pub fn new(text: &str) -> Self {
        Self(Detail::new(text))
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KvError({:?})", self.0)
    }
}

impl std::error::Error for KvError {}

/// Wall-clock time shared by all hosts (the breaker's deadlines are absolute).
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_millis(&self) -> u64 {
        (**self).now_millis()
    }
}

/// Breaker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Key prefix; one breaker per protected dependency (`breaker:mariadb`).
    pub name: String,
    /// Counted failures within one window that open the breaker.
    pub failure_threshold: u32,
    /// Length of a counting window.
    pub window: Duration,
    /// How long the breaker stays open before a probe.
    pub open_for: Duration,
    /// How long one probe may take before another caller may probe.
    pub probe_timeout: Duration,
    /// How long this instance may reuse the breaker state it read (0: read every call).
    pub state_ttl: Duration,
}

impl BreakerConfig {
    /// Defaults for `name`: 5 failures in 10 s open it for 5 s; a probe may take 10 s
    /// (three 2 s statements plus backoff fit).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            failure_threshold: 5,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(10),
            state_ttl: Duration::ZERO,
        }
    }

    /// The same settings, with the breaker state cached per instance for `ttl`.
    #[must_use]
    pub fn with_state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }
}

/// What this instance last read of a breaker: its `open_until` and when it read it.
#[derive(Debug, Clone, Copy)]
struct Observed {
    open_until: Option<u64>,
    read_at: u64,
}

thread_local! {
    /// Per instance (a component instance is one thread; a native test thread stands in
    /// for another instance): breaker name → what was last read.
    static OBSERVED: RefCell<HashMap<String, Observed>> = RefCell::new(HashMap::new());
}

/// Permission to call the database, returned by [`Breaker::check`]; hand it back to
/// [`Breaker::record`] with the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    kind: PermitKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PermitKind {
    Closed,
    Probe { key: String },
    KvFailed(KvError),
}

impl Permit {
    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        matches!(self.kind, PermitKind::Probe { .. })
    }

    /// The key-value failure that made the breaker let this call through unchecked.
    pub fn kv_error(&self) -> Option<&KvError> {
        match &self.kind {
            PermitKind::KvFailed(e) => Some(e),
            _ => None,
        }
    }
}

/// The breaker over a [`BreakerStore`]. Holds no state of its own: build one per
/// request if that is convenient.
#[derive(Debug, Clone)]
pub struct Breaker<K> {
    store: K,
    config: BreakerConfig,
}

impl<K: BreakerStore> Breaker<K> {
    /// A breaker keeping its state in `store`.
    pub fn new(store: K, config: BreakerConfig) -> Self {
        Self { store, config }
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.config.name)
    }

    fn open_until_key(&self) -> String {
        self.key("open_until")
    }

    fn failures_key(&self, window: u64) -> String {
        self.key(&format!("failures:{window}"))
    }

    fn window_of(&self, now: u64) -> u64 {
        now / millis(self.config.window).max(1)
    }

    /// What this instance read within `state_ttl` of `now`, if anything.
    fn cached(&self, now: u64) -> Option<Option<u64>> {
        let ttl = millis(self.config.state_ttl);
        if ttl == 0 {
            return None;
        }
        OBSERVED.with(|map| {
            map.borrow()
                .get(&self.config.name)
                .filter(|seen| now >= seen.read_at && now - seen.read_at < ttl)
                .map(|seen| seen.open_until)
        })
    }

    /// Remembers the state as of `now` (only when caching is on).
    fn remember(&self, open_until: Option<u64>, now: u64) {
        if self.config.state_ttl.is_zero() {
            return;
        }
        OBSERVED.with(|map| {
            map.borrow_mut().insert(
                self.config.name.clone(),
                Observed {
                    open_until,
                    read_at: now,
                },
            );
        });
    }

    /// May a call go to the database at `now` (Unix ms)? `Err(Unavailable)` when open
    /// or while another caller probes.
    pub async fn check(&self, now: u64) -> Result<Permit, StoreError> {
        let open_until = match self.cached(now) {
            Some(open_until) => open_until,
            None => match self.store.get(&self.open_until_key()).await {
                Ok(v) => {
                    let open_until = v.as_deref().and_then(parse_millis);
                    self.remember(open_until, now);
                    open_until
                }
                Err(e) => return Ok(kv_failed(e)),
            },
        };
        let Some(until) = open_until else {
            return Ok(Permit {
                kind: PermitKind::Closed,
            });
        };
        if now < until {
            return Err(StoreError::Unavailable {
                retry_after_secs: ceil_secs(until - now),
            });
        }
        let slot = (now - until) / millis(self.config.probe_timeout).max(1);
        let key = self.key(&format!("probe:{until}:{slot}"));
        match self
            .store
            .increment(&key, 1, self.config.probe_timeout)
            .await
        {
            Ok(1) => Ok(Permit {
                kind: PermitKind::Probe { key },
            }),
            Ok(_) => Err(StoreError::Unavailable {
                retry_after_secs: 1,
            }),
            Err(e) => Ok(kv_failed(e)),
        }
    }

    /// Records how the permitted call ended (`error` is `None` on success). Returns the
    /// key-value failure, if bookkeeping failed, for the caller to log.
    pub async fn record(
        &self,
        permit: Permit,
        error: Option<&StoreError>,
        now: u64,
    ) -> Result<(), KvError> {
        let failed = error.is_some_and(StoreError::counts_against_breaker);
        match permit.kind {
            PermitKind::Probe { key } => {
                let outcome = if failed {
                    self.open(now).await
                } else {
                    let closed = self.store.delete(&self.open_until_key()).await;
                    if closed.is_ok() {
                        self.remember(None, now);
                    }
                    closed
                };
                let cleanup = self.store.delete(&key).await;
                outcome.and(cleanup)
            }
            PermitKind::Closed | PermitKind::KvFailed(_) if failed => self.count_failure(now).await,
            PermitKind::Closed | PermitKind::KvFailed(_) => Ok(()),
        }
    }

    async fn count_failure(&self, now: u64) -> Result<(), KvError> {
        let window = self.window_of(now);
        let count = self
            .store
            .increment(
                &self.failures_key(window),
                1,
                failure_window_ttl(&self.config, now),
            )
            .await?;
        if count >= i64::from(self.config.failure_threshold) {
            self.open(now).await?;
        }
        Ok(())
    }

    async fn open(&self, now: u64) -> Result<(), KvError> {
        let until = now.saturating_add(millis(self.config.open_for));
        self.store
            .set(
                &self.open_until_key(),
                until.to_string().as_bytes(),
                open_state_ttl(&self.config),
            )
            .await?;
        self.remember(Some(until), now);
        // Start counting afresh once the breaker closes again.
        self.store
            .delete(&self.failures_key(self.window_of(now)))
            .await
    }
}

/// How long `open_until` is kept: the open period plus one probe slot. Past that, nobody
/// having probed, the key expires and the breaker is closed again (its reset window): the
/// next failures reopen it.
pub fn open_state_ttl(config: &BreakerConfig) -> Duration {
    config.open_for.saturating_add(config.probe_timeout)
}

/// How long the failure counter of the window containing `now` (Unix ms) is kept: until
/// that window ends (it is never read after).
pub fn failure_window_ttl(config: &BreakerConfig, now: u64) -> Duration {
    let window = millis(config.window).max(1);
    Duration::from_millis(window - now % window)
}

fn kv_failed(e: KvError) -> Permit {
    Permit {
        kind: PermitKind::KvFailed(e),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse_millis(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After` of 0 invites a stampede).
fn ceil_secs(ms: u64) -> u32 {
    u32::try_from(ms.div_ceil(1000).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::testing::FakeKv;

    const T0: u64 = 1_800_000_000_000;

    fn breaker(kv: &FakeKv) -> Breaker<&FakeKv> {
        Breaker::new(kv, BreakerConfig::new("breaker:db"))
    }

    fn lost() -> StoreError {
        StoreError::transient("Io(Io(Kind(UnexpectedEof)))")
    }

    /// One call through the breaker at `now` ending in `error`.
    fn call(
        b: &Breaker<&FakeKv>,
        now: u64,
        error: Option<StoreError>,
    ) -> Result<Permit, StoreError> {
        block_on(async {
            let permit = b.check(now).await?;
            b.record(permit.clone(), error.as_ref(), now).await.unwrap();
            Ok(permit)
        })
    }

    #[test]
    fn closed_success_costs_one_read_and_writes_nothing() {
        let kv = FakeKv::default();
        let b = breaker(&kv);
        let permit = call(&b, T0, None).unwrap();
        assert!(!permit.is_probe());
        assert_eq!(kv.ops(), vec!["get breaker:db:open_until"]);
    }

    #[test]
    fn threshold_failures_in_a_window_open_it() {
        let kv = FakeKv::default();
        let b = breaker(&kv);
        for i in 0..4 {
            call(&b, T0 + i * 100, Some(lost())).unwrap();
            assert!(
                block_on(b.check(T0 + i * 100 + 1)).is_ok(),
                "still closed after {}",
                i + 1
            );
        }
        call(&b, T0 + 500, Some(lost())).unwrap();
        let err = block_on(b.check(T0 + 600)).unwrap_err();
        assert_eq!(
            err,
            StoreError::Unavailable {
                retry_after_secs: 5
            }
        );
        // Retry-After counts down and never reaches 0 while open.
        let err = block_on(b.check(T0 + 500 + 4_999)).unwrap_err();
        assert_eq!(err.retry_after_secs(), Some(1));
    }

    #[test]
    fn failures_the_database_is_not_to_blame_for_do_not_count() {
        let kv = FakeKv::default();
        let b = breaker(&kv);
        for i in 0..10 {
            call(&b, T0 + i, Some(StoreError::Conflict { constraint: None })).unwrap();
            call(&b, T0 + i, Some(StoreError::other("syntax"))).unwrap();
        }
        assert!(block_on(b.check(T0 + 20)).is_ok());
        assert_eq!(kv.get_text("breaker:db:open_until"), None);
    }

    #[test]
    fn timeouts_count() {
        let kv = FakeKv::default();
        let b = breaker(&kv);
        for i in 0..5 {
            call(&b, T0 + i, Some(StoreError::timeout("1969"))).unwrap();
        }
        assert!(block_on(b.check(T0 + 10)).is_err());
    }

    #[test]
    fn failures_spread_over_windows_do_not_open_it_and_each_counter_expires_with_its_window() {
        let kv = FakeKv::default();
        let b = breaker(&kv);
        // 4 failures per 10 s window, for five windows; the store's clock follows.
        for w in 0..5 {
            for i in 0..4 {
                call(&b, T0 + w * 10_000 + i, Some(lost())).unwrap();
            }
            let key = format!("breaker:db:failures:{}", (T0 + w * 10_000) / 10_000);
            // T0 is a multiple of 10 s: the first failure came 0 ms into the window.
            assert_eq!(kv.ttl(&key), Some(Duration::from_secs(10)), "{key}");
            kv.advance(Duration::from_secs(10));
        }
        assert!(block_on(b.check(T0 + 50_000)).is_ok());
        assert_eq!(kv.keys(), Vec::<String>::new(), "every counter expired");
    }

    #[test]
    fn breaker_state_ttls_cover_the_open_period_and_one_probe_slot_and_windows_end_on_time() {
        let config = BreakerConfig::new("b");
        assert_eq!(open_state_ttl(&config), Duration::from_secs(15));
        assert_eq!(
            failure_window_ttl(&config, T0 + 2_500),
            Duration::from_millis(7_500)
        );
        assert_eq!(failure_window_ttl(&config, T0), Duration::from_secs(10));
        let kv = FakeKv::default();
        let b = opened(&kv);
        assert_eq!(
            kv.ttl("breaker:db:open_until"),
            Some(Duration::from_secs(15))
        );
        let probe = block_on(b.check(T0 + 4 + 5_000)).unwrap();
        assert!(probe.is_probe());
        let probe_key = format!("breaker:db:probe:{}:0", T0 + 4 + 5_000);
        assert_eq!(kv.ttl(&probe_key), Some(Duration::from_secs(10)));
        // Nobody records the probe and nobody calls: the state expires, the breaker is closed.
        kv.advance(Duration::from_secs(15));
        assert_eq!(kv.keys(), Vec::<String>::new());
        assert!(!block_on(b.check(T0 + 60_000)).unwrap().is_probe());
    }

    fn opened(kv: &FakeKv) -> Breaker<&FakeKv> {
        let b = breaker(kv);
        for i in 0..5 {
            call(&b, T0 + i, Some(lost())).unwrap();
        }
        b
    }

    #[test]
    fn open_fails_fast_without_touching_the_database() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        kv.clear_ops();
        assert!(matches!(
            block_on(b.check(T0 + 1_000)),
            Err(StoreError::Unavailable {
                retry_after_secs: 5
            })
        ));
        assert_eq!(kv.ops(), vec!["get breaker:db:open_until"]);
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        let after = T0 + 4 + 5_000;
        let probe = block_on(b.check(after)).unwrap();
        assert!(probe.is_probe());
        for i in 1..5 {
            assert_eq!(
                block_on(b.check(after + i)).unwrap_err(),
                StoreError::Unavailable {
                    retry_after_secs: 1
                }
            );
        }
        // The probe succeeds: closed for everyone, probe key cleaned up.
        block_on(b.record(probe, None, after + 10)).unwrap();
        assert!(!block_on(b.check(after + 11)).unwrap().is_probe());
        assert!(
            kv.keys().iter().all(|k| !k.contains(":probe:")),
            "{:?}",
            kv.keys()
        );
        // And counting starts afresh: one more failure does not re-open it.
        call(&b, after + 12, Some(lost())).unwrap();
        assert!(block_on(b.check(after + 13)).is_ok());
    }

    #[test]
    fn a_probe_answered_with_a_constraint_error_still_closes_it() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        let after = T0 + 6_000;
        let probe = block_on(b.check(after)).unwrap();
        block_on(b.record(
            probe,
            Some(&StoreError::Conflict { constraint: None }),
            after,
        ))
        .unwrap();
        assert!(block_on(b.check(after + 1)).is_ok());
    }

    #[test]
    fn a_failed_probe_reopens_it() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        let after = T0 + 6_000;
        let probe = block_on(b.check(after)).unwrap();
        block_on(b.record(probe, Some(&lost()), after + 100)).unwrap();
        assert_eq!(
            block_on(b.check(after + 200)).unwrap_err(),
            StoreError::Unavailable {
                retry_after_secs: 5
            }
        );
        // After the new open period, a new probe may go.
        assert!(block_on(b.check(after + 100 + 5_000)).unwrap().is_probe());
    }

    #[test]
    fn a_vanished_probe_is_replaced_after_the_probe_timeout() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        // Opened by the fifth failure at T0 + 4, for 5 s.
        let until = T0 + 4 + 5_000;
        let _lost_probe = block_on(b.check(until)).unwrap(); // never recorded
        assert!(block_on(b.check(until + 9_999)).is_err());
        assert!(block_on(b.check(until + 10_000)).unwrap().is_probe());
    }

    #[test]
    fn a_failing_key_value_store_lets_calls_through() {
        let kv = FakeKv::default();
        let b = opened(&kv);
        kv.set_failing(true);
        let permit = block_on(b.check(T0 + 1_000)).unwrap();
        assert!(permit.kv_error().is_some());
        assert!(block_on(b.record(permit, Some(&lost()), T0 + 1_000)).is_err());
        kv.set_failing(false);
        assert!(
            block_on(b.check(T0 + 1_000)).is_err(),
            "state survived the outage"
        );
    }

    #[test]
    fn garbage_in_the_store_reads_as_closed() {
        let kv = FakeKv::default();
        block_on(kv.set(
            "breaker:db:open_until",
            b"not a number",
            Duration::from_secs(1),
        ))
        .unwrap();
        assert!(block_on(breaker(&kv).check(T0)).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(0), 1);
        assert_eq!(ceil_secs(1_000), 1);
        assert_eq!(ceil_secs(1_001), 2);
    }

    fn cached_breaker(kv: &FakeKv) -> Breaker<&FakeKv> {
        Breaker::new(
            kv,
            BreakerConfig::new("breaker:cached").with_state_ttl(Duration::from_secs(1)),
        )
    }

    #[test]
    fn a_cached_closed_breaker_reads_the_store_once_per_ttl() {
        let kv = FakeKv::default();
        let b = cached_breaker(&kv);
        for offset in [0, 1, 500, 999] {
            assert!(call(&b, T0 + offset, None).is_ok());
        }
        assert_eq!(kv.ops().len(), 1, "{:?}", kv.ops());
        assert!(call(&b, T0 + 1000, None).is_ok());
        assert_eq!(kv.ops().len(), 2, "read again after the ttl");
    }

    #[test]
    fn this_instance_sees_its_own_opening_at_once_and_another_within_the_ttl() {
        let kv = FakeKv::default();
        let b = cached_breaker(&kv);
        assert!(call(&b, T0, None).is_ok());
        // Another instance opens the breaker: it writes the shared state, not ours.
        let until = T0 + 5_000;
        block_on(kv.set(
            "breaker:cached:open_until",
            until.to_string().as_bytes(),
            Duration::from_secs(5),
        ))
        .unwrap();
        // Here the closed state read at T0 is still fresh...
        assert!(call(&b, T0 + 900, None).is_ok());
        // ...and expires within the ttl: from then on this instance is short-circuited too.
        assert!(matches!(
            call(&b, T0 + 1000, None),
            Err(StoreError::Unavailable { .. })
        ));
    }

    #[test]
    fn failures_counted_here_open_the_breaker_here_without_waiting_for_the_ttl() {
        let kv = FakeKv::default();
        let b = cached_breaker(&kv);
        for i in 0..5 {
            let _ = call(&b, T0 + i, Some(lost()));
        }
        assert!(matches!(
            call(&b, T0 + 6, None),
            Err(StoreError::Unavailable { .. })
        ));
    }
}
