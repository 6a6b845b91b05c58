//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3).

use bytes::Bytes;
use edge_http::{ApiError, HandlerResult, RequestContext};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;
use store::BreakerStore;
use uuid::Uuid;

use crate::failure::header_str;
use crate::grants::is_revoked;
use crate::model::{Env, Repository};
use crate::oauth_error::json_no_store;
use crate::scopes::OPENID;
use crate::token::verify_own_access_token;

fn bearer_error(error: Option<&str>, detail: &str) -> HandlerResult {
    Err(ApiError::unauthorized_bearer(
        crate::oauth_error::REALM,
        error,
        detail,
    ))
}

/// `GET|POST /oauth2/userinfo` (OIDC Core §5.3): needs an access token with `openid`.
pub async fn userinfo<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET, Method::POST])?;
    let Some(authorization) = header_str(request.headers(), &header::AUTHORIZATION) else {
        return bearer_error(None, "A Bearer access token is required.");
    };
    let token = match authorization.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return bearer_error(Some("invalid_request"), "Use the Bearer scheme."),
    };
    let claims = match verify_own_access_token(env, token) {
        Ok(claims) => claims,
        Err(e) => return bearer_error(Some("invalid_token"), e.description()),
    };
    if is_revoked(env, &claims.jti).await? {
        return bearer_error(Some("invalid_token"), "The access token was revoked.");
    }
    if !claims.scope.contains(OPENID) {
        let mut response = ApiError::Forbidden {
            detail: "The access token lacks the openid scope.".to_owned(),
        }
        .to_response(context.request_id());
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(
                "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{OPENID}\"",
                crate::oauth_error::REALM
            ))
            .map_err(ApiError::internal)?,
        );
        return Ok(response);
    }
    let user = match Uuid::parse_str(&claims.sub) {
        Ok(id) => env.repo.user_by_id(id).await.map_err(ApiError::from)?,
        Err(_) => None,
    };
    let Some(user) = user.filter(|u| u.active) else {
        return bearer_error(Some("invalid_token"), "The token's subject is not a user.");
    };
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), json!(user.subject()));
    if claims.scope.contains(contract::Scope::Email.as_str()) {
        body.insert("email".into(), json!(user.email));
        // Orderly does not verify email addresses (no mail is sent).
        body.insert("email_verified".into(), json!(false));
    }
    if claims.scope.contains(contract::Scope::Profile.as_str())
        && let Some(name) = &user.display_name
    {
        body.insert("name".into(), json!(name));
    }
    Ok(json_no_store(StatusCode::OK, &body))
}
