//! Rate limits as an edge step (docs/standards.md §12).
//!
//! A component does not call the limiter: it *declares* a [`LimitRule`] per request
//! ([`crate::Service::rate_limit`]) and [`crate::serve()`] applies it in one fixed place —
//! after the body is read and before the route's method check and the handler — and puts the
//! `RateLimit-Policy` / `RateLimit` headers on whatever is answered, errors included. No
//! route can skip it, and every component answers a limited request the same way.
//!
//! Subjects follow one scheme for every component ([`Subject`]): `c:{client}:{subject}`
//! for a verified caller (per OAuth client *and* the user it acts for, so the users of one
//! public client do not share a quota), `a:{address}` otherwise (IPv4, or the IPv6 /64),
//! `acct:{hash}` for an account being signed in to. Counters live in the shared store under
//! `{kv_prefix}:rl:{policy}:{subject}:{window}` (edge-http's limiter).

use edge_http::rate_limit::{
    Counter, Decision, RateLimitPolicy, RateLimiter, client_subject, hashed_subject,
};
use edge_http::{ApiError, RequestContext};
use http::HeaderMap;

/// What to do when the shared store cannot count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreFailure {
    /// Let the request through (logged): a rate limit protects capacity, and a Redis outage
    /// must not take the catalogue down with it.
    Allow,
    /// Answer 503 + `Retry-After`: for sign-in and token requests, where counting is the
    /// defence against guessing.
    Refuse,
}

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    /// The verified caller (`c:{client}:{subject}`), else the client address.
    pub fn caller(context: &RequestContext, headers: &HeaderMap) -> Self {
        match context.principal() {
            Some(principal) => Self(format!("c:{}:{}", principal.client_id, principal.subject)),
            None => Self::address(headers),
        }
    }

    /// The client address (`a:` + IPv4, or the IPv6 /64; the port never counts).
    pub fn address(headers: &HeaderMap) -> Self {
        Self(format!("a:{}", client_subject(headers)))
    }

    /// An account, by a hash of its case-folded identifier (never stored in clear).
    pub fn account(identifier: &str) -> Self {
        Self(format!(
            "acct:{}",
            hashed_subject(&identifier.trim().to_lowercase())
        ))
    }

    /// The subject as the limiter's key writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One rate limit a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRule {
    /// The quota and its name (`RateLimit-Policy: "<name>";q=…;w=…`).
    pub policy: RateLimitPolicy,
    /// Whom it counts.
    pub subject: Subject,
    /// Fail open or closed when the store is down.
    pub on_store_failure: OnStoreFailure,
}

impl LimitRule {
    /// `policy` counted per `subject`, failing open.
    pub fn new(policy: RateLimitPolicy, subject: Subject) -> Self {
        Self {
            policy,
            subject,
            on_store_failure: OnStoreFailure::Allow,
        }
    }

    /// The same rule, failing closed (503) when the store cannot count.
    #[must_use]
    pub fn strict(mut self) -> Self {
        self.on_store_failure = OnStoreFailure::Refuse;
        self
    }
}

/// Counts one request under `rule`. A refusal is still an `Ok` decision
/// (`allowed == false`); `Err` is the 503 of a strict rule whose store failed.
///
/// # Errors
/// 503 + `Retry-After` when a strict rule cannot count.
pub async fn count<C: Counter + ?Sized>(
    counter: &C,
    kv_prefix: &str,
    rule: &LimitRule,
    now_secs: u64,
) -> Result<Decision, ApiError> {
    let limiter = RateLimiter::new(kv_prefix);
    match rule.on_store_failure {
        OnStoreFailure::Allow => Ok(limiter
            .check(counter, &rule.policy, rule.subject.as_str(), now_secs)
            .await),
        OnStoreFailure::Refuse => {
            limiter
                .check_strict(counter, &rule.policy, rule.subject.as_str(), now_secs)
                .await
        }
    }
}

/// Decisions a handler took itself (e.g. the per-account sign-in limit, which needs the
/// parsed body), carried to the edge in the response's or error's extensions so that the
/// kit adds their headers with the rest.
#[derive(Debug, Clone, Default)]
pub struct ExtraDecisions(pub Vec<Decision>);

#[cfg(test)]
mod tests {
    use super::*;
    use edge_http::Principal;
    use http::HeaderValue;

    fn headers(addr: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("spin-client-addr", HeaderValue::from_str(addr).unwrap());
        headers
    }

    #[test]
    fn subjects_follow_one_scheme() {
        let anonymous = RequestContext::detached("/api/v1/products");
        assert_eq!(
            Subject::caller(&anonymous, &headers("203.0.113.9:5000")).as_str(),
            "a:203.0.113.9"
        );
        assert_eq!(
            Subject::address(&headers("[2001:db8:1:2:3:4:5:6]:1")).as_str(),
            "a:2001:db8:1:2::/64"
        );
        let principal = Principal {
            subject: "user-1".into(),
            kind: edge_http::SubjectKind::User,
            client_id: "web".into(),
            scopes: vec!["orders:read".into()],
            token_id: "j".into(),
        };
        let signed_in = RequestContext::detached("/api/v1/products").with_principal(principal);
        assert_eq!(
            Subject::caller(&signed_in, &headers("203.0.113.9:5000")).as_str(),
            "c:web:user-1"
        );
        assert_eq!(Subject::account("A@x.io "), Subject::account("a@x.io"));
        assert!(!Subject::account("a@x.io").as_str().contains("x.io"));
    }
}
