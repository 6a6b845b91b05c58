//! The OAuth JSON endpoints: token (RFC 6749 §3.2, RFC 7636), revocation (RFC 7009) and
//! introspection (RFC 7662), with client authentication (RFC 6749 §2.3.1). Handlers
//! only: parse the form, authenticate the client, call [`crate::grants`], answer.

use bytes::Bytes;
use edge_http::{EdgeResponse, HandlerResult};
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::json;
use store::BreakerStore;
use tokens::{AccessClaims, Expectations, TokenError};

use crate::client_auth::{self, PresentError};
use crate::failure::{Failure, header_str, oauth, parse_form, require, respond};
use crate::form::Form;
use crate::grants::{
    grant_client_credentials, grant_code, grant_refresh, is_revoked, revoke_grant, revoke_jti,
};
use crate::model::{ClientRecord, Env, Repository};
use crate::oauth_error::{ErrorCode, json_no_store, no_store};

/// Authenticates the client (RFC 6749 §2.3.1). Secrets are checked in constant time
/// (`credentials::verify_client_secret`: a SHA-256 digest for generated secrets, Argon2id
/// for ones registered before); an unknown client still costs one dummy check.
pub async fn authenticate<R: Repository, K>(
    env: &Env<'_, R, K>,
    headers: &HeaderMap,
    form: &Form,
) -> Result<ClientRecord, Failure> {
    let presented = client_auth::presented(header_str(headers, &header::AUTHORIZATION), form)
        .map_err(|e| match e {
            PresentError::Missing => oauth(
                ErrorCode::InvalidClient,
                "Client authentication is required.",
            ),
            PresentError::MalformedBasic => oauth(
                ErrorCode::InvalidClient,
                "The Basic credentials are malformed.",
            ),
            PresentError::MultipleMethods => oauth(
                ErrorCode::InvalidRequest,
                "Use exactly one client authentication method.",
            ),
        })?;
    let failed = || oauth(ErrorCode::InvalidClient, "Client authentication failed.");
    let client = env.repo.client(presented.client_id()).await?;
    match (client, presented.secret()) {
        (Some(client), Some(secret)) if client.active && client.confidential => {
            let verified = client.secret_hash.as_deref().is_some_and(|hash| {
                credentials::verify_client_secret(secret, hash).unwrap_or(false)
            });
            if verified { Ok(client) } else { Err(failed()) }
        }
        (Some(client), None) if client.active && !client.confidential => Ok(client),
        (_, Some(secret)) => {
            credentials::dummy_verify_client_secret(secret);
            Err(failed())
        }
        (_, None) => Err(failed()),
    }
}

/// `POST /oauth2/token`.
///
/// The per-address `token` limit was counted by the kit before this runs (strict: 503 when
/// the shared store cannot count).
pub async fn token<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::POST])?;
    let mut response = respond(token_grant(env, request).await)?;
    no_store(&mut response);
    Ok(response)
}

async fn token_grant<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> Result<EdgeResponse, Failure> {
    let form = parse_form(request)?;
    let client = authenticate(env, request.headers(), &form).await?;
    let issued = match form.get("grant_type") {
        None => return Err(oauth(ErrorCode::InvalidRequest, "grant_type is required.")),
        Some("authorization_code") => grant_code(env, &client, &form).await?,
        Some("refresh_token") => grant_refresh(env, &client, &form).await?,
        Some("client_credentials") => grant_client_credentials(env, &client, &form)?,
        // RFC 9700 §2.4 / §2.1.2: password and implicit are not offered.
        Some(_) => {
            return Err(oauth(
                ErrorCode::UnsupportedGrantType,
                "Supported grant types: authorization_code, refresh_token, client_credentials.",
            ));
        }
    };
    Ok(json_no_store(StatusCode::OK, &issued.response))
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

pub fn verify_own_access_token<R, K>(
    env: &Env<'_, R, K>,
    token: &str,
) -> Result<AccessClaims, TokenError> {
    let expect = Expectations::new(&env.config.issuer, &env.config.audience, env.now);
    tokens::verify_access_token(token, &env.config.verifying_keys, &expect)
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whatever the token was; a client revokes only
/// its own tokens.
pub async fn revoke<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::POST])?;
    respond(revoke_inner(env, request).await)
}

async fn revoke_inner<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> Result<EdgeResponse, Failure> {
    let form = parse_form(request)?;
    let client = authenticate(env, request.headers(), &form).await?;
    let token = require(&form, "token")?;
    if looks_like_jwt(token) {
        if let Ok(claims) = verify_own_access_token(env, token)
            && claims.client_id == client.client_id
        {
            revoke_jti(env, &claims.jti, claims.exp).await?;
        }
    } else if let Some(record) = env.repo.refresh(&credentials::token_hash(token)).await?
        && record.client == client.id
    {
        revoke_grant(env, record.family).await?;
    }
    let mut response = edge_http::empty_response(StatusCode::OK);
    no_store(&mut response);
    Ok(response)
}

/// `POST /oauth2/introspect` (RFC 7662). Confidential clients may introspect any of our
/// tokens; a public client only its own. Anything not active is `{"active":false}`.
pub async fn introspect<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::POST])?;
    respond(introspect_inner(env, request).await)
}

async fn introspect_inner<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> Result<EdgeResponse, Failure> {
    let form = parse_form(request)?;
    let client = authenticate(env, request.headers(), &form).await?;
    let token = require(&form, "token")?;
    let may_see = |owner: &str| client.confidential || owner == client.client_id;
    let inactive = || json_no_store(StatusCode::OK, &json!({"active": false}));
    if looks_like_jwt(token) {
        let Ok(claims) = verify_own_access_token(env, token) else {
            return Ok(inactive());
        };
        if !may_see(&claims.client_id) || is_revoked(env, &claims.jti).await? {
            return Ok(inactive());
        }
        return Ok(json_no_store(
            StatusCode::OK,
            &json!({
                "active": true,
                "scope": claims.scope.to_string(),
                "client_id": claims.client_id,
                "sub": claims.sub,
                "exp": claims.exp,
                "iat": claims.iat,
                "nbf": claims.nbf,
                "iss": claims.iss,
                "aud": claims.aud,
                "token_type": "Bearer",
                "jti": claims.jti,
            }),
        ));
    }
    match env.repo.refresh(&credentials::token_hash(token)).await? {
        Some(record)
            if record.live && !record.used && !record.revoked && may_see(&record.client_id) =>
        {
            Ok(json_no_store(
                StatusCode::OK,
                &json!({
                    "active": true,
                    "scope": record.scope,
                    "client_id": record.client_id,
                    "sub": record.user.hyphenated().to_string(),
                    "exp": record.expires_at,
                    "iat": record.issued_at,
                    "iss": env.config.issuer,
                    "token_type": "refresh_token",
                }),
            ))
        }
        _ => Ok(inactive()),
    }
}
