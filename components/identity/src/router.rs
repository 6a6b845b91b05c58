//! Dispatch by path (Spin routes `/oauth2/...` here as one wildcard).

use bytes::Bytes;
use edge_http::{ApiError, HandlerResult, RequestContext};
use store::BreakerStore;

use crate::authorize;
use crate::endpoints;
use crate::model::{Env, Repository};

/// Routes one request.
pub async fn route<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    let path = request.uri().path();
    let path = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
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
