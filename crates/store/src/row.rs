//! Result rows and typed, non-panicking column access by index.
//!
//! ```
//! use store::{Row, Value};
//! use uuid::Uuid;
//!
//! let id = Uuid::from_u128(7);
//! let row = Row::new(
//!     ["id", "stock", "description"].into_iter().map(String::from).collect(),
//!     vec![Value::from(id), Value::Int(3), Value::Null],
//! );
//! let got: Uuid = row.get(0)?;
//! let stock: u32 = row.get(1)?;
//! let description: Option<String> = row.get(2)?;
//! assert_eq!((got, stock, description), (id, 3, None));
//! assert!(row.get::<String>(1).is_err()); // a Decode error, not a panic
//! # Ok::<(), store::StoreError>(())
//! ```

use std::sync::Arc;

use uuid::Uuid;

use crate::error::StoreError;
use crate::value::{Value, uuid_from_bytes};

/// One result row: the column names (shared by all rows of a result) and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row with these column names and values.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// A row without column names (names in errors are then empty).
    pub fn from_values(values: Vec<Value>) -> Self {
        Self {
            columns: Arc::from(Vec::new()),
            values,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The name of column `index`, as the server reported it.
    pub fn column_name(&self, index: usize) -> Option<&str> {
        self.columns.get(index).map(String::as_str)
    }

    /// The raw value of column `index`.
    pub fn value(&self, index: usize) -> Result<&Value, StoreError> {
        self.values.get(index).ok_or_else(|| StoreError::Decode {
            column: index,
            name: self.column_name(index).unwrap_or_default().to_owned(),
            expected: "a column at this index",
            found: "no such column",
        })
    }

    /// Column `index` decoded as `T`; a `NULL`, a wrong kind or an out-of-range integer
    /// is a [`StoreError::Decode`]. Use `Option<T>` for nullable columns.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.value(index)?;
        T::from_value(value).map_err(|found| StoreError::Decode {
            column: index,
            name: self.column_name(index).unwrap_or_default().to_owned(),
            expected: T::EXPECTED,
            found,
        })
    }

    /// The values, consuming the row.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// A Rust type a column can be decoded into.
pub trait FromValue: Sized {
    /// What the type needs, for error messages.
    const EXPECTED: &'static str;

    /// Decodes `value`, or says what was found instead.
    fn from_value(value: &Value) -> Result<Self, &'static str>;
}

const OUT_OF_RANGE: &str = "integer out of range";

macro_rules! from_integer {
    ($($t:ty => $name:literal),*) => {$(
        impl FromValue for $t {
            const EXPECTED: &'static str = $name;

            fn from_value(value: &Value) -> Result<Self, &'static str> {
                match value {
                    Value::Int(n) => <$t>::try_from(*n).map_err(|_| OUT_OF_RANGE),
                    Value::UInt(n) => <$t>::try_from(*n).map_err(|_| OUT_OF_RANGE),
                    other => Err(other.kind()),
                }
            }
        }
    )*};
}
from_integer!(
    i8 => "TINYINT", i16 => "SMALLINT", i32 => "INT", i64 => "BIGINT",
    u8 => "TINYINT UNSIGNED", u16 => "SMALLINT UNSIGNED", u32 => "INT UNSIGNED",
    u64 => "BIGINT UNSIGNED"
);

/// `TINYINT(1)` / `BOOLEAN`: 0 or 1 only.
impl FromValue for bool {
    const EXPECTED: &'static str = "BOOLEAN (0 or 1)";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Int(0) | Value::UInt(0) => Ok(false),
            Value::Int(1) | Value::UInt(1) => Ok(true),
            Value::Int(_) | Value::UInt(_) => Err(OUT_OF_RANGE),
            other => Err(other.kind()),
        }
    }
}

impl FromValue for f64 {
    const EXPECTED: &'static str = "DOUBLE";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Float(f) => Ok(*f),
            other => Err(other.kind()),
        }
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "text";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(other.kind()),
        }
    }
}

impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "binary";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            other => Err(other.kind()),
        }
    }
}

/// A `BINARY(16)` id column.
impl FromValue for Uuid {
    const EXPECTED: &'static str = "BINARY(16) id";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Bytes(b) => uuid_from_bytes(b).ok_or("binary of another length than 16"),
            other => Err(other.kind()),
        }
    }
}

/// A fixed-length binary column such as `BINARY(32)` (SHA-256 hashes).
impl<const N: usize> FromValue for [u8; N] {
    const EXPECTED: &'static str = "fixed-length binary";

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Bytes(b) => {
                <[u8; N]>::try_from(b.as_slice()).map_err(|_| "binary of another length")
            }
            other => Err(other.kind()),
        }
    }
}

/// A nullable column: `NULL` is `None`.
impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;

    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: Vec<Value>) -> Row {
        let names: Vec<String> = (0..values.len()).map(|i| format!("c{i}")).collect();
        Row::new(names.into(), values)
    }

    #[test]
    fn integers_convert_when_in_range() {
        let r = row(vec![Value::Int(-5), Value::UInt(300), Value::Int(7)]);
        assert_eq!(r.get::<i64>(0).unwrap(), -5);
        assert_eq!(r.get::<i32>(0).unwrap(), -5);
        assert_eq!(r.get::<u16>(1).unwrap(), 300);
        assert_eq!(r.get::<u64>(2).unwrap(), 7);
        assert_eq!(r.get::<i64>(1).unwrap(), 300);
    }

    #[test]
    fn out_of_range_integers_are_decode_errors() {
        let r = row(vec![Value::Int(-1), Value::UInt(u64::MAX), Value::Int(300)]);
        let err = r.get::<u32>(0).unwrap_err();
        assert_eq!(
            err,
            StoreError::Decode {
                column: 0,
                name: "c0".into(),
                expected: "INT UNSIGNED",
                found: OUT_OF_RANGE
            }
        );
        assert!(r.get::<i64>(1).is_err());
        assert!(r.get::<u8>(2).is_err());
    }

    #[test]
    fn wrong_kinds_name_the_kind_not_the_value() {
        let r = row(vec![Value::Text("argon2id$secret".into())]);
        let err = r.get::<i64>(0).unwrap_err();
        let shown = err.to_string();
        assert_eq!(shown, "column 0 (c0): expected BIGINT, found text");
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn null_needs_an_option() {
        let r = row(vec![Value::Null, Value::Text("x".into())]);
        assert_eq!(r.get::<Option<String>>(0).unwrap(), None);
        assert_eq!(r.get::<Option<String>>(1).unwrap(), Some("x".into()));
        assert!(matches!(
            r.get::<String>(0),
            Err(StoreError::Decode { found: "NULL", .. })
        ));
        assert!(
            r.get::<Option<i64>>(1).is_err(),
            "Option does not hide a wrong kind"
        );
    }

    #[test]
    fn missing_columns_are_decode_errors() {
        let r = row(vec![Value::Int(1)]);
        assert!(matches!(
            r.get::<i64>(3),
            Err(StoreError::Decode {
                column: 3,
                found: "no such column",
                ..
            })
        ));
        assert!(Row::from_values(vec![]).is_empty());
    }

    #[test]
    fn binary_16_decodes_to_uuid_and_other_lengths_do_not() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let r = row(vec![
            Value::from(id),
            Value::Bytes(vec![1; 15]),
            Value::Text("x".into()),
        ]);
        assert_eq!(r.get::<Uuid>(0).unwrap(), id);
        assert!(matches!(
            r.get::<Uuid>(1),
            Err(StoreError::Decode {
                expected: "BINARY(16) id",
                ..
            })
        ));
        assert!(r.get::<Uuid>(2).is_err());
        assert_eq!(r.get::<[u8; 16]>(0).unwrap(), *id.as_bytes());
        assert!(r.get::<[u8; 32]>(0).is_err());
    }

    #[test]
    fn booleans_are_zero_or_one() {
        let r = row(vec![
            Value::Int(0),
            Value::UInt(1),
            Value::Int(2),
            Value::Float(1.0),
        ]);
        assert!(!r.get::<bool>(0).unwrap());
        assert!(r.get::<bool>(1).unwrap());
        assert!(r.get::<bool>(2).is_err());
        assert!(r.get::<bool>(3).is_err());
        assert_eq!(r.get::<f64>(3).unwrap(), 1.0);
    }

    #[test]
    fn rows_expose_names_and_values() {
        let r = row(vec![Value::Bytes(vec![1, 2])]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.column_name(0), Some("c0"));
        assert_eq!(r.column_name(1), None);
        assert_eq!(r.get::<Vec<u8>>(0).unwrap(), vec![1, 2]);
        assert_eq!(r.into_values(), vec![Value::Bytes(vec![1, 2])]);
    }
}
