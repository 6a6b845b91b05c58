//! Money: a non-negative whole number of minor units in an ISO 4217 currency.
//!
//! Never floating point. `19.99 EUR` is `Money { amount_minor: 1999, currency: EUR }`;
//! `500 JPY` is `500` minor units, because the yen has no minor unit. Arithmetic is
//! checked: adding two currencies or overflowing `i64` is an error, never a wrong total.
//!
//! Currencies come from an allow-list ([`Currency::SUPPORTED`]) that carries each
//! currency's minor-unit exponent from ISO 4217. A well-formed code that is not on the
//! list (`XAU`, `ZZZ`) is refused with its own error, so clients can tell "malformed"
//! from "not sold in".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;
use crate::quantity::Quantity;

/// An ISO 4217 currency we trade in, with its minor-unit exponent.
///
/// In JSON, its code: `"EUR"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Why a string is not a supported [`Currency`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CurrencyError {
    /// Not three upper-case ASCII letters.
    #[error("currency must be three upper-case letters (ISO 4217)")]
    InvalidFormat,
    /// Well-formed, but not on the allow-list.
    #[error("currency is not supported")]
    Unsupported,
}

impl ValidationError for CurrencyError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidFormat => "invalid_format",
            Self::Unsupported => "unsupported_currency",
        }
    }
}

/// Shorthand for the allow-list below.
const fn cur(code: &'static str, exponent: u8) -> Currency {
    Currency { code, exponent }
}

impl Currency {
    /// Every currency we accept, sorted by code, with ISO 4217 minor-unit exponents
    /// (ISO 4217 table A.1). Adding one is a product decision: it must also be priced,
    /// displayed and settled.
    pub const SUPPORTED: &'static [Currency] = &[
        cur("AED", 2),
        cur("ARS", 2),
        cur("AUD", 2),
        cur("BGN", 2),
        cur("BHD", 3),
        cur("BRL", 2),
        cur("CAD", 2),
        cur("CHF", 2),
        cur("CLP", 0),
        cur("CNY", 2),
        cur("COP", 2),
        cur("CZK", 2),
        cur("DKK", 2),
        cur("EGP", 2),
        cur("EUR", 2),
        cur("GBP", 2),
        cur("HKD", 2),
        cur("HUF", 2),
        cur("IDR", 2),
        cur("ILS", 2),
        cur("INR", 2),
        cur("ISK", 0),
        cur("JOD", 3),
        cur("JPY", 0),
        cur("KES", 2),
        cur("KRW", 0),
        cur("KWD", 3),
        cur("MAD", 2),
        cur("MXN", 2),
        cur("MYR", 2),
        cur("NGN", 2),
        cur("NOK", 2),
        cur("NZD", 2),
        cur("OMR", 3),
        cur("PEN", 2),
        cur("PHP", 2),
        cur("PKR", 2),
        cur("PLN", 2),
        cur("QAR", 2),
        cur("RON", 2),
        cur("RSD", 2),
        cur("SAR", 2),
        cur("SEK", 2),
        cur("SGD", 2),
        cur("THB", 2),
        cur("TND", 3),
        cur("TRY", 2),
        cur("TWD", 2),
        cur("UAH", 2),
        cur("UGX", 0),
        cur("USD", 2),
        cur("VND", 0),
        cur("ZAR", 2),
    ];

    /// Parses an ISO 4217 alphabetic code exactly (upper case, no whitespace).
    pub fn parse(input: &str) -> Result<Self, CurrencyError> {
        if input.len() != 3 || !input.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CurrencyError::InvalidFormat);
        }
        Self::SUPPORTED
            .binary_search_by(|c| c.code.cmp(input))
            .ok()
            .and_then(|i| Self::SUPPORTED.get(i))
            .copied()
            .ok_or(CurrencyError::Unsupported)
    }

    /// The three-letter code.
    pub const fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point: 2 for EUR (cents), 0 for JPY, 3 for KWD.
    pub const fn exponent(self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for &'static str {
    fn from(currency: Currency) -> Self {
        currency.code
    }
}

// Written by hand: derived impls would make the `&'static str` field borrow from the
// input (`'de: 'static`).
impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// A non-negative amount of money in minor units of one currency.
///
/// In JSON: `{"amount_minor": 1999, "currency": "EUR"}` (unknown members refused).
/// `Display` writes `19.99 EUR`, which [`Money::parse`] reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyJson", into = "MoneyJson")]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

/// Why an amount is not [`Money`], or why arithmetic on it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// A negative amount.
    #[error("amount must not be negative")]
    Negative,
    /// The result does not fit in a signed 64-bit number of minor units.
    #[error("amount is too large")]
    Overflow,
    /// Adding amounts in two currencies.
    #[error("amounts in different currencies cannot be combined")]
    CurrencyMismatch,
    /// Text that is not `<digits>[.<exactly exponent digits>] <CODE>`.
    #[error(
        "amount must be written as digits with the currency's decimal places, then a space and the currency code"
    )]
    InvalidFormat,
    /// The currency is malformed or unsupported.
    #[error(transparent)]
    Currency(#[from] CurrencyError),
}

impl ValidationError for MoneyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Negative => "negative",
            Self::Overflow => "overflow",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::InvalidFormat => "invalid_format",
            Self::Currency(inner) => inner.code(),
        }
    }
}

impl Money {
    /// `amount_minor` minor units of `currency`; refuses negative amounts.
    pub const fn new(amount_minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount_minor < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Self {
                amount_minor,
                currency,
            })
        }
    }

    /// Nothing, in `currency`: the start of a sum.
    pub const fn zero(currency: Currency) -> Self {
        Self {
            amount_minor: 0,
            currency,
        }
    }

    /// The amount in minor units (cents for EUR), as stored in `*_minor` columns.
    pub const fn amount_minor(self) -> i64 {
        self.amount_minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// The price of `quantity` units at this unit price.
    pub fn checked_mul(self, quantity: Quantity) -> Result<Self, MoneyError> {
        self.amount_minor
            .checked_mul(i64::from(quantity.get()))
            .map(|amount_minor| Self {
                amount_minor,
                ..self
            })
            .ok_or(MoneyError::Overflow)
    }

    /// The sum of two amounts in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|amount_minor| Self {
                amount_minor,
                ..self
            })
            .ok_or(MoneyError::Overflow)
    }

    /// The total of `amounts`, all in `currency` (zero when there are none).
    pub fn checked_sum<I: IntoIterator<Item = Money>>(
        currency: Currency,
        amounts: I,
    ) -> Result<Self, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Self::zero(currency), Self::checked_add)
    }

    /// Parses the `Display` form: `19.99 EUR`, `500 JPY`, `1.250 KWD`. The number of
    /// decimals must equal the currency's exponent.
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        let (number, code) = input.split_once(' ').ok_or(MoneyError::InvalidFormat)?;
        let currency = Currency::parse(code)?;
        let exponent = usize::from(currency.exponent);
        let (major, minor) = match number.split_once('.') {
            Some((major, minor)) if exponent > 0 && minor.len() == exponent => (major, minor),
            None if exponent == 0 => (number, ""),
            _ => return Err(MoneyError::InvalidFormat),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || (exponent > 0 && !all_digits(minor)) {
            return Err(MoneyError::InvalidFormat);
        }
        // Both parts are digits only, so the only parse failure left is overflow.
        let major: i64 = major.parse().map_err(|_| MoneyError::Overflow)?;
        let minor: i64 = if minor.is_empty() {
            0
        } else {
            minor.parse().map_err(|_| MoneyError::Overflow)?
        };
        10_i64
            .checked_pow(u32::from(currency.exponent))
            .and_then(|scale| major.checked_mul(scale))
            .and_then(|scaled| scaled.checked_add(minor))
            .ok_or(MoneyError::Overflow)
            .and_then(|amount_minor| Self::new(amount_minor, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent);
        match 10_i64.checked_pow(exponent) {
            Some(scale) if exponent > 0 => write!(
                f,
                "{}.{:0width$} {}",
                self.amount_minor / scale,
                self.amount_minor % scale,
                self.currency.code,
                width = exponent as usize,
            ),
            _ => write!(f, "{} {}", self.amount_minor, self.currency.code),
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The JSON shape of [`Money`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyJson {
    amount_minor: i64,
    currency: Currency,
}

impl TryFrom<MoneyJson> for Money {
    type Error = MoneyError;

    fn try_from(json: MoneyJson) -> Result<Self, Self::Error> {
        Self::new(json.amount_minor, json.currency)
    }
}

impl From<Money> for MoneyJson {
    fn from(money: Money) -> Self {
        Self {
            amount_minor: money.amount_minor,
            currency: money.currency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Result<Currency, CurrencyError> {
        Currency::parse("EUR")
    }

    #[test]
    fn the_allow_list_is_sorted_unique_and_well_formed() {
        for pair in Currency::SUPPORTED.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }
        for currency in Currency::SUPPORTED {
            assert_eq!(Currency::parse(currency.code), Ok(*currency));
            assert!(currency.exponent <= 3, "{currency:?}");
        }
    }

    #[test]
    fn rejects_bad_currencies_naming_the_rule() {
        let cases: &[(&str, CurrencyError, &str)] = &[
            ("", CurrencyError::InvalidFormat, "empty"),
            ("eur", CurrencyError::InvalidFormat, "lower case"),
            ("EURO", CurrencyError::InvalidFormat, "four letters"),
            ("EU", CurrencyError::InvalidFormat, "two letters"),
            (" EUR", CurrencyError::InvalidFormat, "leading space"),
            ("978", CurrencyError::InvalidFormat, "numeric code"),
            ("ÉUR", CurrencyError::InvalidFormat, "non-ASCII"),
            (
                "XAU",
                CurrencyError::Unsupported,
                "gold is not a currency we sell in",
            ),
            ("ZZZ", CurrencyError::Unsupported, "not ISO 4217"),
            ("BTC", CurrencyError::Unsupported, "not ISO 4217"),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(
                Currency::parse(input),
                Err(*expected),
                "{reason}: {input:?}"
            );
        }
    }

    #[test]
    fn money_refuses_negative_amounts() -> Result<(), CurrencyError> {
        assert_eq!(Money::new(-1, eur()?), Err(MoneyError::Negative));
        assert_eq!(Money::new(0, eur()?), Ok(Money::zero(eur()?)));
        Ok(())
    }

    #[test]
    fn arithmetic_is_checked() -> Result<(), Box<dyn std::error::Error>> {
        let price = Money::new(1999, eur()?)?;
        assert_eq!(price.checked_mul(Quantity::new(3)?)?.amount_minor(), 5997);
        let huge = Money::new(i64::MAX / 2 + 1, eur()?)?;
        assert_eq!(
            huge.checked_mul(Quantity::new(2)?),
            Err(MoneyError::Overflow)
        );
        assert_eq!(huge.checked_add(huge), Err(MoneyError::Overflow));
        let yen = Money::new(500, Currency::parse("JPY")?)?;
        assert_eq!(price.checked_add(yen), Err(MoneyError::CurrencyMismatch));
        let total = Money::checked_sum(eur()?, [price, price, Money::zero(eur()?)])?;
        assert_eq!(total.amount_minor(), 3998);
        assert_eq!(
            Money::checked_sum(eur()?, [price, yen]),
            Err(MoneyError::CurrencyMismatch)
        );
        assert_eq!(Money::checked_sum(eur()?, []), Ok(Money::zero(eur()?)));
        Ok(())
    }

    #[test]
    fn display_uses_the_currency_exponent() -> Result<(), Box<dyn std::error::Error>> {
        let cases = [
            (1999, "EUR", "19.99 EUR"),
            (5, "EUR", "0.05 EUR"),
            (0, "USD", "0.00 USD"),
            (500, "JPY", "500 JPY"),
            (1250, "KWD", "1.250 KWD"),
            (i64::MAX, "EUR", "92233720368547758.07 EUR"),
        ];
        for (minor, code, expected) in cases {
            let money = Money::new(minor, Currency::parse(code)?)?;
            assert_eq!(money.to_string(), expected);
            assert_eq!(Money::parse(expected)?, money);
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_money_text_naming_the_rule() {
        let cases: &[(&str, MoneyError, &str)] = &[
            ("19.99", MoneyError::InvalidFormat, "no currency"),
            ("19.99EUR", MoneyError::InvalidFormat, "no space"),
            (
                "19.9 EUR",
                MoneyError::InvalidFormat,
                "one decimal for a two-decimal currency",
            ),
            (
                "19.999 EUR",
                MoneyError::InvalidFormat,
                "three decimals for EUR",
            ),
            ("19 EUR", MoneyError::InvalidFormat, "no decimals for EUR"),
            ("5.00 JPY", MoneyError::InvalidFormat, "decimals for JPY"),
            ("-1.00 EUR", MoneyError::InvalidFormat, "negative"),
            ("+1.00 EUR", MoneyError::InvalidFormat, "explicit plus"),
            (".99 EUR", MoneyError::InvalidFormat, "no whole part"),
            ("1,00 EUR", MoneyError::InvalidFormat, "decimal comma"),
            ("1.0a EUR", MoneyError::InvalidFormat, "letter in decimals"),
            (
                "1.00  EUR",
                MoneyError::Currency(CurrencyError::InvalidFormat),
                "two spaces",
            ),
            (
                "1.00 eur",
                MoneyError::Currency(CurrencyError::InvalidFormat),
                "lower-case code",
            ),
            (
                "1.00 XAU",
                MoneyError::Currency(CurrencyError::Unsupported),
                "unsupported",
            ),
            (
                "92233720368547758.08 EUR",
                MoneyError::Overflow,
                "i64::MAX + 1 minor units",
            ),
            (
                "99999999999999999999 JPY",
                MoneyError::Overflow,
                "beyond i64",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Money::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn json_is_strict() -> Result<(), Box<dyn std::error::Error>> {
        let money: Money = serde_json::from_str(r#"{"amount_minor":1999,"currency":"EUR"}"#)?;
        assert_eq!(money, Money::new(1999, eur()?)?);
        assert_eq!(
            serde_json::to_string(&money)?,
            r#"{"amount_minor":1999,"currency":"EUR"}"#
        );
        let refused = [
            r#"{"amount_minor":-1,"currency":"EUR"}"#,
            r#"{"amount_minor":19.99,"currency":"EUR"}"#,
            r#"{"amount_minor":"1999","currency":"EUR"}"#,
            r#"{"amount_minor":1999,"currency":"eur"}"#,
            r#"{"amount_minor":1999}"#,
            r#"{"amount_minor":1999,"currency":"EUR","fx":1}"#,
        ];
        for json in refused {
            assert!(serde_json::from_str::<Money>(json).is_err(), "{json}");
        }
        Ok(())
    }

    #[test]
    fn errors_carry_stable_codes() {
        assert_eq!(
            MoneyError::Currency(CurrencyError::Unsupported).code(),
            "unsupported_currency"
        );
        assert_eq!(MoneyError::CurrencyMismatch.code(), "currency_mismatch");
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Money::parse(&input);
            let _ = Currency::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_near_misses(input in "[-+0-9.,]{0,25} ?[A-Z]{0,4}") {
            let _ = Money::parse(&input);
        }

        #[test]
        fn display_round_trips(
            amount in 0..=i64::MAX,
            index in 0..Currency::SUPPORTED.len(),
        ) {
            let currency = Currency::SUPPORTED.get(index).copied();
            prop_assert!(currency.is_some());
            if let Some(currency) = currency {
                let money = Money::new(amount, currency);
                prop_assert!(money.is_ok());
                if let Ok(money) = money {
                    prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
                    prop_assert_eq!(Currency::parse(&currency.to_string()), Ok(currency));
                }
            }
        }

        #[test]
        fn multiplication_matches_wide_arithmetic(amount in 0..=i64::MAX, q in 1i64..=1000) {
            let money = Money::new(amount, Currency::SUPPORTED[0]);
            let quantity = Quantity::new(q);
            prop_assert!(money.is_ok() && quantity.is_ok());
            if let (Ok(money), Ok(quantity)) = (money, quantity) {
                let wide = i128::from(amount) * i128::from(q);
                match money.checked_mul(quantity) {
                    Ok(product) => prop_assert_eq!(i128::from(product.amount_minor()), wide),
                    Err(err) => {
                        prop_assert_eq!(err, MoneyError::Overflow);
                        prop_assert!(wide > i128::from(i64::MAX));
                    }
                }
            }
        }
    }
}
