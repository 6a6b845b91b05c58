//! Public ids of users, products and orders.
//!
//! Every id on the wire is a UUIDv7 (RFC 9562 §5.7) in its canonical text form:
//! 36 characters, lower-case hex, hyphens at 8-4-4-4-12. Random ids say nothing about
//! how many rows exist and cannot be enumerated (OWASP API1); version 7 puts the time
//! first, so primary-key inserts stay append-mostly (`BINARY(16)` columns, see
//! `migrations/0001_initial_schema.sql`).
//!
//! Parsing accepts exactly one spelling per id. Upper case, braces, `urn:uuid:`, the
//! 32-digit simple form and every other version are refused, so an id that parses is
//! the same string in a URL, an ETag, a cache key and a log line.
//!
//! Each kind of id is its own type: a [`UserId`] cannot be passed where an
//! [`OrderId`] is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::ValidationError;

/// Length of the canonical hyphenated form.
const CANONICAL_LEN: usize = 36;

/// Why a string or byte array is not a public id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not 36 characters of lower-case hex with hyphens at 8-4-4-4-12.
    #[error("id must be a UUID in lower-case hyphenated form")]
    InvalidFormat,
    /// A well-formed UUID whose version is not 7, or whose variant is not RFC 9562's.
    #[error("id must be a version 7 UUID")]
    WrongVersion,
}

impl ValidationError for IdError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidFormat => "invalid_format",
            Self::WrongVersion => "wrong_version",
        }
    }
}

/// Parses the canonical lower-case hyphenated form of a UUIDv7.
fn parse_canonical_v7(input: &str) -> Result<Uuid, IdError> {
    let canonical_shape = input.len() == CANONICAL_LEN
        && input.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        });
    if !canonical_shape {
        return Err(IdError::InvalidFormat);
    }
    let uuid = Uuid::try_parse(input).map_err(|_| IdError::InvalidFormat)?;
    check_v7(uuid)
}

/// Accepts only RFC 9562 variant, version 7.
fn check_v7(uuid: Uuid) -> Result<Uuid, IdError> {
    if uuid.get_version_num() == 7 && uuid.get_variant() == uuid::Variant::RFC4122 {
        Ok(uuid)
    } else {
        Err(IdError::WrongVersion)
    }
}

/// Stamps out one id newtype.
macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id: a UUIDv7 from the current time and random bits.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the canonical lower-case hyphenated form; see the
            /// [module docs](self) for what is refused.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                parse_canonical_v7(input).map(Self)
            }

            /// Takes the 16 bytes of a `BINARY(16)` column, checking the version.
            pub fn from_bytes(bytes: [u8; 16]) -> Result<Self, IdError> {
                check_v7(Uuid::from_bytes(bytes)).map(Self)
            }

            /// The 16 bytes for a `BINARY(16)` column.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.into_bytes()
            }

            /// The id as a [`Uuid`].
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl TryFrom<Uuid> for $name {
            type Error = IdError;

            fn try_from(value: Uuid) -> Result<Self, Self::Error> {
                check_v7(value).map(Self)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.to_string()
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

public_id!(
    /// A user's public id.
    UserId
);
public_id!(
    /// A product's public id.
    ProductId
);
public_id!(
    /// An order's public id.
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V7: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

    #[test]
    fn parses_the_canonical_form_only() -> Result<(), IdError> {
        let id = UserId::parse(V7)?;
        assert_eq!(id.to_string(), V7);
        assert_eq!(format!("{id:?}"), format!("UserId({V7})"));
        Ok(())
    }

    #[test]
    fn rejects_every_other_spelling_naming_the_rule() {
        let cases: &[(&str, IdError, &str)] = &[
            ("", IdError::InvalidFormat, "empty"),
            (
                "01890A5D-AC96-774B-BCCE-B302099A8057",
                IdError::InvalidFormat,
                "upper case",
            ),
            (
                "01890a5dac96774bbcceb302099a8057",
                IdError::InvalidFormat,
                "simple form",
            ),
            (
                "{01890a5d-ac96-774b-bcce-b302099a8057}",
                IdError::InvalidFormat,
                "braced",
            ),
            (
                "urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057",
                IdError::InvalidFormat,
                "URN",
            ),
            (
                " 01890a5d-ac96-774b-bcce-b302099a8057",
                IdError::InvalidFormat,
                "leading space",
            ),
            (
                "01890a5d-ac96-774b-bcce-b302099a805",
                IdError::InvalidFormat,
                "35 characters",
            ),
            (
                "01890a5d-ac96-774b-bcce-b302099a80577",
                IdError::InvalidFormat,
                "37 characters",
            ),
            (
                "01890a5dxac96-774b-bcce-b302099a8057",
                IdError::InvalidFormat,
                "wrong separator",
            ),
            (
                "01890a5d-ac96-774b-bcce-b302099a805g",
                IdError::InvalidFormat,
                "non-hex digit",
            ),
            (
                "1' OR '1'='1'-- -aaaaaaaaaaaaaaaaaaaa",
                IdError::InvalidFormat,
                "SQL injection",
            ),
            ("42", IdError::InvalidFormat, "an auto-increment number"),
            (
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                IdError::WrongVersion,
                "version 4",
            ),
            (
                "00000000-0000-0000-0000-000000000000",
                IdError::WrongVersion,
                "nil UUID",
            ),
            (
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
                IdError::WrongVersion,
                "max UUID",
            ),
            (
                "01890a5d-ac96-774b-ccce-b302099a8057",
                IdError::WrongVersion,
                "Microsoft variant",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(OrderId::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn generated_ids_are_v7_and_round_trip_through_bytes() -> Result<(), IdError> {
        let id = ProductId::generate();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(ProductId::from_bytes(id.to_bytes())?, id);
        assert_eq!(ProductId::from_bytes([0; 16]), Err(IdError::WrongVersion));
        Ok(())
    }

    #[test]
    fn serde_goes_through_the_parser() -> Result<(), serde_json::Error> {
        let id: UserId = serde_json::from_str(&format!("\"{V7}\""))?;
        assert_eq!(serde_json::to_string(&id)?, format!("\"{V7}\""));
        assert!(
            serde_json::from_str::<UserId>("\"01890A5D-AC96-774B-BCCE-B302099A8057\"").is_err()
        );
        assert!(serde_json::from_str::<UserId>("42").is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = UserId::parse(&input);
        }

        #[test]
        fn display_round_trips(bytes in any::<[u8; 16]>()) {
            let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
            let v7 = uuid::Builder::from_unix_timestamp_millis(
                u64::from_be_bytes([0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]),
                &[bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]],
            ).into_uuid();
            prop_assert_eq!(OrderId::try_from(uuid), Err(IdError::WrongVersion));
            let id = OrderId::try_from(v7);
            prop_assert!(id.is_ok());
            if let Ok(id) = id {
                prop_assert_eq!(OrderId::parse(&id.to_string()), Ok(id));
            }
        }
    }
}
