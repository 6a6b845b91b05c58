//! Page size for list endpoints (docs/standards.md §13: lists are always bounded).
//!
//! `limit` is 1 to [`Limit::MAX`]; a missing one is [`Limit::DEFAULT`]. A larger one is
//! refused with a 400 rather than quietly cut down, so a client that asks for 10,000
//! rows learns that it will not get them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::ValidationError;
use crate::quantity::parse_decimal;

/// How many items one page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "u32")]
pub struct Limit(u32);

/// Why a value is not a [`Limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LimitError {
    /// Not a whole number written in decimal digits.
    #[error("limit must be a whole number")]
    NotANumber,
    /// Zero or negative.
    #[error("limit must be at least 1")]
    TooSmall,
    /// Above [`Limit::MAX`].
    #[error("limit must be at most {}", Limit::MAX)]
    TooLarge,
}

impl ValidationError for LimitError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotANumber => "not_a_number",
            Self::TooSmall => "too_small",
            Self::TooLarge => "too_large",
        }
    }
}

impl Limit {
    /// The page size when the client names none.
    pub const DEFAULT: Limit = Limit(20);
    /// The largest page a client may ask for.
    pub const MAX: u32 = 100;

    /// Checks the range.
    pub fn new(value: i64) -> Result<Self, LimitError> {
        if value < 1 {
            Err(LimitError::TooSmall)
        } else if value > i64::from(Self::MAX) {
            Err(LimitError::TooLarge)
        } else {
            u32::try_from(value)
                .map(Self)
                .map_err(|_| LimitError::TooLarge)
        }
    }

    /// Parses a query-string value: decimal digits only (no `+`, spaces or exponent).
    pub fn parse(input: &str) -> Result<Self, LimitError> {
        parse_decimal(input)
            .ok_or_else(|| {
                // A long run of digits is a too-large number, not a malformed one.
                if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) {
                    LimitError::TooLarge
                } else {
                    LimitError::NotANumber
                }
            })
            .and_then(Self::new)
    }

    /// The `limit` query parameter: [`Limit::DEFAULT`] when absent.
    pub fn from_query(value: Option<&str>) -> Result<Self, LimitError> {
        value.map_or(Ok(Self::DEFAULT), Self::parse)
    }

    /// The page size.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl FromStr for Limit {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<i64> for Limit {
    type Error = LimitError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Limit> for u32 {
    fn from(limit: Limit) -> Self {
        limit.0
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Reads a JSON integer or a query-string value (`serde_urlencoded` hands over text).
impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;

        impl Visitor<'_> for LimitVisitor {
            type Value = Limit;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a whole number from 1 to {}", Limit::MAX)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                Limit::new(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                Limit::new(i64::try_from(v).unwrap_or(i64::MAX)).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limit, E> {
                Limit::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(LimitVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn absent_means_the_default() {
        assert_eq!(Limit::from_query(None), Ok(Limit::DEFAULT));
        assert_eq!(Limit::default().get(), 20);
        assert_eq!(Limit::from_query(Some("100")).map(Limit::get), Ok(100));
        assert_eq!(Limit::from_query(Some("1")).map(Limit::get), Ok(1));
    }

    #[test]
    fn rejects_bad_limits_naming_the_rule() {
        let cases: &[(&str, LimitError, &str)] = &[
            ("0", LimitError::TooSmall, "zero"),
            ("-5", LimitError::TooSmall, "negative"),
            ("101", LimitError::TooLarge, "one past the cap"),
            ("1000000", LimitError::TooLarge, "huge"),
            (
                "99999999999999999999999",
                LimitError::TooLarge,
                "beyond i64",
            ),
            ("", LimitError::NotANumber, "empty (`?limit=`)"),
            ("ten", LimitError::NotANumber, "words"),
            ("10 ", LimitError::NotANumber, "trailing space"),
            ("+10", LimitError::NotANumber, "explicit plus"),
            ("1e2", LimitError::NotANumber, "exponent"),
            ("10.0", LimitError::NotANumber, "fraction"),
            (
                "10;DROP TABLE orders",
                LimitError::NotANumber,
                "SQL injection",
            ),
            (
                "--99999999999999999999",
                LimitError::NotANumber,
                "double minus",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Limit::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn deserialises_from_json_numbers_and_query_text() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::from_str::<Limit>("50")?.get(), 50);
        assert_eq!(serde_json::from_str::<Limit>(r#""50""#)?.get(), 50);
        assert_eq!(serde_json::to_string(&Limit::DEFAULT)?, "20");
        for refused in [
            "0",
            "101",
            "-1",
            "18446744073709551615",
            "1.5",
            r#""abc""#,
            "null",
        ] {
            assert!(serde_json::from_str::<Limit>(refused).is_err(), "{refused}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Limit::parse(&input);
        }

        #[test]
        fn display_round_trips(value in 1i64..=100) {
            let limit = Limit::new(value);
            prop_assert!(limit.is_ok());
            if let Ok(limit) = limit {
                prop_assert_eq!(Limit::parse(&limit.to_string()), Ok(limit));
            }
        }

        #[test]
        fn accepts_exactly_one_to_max(value in any::<i64>()) {
            prop_assert_eq!(Limit::new(value).is_ok(), (1..=100).contains(&value));
        }
    }
}
