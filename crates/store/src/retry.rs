//! Retries of transient failures: at most [`RetryPolicy::max_attempts`] attempts,
//! exponential backoff with full jitter, and only for work the caller declares
//! [`Idempotency::Safe`].
//!
//! Full jitter (as in "Exponential Backoff and Jitter", AWS Architecture Blog, 2015): the
//! wait before retry *n* (0-based) is uniform in `[0, min(cap, base · 2ⁿ)]`. With the
//! defaults (base 20 ms, cap 200 ms, 3 attempts) a request spends at most 20 + 40 ms
//! waiting, and concurrent callers do not retry in lock step.

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;

/// Whether running the work twice is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads; writes that are idempotent by construction (`UPDATE … SET x = ?`, deletes by
    /// key); and non-idempotent writes protected by an idempotency key (the key's row
    /// makes the second run a no-op). May be retried.
    Safe,
    /// Everything else: a retry might apply the work twice. Never retried; a transient
    /// failure goes back to the client (503), whose retry carries an idempotency key.
    Unsafe,
}

/// How many attempts and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base: Duration,
    cap: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, base 20 ms, cap 200 ms.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// Largest number of attempts any policy may make.
    pub const MAX_ATTEMPTS: u32 = 3;

    /// A policy of `max_attempts` (clamped to 1..=[`Self::MAX_ATTEMPTS`]) with the given
    /// base and cap (the cap is raised to the base if lower).
    pub fn new(max_attempts: u32, base: Duration, cap: Duration) -> Self {
        Self {
            max_attempts: max_attempts.clamp(1, Self::MAX_ATTEMPTS),
            base,
            cap: cap.max(base),
        }
    }

    /// A policy that never retries.
    pub fn no_retry() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The upper bound of the wait before retry `retry` (0-based): `min(cap, base · 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1_u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `retry`: uniform in `[0, ceiling(retry)]` at microsecond
    /// resolution, drawn from `random`.
    pub fn backoff(&self, retry: u32, random: &impl Random) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_micros()).unwrap_or(u64::MAX);
        let micros = random.next_u64() % ceiling.saturating_add(1);
        Duration::from_micros(micros)
    }
}

/// Waits. In a component: `spin_sdk::time::sleep` (wasi:clocks `monotonic-clock.wait-for`).
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Sleeper {
    /// Resolves after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// Randomness for jitter (not for secrets).
pub trait Random {
    /// A uniformly distributed `u64`.
    fn next_u64(&self) -> u64;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }
}

impl<R: Random + ?Sized> Random for &R {
    fn next_u64(&self) -> u64 {
        (**self).next_u64()
    }
}

/// Runs `op` (given the 1-based attempt number) until it succeeds, fails with a
/// non-transient error, is [`Idempotency::Unsafe`], or has used `policy`'s attempts.
/// Returns the last result.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    sleeper: &impl Sleeper,
    random: &impl Random,
    mut op: F,
) -> Result<T, StoreError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        let result = op(attempt).await;
        match &result {
            Err(e)
                if e.is_transient()
                    && idempotency == Idempotency::Safe
                    && attempt < policy.max_attempts =>
            {
                sleeper.sleep(policy.backoff(attempt - 1, random)).await;
                attempt += 1;
            }
            _ => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use futures::executor::block_on;

    use super::*;
    use crate::testing::{FakeRandom, FakeSleeper};

    fn run_with(
        idempotency: Idempotency,
        outcomes: Vec<Result<u32, StoreError>>,
        random: &FakeRandom,
    ) -> (Result<u32, StoreError>, u32, Vec<Duration>) {
        let sleeper = FakeSleeper::default();
        let calls = Cell::new(0);
        let result = block_on(retry(
            &RetryPolicy::default(),
            idempotency,
            &sleeper,
            random,
            |attempt| {
                calls.set(calls.get() + 1);
                assert_eq!(attempt, calls.get());
                let outcome = outcomes.get(attempt as usize - 1).cloned().unwrap_or(Ok(0));
                async move { outcome }
            },
        ));
        (result, calls.get(), sleeper.slept())
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let random = FakeRandom::always(u64::MAX);
        let (result, calls, slept) = run_with(
            Idempotency::Safe,
            vec![Err(StoreError::transient("deadlock")), Ok(7)],
            &random,
        );
        assert_eq!(result, Ok(7));
        assert_eq!(calls, 2);
        assert_eq!(slept.len(), 1);
    }

    #[test]
    fn at_most_three_attempts_then_the_last_error() {
        let random = FakeRandom::always(0);
        let (result, calls, slept) = run_with(
            Idempotency::Safe,
            vec![
                Err(StoreError::transient("1")),
                Err(StoreError::transient("2")),
                Err(StoreError::transient("3")),
                Ok(1),
            ],
            &random,
        );
        assert_eq!(result, Err(StoreError::transient("3")));
        assert_eq!(calls, 3);
        assert_eq!(slept, vec![Duration::ZERO, Duration::ZERO]);
    }

    #[test]
    fn unsafe_work_is_never_retried() {
        let random = FakeRandom::always(0);
        let (result, calls, slept) = run_with(
            Idempotency::Unsafe,
            vec![Err(StoreError::transient("lost connection")), Ok(1)],
            &random,
        );
        assert!(result.unwrap_err().is_transient());
        assert_eq!(calls, 1);
        assert!(slept.is_empty());
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let random = FakeRandom::always(0);
        for err in [
            StoreError::timeout("1969"),
            StoreError::Conflict { constraint: None },
            StoreError::other("syntax"),
            StoreError::Unavailable {
                retry_after_secs: 1,
            },
        ] {
            let (result, calls, _) = run_with(Idempotency::Safe, vec![Err(err.clone())], &random);
            assert_eq!(result, Err(err));
            assert_eq!(calls, 1);
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let p = RetryPolicy::default();
        let ms = |r| p.ceiling(r).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(40)],
            [20, 40, 80, 160, 200, 200]
        );
    }

    #[test]
    fn jitter_is_full_and_deterministic_under_a_fake() {
        let p = RetryPolicy::default();
        // The largest draw reaches the ceiling exactly, zero waits not at all.
        assert_eq!(
            p.backoff(0, &FakeRandom::always(20_000)),
            Duration::from_millis(20)
        );
        assert_eq!(
            p.backoff(1, &FakeRandom::always(40_000)),
            Duration::from_millis(40)
        );
        assert_eq!(p.backoff(1, &FakeRandom::always(40_001)), Duration::ZERO);
        assert_eq!(
            p.backoff(3, &FakeRandom::always(12_345)),
            Duration::from_micros(12_345)
        );
        // Two retries' waits in a run, from a scripted sequence.
        let random = FakeRandom::sequence(vec![15_000, 30_000]);
        let (_, _, slept) = run_with(
            Idempotency::Safe,
            vec![
                Err(StoreError::transient("a")),
                Err(StoreError::transient("b")),
                Ok(1),
            ],
            &random,
        );
        assert_eq!(
            slept,
            vec![Duration::from_millis(15), Duration::from_millis(30)]
        );
    }

    #[test]
    fn policies_are_clamped() {
        assert_eq!(
            RetryPolicy::new(10, Duration::ZERO, Duration::ZERO).max_attempts(),
            3
        );
        assert_eq!(
            RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).max_attempts(),
            1
        );
        let p = RetryPolicy::new(3, Duration::from_millis(50), Duration::from_millis(10));
        assert_eq!(p.ceiling(0), Duration::from_millis(50));
        assert_eq!(RetryPolicy::no_retry().max_attempts(), 1);
    }
}
