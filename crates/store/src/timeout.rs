//! Statement timeouts: every data statement runs as
//! `SET STATEMENT max_statement_time=<secs> FOR <statement>` (MariaDB 10.1.2+).
//!
//! Measured on MariaDB 10.11 (prepared, as Spin executes them): the prefix works in front
//! of `SELECT` (also `… FOR UPDATE`, `WITH …`, `(SELECT …) UNION …`), `INSERT` (also
//! `… RETURNING`, `… ON DUPLICATE KEY UPDATE`), `REPLACE`, `UPDATE` and `DELETE`
//! (also `… RETURNING`); `ROW_COUNT()` afterwards still reports the inner statement.
//! A lock wait longer than the limit is cut by it too (error 1969, not 1205 after
//! `innodb_lock_wait_timeout`). Transaction control (`START TRANSACTION`, `COMMIT`,
//! `ROLLBACK`, `SAVEPOINT`) and `SET` cannot be prefixed and are passed through unchanged.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The limit a repository gets unless it picks another.
pub const DEFAULT_STATEMENT_TIMEOUT: StatementTimeout = StatementTimeout { millis: 2_000 };

/// Statements may not be given more than this (a request should never wait longer).
pub const MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A statement timeout, 1 ms to [`MAX_STATEMENT_TIMEOUT`], in whole milliseconds.
///
/// Zero is refused: to MariaDB `max_statement_time=0` means "no limit".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementTimeout {
    millis: u32,
}

/// Why a duration is not a [`StatementTimeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StatementTimeoutError {
    /// Less than a millisecond (MariaDB would read 0 as "no limit").
    #[error("statement timeout must be at least 1 ms")]
    TooShort,
    /// Longer than [`MAX_STATEMENT_TIMEOUT`].
    #[error("statement timeout must be at most 60 s")]
    TooLong,
}

impl StatementTimeout {
    /// A timeout of `duration`, truncated to whole milliseconds.
    pub fn new(duration: Duration) -> Result<Self, StatementTimeoutError> {
        if duration > MAX_STATEMENT_TIMEOUT {
            return Err(StatementTimeoutError::TooLong);
        }
        // At most 60 000 after the check above.
        let millis =
            u32::try_from(duration.as_millis()).map_err(|_| StatementTimeoutError::TooLong)?;
        if millis == 0 {
            return Err(StatementTimeoutError::TooShort);
        }
        Ok(Self { millis })
    }

    /// A timeout of `millis` milliseconds.
    pub fn from_millis(millis: u32) -> Result<Self, StatementTimeoutError> {
        Self::new(Duration::from_millis(u64::from(millis)))
    }

    /// The limit.
    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.millis))
    }

    /// `sql` prefixed with `SET STATEMENT max_statement_time=… FOR ` when it is a data
    /// statement (see the module docs); anything else, including a statement that
    /// already starts with `SET STATEMENT`, comes back unchanged.
    pub fn apply<'a>(self, sql: &'a str) -> Cow<'a, str> {
        if is_data_statement(sql) {
            Cow::Owned(format!("SET STATEMENT max_statement_time={self} FOR {sql}"))
        } else {
            Cow::Borrowed(sql)
        }
    }
}

impl Default for StatementTimeout {
    fn default() -> Self {
        DEFAULT_STATEMENT_TIMEOUT
    }
}

/// Seconds as MariaDB reads them: `2`, `0.5`, `1.25`, `0.001`.
impl fmt::Display for StatementTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, millis) = (self.millis / 1000, self.millis % 1000);
        if millis == 0 {
            write!(f, "{secs}")
        } else {
            let frac = format!("{millis:03}");
            write!(f, "{secs}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for StatementTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatementTimeout({self}s)")
    }
}

/// Statement keywords that take the prefix.
const DATA_KEYWORDS: [&str; 6] = ["SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"];

/// Whether `sql` begins (after blanks and comments) with a data statement keyword or
/// with `(` (a parenthesised `SELECT`).
fn is_data_statement(sql: &str) -> bool {
    let rest = skip_blanks_and_comments(sql);
    if rest.starts_with('(') {
        return true;
    }
    let word_len = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    DATA_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn skip_blanks_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("/*") {
            // `/*! … */` and `/*M! … */` are executable comments: treat as code.
            if rest.starts_with('!') || rest.starts_with("M!") {
                return s;
            }
            match rest.find("*/") {
                Some(end) => s = &rest[end + 2..],
                None => return "",
            }
        } else if s.starts_with("-- ") || s.starts_with("--\t") || s.starts_with('#') {
            match s.find('\n') {
                Some(end) => s = &s[end + 1..],
                None => return "",
            }
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn two_s() -> StatementTimeout {
        StatementTimeout::from_millis(2_000).unwrap()
    }

    #[test]
    fn data_statements_are_wrapped() {
        for sql in [
            "SELECT id FROM products WHERE id = ?",
            "select 1",
            "INSERT INTO t VALUES (?, ?)",
            "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
            "DELETE FROM t WHERE id = ? RETURNING id",
            "REPLACE INTO t VALUES (1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "(SELECT 1) UNION (SELECT 2)",
            "  \n\tSELECT 1",
            "/* repo: products.get */ SELECT 1",
            "-- why\nSELECT 1",
            "# why\nUPDATE t SET v = 1",
            "SELECT id FROM t WHERE id = ? FOR UPDATE",
        ] {
            assert_eq!(
                two_s().apply(sql),
                format!("SET STATEMENT max_statement_time=2 FOR {sql}"),
                "{sql}"
            );
        }
    }

    #[test]
    fn other_statements_pass_through() {
        for sql in [
            "START TRANSACTION",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT a",
            "SET @x = 1",
            "SET STATEMENT max_statement_time=1 FOR SELECT 1",
            "SELECTED",
            "SHOW TABLES",
            "DO SLEEP(1)",
            "CALL p()",
            "",
            "   ",
            "/* unterminated SELECT",
            "-- only a comment",
            "/*!40101 SELECT 1 */",
        ] {
            assert_eq!(two_s().apply(sql), sql, "{sql}");
            assert!(matches!(two_s().apply(sql), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn seconds_are_written_as_mariadb_reads_them() {
        let t = |ms| StatementTimeout::from_millis(ms).unwrap().to_string();
        assert_eq!(t(2_000), "2");
        assert_eq!(t(500), "0.5");
        assert_eq!(t(1_250), "1.25");
        assert_eq!(t(1), "0.001");
        assert_eq!(t(60_000), "60");
        assert_eq!(
            StatementTimeout::from_millis(250)
                .unwrap()
                .apply("SELECT 1"),
            "SET STATEMENT max_statement_time=0.25 FOR SELECT 1"
        );
    }

    #[test]
    fn zero_and_huge_limits_are_refused() {
        assert_eq!(
            StatementTimeout::new(Duration::from_micros(999)),
            Err(StatementTimeoutError::TooShort)
        );
        assert_eq!(
            StatementTimeout::from_millis(0),
            Err(StatementTimeoutError::TooShort)
        );
        assert_eq!(
            StatementTimeout::new(Duration::from_secs(61)),
            Err(StatementTimeoutError::TooLong)
        );
        assert_eq!(StatementTimeout::default(), two_s());
        assert_eq!(two_s().duration(), Duration::from_secs(2));
    }

    proptest! {
        #[test]
        fn display_parses_back_to_the_same_millis(ms in 1u32..=60_000) {
            let shown = StatementTimeout::from_millis(ms).unwrap().to_string();
            let secs: f64 = shown.parse().unwrap();
            prop_assert_eq!((secs * 1000.0).round() as u32, ms);
        }
    }
}
