//! Fixed-window counters in the shared key-value store (STANDARDS §12) and the IETF
//! httpapi `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers).

use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

/// Every window is one minute.
pub const WINDOW_SECS: u64 = 60;

/// A fixed window: its number and the seconds left in it (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `now / 60`: part of the counter key.
    pub index: u64,
    /// Seconds until the window ends (the `t` parameter and `Retry-After`).
    pub reset_secs: u64,
}

/// The window `now` (seconds since the epoch) falls in.
pub fn window(now: u64) -> Window {
    Window {
        index: now / WINDOW_SECS,
        reset_secs: (WINDOW_SECS - now % WINDOW_SECS).max(1),
    }
}

/// The counter key of `subject` in a policy: `{prefix}:rl:{policy}:{subject}:{window}`.
pub fn counter_key(prefix: &str, policy: &str, subject: &str, window: Window) -> String {
    format!("{prefix}:rl:{policy}:{subject}:{}", window.index)
}

/// The client's IP from Spin's `spin-client-addr` (`ip:port`, `[v6]:port`), without the
/// port: one address is one client whatever port it comes from.
pub fn client_ip(addr: Option<&str>) -> String {
    addr.and_then(|a| {
        a.parse::<SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .ok()
    })
    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Hex SHA-256 of an account name, so emails never sit in the key-value store in clear.
pub fn account_subject(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `RateLimit-Policy: "<name>";q=<quota>;w=60`.
pub fn policy_header(name: &str, quota: u64) -> String {
    format!("\"{name}\";q={quota};w={WINDOW_SECS}")
}

/// `RateLimit: "<name>";r=<remaining>;t=<reset>`.
pub fn limit_header(name: &str, remaining: u64, reset_secs: u64) -> String {
    format!("\"{name}\";r={remaining};t={reset_secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_minutes() {
        assert_eq!(
            window(120),
            Window {
                index: 2,
                reset_secs: 60
            }
        );
        assert_eq!(
            window(179),
            Window {
                index: 2,
                reset_secs: 1
            }
        );
        assert_eq!(
            counter_key("t1", "login:acct", "ab", window(61)),
            "t1:rl:login:acct:ab:1"
        );
    }

    #[test]
    fn the_client_ip_drops_the_port() {
        assert_eq!(client_ip(Some("127.0.0.1:5000")), "127.0.0.1");
        assert_eq!(client_ip(Some("[::1]:5000")), "::1");
        assert_eq!(client_ip(Some("10.0.0.1")), "10.0.0.1");
        assert_eq!(client_ip(Some("nonsense")), "unknown");
        assert_eq!(client_ip(None), "unknown");
    }

    #[test]
    fn accounts_are_hashed_case_insensitively() {
        assert_eq!(account_subject("A@x.io "), account_subject("a@x.io"));
        assert_eq!(account_subject("a@x.io").len(), 64);
    }

    #[test]
    fn header_syntax() {
        assert_eq!(policy_header("login", 10), "\"login\";q=10;w=60");
        assert_eq!(limit_header("login", 0, 37), "\"login\";r=0;t=37");
    }
}
