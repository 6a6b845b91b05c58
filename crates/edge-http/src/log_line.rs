//! The one JSON log line per request (docs/standards.md §14).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One request's log record. Every free-text field has been through
/// [`crate::redact::redact`] before it lands here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    /// When the request arrived, RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// `info` (< 400), `warn` (4xx) or `error` (5xx).
    pub level: &'static str,
    /// The component that served the request (`health`, `orders`, …).
    pub component: &'static str,
    /// The request method.
    pub method: String,
    /// The matched route from `spin-matched-route`, else the path (no query string).
    pub route: String,
    /// The response status.
    pub status: u16,
    /// Time from entry to response, in milliseconds (microsecond precision).
    pub duration_ms: f64,
    /// The request id echoed in `X-Request-Id`.
    pub request_id: String,
    /// The W3C trace id.
    pub trace_id: String,
    /// Our span id in that trace (the one in the response's `traceparent`).
    pub span_id: String,
    /// The authenticated OAuth client, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The internal cause, for 5xx or when a handler attached one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LogRecord {
    /// The level for a status: `error` for 5xx, `warn` for 4xx, else `info`.
    pub fn level_for(status: u16) -> &'static str {
        match status {
            500.. => "error",
            400..=499 => "warn",
            _ => "info",
        }
    }

    /// The record as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            // Only strings and numbers: cannot fail. Never lose the line if it did.
            format!(
                r#"{{"level":"error","msg":"log line failed","status":{}}}"#,
                self.status
            )
        })
    }
}

/// Writes `record` to stdout as one line (Spin collects guest stdout into its logs).
/// A failed write is ignored: logging must never fail a request.
pub fn write_log_line(record: &LogRecord) {
    let line = record.to_json_line();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Milliseconds with three decimals.
pub fn duration_millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// `2026-11-25T10:52:03.123Z` for `time` (times before 1970 print as the epoch).
pub fn format_rfc3339_millis(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_764_067_923_456, "2025-11-25T10:52:03.456Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        ];
        for (millis, expected) in cases {
            let time = UNIX_EPOCH + Duration::from_millis(millis);
            assert_eq!(format_rfc3339_millis(time), expected);
        }
    }

    #[test]
    fn levels_follow_the_status_class() {
        assert_eq!(LogRecord::level_for(200), "info");
        assert_eq!(LogRecord::level_for(404), "warn");
        assert_eq!(LogRecord::level_for(503), "error");
    }

    #[test]
    fn optional_fields_are_omitted_when_absent() {
        let record = LogRecord {
            ts: "t".into(),
            level: "info",
            component: "health",
            method: "GET".into(),
            route: "/health".into(),
            status: 200,
            duration_ms: 0.5,
            request_id: "r".into(),
            trace_id: "t".into(),
            span_id: "s".into(),
            client_id: None,
            error: None,
        };
        let line = record.to_json_line();
        assert!(
            !line.contains("client_id") && !line.contains("error"),
            "{line}"
        );
        assert!(!line.contains('\n'));
        assert_eq!(duration_millis(Duration::from_nanos(1_234_567)), 1.235);
    }
}
