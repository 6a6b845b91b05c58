//! identity's rate-limit policies (docs/standards.md §12). The kit counts `token` and
//! `oauth` before the handler runs ([`crate::component`]); sign-in attempts are counted
//! here, per address and per account, because the account is only known from the form.

use edge_http::ApiError;
use edge_http::rate_limit::{Decision, RateLimitPolicy};
use http::HeaderMap;
use kit::{LimitRule, Subject};
use store::BreakerStore;

use crate::model::Env;

/// Every route without a policy of its own.
pub const OAUTH: &str = "oauth";
/// `POST /oauth2/token`.
pub const TOKEN: &str = "token";
/// `POST /login`.
pub const LOGIN: &str = "login";

/// Counts one sign-in attempt against the client address and against the account
/// (`login_attempts_per_minute` each), strictly: when the shared store cannot count, 503
/// rather than unthrottled password guessing.
///
/// # Errors
/// 503 + `Retry-After` when the store fails.
pub async fn sign_in<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    headers: &HeaderMap,
    email: &str,
) -> Result<(Decision, Decision), ApiError> {
    let policy = RateLimitPolicy::per_minute(LOGIN, env.config.login_attempts_per_minute);
    let prefix = env.config.kv_prefix.as_str();
    let by_address = LimitRule::new(policy, Subject::address(headers)).strict();
    let by_account = LimitRule::new(policy, Subject::account(email)).strict();
    Ok((
        kit::limits::count(env.kv, prefix, &by_address, env.now).await?,
        kit::limits::count(env.kv, prefix, &by_account, env.now).await?,
    ))
}
