//! Dispatch by path (Spin routes `/oauth2/...` here as one wildcard), behind the
//! per-address rate limit (STANDARDS §12).

use bytes::Bytes;
use edge_http::rate_limit::RateLimitPolicy;
use edge_http::{ApiError, HandlerResult, RequestContext};
use http::Method;
use store::BreakerStore;

use crate::authorize;
use crate::endpoints;
use crate::model::{Env, Repository};
use crate::rate_limit;

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
    // The token endpoint has `token`, the login form post `login` (per address and
    // account); every other route counts on `oauth`.
    let policy = RateLimitPolicy::per_minute(rate_limit::OAUTH, env.config.rate_limit_per_minute);
    let decision = rate_limit::check(env, &policy, &rate_limit::address(request.headers())).await;
    decision.enforce()?;
    match dispatch(env, &path, request, context).await {
        Ok(mut response) => {
            decision.finish(&mut response);
            Ok(response)
        }
        Err(error) => Err(error.with_headers(decision.headers())),
    }
}

fn normalized(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
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
