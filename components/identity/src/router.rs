//! Dispatch by path: Spin routes `/oauth2/...` here as one wildcard, next to the two
//! discovery documents and `/login` (docs/standards.md §11).

use edge_http::{ApiError, HandlerResult};
use kit::Request;
use store::BreakerStore;

use crate::authorize;
use crate::discovery;
use crate::login;
use crate::model::{Env, Repository};
use crate::token;
use crate::userinfo;

/// The path without trailing slashes (`/` stays `/`).
pub fn normalized(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// Routes one request (its rate limit was counted by the kit, except sign-in attempts,
/// which the login handler counts).
pub async fn dispatch<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &Request,
) -> HandlerResult {
    let http = &request.http;
    let context = &request.context;
    match normalized(http.uri().path()) {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
            discovery::metadata(env, http)
        }
        "/oauth2/jwks" => discovery::jwks(env, http),
        "/oauth2/token" => token::token(env, http).await,
        "/oauth2/revoke" => token::revoke(env, http).await,
        "/oauth2/introspect" => token::introspect(env, http).await,
        "/oauth2/userinfo" => userinfo::userinfo(env, http, context).await,
        "/oauth2/authorize" => authorize::authorize(env, http).await,
        "/login" => login::login(env, http, context).await,
        _ => Err(ApiError::not_found("No such resource.")),
    }
}
