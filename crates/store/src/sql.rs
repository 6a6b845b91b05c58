//! SQL fragments for what Spin's MySQL interface cannot carry.
//!
//! `DATETIME(6)` columns hold UTC (schema convention). Spin fails a whole query with
//! `value-conversion-failed` when a `DATETIME`, `TIMESTAMP`, `DATE`, `DECIMAL` or `JSON`
//! column is selected, and `UNIX_TIMESTAMP(col)` does not help: on a `DATETIME(6)` it
//! returns a `DECIMAL` (same failure) and it reads the column in the session time zone
//! (measured: `SET time_zone='+05:00'` moves it by five hours). `TIMESTAMPDIFF` /
//! `TIMESTAMPADD` against the epoch are `BIGINT` / `DATETIME` and ignore the session zone:
//!
//! ```
//! const SELECT_PRODUCT: &str = concat!(
//!     "SELECT id, sku, ",
//!     store::epoch_micros!("created_at"),
//!     " FROM products WHERE id = ?"
//! );
//! assert_eq!(
//!     SELECT_PRODUCT,
//!     "SELECT id, sku, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at) FROM products WHERE id = ?"
//! );
//! const EXPIRE: &str = concat!(
//!     "UPDATE authorization_codes SET expires_at = ",
//!     store::from_epoch_micros!(),
//!     " WHERE code_hash = ?"
//! );
//! assert!(EXPIRE.contains("TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00')"));
//! ```
//!
//! Other casts: `CAST(col AS CHAR)` gives `2026-11-25 12:08:10.965917` as text;
//! aggregates of integers (`SUM(quantity)`) are `DECIMAL`: `CAST(SUM(quantity) AS SIGNED)`.
//! `ENUM` and `SET` columns arrive as text; `COUNT(*)` as a signed integer.

/// `TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', <column>)`: a UTC `DATETIME(6)`
/// column as microseconds since the Unix epoch (`BIGINT`, decodes as `i64`).
#[macro_export]
macro_rules! epoch_micros {
    ($column:literal) => {
        concat!(
            "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ",
            $column,
            ")"
        )
    };
}

/// `TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00')`: a placeholder taking
/// microseconds since the Unix epoch (`i64`) as a UTC `DATETIME(6)` value.
#[macro_export]
macro_rules! from_epoch_micros {
    () => {
        "TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00')"
    };
}
