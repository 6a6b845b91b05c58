//! identity's rate limits (STANDARDS §12) on edge-http's fixed-window limiter
//! ([`edge_http::rate_limit`]): counters in the shared key-value store under
//! `{kv_prefix}:rl:{policy}:{subject}:{window}`, the IETF httpapi `RateLimit-Policy` /
//! `RateLimit` headers and 429 + `Retry-After`.
//!
//! Policies, all per minute: `oauth` (`rate_limit_per_minute` per client address, every
//! route without a policy of its own), `token` (the same quota, its own counter) and
//! `login` (`login_attempts_per_minute` sign-in attempts per address and per account).

use edge_http::ApiError;
use edge_http::rate_limit::{
    Decision, RateLimitPolicy, RateLimiter, client_subject, hashed_subject,
};
use http::HeaderMap;
use store::BreakerStore;

use crate::model::Env;

/// Every route without a policy of its own.
pub const OAUTH: &str = "oauth";
/// `POST /oauth2/token`.
pub const TOKEN: &str = "token";
/// `POST /login`.
pub const LOGIN: &str = "login";

/// The client-address subject: `addr:` + the IPv4 address or the IPv6 /64 (port
/// dropped: one address is one client whatever port it comes from).
pub fn address(headers: &HeaderMap) -> String {
    format!("addr:{}", client_subject(headers))
}

/// The account subject: `acct:` + a hash of the normalised email, so addresses never sit
/// in the key-value store in clear.
pub fn account(email: &str) -> String {
    format!("acct:{}", hashed_subject(&email.trim().to_lowercase()))
}

fn limiter<R, K>(env: &Env<'_, R, K>) -> RateLimiter {
    RateLimiter::new(env.config.kv_prefix.as_str())
}

/// Counts one request for `subject`; fails open (allowed, logged) when the key-value
/// store is unreachable: a Redis outage must not take discovery and JWKS down.
pub async fn check<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    policy: &RateLimitPolicy,
    subject: &str,
) -> Decision {
    limiter(env).check(env.kv, policy, subject, env.now).await
}

/// Counts one request for `subject`; 503 + `Retry-After` when the key-value store is
/// unreachable (token and sign-in attempts are never let through unthrottled).
pub async fn check_strict<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    policy: &RateLimitPolicy,
    subject: &str,
) -> Result<Decision, ApiError> {
    limiter(env)
        .check_strict(env.kv, policy, subject, env.now)
        .await
}

/// A 429 for a refused `decision`, without its RateLimit headers (the caller adds them
/// with [`Decision::finish`] after any other header work).
pub fn too_many(decision: &Decision) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: decision.reset_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(addr: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("spin-client-addr", HeaderValue::from_str(addr).unwrap());
        headers
    }

    #[test]
    fn the_address_subject_drops_the_port_and_groups_ipv6_by_64() {
        assert_eq!(address(&headers("127.0.0.1:5000")), "addr:127.0.0.1");
        assert_eq!(
            address(&headers("[2001:db8:1:2:3:4:5:6]:5000")),
            "addr:2001:db8:1:2::/64"
        );
        assert_eq!(address(&HeaderMap::new()), "addr:unknown");
    }

    #[test]
    fn accounts_are_hashed_case_insensitively() {
        assert_eq!(account("A@x.io "), account("a@x.io"));
        assert!(!account("a@x.io").contains("x.io"));
        assert!(account("a@x.io").len() <= edge_http::rate_limit::MAX_PLAIN_SUBJECT_BYTES);
    }
}
