//! [`StoreError`]: what a repository call can end in, sorted by what the caller does next.
//!
//! | variant | caller's move | typical HTTP mapping (done by handlers, not here) |
//! |---|---|---|
//! | [`Conflict`](StoreError::Conflict) | map the constraint to a domain error | 409 |
//! | [`ForeignKey`](StoreError::ForeignKey) | map to "referenced thing missing / still in use" | 404 / 409 |
//! | [`Check`](StoreError::Check) | map the constraint (e.g. `ck_products_stock`) | 409 / 422 |
//! | [`Transient`](StoreError::Transient) | already retried if idempotent; give up | 503 + `Retry-After` |
//! | [`Timeout`](StoreError::Timeout) | give up (not retried: it would add load) | 503 |
//! | [`Unavailable`](StoreError::Unavailable) | breaker open; the database was not touched | 503 + `Retry-After` |
//! | [`Decode`](StoreError::Decode) | a bug in a repository's SQL or decoding | 500 |
//! | [`Other`](StoreError::Other) | a bug or an unexpected server answer | 500 |
//!
//! Raw host texts survive only as a [`Detail`]: redacted of `scheme://user:pass@` and
//! `password=` values, capped in length, meant for a log line and never for a response.

use std::fmt;

use thiserror::Error;

/// Longest [`Detail`] kept, in bytes. Spin's connection errors can carry a host
/// backtrace; a log line needs the first lines only.
pub const DETAIL_MAX_BYTES: usize = 1024;

/// What replaces a credential in a [`Detail`].
const MASK: &str = "***";

/// Which side of a foreign key was violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignKeyKind {
    /// MariaDB 1452: the row refers to a parent that does not exist.
    MissingParent,
    /// MariaDB 1451: the row is still referenced by a child and cannot go.
    StillReferenced,
}

/// A failed store call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// A unique key was violated (MariaDB 1062). `constraint` is the key's name as the
    /// schema declares it (`uq_products_sku`), when the server text names it.
    #[error("unique constraint violated: {}", constraint.as_deref().unwrap_or("(unnamed)"))]
    Conflict {
        /// The unique key's name.
        constraint: Option<String>,
    },
    /// A foreign key was violated (MariaDB 1451 / 1452).
    #[error("foreign key violated ({kind:?}): {}", constraint.as_deref().unwrap_or("(unnamed)"))]
    ForeignKey {
        /// Which side.
        kind: ForeignKeyKind,
        /// The constraint's name (`fk_order_items_product`).
        constraint: Option<String>,
    },
    /// A `CHECK` constraint failed (MariaDB 4025, MySQL 3819), e.g. `ck_products_stock`.
    #[error("check constraint violated: {}", constraint.as_deref().unwrap_or("(unnamed)"))]
    Check {
        /// The constraint's name.
        constraint: Option<String>,
    },
    /// Worth another try: connection failed or lost, lock wait timeout (1205), deadlock
    /// (1213), too many connections.
    #[error("transient database failure: {detail}")]
    Transient {
        /// Redacted host text, for logs.
        detail: Detail,
    },
    /// The statement ran out of its `max_statement_time` (MariaDB 1969), which also cuts
    /// lock waits longer than the limit.
    #[error("database statement timed out: {detail}")]
    Timeout {
        /// Redacted host text, for logs.
        detail: Detail,
    },
    /// The circuit breaker is open: the database was not called.
    #[error("database unavailable (circuit open), retry after {retry_after_secs} s")]
    Unavailable {
        /// Seconds until the breaker lets a probe through (at least 1).
        retry_after_secs: u32,
    },
    /// A column did not hold what the repository expected.
    #[error("column {column} ({name}): expected {expected}, found {found}")]
    Decode {
        /// Column index in the `SELECT` list.
        column: usize,
        /// Column name as the server reported it (empty if unknown).
        name: String,
        /// What the repository asked for.
        expected: &'static str,
        /// What the column held (its kind, never its value).
        found: &'static str,
    },
    /// Anything else: syntax errors, permission denials, values the host cannot convert.
    #[error("database error: {detail}")]
    Other {
        /// Redacted host text, for logs.
        detail: Detail,
    },
}

impl StoreError {
    /// A [`StoreError::Transient`] with redacted `text`.
    pub fn transient(text: &str) -> Self {
        Self::Transient {
            detail: Detail::new(text),
        }
    }

    /// A [`StoreError::Timeout`] with redacted `text`.
    pub fn timeout(text: &str) -> Self {
        Self::Timeout {
            detail: Detail::new(text),
        }
    }

    /// A [`StoreError::Other`] with redacted `text`.
    pub fn other(text: &str) -> Self {
        Self::Other {
            detail: Detail::new(text),
        }
    }

    /// Whether a retry may succeed ([`StoreError::Transient`] only).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// Whether this failure says the database is unhealthy, so the circuit breaker
    /// counts it: transient failures and statement timeouts. Constraint violations,
    /// decoding errors and other errors are the caller's, not the database's.
    pub fn counts_against_breaker(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Timeout { .. })
    }

    /// For a 503: seconds the client should wait, when the store knows.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Self::Unavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// Host error text fit for a log: credentials masked, length capped.
///
/// The only way to build one is [`Detail::new`], which redacts, so a `Detail` in hand
/// has been through redaction. Still: logs only, never a response body.
#[derive(Clone, PartialEq, Eq)]
pub struct Detail(String);

impl Detail {
    /// Redacts and caps `text`, without the host's backtrace (Spin's connection errors
    /// are `anyhow` reports with a `Stack backtrace:` section of host frames).
    pub fn new(text: &str) -> Self {
        let text = text
            .find("Stack backtrace:")
            .map_or(text, |end| text[..end].trim_end());
        Self(cap(redact(text)))
    }

    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

fn cap(mut text: String) -> String {
    if text.len() > DETAIL_MAX_BYTES {
        let mut end = DETAIL_MAX_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Where a credential ends in a host text: at whitespace only. Passwords may hold quotes,
/// brackets, `/` or `@` unencoded, so anything shorter could leave a tail of one behind;
/// masking a little too much is the accepted cost.
fn ends_token(c: char) -> bool {
    c.is_whitespace()
}

/// Masks the user-info of every `scheme://user:pass@host` and the value of every
/// `password=` / `pwd=` pair. Over-masking is fine; a leaked password is not.
pub fn redact(text: &str) -> String {
    let masked = redact_userinfo(text);
    redact_password_pairs(&masked)
}

fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority-ish token runs to the next whitespace; the last `@` in it ends
        // the user-info.
        let token_len = tail.find(ends_token).unwrap_or(tail.len());
        let token = &tail[..token_len];
        match token.rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&token[at..]);
            }
            None => out.push_str(token),
        }
        rest = &tail[token_len..];
    }
    out.push_str(rest);
    out
}

fn redact_password_pairs(text: &str) -> String {
    const KEYS: [&str; 3] = ["password=", "passwd=", "pwd="];
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some((start, key_len)) = KEYS
        .iter()
        .filter_map(|k| lower[search..].find(k).map(|i| (search + i, k.len())))
        .min()
    {
        let value_start = start + key_len;
        let value_len = text[value_start..]
            .find(|c: char| ends_token(c) || c == '&')
            .unwrap_or(text.len() - value_start);
        out.push_str(&text[copied..value_start]);
        if value_len > 0 {
            out.push_str(MASK);
        }
        copied = value_start + value_len;
        search = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spin_not_permitted_text_loses_its_password() {
        // docs/spin-fidelity.md: the denial repeats the URL with its password.
        let raw = "address mysql://probe:s3cr3t@127.0.0.1/probe is not permitted";
        let d = Detail::new(raw);
        assert_eq!(
            d.as_str(),
            "address mysql://***@127.0.0.1/probe is not permitted"
        );
    }

    #[test]
    fn debug_quoted_urls_and_odd_passwords_are_masked() {
        let raw = r#"ConnectionFailed("Url(Parse) mysql://u:p/a@ss@db:3306/x?ssl-mode=REQUIRED")"#;
        let d = redact(raw);
        assert!(!d.contains("p/a@ss"), "{d}");
        assert!(d.contains("mysql://***@db:3306/x"), "{d}");
        let many = redact("redis://:pw1@r:6379 and mysql://a:pw2@m/db");
        assert_eq!(many, "redis://***@r:6379 and mysql://***@m/db");
    }

    #[test]
    fn urls_without_userinfo_are_left_alone() {
        let raw = "see https://mariadb.com/kb/en/max_statement_time/ for details";
        assert_eq!(redact(raw), raw);
    }

    #[test]
    fn password_pairs_are_masked() {
        assert_eq!(
            redact("host=db user=app password=hunter2 dbname=x"),
            "host=db user=app password=*** dbname=x"
        );
        assert_eq!(redact("a?PWD=x&b=1"), "a?PWD=***&b=1");
        assert_eq!(redact("password="), "password=");
    }

    #[test]
    fn host_backtraces_are_dropped() {
        // Shape of a failed open through the host (anyhow report, abridged).
        let raw = "Input/output error: Connection refused (os error 111)\n\nCaused by:\n    0: Connection refused (os error 111)\n\nStack backtrace:\n   0: from<mysql_async::error::Error>\n             at /root/.cargo/registry/src/anyhow/src/backtrace.rs:10:14\n";
        assert_eq!(
            Detail::new(raw).as_str(),
            "Input/output error: Connection refused (os error 111)\n\nCaused by:\n    0: Connection refused (os error 111)"
        );
    }

    #[test]
    fn long_texts_are_capped_on_a_char_boundary() {
        let raw = "é".repeat(DETAIL_MAX_BYTES);
        let d = Detail::new(&raw);
        assert!(d.as_str().len() <= DETAIL_MAX_BYTES + '…'.len_utf8());
        assert!(d.as_str().ends_with('…'));
    }

    #[test]
    fn display_carries_the_redacted_text_only() {
        let e = StoreError::transient("ConnectionFailed: mysql://root:toor@db/orderly refused");
        let shown = e.to_string();
        assert!(!shown.contains("toor"), "{shown}");
        assert!(shown.contains("mysql://***@db/orderly"));
        assert!(!format!("{e:?}").contains("toor"));
    }

    #[test]
    fn breaker_counts_only_database_health_failures() {
        assert!(StoreError::transient("x").counts_against_breaker());
        assert!(StoreError::timeout("x").counts_against_breaker());
        assert!(!StoreError::Conflict { constraint: None }.counts_against_breaker());
        assert!(!StoreError::other("x").counts_against_breaker());
        assert!(
            !StoreError::Unavailable {
                retry_after_secs: 1
            }
            .counts_against_breaker()
        );
        assert_eq!(
            StoreError::Unavailable {
                retry_after_secs: 4
            }
            .retry_after_secs(),
            Some(4)
        );
    }

    proptest! {
        #[test]
        fn a_url_password_never_survives(
            user in "[a-z]{1,8}",
            pass in "[A-Za-z0-9!$%^*()\\[\\]\"'`/@:;,]{6,20}",
            before in "[ -~]{0,20}",
            after in "( [ -~]{0,20})?",
        ) {
            let raw = format!("{before}mysql://{user}:{pass}@127.0.0.1/db{after}");
            let d = Detail::new(&raw);
            prop_assert!(!d.as_str().contains(&format!(":{pass}@")), "{}", d.as_str());
        }

        #[test]
        fn redaction_never_panics(text in "\\PC{0,200}") {
            let _ = Detail::new(&text);
        }
    }
}
