//! SQL values: statement parameters in, column values out.
//!
//! One enum serves both directions. Integers travel as `i64`/`u64` whatever their column
//! width, so a reader asks for the Rust type it wants and [`crate::Row::get`] checks the
//! range; a column read with the wrong kind is a [`crate::StoreError::Decode`], never a
//! panic.
//!
//! What Spin can carry (its `crates/factor-outbound-mysql/src/client.rs`): integers,
//! floats, strings (`CHAR`, `VARCHAR`, `TEXT`, `ENUM`, `SET`) and binary (`BINARY`,
//! `VARBINARY`, `BLOB`). `DECIMAL` (including `SUM(…)` and `UNIX_TIMESTAMP(datetime(6))`),
//! `DATETIME`, `TIMESTAMP`, `DATE` and `JSON` columns fail the whole query with
//! `value-conversion-failed`, so a `SELECT` casts them: `CAST(created_at AS CHAR)`, or
//! [`crate::epoch_micros!`] for a time-zone-independent `BIGINT`.

use uuid::Uuid;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// Any signed integer column (`TINYINT` … `BIGINT`); also `bool` parameters (0/1).
    Int(i64),
    /// Any unsigned integer column (`TINYINT UNSIGNED` … `BIGINT UNSIGNED`).
    UInt(u64),
    /// `FLOAT` or `DOUBLE`.
    Float(f64),
    /// `CHAR`, `VARCHAR`, `TEXT`, `ENUM`, `SET`.
    Text(String),
    /// `BINARY`, `VARBINARY`, `BLOB` (ids are `BINARY(16)`).
    Bytes(Vec<u8>),
    /// A value the host delivered but could not type (`db-value::unsupported`).
    Unsupported,
}

impl Value {
    /// The kind of value, for error messages (never the value itself: it may be a hash
    /// or a personal datum).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Int(_) => "signed integer",
            Self::UInt(_) => "unsigned integer",
            Self::Float(_) => "float",
            Self::Text(_) => "text",
            Self::Bytes(_) => "binary",
            Self::Unsupported => "unsupported value",
        }
    }

    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Self::Int(i64::from(v))
            }
        }
    )*};
}
macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Self::UInt(u64::from(v))
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64);
from_unsigned!(u8, u16, u32, u64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(v.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Value {
    fn from(v: [u8; N]) -> Self {
        Self::Bytes(v.to_vec())
    }
}

/// A UUID goes to a `BINARY(16)` column as its 16 bytes in RFC 9562 order, so UUIDv7
/// keys sort by time in the index.
impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Self::Bytes(uuid_to_bytes(v).to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The 16 bytes stored in a `BINARY(16)` id column.
pub fn uuid_to_bytes(id: Uuid) -> [u8; 16] {
    *id.as_bytes()
}

/// The UUID in a `BINARY(16)` id column; `None` unless exactly 16 bytes.
pub fn uuid_from_bytes(bytes: &[u8]) -> Option<Uuid> {
    <[u8; 16]>::try_from(bytes).ok().map(Uuid::from_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_widen_by_signedness() {
        assert_eq!(Value::from(-3_i8), Value::Int(-3));
        assert_eq!(Value::from(i64::MIN), Value::Int(i64::MIN));
        assert_eq!(Value::from(7_u16), Value::UInt(7));
        assert_eq!(Value::from(u64::MAX), Value::UInt(u64::MAX));
        assert_eq!(Value::from(true), Value::Int(1));
        assert_eq!(Value::from(false), Value::Int(0));
    }

    #[test]
    fn options_become_null() {
        assert_eq!(Value::from(None::<String>), Value::Null);
        assert_eq!(Value::from(Some("x")), Value::Text("x".into()));
        assert!(Value::from(None::<i32>).is_null());
    }

    #[test]
    fn uuid_round_trips_through_binary_16() {
        let id = Uuid::from_u128(0x0190_a1b2_c3d4_7e5f_8a9b_0c1d_2e3f_4a5b);
        let Value::Bytes(bytes) = Value::from(id) else {
            unreachable!("a UUID is binary")
        };
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes[0], 0x01, "big-endian: the timestamp comes first");
        assert_eq!(uuid_from_bytes(&bytes), Some(id));
        assert_eq!(uuid_to_bytes(id).as_slice(), bytes.as_slice());
    }

    #[test]
    fn uuid_needs_exactly_sixteen_bytes() {
        assert_eq!(uuid_from_bytes(&[0; 15]), None);
        assert_eq!(uuid_from_bytes(&[0; 17]), None);
        assert_eq!(uuid_from_bytes(&[]), None);
    }

    #[test]
    fn kinds_name_no_values() {
        assert_eq!(Value::Text("secret".into()).kind(), "text");
        assert_eq!(Value::Bytes(vec![1]).kind(), "binary");
    }
}
