//! Dispatch by path (Spin routes `/oauth2/...` here as one wildcard), behind the
//! per-address rate limit (STANDARDS §12).

use bytes::Bytes;
use edge_http::{ApiError, HandlerResult, RequestContext};
use http::{HeaderName, HeaderValue, Method};
use store::BreakerStore;

use crate::authorize;
use crate::endpoints::{self, kv_failure};
use crate::model::{Env, Repository};
use crate::rate_limit;

/// The policy of every route without one of its own (`RateLimit-Policy: "oauth";…`).
/// The token endpoint has `token`, the login form post `login` (per address and account).
pub const OAUTH_POLICY: &str = "oauth";

/// Routes one request.
pub async fn route<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    let path = normalized(request.uri().path()).to_owned();
    let own_policy =
        path == "/oauth2/token" || (path == "/login" && request.method() == Method::POST);
    if own_policy {
        return dispatch(env, &path, request, context).await;
    }
    let limit = env.config.rate_limit_per_minute;
    let window = rate_limit::window(env.now);
    let ip = endpoints::client_ip(request.headers());
    let key = rate_limit::counter_key(&env.config.kv_prefix, "oauth:addr", &ip, window);
    let count = env.kv.increment(&key, 1).await.map_err(kv_failure)?;
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    let headers = limit_headers(limit, limit.saturating_sub(count), window.reset_secs);
    if count > limit {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: window.reset_secs,
        }
        .with_headers(headers));
    }
    match dispatch(env, &path, request, context).await {
        Ok(mut response) => {
            for (name, value) in headers {
                response.headers_mut().insert(name, value);
            }
            Ok(response)
        }
        Err(error) => Err(error.with_headers(headers)),
    }
}

fn normalized(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// `RateLimit-Policy` and `RateLimit` of the `oauth` policy.
fn limit_headers(limit: u64, remaining: u64, reset_secs: u64) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(2);
    if let Ok(v) = HeaderValue::from_str(&rate_limit::policy_header(OAUTH_POLICY, limit)) {
        headers.push((HeaderName::from_static("ratelimit-policy"), v));
    }
    if let Ok(v) = HeaderValue::from_str(&rate_limit::limit_header(
        OAUTH_POLICY,
        remaining,
        reset_secs,
    )) {
        headers.push((HeaderName::from_static("ratelimit"), v));
    }
    headers
}

async fn dispatch<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    path: &str,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    match path {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
            endpoints::metadata(env, &request)
        }
        "/oauth2/jwks" => endpoints::jwks(env, &request),
        "/oauth2/token" => endpoints::token(env, &request, &context).await,
        "/oauth2/revoke" => endpoints::revoke(env, &request).await,
        "/oauth2/introspect" => endpoints::introspect(env, &request).await,
        "/oauth2/userinfo" => endpoints::userinfo(env, &request, &context).await,
        "/oauth2/authorize" => authorize::authorize(env, &request).await,
        "/login" => authorize::login(env, &request, &context).await,
        _ => Err(ApiError::not_found("No such resource.")),
    }
}
