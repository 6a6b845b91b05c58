//! How many of a product: in an order line ([`Quantity`]) and on the shelf ([`Stock`]).
//!
//! Both read JSON integers through a signed type, so `-1` is refused by our rule with
//! our message rather than by serde's "expected u32". Fractions, strings and numbers
//! beyond `i64` are refused by serde before the rule is reached.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// Smallest quantity in an order line.
pub const MIN_QUANTITY: u32 = 1;
/// Largest quantity in an order line: bounds a single order's effect on stock and
/// keeps `price × quantity` far from overflow.
pub const MAX_QUANTITY: u32 = 1_000;
/// Largest stock level: `products.stock` is a signed 32-bit `INT`.
pub const MAX_STOCK: u32 = i32::MAX as u32;

/// Parses an optionally negative run of ASCII decimal digits; no `+`, no whitespace.
///
/// `None` for anything else, including values outside `i64`.
pub(crate) fn parse_decimal(input: &str) -> Option<i64> {
    let digits = input.strip_prefix('-').unwrap_or(input);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    input.parse().ok()
}

/// The number of units in one order line: [`MIN_QUANTITY`]`..=`[`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

/// Why a value is not a [`Quantity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QuantityError {
    /// Not a whole number written in decimal digits.
    #[error("quantity must be a whole number")]
    NotANumber,
    /// Below [`MIN_QUANTITY`] (zero or negative).
    #[error("quantity must be at least {MIN_QUANTITY}")]
    TooSmall,
    /// Above [`MAX_QUANTITY`].
    #[error("quantity must be at most {MAX_QUANTITY}")]
    TooLarge,
}

impl ValidationError for QuantityError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotANumber => "not_a_number",
            Self::TooSmall => "too_small",
            Self::TooLarge => "too_large",
        }
    }
}

impl Quantity {
    /// Checks the range.
    pub fn new(value: i64) -> Result<Self, QuantityError> {
        if value < i64::from(MIN_QUANTITY) {
            Err(QuantityError::TooSmall)
        } else if value > i64::from(MAX_QUANTITY) {
            Err(QuantityError::TooLarge)
        } else {
            u32::try_from(value)
                .map(Self)
                .map_err(|_| QuantityError::TooLarge)
        }
    }

    /// Parses decimal digits (an optional leading `-` is read so it can be refused
    /// as too small rather than as not a number).
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        parse_decimal(input)
            .ok_or(QuantityError::NotANumber)
            .and_then(Self::new)
    }

    /// The quantity.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Units of a product on hand: `0..=`[`MAX_STOCK`]. Arithmetic is checked: stock
/// never goes negative and never overflows its column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "u32")]
pub struct Stock(u32);

/// Why a value is not a [`Stock`], or why a stock change cannot happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StockError {
    /// Not a whole number written in decimal digits.
    #[error("stock must be a whole number")]
    NotANumber,
    /// Below zero.
    #[error("stock must not be negative")]
    Negative,
    /// Above [`MAX_STOCK`].
    #[error("stock must be at most {MAX_STOCK}")]
    TooLarge,
    /// Taking more units than are on hand.
    #[error("only {available} in stock")]
    Insufficient {
        /// Units on hand when the request was refused.
        available: u32,
    },
}

impl ValidationError for StockError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotANumber => "not_a_number",
            Self::Negative => "negative",
            Self::TooLarge => "too_large",
            Self::Insufficient { .. } => "insufficient_stock",
        }
    }
}

impl Stock {
    /// No units on hand.
    pub const ZERO: Stock = Stock(0);

    /// Checks the range.
    pub fn new(value: i64) -> Result<Self, StockError> {
        if value < 0 {
            Err(StockError::Negative)
        } else {
            u32::try_from(value)
                .ok()
                .filter(|v| *v <= MAX_STOCK)
                .map(Self)
                .ok_or(StockError::TooLarge)
        }
    }

    /// Parses decimal digits (see [`Quantity::parse`]).
    pub fn parse(input: &str) -> Result<Self, StockError> {
        parse_decimal(input)
            .ok_or(StockError::NotANumber)
            .and_then(Self::new)
    }

    /// The stock level.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether `quantity` units can be taken.
    pub const fn covers(self, quantity: Quantity) -> bool {
        self.0 >= quantity.0
    }

    /// Stock after taking `quantity` units, or [`StockError::Insufficient`].
    pub fn checked_take(self, quantity: Quantity) -> Result<Self, StockError> {
        self.0
            .checked_sub(quantity.0)
            .map(Self)
            .ok_or(StockError::Insufficient { available: self.0 })
    }

    /// Stock after putting `quantity` units back (a cancelled order), or
    /// [`StockError::TooLarge`].
    pub fn checked_restock(self, quantity: Quantity) -> Result<Self, StockError> {
        self.0
            .checked_add(quantity.0)
            .filter(|v| *v <= MAX_STOCK)
            .map(Self)
            .ok_or(StockError::TooLarge)
    }
}

impl FromStr for Stock {
    type Err = StockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<i64> for Stock {
    type Error = StockError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Stock> for u32 {
    fn from(stock: Stock) -> Self {
        stock.0
    }
}

impl From<Stock> for i64 {
    fn from(stock: Stock) -> Self {
        i64::from(stock.0)
    }
}

impl fmt::Display for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_quantities_naming_the_rule() {
        let cases: &[(&str, QuantityError, &str)] = &[
            ("0", QuantityError::TooSmall, "zero"),
            ("-1", QuantityError::TooSmall, "negative"),
            ("-9223372036854775808", QuantityError::TooSmall, "i64::MIN"),
            ("1001", QuantityError::TooLarge, "above the cap"),
            ("9223372036854775807", QuantityError::TooLarge, "i64::MAX"),
            (
                "99999999999999999999",
                QuantityError::NotANumber,
                "beyond i64",
            ),
            ("", QuantityError::NotANumber, "empty"),
            ("-", QuantityError::NotANumber, "a lone minus"),
            ("+1", QuantityError::NotANumber, "explicit plus"),
            (" 1", QuantityError::NotANumber, "leading space"),
            ("1.0", QuantityError::NotANumber, "a fraction"),
            ("1e3", QuantityError::NotANumber, "exponent"),
            ("0x10", QuantityError::NotANumber, "hex"),
            ("١", QuantityError::NotANumber, "Arabic-Indic digit"),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(
                Quantity::parse(input),
                Err(*expected),
                "{reason}: {input:?}"
            );
        }
    }

    #[test]
    fn quantity_limits_are_inclusive() {
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::new(1000).map(Quantity::get), Ok(1000));
    }

    #[test]
    fn quantity_json_reads_integers_only() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::from_str::<Quantity>("3")?.get(), 3);
        assert_eq!(
            serde_json::to_string(&Quantity::new(3).map_err(serde::de::Error::custom)?)?,
            "3"
        );
        let negative = serde_json::from_str::<Quantity>("-2")
            .err()
            .map(|e| e.to_string());
        assert_eq!(negative.as_deref(), Some("quantity must be at least 1"));
        for not_integer in ["1.5", "\"3\"", "null", "true", "1e400"] {
            assert!(
                serde_json::from_str::<Quantity>(not_integer).is_err(),
                "{not_integer}"
            );
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_stock_naming_the_rule() {
        let cases: &[(&str, StockError, &str)] = &[
            ("-1", StockError::Negative, "negative"),
            ("2147483648", StockError::TooLarge, "beyond INT"),
            ("4294967296", StockError::TooLarge, "beyond u32"),
            ("ten", StockError::NotANumber, "words"),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Stock::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn stock_arithmetic_never_goes_negative_or_overflows() -> Result<(), Box<dyn std::error::Error>>
    {
        let five = Stock::new(5)?;
        assert_eq!(five.checked_take(Quantity::new(5)?)?, Stock::ZERO);
        assert_eq!(
            five.checked_take(Quantity::new(6)?),
            Err(StockError::Insufficient { available: 5 })
        );
        assert!(five.covers(Quantity::new(5)?) && !five.covers(Quantity::new(6)?));
        assert_eq!(five.checked_restock(Quantity::new(2)?)?.get(), 7);
        let full = Stock::new(i64::from(MAX_STOCK))?;
        assert_eq!(
            full.checked_restock(Quantity::new(1)?),
            Err(StockError::TooLarge)
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in any::<String>()) {
            let _ = Quantity::parse(&input);
            let _ = Stock::parse(&input);
        }

        #[test]
        fn display_round_trips(q in 1i64..=1000, s in 0i64..=i64::from(MAX_STOCK)) {
            let quantity = Quantity::new(q);
            prop_assert!(quantity.is_ok());
            if let Ok(quantity) = quantity {
                prop_assert_eq!(Quantity::parse(&quantity.to_string()), Ok(quantity));
            }
            let stock = Stock::new(s);
            prop_assert!(stock.is_ok());
            if let Ok(stock) = stock {
                prop_assert_eq!(Stock::parse(&stock.to_string()), Ok(stock));
            }
        }

        #[test]
        fn new_accepts_exactly_the_range(value in any::<i64>()) {
            prop_assert_eq!(Quantity::new(value).is_ok(), (1..=1000).contains(&value));
            prop_assert_eq!(Stock::new(value).is_ok(), (0..=i64::from(MAX_STOCK)).contains(&value));
        }
    }
}
