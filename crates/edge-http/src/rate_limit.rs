//! Fixed-window rate limits in the shared key-value store (docs/standards.md §12), with the
//! IETF `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers,
//! structured fields) and 429 + `Retry-After`.
//!
//! ```
//! # futures::executor::block_on(async {
//! use edge_http::rate_limit::{RateLimitPolicy, RateLimiter, client_subject};
//! # let kv = store::testing::FakeKv::default();
//! // `kv`: `store::SpinShared::new()` in a component (any `store::BreakerStore` is a
//! // `Counter`); `kv_prefix` from the variable of that name.
//! let policy = RateLimitPolicy::new("addr", 300, 60);
//! let limiter = RateLimiter::new("orderly");
//! let decision = limiter.check(&kv, &policy, "203.0.113.9", 1_764_072_000).await;
//! assert!(decision.allowed);
//! // In the handler: `decision.enforce()?;` then, on the success response,
//! // `decision.apply_headers(response.headers_mut())` (and log `decision.degraded`).
//! # });
//! ```
//!
//! **When the key-value store is unreachable the limiter fails open**: the request is
//! allowed, [`Decision::degraded`] holds the (redacted) cause for the log line
//! ([`Decision::attach_log_cause`]) and only `RateLimit-Policy` is sent (the remaining
//! quota is unknown). A rate limit protects capacity; refusing every request because
//! its own bookkeeping is down would turn a Redis outage into a full API outage. Login
//! throttling, where failing open would help a password-guessing attack, should call
//! [`RateLimiter::check_strict`] instead, which answers 503 + `Retry-After` then.
//!
//! Keys are `{prefix}:rl:{policy}:{subject}:{window}`, with `window = now / window_secs`.
//! The counter is created with an expiry at the window's end ([`window_ttl`]), so each
//! active subject holds one key per policy, gone when its window is over
//! (docs/shared-state.md).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::response::{EdgeResponse, attach_log_cause};

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");

/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_HEADER: HeaderName = HeaderName::from_static("ratelimit");

/// The header Spin sets to the client's `ip:port`.
pub const CLIENT_ADDR_HEADER: HeaderName = HeaderName::from_static("spin-client-addr");

/// The longest subject used verbatim in a key; longer (or unusual) ones are hashed.
pub const MAX_PLAIN_SUBJECT_BYTES: usize = 64;

/// An atomic counter in a shared store. Every [`store::BreakerStore`] (e.g.
/// `store::SpinShared::new()`, `store::testing::FakeKv`) is one.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Counter {
    /// The store's error (shown in the log line).
    type Error: fmt::Display;

    /// Atomically adds `delta` to the counter at `key` (absent counts as 0) and returns
    /// the new value; a counter this creates expires `ttl` from now.
    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Self::Error>;
}

impl<K: store::BreakerStore + ?Sized> Counter for K {
    type Error = store::KvError;

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Self::Error> {
        store::BreakerStore::increment(self, key, delta, ttl).await
    }
}

/// A quota of `quota` requests per `window_secs` seconds, named `name` in keys and
/// headers (a short token such as `addr`, `client`, `login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// The policy's name: `[a-z0-9_-]`, used in keys and as the header's sf-string.
    pub name: &'static str,
    /// Requests allowed per window.
    pub quota: u64,
    /// Window length in seconds (at least 1).
    pub window_secs: u64,
}

impl RateLimitPolicy {
    /// `quota` requests per `window_secs` (a zero window counts as 1 s).
    pub const fn new(name: &'static str, quota: u64, window_secs: u64) -> Self {
        Self {
            name,
            quota,
            window_secs: if window_secs == 0 { 1 } else { window_secs },
        }
    }

    /// `quota` requests per minute.
    pub const fn per_minute(name: &'static str, quota: u64) -> Self {
        Self::new(name, quota, 60)
    }

    /// The `RateLimit-Policy` member: `"<name>";q=<quota>;w=<window>`.
    pub fn policy_value(&self) -> String {
        format!(
            "{};q={};w={}",
            sf_string(self.name),
            self.quota,
            self.window_secs
        )
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// May the request proceed?
    pub allowed: bool,
    /// The policy checked.
    pub policy: RateLimitPolicy,
    /// The quota (`policy.quota`).
    pub limit: u64,
    /// Requests left in this window (0 when refused).
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
    /// Why the count is unknown, when the store failed and the limiter failed open.
    pub degraded: Option<String>,
}

impl Decision {
    /// Writes `RateLimit-Policy` and (unless degraded) `RateLimit` into `headers`,
    /// appending, so a response checked against two policies lists both.
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&self.policy.policy_value()) {
            headers.append(RATELIMIT_POLICY_HEADER, value);
        }
        if self.degraded.is_none()
            && let Ok(value) = HeaderValue::from_str(&self.limit_value())
        {
            headers.append(RATELIMIT_HEADER, value);
        }
    }

    /// The headers [`Decision::apply_headers`] writes, as pairs.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut map = HeaderMap::new();
        self.apply_headers(&mut map);
        map.into_iter()
            .filter_map(|(name, value)| name.map(|n| (n, value)))
            .collect()
    }

    /// The `RateLimit` member: `"<name>";r=<remaining>;t=<reset>`.
    pub fn limit_value(&self) -> String {
        format!(
            "{};r={};t={}",
            sf_string(self.policy.name),
            self.remaining,
            self.reset_secs
        )
    }

    /// The 429 for a refused request: `Retry-After` = seconds to the window's reset,
    /// plus the RateLimit headers.
    pub fn to_error(&self) -> ApiError {
        ApiError::TooManyRequests {
            retry_after_secs: self.reset_secs,
        }
        .with_headers(self.headers())
    }

    /// `Ok` when allowed, else [`Decision::to_error`] (429).
    ///
    /// # Errors
    /// The 429 when the quota is used up.
    pub fn enforce(&self) -> Result<(), ApiError> {
        if self.allowed {
            Ok(())
        } else {
            Err(self.to_error())
        }
    }

    /// On a degraded decision, puts its cause in the response's log line.
    pub fn attach_log_cause(&self, response: &mut EdgeResponse) {
        if let Some(cause) = &self.degraded {
            attach_log_cause(response, format!("rate limit not enforced: {cause}"));
        }
    }

    /// Applies the headers and the log cause to a handler's final response.
    pub fn finish(&self, response: &mut EdgeResponse) {
        self.apply_headers(response.headers_mut());
        self.attach_log_cause(response);
    }
}

/// Counts requests per policy and subject under one key prefix (`kv_prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiter {
    prefix: String,
}

impl RateLimiter {
    /// A limiter writing keys under `prefix` (the `kv_prefix` variable).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The key counting `subject` under `policy` in window `window`.
    pub fn key(&self, policy: &RateLimitPolicy, subject: &str, window: u64) -> String {
        format!(
            "{}:rl:{}:{}:{window}",
            self.prefix,
            policy.name,
            key_subject(subject)
        )
    }

    /// Counts one request by `subject` at `now_secs` (Unix seconds) against `policy`.
    /// Fails open when the store fails (see the module docs).
    pub async fn check<C: Counter + ?Sized>(
        &self,
        counter: &C,
        policy: &RateLimitPolicy,
        subject: &str,
        now_secs: u64,
    ) -> Decision {
        match self.count(counter, policy, subject, now_secs).await {
            Ok(decision) => decision,
            Err(cause) => Decision {
                allowed: true,
                policy: *policy,
                limit: policy.quota,
                remaining: policy.quota,
                reset_secs: reset_secs(policy, now_secs),
                degraded: Some(crate::redact::redact(&cause)),
            },
        }
    }

    /// Like [`RateLimiter::check`] but fails closed: when the store fails, a 503 with
    /// `Retry-After` (the cause goes to the log line). For login throttling.
    ///
    /// # Errors
    /// [`ApiError`] 503 when the store fails (a refused request is still an `Ok`
    /// decision with `allowed == false`; call [`Decision::enforce`]).
    pub async fn check_strict<C: Counter + ?Sized>(
        &self,
        counter: &C,
        policy: &RateLimitPolicy,
        subject: &str,
        now_secs: u64,
    ) -> Result<Decision, ApiError> {
        self.count(counter, policy, subject, now_secs)
            .await
            .map_err(|cause| {
                // `ServiceUnavailable` carries no cause into the edge's log line (which
                // then says "handler answered 503"), so the cause goes to stderr,
                // which Spin keeps in the component's log.
                eprintln!(
                    "rate limit store failed, refusing (strict policy {}): {}",
                    policy.name,
                    crate::redact::redact(&cause)
                );
                ApiError::ServiceUnavailable {
                    retry_after_secs: 1,
                }
            })
    }

    async fn count<C: Counter + ?Sized>(
        &self,
        counter: &C,
        policy: &RateLimitPolicy,
        subject: &str,
        now_secs: u64,
    ) -> Result<Decision, String> {
        let window = now_secs / policy.window_secs;
        let key = self.key(policy, subject, window);
        let count = counter
            .increment(&key, 1, window_ttl(policy, now_secs))
            .await
            .map_err(|e| e.to_string())?;
        let count = u64::try_from(count).unwrap_or(0);
        Ok(Decision {
            allowed: count <= policy.quota,
            policy: *policy,
            limit: policy.quota,
            remaining: policy.quota.saturating_sub(count),
            reset_secs: reset_secs(policy, now_secs),
            degraded: None,
        })
    }
}

fn reset_secs(policy: &RateLimitPolicy, now_secs: u64) -> u64 {
    policy.window_secs - now_secs % policy.window_secs
}

/// How long the counter of the window containing `now_secs` is kept: until the window
/// ends, plus [`WINDOW_TTL_MARGIN`] for hosts whose clocks run a little behind (they still
/// count into the window after it ended here).
pub fn window_ttl(policy: &RateLimitPolicy, now_secs: u64) -> Duration {
    Duration::from_secs(reset_secs(policy, now_secs)) + WINDOW_TTL_MARGIN
}

/// See [`window_ttl`].
pub const WINDOW_TTL_MARGIN: Duration = Duration::from_secs(1);

/// The subject as it appears in a key: verbatim when short and made of
/// `[A-Za-z0-9._:@/-]`, otherwise `h-` and 32 hex digits of its SHA-256 (so no key can
/// grow without bound or carry odd bytes).
fn key_subject(subject: &str) -> String {
    let plain = !subject.is_empty()
        && subject.len() <= MAX_PLAIN_SUBJECT_BYTES
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:@/-".contains(&b));
    if plain {
        subject.to_owned()
    } else {
        format!("h-{}", hash_hex(subject))
    }
}

/// A subject that keeps personal data (an email, an account name) out of the store:
/// `h-` and 32 hex digits of its SHA-256.
pub fn hashed_subject(text: &str) -> String {
    format!("h-{}", hash_hex(text))
}

fn hash_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An RFC 8941 sf-string: quoted, `\` and `"` escaped, non-printable ASCII dropped.
fn sf_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The client's IP address from Spin's `spin-client-addr` (`ip:port`, `[v6]:port`,
/// or a bare ip); `None` when absent or malformed.
pub fn client_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let text = headers.get(CLIENT_ADDR_HEADER)?.to_str().ok()?.trim();
    text.parse::<SocketAddr>()
        .map(|addr| addr.ip())
        .or_else(|_| text.parse::<IpAddr>())
        .ok()
        .map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        })
}

/// The per-address rate-limit subject of a request: the IPv4 address, or the /64
/// network of an IPv6 address (one host usually holds a whole /64, so limiting single
/// v6 addresses is trivially evaded); `unknown` when Spin sent no address.
pub fn client_subject(headers: &HeaderMap) -> String {
    match client_ip(headers) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use store::testing::FakeKv;

    const POLICY: RateLimitPolicy = RateLimitPolicy::new("addr", 3, 60);

    fn limiter() -> RateLimiter {
        RateLimiter::new("t1")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_quota_is_allowed_then_refused_with_the_documented_key() {
        let kv = FakeKv::default();
        let now = 6_000 + 15; // window 100, 45 s to go
        let mut decisions = Vec::new();
        for _ in 0..4 {
            decisions.push(block_on(limiter().check(&kv, &POLICY, "203.0.113.9", now)));
        }
        let allowed: Vec<bool> = decisions.iter().map(|d| d.allowed).collect();
        assert_eq!(allowed, [true, true, true, false]);
        let remaining: Vec<u64> = decisions.iter().map(|d| d.remaining).collect();
        assert_eq!(remaining, [2, 1, 0, 0]);
        assert!(decisions.iter().all(|d| d.reset_secs == 45 && d.limit == 3));
        assert_eq!(
            kv.get_text("t1:rl:addr:203.0.113.9:100").as_deref(),
            Some("4")
        );
    }

    #[test]
    fn a_new_window_starts_again_and_the_old_counter_expires_when_its_window_ends() {
        let kv = FakeKv::default();
        for _ in 0..4 {
            block_on(limiter().check(&kv, &POLICY, "s", 60 * 100 + 15));
        }
        // Created 15 s into the window: kept for the 45 s left, plus the margin.
        assert_eq!(
            kv.ttl("t1:rl:addr:s:100"),
            Some(Duration::from_secs(45) + WINDOW_TTL_MARGIN)
        );
        kv.advance(Duration::from_secs(45));
        let next = block_on(limiter().check(&kv, &POLICY, "s", 60 * 101));
        assert!(next.allowed);
        assert_eq!(next.remaining, 2);
        assert_eq!(next.reset_secs, 60);
        kv.advance(WINDOW_TTL_MARGIN);
        assert_eq!(kv.keys(), ["t1:rl:addr:s:101"]);
    }

    #[test]
    fn window_ttls_end_with_the_window() {
        let hourly = RateLimitPolicy::new("reg", 20, 3_600);
        assert_eq!(window_ttl(&hourly, 3_600 * 7), Duration::from_secs(3_601));
        assert_eq!(
            window_ttl(&hourly, 3_600 * 7 + 3_599),
            Duration::from_secs(2)
        );
        assert_eq!(window_ttl(&POLICY, 59), Duration::from_secs(2));
    }

    #[test]
    fn subjects_and_policies_are_counted_separately() {
        let kv = FakeKv::default();
        let other_policy = RateLimitPolicy::per_minute("client", 1);
        assert!(block_on(limiter().check(&kv, &other_policy, "a", 0)).allowed);
        assert!(!block_on(limiter().check(&kv, &other_policy, "a", 0)).allowed);
        assert!(block_on(limiter().check(&kv, &other_policy, "b", 0)).allowed);
        assert!(block_on(limiter().check(&kv, &POLICY, "a", 0)).allowed);
    }

    #[test]
    fn odd_or_long_subjects_are_hashed_in_keys() {
        let long = "x".repeat(MAX_PLAIN_SUBJECT_BYTES + 1);
        for subject in ["a b", "ü", "", long.as_str(), "a\nb"] {
            let key = limiter().key(&POLICY, subject, 7);
            let middle = key
                .strip_prefix("t1:rl:addr:")
                .and_then(|k| k.strip_suffix(":7"))
                .unwrap();
            assert!(middle.starts_with("h-") && middle.len() == 34, "{key}");
        }
        assert_eq!(
            limiter().key(&POLICY, "2001:db8::/64", 7),
            "t1:rl:addr:2001:db8::/64:7"
        );
        assert_eq!(hashed_subject("a@b.c"), hashed_subject("a@b.c"));
        assert_ne!(hashed_subject("a@b.c"), "a@b.c");
    }

    #[test]
    fn headers_follow_the_ietf_draft_structured_fields() {
        let kv = FakeKv::default();
        let decision = block_on(limiter().check(&kv, &POLICY, "s", 6_015));
        let mut map = HeaderMap::new();
        decision.apply_headers(&mut map);
        assert_eq!(map[RATELIMIT_POLICY_HEADER], "\"addr\";q=3;w=60");
        assert_eq!(map[RATELIMIT_HEADER], "\"addr\";r=2;t=45");
        let second = RateLimitPolicy::per_minute("client", 10);
        let other = block_on(limiter().check(&kv, &second, "c", 6_015));
        other.apply_headers(&mut map);
        assert_eq!(map.get_all(RATELIMIT_HEADER).iter().count(), 2);
    }

    #[test]
    fn a_refused_request_is_a_429_with_retry_after_and_the_headers() {
        let kv = FakeKv::default();
        let policy = RateLimitPolicy::new("login", 0, 30);
        let decision = block_on(limiter().check(&kv, &policy, "s", 10));
        assert!(!decision.allowed);
        let error = decision.enforce().unwrap_err();
        let response = error.to_response(&crate::RequestId::generate());
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "20");
        assert_eq!(response.headers()[RATELIMIT_HEADER], "\"login\";r=0;t=20");
        assert_eq!(
            response.headers()[RATELIMIT_POLICY_HEADER],
            "\"login\";q=0;w=30"
        );
    }

    #[test]
    fn an_unreachable_store_fails_open_with_a_logged_cause_and_no_remaining_count() {
        let kv = FakeKv::default();
        kv.set_failing(true);
        let decision = block_on(limiter().check(&kv, &POLICY, "s", 0));
        assert!(decision.allowed);
        assert!(decision.enforce().is_ok());
        assert!(
            decision
                .degraded
                .as_deref()
                .unwrap()
                .contains("unavailable")
        );
        let mut response = crate::response::empty_response(http::StatusCode::OK);
        decision.finish(&mut response);
        assert!(response.headers().contains_key(RATELIMIT_POLICY_HEADER));
        assert!(!response.headers().contains_key(RATELIMIT_HEADER));
        assert!(response.extensions().get::<crate::LogCause>().is_some());
    }

    #[test]
    fn the_strict_check_fails_closed_with_503() {
        let kv = FakeKv::default();
        kv.set_failing(true);
        let result = block_on(limiter().check_strict(&kv, &POLICY, "s", 0));
        let error = result.unwrap_err();
        assert_eq!(error.status().as_u16(), 503);
        kv.set_failing(false);
        assert!(
            block_on(limiter().check_strict(&kv, &POLICY, "s", 0))
                .unwrap()
                .allowed
        );
    }

    #[test]
    fn the_client_address_comes_from_spin_client_addr_without_port() {
        let cases = [
            ("203.0.113.9:51234", Some("203.0.113.9")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[::ffff:198.51.100.7]:80", Some("198.51.100.7")),
            ("198.51.100.7", Some("198.51.100.7")),
            ("2001:db8::2", Some("2001:db8::2")),
            ("not an address", None),
        ];
        for (value, expected) in cases {
            let ip = client_ip(&headers(&[("spin-client-addr", value)]));
            assert_eq!(ip.map(|i| i.to_string()).as_deref(), expected, "{value}");
        }
        assert_eq!(client_ip(&HeaderMap::new()), None);
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a = client_subject(&headers(&[(
            "spin-client-addr",
            "[2001:db8:1:2:aaaa::1]:1",
        )]));
        let b = client_subject(&headers(&[(
            "spin-client-addr",
            "[2001:db8:1:2:bbbb::9]:2",
        )]));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_eq!(
            client_subject(&headers(&[("spin-client-addr", "10.0.0.1:9")])),
            "10.0.0.1"
        );
        assert_eq!(client_subject(&HeaderMap::new()), "unknown");
    }

    #[test]
    fn sf_strings_are_quoted_and_escaped() {
        assert_eq!(sf_string("a\"b\\c\n"), "\"a\\\"b\\\\c\"");
    }
}
