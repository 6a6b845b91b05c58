//! Simple two-state statuses of products and accounts, named as in the schema
//! (`products.status`, `users.status`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// Why a string is not one of a status type's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("status must be one of: {}", .allowed.join(", "))]
pub struct StatusError {
    /// The accepted names.
    pub allowed: &'static [&'static str],
}

impl ValidationError for StatusError {
    fn code(&self) -> &'static str {
        "unknown_status"
    }
}

/// Stamps out a closed set of lower-case names.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Parses an exact, lower-case name.
            pub fn parse(input: &str) -> Result<Self, StatusError> {
                match input {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(StatusError { allowed: &[$($text),+] }),
                }
            }

            /// The name on the wire and in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = StatusError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = StatusError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Whether a product is on sale.
    ProductStatus {
        /// Listed and orderable.
        Active => "active",
        /// Kept for past orders; not listed, not orderable.
        Archived => "archived",
    }
);

status_enum!(
    /// Whether an account may sign in.
    AccountStatus {
        /// May sign in and hold tokens.
        Active => "active",
        /// Refused at sign-in; existing tokens stop at the next check.
        Disabled => "disabled",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_schema_names_only() {
        assert_eq!(
            ProductStatus::parse("archived"),
            Ok(ProductStatus::Archived)
        );
        assert_eq!(
            AccountStatus::parse("disabled"),
            Ok(AccountStatus::Disabled)
        );
        let cases = [
            ("Active", "upper case"),
            ("deleted", "not a status"),
            ("", "empty"),
        ];
        for (input, reason) in cases {
            assert!(ProductStatus::parse(input).is_err(), "{reason}");
        }
        let message = ProductStatus::parse("x").err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("status must be one of: active, archived")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(input in any::<String>()) {
            if let Ok(status) = ProductStatus::parse(&input) {
                prop_assert_eq!(ProductStatus::parse(&status.to_string()), Ok(status));
            }
            if let Ok(status) = AccountStatus::parse(&input) {
                prop_assert_eq!(AccountStatus::parse(&status.to_string()), Ok(status));
            }
        }

        #[test]
        fn every_value_round_trips(index in 0usize..2) {
            let product = ProductStatus::ALL[index];
            prop_assert_eq!(ProductStatus::parse(product.as_str()), Ok(product));
            let account = AccountStatus::ALL[index];
            prop_assert_eq!(AccountStatus::parse(&account.to_string()), Ok(account));
        }
    }
}
