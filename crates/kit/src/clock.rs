//! The clock, read once per request.
//!
//! Components never call `SystemTime::now()` themselves: the kit reads the
//! [`store::Clock`] (the wall clock in Spin, a fixed one in tests) once when a request
//! arrives and hands the handler a [`Now`], so a request sees one instant throughout and
//! tests control time.

use store::Clock;

/// One instant, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    millis: u64,
}

impl Now {
    /// The instant `clock` reads now.
    pub fn from_clock<C: Clock + ?Sized>(clock: &C) -> Self {
        Self {
            millis: clock.now_millis(),
        }
    }

    /// A fixed instant (tests, tools).
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// A fixed instant in whole seconds (tests, tools).
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            millis: secs.saturating_mul(1000),
        }
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> u64 {
        self.millis
    }

    /// Whole seconds since the epoch (token `iat`/`exp`, rate-limit windows).
    pub const fn secs(self) -> u64 {
        self.millis / 1000
    }

    /// Microseconds since the epoch as MariaDB's `BIGINT` timestamps store them.
    pub fn micros(self) -> i64 {
        i64::try_from(self.millis.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64);
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn one_reading_in_every_unit() {
        let now = Now::from_clock(&Fixed(1_764_072_000_123));
        assert_eq!(now.millis(), 1_764_072_000_123);
        assert_eq!(now.secs(), 1_764_072_000);
        assert_eq!(now.micros(), 1_764_072_000_123_000);
        assert_eq!(Now::from_secs(2).millis(), 2000);
        assert_eq!(Now::from_millis(u64::MAX).micros(), i64::MAX);
    }
}
