//! From a host error to a [`StoreError`]: parse MariaDB's error code out of the text
//! Spin hands the guest, then sort it.
//!
//! Spin reports server errors as text, in two shapes (both seen through this repo's host,
//! which copies Spin's `crates/factor-outbound-mysql/src/client.rs`):
//!
//! * `query-failed` carries `format!("{e:?}")` of a `mysql_async::Error`:
//!   `Server(ServerError { code: 1062, message: "Duplicate entry 'a' for key 'uq_t_u'", state: "23000" })`
//! * `other` (an error while rows stream, e.g. a statement timeout) carries its `Display`,
//!   which puts the SQLSTATE first: `` Server error: `ERROR 70100 (1969): Query execution
//!   was interrupted (max_statement_time exceeded)' ``
//!
//! The `mysql` command line's shape, `ERROR 1062 (23000): Duplicate entry …` (code first),
//! is accepted too. Connection-level failures (`Io(…)`, `Driver(ConnectionClosed)`) carry
//! no server code and are recognised by their markers.

use crate::error::{ForeignKeyKind, StoreError};

/// An error as `spin:mysql/mysql@3.0.0` returns it (`spin_sdk::mysql::MysqlError`),
/// mirrored here so classification is testable without the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// `connection-failed`: `open` failed (refused, denied, bad credentials, not permitted).
    ConnectionFailed(String),
    /// `bad-parameter`.
    BadParameter(String),
    /// `query-failed`: the statement failed; a server error's `Debug` text.
    QueryFailed(String),
    /// `value-conversion-failed`: a column type Spin cannot carry (DECIMAL, DATETIME, …).
    ValueConversionFailed(String),
    /// `other`: errors while rows stream, resource errors.
    Other(String),
}

impl HostError {
    /// The text the host sent.
    pub fn text(&self) -> &str {
        match self {
            Self::ConnectionFailed(t)
            | Self::BadParameter(t)
            | Self::QueryFailed(t)
            | Self::ValueConversionFailed(t)
            | Self::Other(t) => t,
        }
    }
}

/// A server error parsed from host text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// MariaDB error number (`1062`).
    pub code: u16,
    /// Five-character SQLSTATE (`23000`).
    pub sqlstate: String,
    /// The server's message (may quote row data: log it redacted, never return it).
    pub message: String,
}

/// MariaDB / MySQL error numbers the classification looks at.
pub mod codes {
    /// `ER_DUP_ENTRY`: unique key violated.
    pub const DUP_ENTRY: u16 = 1062;
    /// `ER_ROW_IS_REFERENCED_2`: parent row still referenced.
    pub const ROW_IS_REFERENCED: u16 = 1451;
    /// `ER_NO_REFERENCED_ROW_2`: parent row missing.
    pub const NO_REFERENCED_ROW: u16 = 1452;
    /// `ER_CONSTRAINT_FAILED` (MariaDB): a `CHECK` constraint failed.
    pub const CONSTRAINT_FAILED: u16 = 4025;
    /// `ER_CHECK_CONSTRAINT_VIOLATED` (MySQL 8).
    pub const CHECK_CONSTRAINT_VIOLATED: u16 = 3819;
    /// `ER_LOCK_WAIT_TIMEOUT`.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// `ER_LOCK_DEADLOCK`.
    pub const LOCK_DEADLOCK: u16 = 1213;
    /// `ER_STATEMENT_TIMEOUT` (MariaDB): `max_statement_time` exceeded.
    pub const STATEMENT_TIMEOUT: u16 = 1969;
    /// `ER_QUERY_TIMEOUT` (MySQL 8 `max_execution_time`).
    pub const QUERY_TIMEOUT: u16 = 3024;
    /// `CR_SERVER_GONE_ERROR` (client library): server has gone away.
    pub const SERVER_GONE: u16 = 2006;
    /// `CR_SERVER_LOST` (client library): lost connection during query.
    pub const SERVER_LOST: u16 = 2013;
    /// `ER_CON_COUNT_ERROR`: too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// `ER_TOO_MANY_USER_CONNECTIONS`.
    pub const TOO_MANY_USER_CONNECTIONS: u16 = 1203;
    /// `ER_USER_LIMIT_REACHED`: `MAX_USER_CONNECTIONS` of the account (the bulkhead).
    pub const USER_LIMIT_REACHED: u16 = 1226;
    /// `ER_SERVER_SHUTDOWN`.
    pub const SERVER_SHUTDOWN: u16 = 1053;
    /// `ER_CONNECTION_KILLED` (MariaDB).
    pub const CONNECTION_KILLED: u16 = 1927;
    /// `ER_CLIENT_INTERACTION_TIMEOUT` (MySQL 8): idle connection closed by the server.
    pub const CLIENT_INTERACTION_TIMEOUT: u16 = 4031;
}

/// Server codes after which the connection is gone.
const CONNECTION_LOST_CODES: [u16; 5] = [
    codes::SERVER_GONE,
    codes::SERVER_LOST,
    codes::SERVER_SHUTDOWN,
    codes::CONNECTION_KILLED,
    codes::CLIENT_INTERACTION_TIMEOUT,
];

/// Server codes that are worth a retry on a healthy connection.
const RETRYABLE_CODES: [u16; 5] = [
    codes::LOCK_WAIT_TIMEOUT,
    codes::LOCK_DEADLOCK,
    codes::TOO_MANY_CONNECTIONS,
    codes::TOO_MANY_USER_CONNECTIONS,
    codes::USER_LIMIT_REACHED,
];

/// Texts of `mysql_async` errors that mean the connection is broken (its `Debug` and
/// `Display` spellings), plus the host's own "resource gone" text. Compared lower-case.
const CONNECTION_LOST_MARKERS: [&str; 13] = [
    "io(",
    "input/output error",
    "connectionclosed",
    "connection to the server is closed",
    "packetoutoforder",
    "packet out of order",
    "broken pipe",
    "brokenpipe",
    "connection reset",
    "unexpectedeof",
    "unexpected end of file",
    "pool was disconnected",
    "no connection found",
];

/// What [`classify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The error for the caller.
    pub error: StoreError,
    /// Whether the connection that produced it must be dropped and reopened. True unless
    /// the server answered with an ordinary error (then the connection is healthy).
    pub connection_broken: bool,
    /// Whether the statement certainly never reached the server, so sending it again on
    /// a new connection cannot apply it twice: the open failed, or writing it failed with
    /// `EPIPE` (the server had closed the connection before the request was written;
    /// observed after `KILL <id>` of a reused connection: `Io(Io(Os { code: 32, kind:
    /// BrokenPipe, … }))`). A reset or end-of-file while reading the answer is not
    /// this: the server may have run the statement first.
    pub not_sent: bool,
}

/// `EPIPE` as `mysql_async` spells it in `Debug` (`kind: BrokenPipe`) and `Display`
/// (`Broken pipe (os error 32)`).
const NOT_SENT_MARKERS: [&str; 2] = ["brokenpipe", "broken pipe"];

/// Sorts a host error.
pub fn classify(err: &HostError) -> Classified {
    let text = err.text();
    if let HostError::ConnectionFailed(_) = err {
        // Nothing was sent; whatever the reason (refused, 1226 over the account's limit,
        // not permitted), there is no connection to keep.
        return Classified {
            not_sent: true,
            ..broken(StoreError::transient(text))
        };
    }
    if let Some(server) = parse_server_error(text) {
        return classify_server(&server, text);
    }
    let lower = text.to_ascii_lowercase();
    if CONNECTION_LOST_MARKERS.iter().any(|m| lower.contains(m)) {
        return Classified {
            not_sent: NOT_SENT_MARKERS.iter().any(|m| lower.contains(m)),
            ..broken(StoreError::transient(text))
        };
    }
    match err {
        HostError::BadParameter(_) => Classified {
            error: StoreError::other(&format!("bad parameter: {text}")),
            connection_broken: false,
            not_sent: false,
        },
        HostError::ValueConversionFailed(_) => broken(StoreError::other(&format!(
            "value conversion failed (CAST DECIMAL/DATETIME/JSON columns in the SELECT): {text}"
        ))),
        // An unknown failure may have left a half-read result on the connection: start over.
        _ => broken(StoreError::other(text)),
    }
}

fn broken(error: StoreError) -> Classified {
    Classified {
        error,
        connection_broken: true,
        not_sent: false,
    }
}

fn classify_server(server: &ServerError, text: &str) -> Classified {
    let healthy = |error| Classified {
        error,
        connection_broken: false,
        not_sent: false,
    };
    let message = server.message.as_str();
    match server.code {
        codes::DUP_ENTRY => healthy(StoreError::Conflict {
            constraint: duplicate_key_name(message),
        }),
        codes::ROW_IS_REFERENCED => healthy(StoreError::ForeignKey {
            kind: ForeignKeyKind::StillReferenced,
            constraint: backquoted_after(message, "CONSTRAINT `"),
        }),
        codes::NO_REFERENCED_ROW => healthy(StoreError::ForeignKey {
            kind: ForeignKeyKind::MissingParent,
            constraint: backquoted_after(message, "CONSTRAINT `"),
        }),
        codes::CONSTRAINT_FAILED => healthy(StoreError::Check {
            constraint: backquoted_after(message, "CONSTRAINT `"),
        }),
        codes::CHECK_CONSTRAINT_VIOLATED => healthy(StoreError::Check {
            constraint: quoted_after(message, "constraint '"),
        }),
        codes::STATEMENT_TIMEOUT | codes::QUERY_TIMEOUT => healthy(StoreError::timeout(text)),
        c if CONNECTION_LOST_CODES.contains(&c) => broken(StoreError::transient(text)),
        c if RETRYABLE_CODES.contains(&c) => healthy(StoreError::transient(text)),
        _ => healthy(StoreError::other(text)),
    }
}

/// `Duplicate entry 'x' for key 'uq_products_sku'` (MariaDB) or `… for key
/// 'products.uq_products_sku'` (MySQL 8) → `uq_products_sku`. The entry itself may
/// contain anything, so the key is found from the end.
fn duplicate_key_name(message: &str) -> Option<String> {
    let start = message.rfind("for key '")? + "for key '".len();
    let rest = &message[start..];
    let name = &rest[..rest.rfind('\'')?];
    let name = name.rsplit('.').next().unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

fn backquoted_after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let rest = &message[start..];
    let name = &rest[..rest.find('`')?];
    (!name.is_empty()).then(|| name.to_owned())
}

fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find(marker)? + marker.len();
    let rest = &message[start..];
    let name = &rest[..rest.find('\'')?];
    (!name.is_empty()).then(|| name.to_owned())
}

/// Finds a server error in host text, in any of the shapes described in the module docs.
pub fn parse_server_error(text: &str) -> Option<ServerError> {
    parse_debug_shape(text).or_else(|| parse_error_shape(text))
}

/// `ServerError { code: 1062, message: "…", state: "23000" }` (derived `Debug`).
fn parse_debug_shape(text: &str) -> Option<ServerError> {
    let body = &text[text.find("ServerError {")? + "ServerError {".len()..];
    let code_at = body.find("code: ")? + "code: ".len();
    let digits: String = body[code_at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let code = digits.parse().ok()?;
    let message = body
        .find("message: \"")
        .and_then(|i| unescape_debug_str(&body[i + "message: \"".len()..]))
        .unwrap_or_default();
    let state_at = body.find("state: \"")? + "state: \"".len();
    let sqlstate = body[state_at..].split('"').next()?.to_owned();
    Some(ServerError {
        code,
        sqlstate,
        message,
    })
}

/// Reads a Rust `Debug` string body up to its closing quote, undoing the escapes.
fn unescape_debug_str(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'u' => {
                    // \u{XXXX}
                    let hex: String = chars
                        .by_ref()
                        .skip_while(|&c| c == '{')
                        .take_while(|&c| c != '}')
                        .collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)?;
                    out.push(ch);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// `ERROR <a> (<b>)[ at line N]: <message>`, where one of `a`/`b` is the five-character
/// SQLSTATE and the other the error number. `mysql_async` writes the state first, the
/// `mysql` client the code first.
fn parse_error_shape(text: &str) -> Option<ServerError> {
    let mut search = 0;
    while let Some(i) = text[search..].find("ERROR ") {
        let start = search + i;
        let at = start + "ERROR ".len();
        // `mysql_async`'s Display quotes the server error as `` `ERROR …' ``.
        let quoted = text[..start].ends_with('`');
        if let Some(found) = parse_error_at(&text[at..], quoted) {
            return Some(found);
        }
        search = at;
    }
    None
}

fn parse_error_at(s: &str, quoted: bool) -> Option<ServerError> {
    let (first, rest) = s.split_once(" (")?;
    let (second, rest) = rest.split_once(')')?;
    let message = match rest.split_once(": ") {
        Some((between, message)) if between.is_empty() || between.starts_with(" at line ") => {
            message
        }
        _ => return None,
    };
    let message = if quoted {
        message.rfind('\'').map_or(message, |end| &message[..end])
    } else {
        message.trim_end()
    }
    .to_owned();
    let is_state = |t: &str| t.len() == 5 && t.bytes().all(|b| b.is_ascii_alphanumeric());
    let is_code = |t: &str| (1..=5).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    let (code, state) = match (is_state(first), is_state(second)) {
        // Both five characters: the one with a letter is the state; all digits on both
        // sides (`ERROR 23000 (10000)`) is `mysql_async`'s order, which Spin emits.
        (true, true) if first.bytes().any(|b| b.is_ascii_alphabetic()) => (second, first),
        (true, true) if second.bytes().any(|b| b.is_ascii_alphabetic()) => (first, second),
        (true, true) => (second, first),
        (true, false) => (second, first),
        (false, true) => (first, second),
        (false, false) => return None,
    };
    if !is_code(code) {
        return None;
    }
    Some(ServerError {
        code: code.parse().ok()?,
        sqlstate: state.to_owned(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Verbatim texts a guest received from this repo's host (Spin's client.rs shapes)
    /// with MariaDB 10.11, 2026-11-25.
    const DUP_DEBUG: &str = r#"Server(ServerError { code: 1062, message: "Duplicate entry 'a' for key 'uq_t_u'", state: "23000" })"#;
    const TIMEOUT_DISPLAY: &str = "Server error: `ERROR 70100 (1969): Query execution was interrupted (max_statement_time exceeded)'";
    const NO_TABLE_DEBUG: &str = r#"Server(ServerError { code: 1146, message: "Table 'store_scratch.nope' doesn't exist", state: "42S02" })"#;

    fn query_failed(t: &str) -> HostError {
        HostError::QueryFailed(t.to_owned())
    }

    #[test]
    fn parses_the_debug_shape_spin_sends_for_query_failed() {
        let e = parse_server_error(DUP_DEBUG).unwrap();
        assert_eq!(e.code, 1062);
        assert_eq!(e.sqlstate, "23000");
        assert_eq!(e.message, "Duplicate entry 'a' for key 'uq_t_u'");
    }

    #[test]
    fn parses_the_display_shape_with_the_state_first() {
        let e = parse_server_error(TIMEOUT_DISPLAY).unwrap();
        assert_eq!((e.code, e.sqlstate.as_str()), (1969, "70100"));
        assert_eq!(
            e.message,
            "Query execution was interrupted (max_statement_time exceeded)"
        );
    }

    #[test]
    fn parses_the_command_line_shape_with_the_code_first() {
        let e = parse_server_error(
            "ERROR 1062 (23000): Duplicate entry 'SKU-1' for key 'uq_products_sku'",
        )
        .unwrap();
        assert_eq!((e.code, e.sqlstate.as_str()), (1062, "23000"));
        let e = parse_server_error(
            "ERROR 1205 (HY000) at line 1: Lock wait timeout exceeded; try restarting transaction",
        )
        .unwrap();
        assert_eq!((e.code, e.sqlstate.as_str()), (1205, "HY000"));
        assert!(e.message.starts_with("Lock wait timeout"));
        let e = parse_server_error("ERROR HY000 (1213): Deadlock found").unwrap();
        assert_eq!((e.code, e.sqlstate.as_str()), (1213, "HY000"));
    }

    #[test]
    fn debug_messages_are_unescaped() {
        let t = r#"Server(ServerError { code: 1062, message: "Duplicate entry 'O\"Brien\\x' for key 'uq'", state: "23000" })"#;
        let e = parse_server_error(t).unwrap();
        assert_eq!(e.message, r#"Duplicate entry 'O"Brien\x' for key 'uq'"#);
    }

    #[test]
    fn texts_without_a_server_error_parse_to_none() {
        for t in [
            "",
            "Io(Io(Kind(UnexpectedEof)))",
            "Driver(ConnectionClosed)",
            "ERROR: something",
            "ERROR 12 (34): not a state",
            "ERROR 1062 (23000) trailing without colon",
            "query result exceeds limit of 134217728 bytes",
        ] {
            assert_eq!(parse_server_error(t), None, "{t}");
        }
    }

    #[test]
    fn duplicate_entry_is_a_conflict_naming_the_key() {
        let c = classify(&query_failed(DUP_DEBUG));
        assert_eq!(
            c.error,
            StoreError::Conflict {
                constraint: Some("uq_t_u".into())
            }
        );
        assert!(!c.connection_broken);
        // MySQL 8 prefixes the table; an entry may itself contain "for key '".
        let t =
            "ERROR 23000 (1062): Duplicate entry 'for key 'x'' for key 'products.uq_products_sku'";
        assert_eq!(
            classify(&HostError::Other(t.into())).error,
            StoreError::Conflict {
                constraint: Some("uq_products_sku".into())
            }
        );
    }

    #[test]
    fn foreign_keys_name_the_constraint_and_the_side() {
        let missing = r#"Server(ServerError { code: 1452, message: "Cannot add or update a child row: a foreign key constraint fails (`orderly`.`order_items`, CONSTRAINT `fk_order_items_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`))", state: "23000" })"#;
        assert_eq!(
            classify(&query_failed(missing)).error,
            StoreError::ForeignKey {
                kind: ForeignKeyKind::MissingParent,
                constraint: Some("fk_order_items_product".into())
            }
        );
        let referenced = "ERROR 1451 (23000): Cannot delete or update a parent row: a foreign key constraint fails (`orderly`.`orders`, CONSTRAINT `fk_orders_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))";
        assert_eq!(
            classify(&query_failed(referenced)).error,
            StoreError::ForeignKey {
                kind: ForeignKeyKind::StillReferenced,
                constraint: Some("fk_orders_user".into())
            }
        );
    }

    #[test]
    fn check_constraints_name_the_constraint() {
        let t = r#"Server(ServerError { code: 4025, message: "CONSTRAINT `ck_products_stock` failed for `orderly`.`products`", state: "23000" })"#;
        assert_eq!(
            classify(&query_failed(t)).error,
            StoreError::Check {
                constraint: Some("ck_products_stock".into())
            }
        );
        let mysql = "ERROR 3819 (HY000): Check constraint 'ck_products_stock' is violated.";
        assert_eq!(
            classify(&query_failed(mysql)).error,
            StoreError::Check {
                constraint: Some("ck_products_stock".into())
            }
        );
    }

    #[test]
    fn lock_waits_and_deadlocks_are_transient_on_a_healthy_connection() {
        for code in [1205, 1213] {
            let t = format!(
                r#"Server(ServerError {{ code: {code}, message: "Deadlock found when trying to get lock; try restarting transaction", state: "40001" }})"#
            );
            let c = classify(&query_failed(&t));
            assert!(c.error.is_transient(), "{code}");
            assert!(!c.connection_broken, "{code}");
        }
    }

    #[test]
    fn statement_timeout_is_a_timeout_not_a_retry() {
        let c = classify(&HostError::Other(TIMEOUT_DISPLAY.into()));
        assert!(matches!(c.error, StoreError::Timeout { .. }));
        assert!(!c.error.is_transient());
        assert!(!c.connection_broken);
    }

    #[test]
    fn lost_connections_are_transient_and_drop_the_connection() {
        for t in [
            "Io(Io(Kind(UnexpectedEof)))",
            r#"Io(Io(Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" }))"#,
            r#"Io(Io(Os { code: 32, kind: BrokenPipe, message: "Broken pipe" }))"#,
            "Driver(ConnectionClosed)",
            "Input/output error: Input/output error: unexpected end of file",
            "ERROR 2006 (HY000): MySQL server has gone away",
            "ERROR 2013 (HY000): Lost connection to MySQL server during query",
            r#"Server(ServerError { code: 1927, message: "Connection was killed", state: "70100" })"#,
            r#"Server(ServerError { code: 1053, message: "Server shutdown in progress", state: "08S01" })"#,
        ] {
            let c = classify(&query_failed(t));
            assert!(c.error.is_transient(), "{t}");
            assert!(c.connection_broken, "{t}");
        }
    }

    #[test]
    fn only_a_refused_write_or_open_counts_as_not_sent() {
        // Verbatim: a reused connection after `KILL <id>`, through the host.
        let epipe = r#"Io(Io(Os { code: 32, kind: BrokenPipe, message: "Broken pipe" }))"#;
        assert!(classify(&query_failed(epipe)).not_sent);
        assert!(
            classify(&HostError::Other(
                "Input/output error: Broken pipe (os error 32)".into()
            ))
            .not_sent
        );
        assert!(classify(&HostError::ConnectionFailed("refused".into())).not_sent);
        for t in [
            "Io(Io(Kind(UnexpectedEof)))",
            r#"Io(Io(Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" }))"#,
            "Driver(ConnectionClosed)",
            DUP_DEBUG,
            TIMEOUT_DISPLAY,
        ] {
            assert!(!classify(&query_failed(t)).not_sent, "{t}");
        }
    }

    #[test]
    fn failed_opens_are_transient_and_redacted() {
        let c = classify(&HostError::ConnectionFailed(
            "address mysql://probe:probe@10.0.0.1/probe is not permitted".into(),
        ));
        assert!(c.error.is_transient());
        assert!(c.connection_broken);
        assert!(!c.error.to_string().contains("probe:probe"));
        let over_limit = r#"Server(ServerError { code: 1226, message: "User 'orders' has exceeded the 'max_user_connections' resource (current value: 10)", state: "42000" })"#;
        assert!(
            classify(&HostError::ConnectionFailed(over_limit.into()))
                .error
                .is_transient()
        );
    }

    #[test]
    fn other_server_errors_keep_the_connection() {
        let c = classify(&query_failed(NO_TABLE_DEBUG));
        assert!(matches!(c.error, StoreError::Other { .. }));
        assert!(!c.connection_broken);
    }

    #[test]
    fn conversion_failures_point_at_the_cast_and_restart_the_connection() {
        let c = classify(&HostError::ValueConversionFailed(
            "Cannot convert value Bytes(\"1.50\") in column d data type DbDataType::Other".into(),
        ));
        assert!(
            matches!(&c.error, StoreError::Other { detail } if detail.as_str().contains("CAST"))
        );
        assert!(c.connection_broken);
    }

    #[test]
    fn unknown_texts_are_other_and_restart_the_connection() {
        let c = classify(&HostError::Other(
            "query result exceeds limit of 134217728 bytes".into(),
        ));
        assert!(matches!(c.error, StoreError::Other { .. }));
        assert!(c.connection_broken);
        let c = classify(&HostError::BadParameter("bad".into()));
        assert!(!c.connection_broken);
    }

    proptest! {
        #[test]
        fn parser_never_panics(text in "\\PC{0,300}") {
            let _ = parse_server_error(&text);
            let _ = classify(&HostError::QueryFailed(text.clone()));
            let _ = classify(&HostError::Other(text));
        }

        #[test]
        fn both_spellings_round_trip(code in 1000u16..5000, state in "[0-9A-Z]{5}", msg in "[ -~]{0,60}") {
            let display = format!("Server error: `ERROR {state} ({code}): {msg}'");
            let cli = format!("ERROR {code} ({state}): {msg}");
            let debug = format!("Server(ServerError {{ code: {code}, message: {msg:?}, state: \"{state}\" }})");
            for t in [display, cli, debug] {
                let e = parse_server_error(&t).unwrap();
                prop_assert_eq!(e.code, code);
                prop_assert_eq!(&e.sqlstate, &state);
            }
        }
    }
}
