//! Stock-keeping units: the business key of a product.
//!
//! `^[A-Z0-9][A-Z0-9-]{2,31}$`: 3 to 32 characters of upper-case ASCII letters, digits
//! and hyphens, not starting with a hyphen. Nothing is trimmed or upper-cased: a SKU
//! is an identifier, and one identifier has one spelling (`products.sku` is compared
//! byte for byte, `ascii_bin`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// Shortest SKU, in characters.
pub const MIN_SKU_LEN: usize = 3;
/// Longest SKU, in characters.
pub const MAX_SKU_LEN: usize = 32;

/// A SKU matching `^[A-Z0-9][A-Z0-9-]{2,31}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

/// Why a string is not a [`Sku`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SkuError {
    /// Shorter than [`MIN_SKU_LEN`] or longer than [`MAX_SKU_LEN`].
    #[error("SKU must be {MIN_SKU_LEN} to {MAX_SKU_LEN} characters")]
    Length,
    /// A character other than `A-Z`, `0-9` and `-`, or a leading hyphen.
    #[error(
        "SKU may contain only upper-case letters A-Z, digits and hyphens, and must not start with a hyphen"
    )]
    InvalidCharacter,
}

impl ValidationError for SkuError {
    fn code(&self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::InvalidCharacter => "invalid_character",
        }
    }
}

impl Sku {
    /// Parses a SKU exactly as given.
    pub fn parse(input: &str) -> Result<Self, SkuError> {
        // Characters before length: a 3-byte "é-" is a bad character, not a bad length.
        let first_ok = input
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let rest_ok = input
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !first_ok || !rest_ok {
            return Err(SkuError::InvalidCharacter);
        }
        if !(MIN_SKU_LEN..=MAX_SKU_LEN).contains(&input.len()) {
            return Err(SkuError::Length);
        }
        Ok(Self(input.to_owned()))
    }

    /// The SKU as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sku {
    type Err = SkuError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Sku {
    type Error = SkuError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> Self {
        sku.0
    }
}

impl AsRef<str> for Sku {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_skus_at_both_length_limits() {
        for input in [
            "ABC",
            "TEA-001",
            "9-9",
            "A1B2-C3D4-E5F6-G7H8-I9J0-K1L2-M3",
            "A--",
        ] {
            assert_eq!(
                Sku::parse(input).map(String::from).as_deref(),
                Ok(input),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_skus_naming_the_rule() {
        let cases: &[(&str, SkuError, &str)] = &[
            ("", SkuError::Length, "empty"),
            ("AB", SkuError::Length, "2 characters"),
            (
                "A1B2-C3D4-E5F6-G7H8-I9J0-K1L2-M3N",
                SkuError::Length,
                "33 characters",
            ),
            ("-ABC", SkuError::InvalidCharacter, "leading hyphen"),
            ("tea-001", SkuError::InvalidCharacter, "lower case"),
            (" TEA-001", SkuError::InvalidCharacter, "leading space"),
            ("TEA-001 ", SkuError::InvalidCharacter, "trailing space"),
            ("TEA_001", SkuError::InvalidCharacter, "underscore"),
            ("TEA 001", SkuError::InvalidCharacter, "space"),
            ("TÉA-001", SkuError::InvalidCharacter, "non-ASCII letter"),
            ("ＴＥＡ", SkuError::InvalidCharacter, "full-width letters"),
            (
                "A'; DROP TABLE products;--",
                SkuError::InvalidCharacter,
                "SQL injection",
            ),
            ("TEA%00", SkuError::InvalidCharacter, "percent-encoding"),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Sku::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn serde_goes_through_the_parser() -> Result<(), serde_json::Error> {
        let sku: Sku = serde_json::from_str(r#""TEA-001""#)?;
        assert_eq!(serde_json::to_string(&sku)?, r#""TEA-001""#);
        assert!(serde_json::from_str::<Sku>(r#""tea-001""#).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Sku::parse(&input);
        }

        #[test]
        fn display_round_trips(input in "[A-Z0-9][A-Z0-9-]{2,31}") {
            let sku = Sku::parse(&input);
            prop_assert_eq!(sku.as_ref().map(Sku::as_str), Ok(input.as_str()));
            if let Ok(sku) = sku {
                let shown = sku.to_string();
                prop_assert_eq!(Sku::parse(&shown), Ok(sku));
            }
        }

        #[test]
        fn matches_the_documented_pattern(input in "[A-Za-z0-9 _-]{0,40}") {
            let bytes = input.as_bytes();
            let matches = (3..=32).contains(&bytes.len())
                && (bytes[0].is_ascii_uppercase() || bytes[0].is_ascii_digit())
                && bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'-');
            prop_assert_eq!(Sku::parse(&input).is_ok(), matches);
        }
    }
}
