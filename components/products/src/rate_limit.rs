//! Per-caller rate limit (STANDARDS §12): a fixed one-minute window counted in the
//! shared key-value store (so every instance and host enforces one limit), announced
//! with the IETF httpapi `RateLimit-Policy` / `RateLimit` headers; over the quota →
//! 429 + `Retry-After`.
//!
//! The caller is the token's OAuth client when the auth middleware verified one, else
//! the client address (`spin-client-addr`, without its port). A key-value failure lets
//! the request through (failing open: the limit protects capacity, and refusing every
//! request because Redis blinked would be the larger outage) and is logged.
//!
//! (Written here because edge-http's generic `rate_limit` module had not landed yet.)

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderName, HeaderValue};
use store::{BreakerStore, KvError};

/// Every window is one minute.
pub const WINDOW_SECS: u64 = 60;

/// The policy's name in the headers.
pub const POLICY: &str = "products";

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Who is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An OAuth client (from the verified token).
    Client(String),
    /// A network address.
    Address(String),
}

impl Caller {
    /// The caller from the verified client id, else from `spin-client-addr`.
    pub fn identify(client_id: Option<&str>, client_addr: Option<&str>) -> Self {
        match client_id {
            Some(id) => Self::Client(id.to_owned()),
            None => Self::Address(client_ip(client_addr)),
        }
    }

    fn key_part(&self) -> String {
        match self {
            Self::Client(id) => format!("c:{id}"),
            Self::Address(ip) => format!("a:{ip}"),
        }
    }
}

/// The client's IP from `ip:port` / `[v6]:port`, without the port.
pub fn client_ip(addr: Option<&str>) -> String {
    addr.and_then(|a| {
        a.parse::<SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .ok()
    })
    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// The outcome of counting one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Requests allowed per window.
    pub quota: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
    /// Whether this request is within the quota.
    pub allowed: bool,
}

impl Decision {
    /// Sets `RateLimit-Policy` and `RateLimit` on `headers`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let policy = format!("\"{POLICY}\";q={};w={WINDOW_SECS}", self.quota);
        let limit = format!("\"{POLICY}\";r={};t={}", self.remaining, self.reset_secs);
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(RATELIMIT_POLICY, value);
        }
        if let Ok(value) = HeaderValue::from_str(&limit) {
            headers.insert(RATELIMIT, value);
        }
    }
}

/// Counts one request of `caller` at `now_secs` against `quota` per minute, in `kv`
/// under `{prefix}:rl:products:{caller}:{window}`.
///
/// # Errors
/// The key-value failure (the caller decides to fail open).
pub async fn count<K: BreakerStore>(
    kv: &K,
    prefix: &str,
    caller: &Caller,
    quota: u64,
    now_secs: u64,
) -> Result<Decision, KvError> {
    let window = now_secs / WINDOW_SECS;
    let reset_secs = (WINDOW_SECS - now_secs % WINDOW_SECS).max(1);
    let key = format!("{prefix}:rl:{POLICY}:{}:{window}", caller.key_part());
    let used = kv.increment(&key, 1).await?;
    let used = u64::try_from(used).unwrap_or(0);
    Ok(Decision {
        quota,
        remaining: quota.saturating_sub(used),
        reset_secs,
        allowed: used <= quota,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use store::testing::FakeKv;

    #[test]
    fn the_quota_is_counted_per_caller_and_window() {
        let kv = FakeKv::default();
        let ada = Caller::identify(Some("ada-client"), Some("10.0.0.1:5000"));
        let addr = Caller::identify(None, Some("10.0.0.1:5000"));
        for expected in [2, 1, 0] {
            let d = block_on(count(&kv, "p", &ada, 3, 120)).unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
            assert_eq!(d.reset_secs, 60);
        }
        let over = block_on(count(&kv, "p", &ada, 3, 150)).unwrap();
        assert!(!over.allowed);
        assert_eq!(over.reset_secs, 30);
        assert!(block_on(count(&kv, "p", &addr, 3, 150)).unwrap().allowed);
        assert!(block_on(count(&kv, "p", &ada, 3, 180)).unwrap().allowed);
        assert!(kv.keys().iter().all(|k| k.starts_with("p:rl:products:")));
    }

    #[test]
    fn headers_follow_the_draft() {
        let mut headers = HeaderMap::new();
        Decision {
            quota: 300,
            remaining: 12,
            reset_secs: 7,
            allowed: true,
        }
        .write_headers(&mut headers);
        assert_eq!(headers[RATELIMIT_POLICY], "\"products\";q=300;w=60");
        assert_eq!(headers[RATELIMIT], "\"products\";r=12;t=7");
    }

    #[test]
    fn addresses_lose_their_port() {
        assert_eq!(client_ip(Some("[::1]:8080")), "::1");
        assert_eq!(client_ip(Some("192.0.2.1:1")), "192.0.2.1");
        assert_eq!(client_ip(None), "unknown");
    }
}
