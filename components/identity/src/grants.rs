//! The token endpoint's rules (RFC 6749 §4.1.3, §4.4, §6; RFC 7636; RFC 9700 §4.14):
//! each grant checked and its tokens issued, refresh rotation with reuse detection, and
//! the revocation bookkeeping shared with `/oauth2/revoke` and introspection. No HTTP
//! here: the handlers in [`crate::token`] parse the request and map the results.

use serde::Serialize;
use store::BreakerStore;
use tokens::{AccessClaims, IdClaims, ScopeSet};
use uuid::Uuid;

use edge_http::ApiError;

use crate::failure::{Failure, kv_failure, oauth, require, scope_refusal};
use crate::form::Form;
use crate::model::{ClientRecord, Env, NewRefresh, Repository, UserRecord, family_of_code};
use crate::oauth_error::ErrorCode;
use crate::pkce;
use crate::scopes::{self, OPENID, ScopeRefusal};

/// Refresh tokens live 14 days (rotated on every use).
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 14 * 24 * 3600;

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// The answer to a grant, and the access token's id and expiry (for revocation
/// bookkeeping).
pub struct Issued {
    pub response: TokenResponse,
    pub jti: String,
    pub exp: u64,
}

fn issue_access<R, K>(
    env: &Env<'_, R, K>,
    subject: &str,
    client_id: &str,
    scope: &ScopeSet,
) -> Result<AccessClaims, Failure> {
    let jti = tokens::random_jti().map_err(ApiError::internal)?;
    Ok(AccessClaims::new(
        env.config.issuer.as_str(),
        subject,
        env.config.audience.as_str(),
        client_id,
        scope.clone(),
        jti,
        env.now,
    ))
}

/// Issues the tokens for a user: access token, refresh token (if the client may
/// refresh) in `family` after `parent`, and an ID token when `openid` was granted and
/// `id_token` is given (nonce, auth_time).
async fn issue_for_user<R: Repository, K>(
    env: &Env<'_, R, K>,
    client: &ClientRecord,
    user: &UserRecord,
    scope: &ScopeSet,
    family: Uuid,
    parent: Option<Uuid>,
    id_token: Option<(Option<String>, u64)>,
) -> Result<Issued, Failure> {
    let claims = issue_access(env, &user.subject(), &client.client_id, scope)?;
    let access_token =
        tokens::issue_access_token(&env.config.signing_key, &claims).map_err(ApiError::internal)?;
    let refresh_token = if client.allows_grant("refresh_token") {
        let token = credentials::random_token().map_err(ApiError::internal)?;
        env.repo
            .insert_refresh(&NewRefresh {
                id: Uuid::now_v7(),
                token_hash: credentials::token_hash(&token),
                family,
                parent,
                client: client.id,
                user: user.id,
                scope: scope.to_string(),
                lifetime_secs: REFRESH_TOKEN_LIFETIME_SECS,
            })
            .await?;
        Some(token)
    } else {
        None
    };
    let id_token = match id_token {
        Some((nonce, auth_time)) if scope.contains(OPENID) => {
            let mut claims = IdClaims::new(
                env.config.issuer.as_str(),
                user.subject(),
                client.client_id.as_str(),
                env.now,
            )
            .with_auth_time(auth_time);
            if let Some(nonce) = nonce {
                claims = claims.with_nonce(nonce);
            }
            Some(
                tokens::issue_id_token(&env.config.signing_key, &claims)
                    .map_err(ApiError::internal)?,
            )
        }
        _ => None,
    };
    Ok(Issued {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: claims.expires_in(),
            scope: scope.to_string(),
            refresh_token,
            id_token,
        },
        jti: claims.jti,
        exp: claims.exp,
    })
}

/// KV key holding the latest access token (`"<jti> <exp>"`) issued in a grant's family
/// (the code exchange, then each rotation), so revoking the family revokes it too
/// (RFC 7009 §2.1, RFC 9700 §4.14.2: the attacker's fresh access token dies as well).
fn family_jti_key<R, K>(env: &Env<'_, R, K>, family: Uuid) -> String {
    contract::keys::family_jti(&env.config.kv_prefix, &family.simple().to_string())
}

/// Records `issued` as the family's latest access token (best effort: the refresh
/// family itself is revoked in the database either way).
async fn remember_family_jti<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    family: Uuid,
    issued: &Issued,
) {
    let value = format!("{} {}", issued.jti, issued.exp);
    let _ = env
        .kv
        .set(
            &family_jti_key(env, family),
            value.as_bytes(),
            contract::expiry::family_jti(issued.exp, env.now),
        )
        .await;
}

/// Revokes every refresh token of `family` and its latest access token: a replayed
/// code (RFC 6749 §4.1.2), a reused refresh token, or a revocation request.
pub async fn revoke_grant<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    family: Uuid,
) -> Result<(), Failure> {
    env.repo.revoke_family(family).await?;
    if let Ok(Some(value)) = env.kv.get(&family_jti_key(env, family)).await {
        let text = String::from_utf8_lossy(&value);
        if let Some((jti, exp)) = text.split_once(' ') {
            revoke_jti(env, jti, exp.parse().unwrap_or(env.now)).await?;
        }
    }
    Ok(())
}

pub async fn grant_code<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    client: &ClientRecord,
    form: &Form,
) -> Result<Issued, Failure> {
    if !client.allows_grant("authorization_code") {
        return Err(oauth(
            ErrorCode::UnauthorizedClient,
            "The client may not use this grant.",
        ));
    }
    // The whole request is validated before the code is consumed.
    let code = require(form, "code")?;
    // RFC 6749 §4.1.3: required when the authorization request carried one. We do not
    // record that, so it may be omitted only when the client has exactly one registered
    // URI (the one the authorization request then had to use).
    let redirect_uri = match (form.get("redirect_uri"), client.redirect_uris.as_slice()) {
        (Some(uri), _) => uri,
        (None, [only]) => only.as_str(),
        (None, _) => {
            return Err(oauth(
                ErrorCode::InvalidRequest,
                "redirect_uri is required.",
            ));
        }
    };
    let verifier = require(form, "code_verifier")?;
    if !pkce::is_valid_verifier(verifier) {
        return Err(oauth(
            ErrorCode::InvalidRequest,
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636).",
        ));
    }
    let code_hash = credentials::token_hash(code);
    let invalid = || {
        oauth(
            ErrorCode::InvalidGrant,
            "The authorization code is invalid or expired.",
        )
    };
    let Some(record) = env.repo.code(&code_hash).await? else {
        return Err(invalid());
    };
    if record.client != client.id {
        return Err(invalid());
    }
    if record.used {
        revoke_grant(env, family_of_code(&code_hash)).await?;
        return Err(oauth(
            ErrorCode::InvalidGrant,
            "The authorization code was already used.",
        ));
    }
    if !record.live {
        return Err(invalid());
    }
    if record.redirect_uri != redirect_uri {
        return Err(oauth(
            ErrorCode::InvalidGrant,
            "redirect_uri does not match the authorization request.",
        ));
    }
    if !pkce::verifier_matches(verifier, &record.code_challenge) {
        return Err(oauth(
            ErrorCode::InvalidGrant,
            "code_verifier does not match the code_challenge.",
        ));
    }
    let user = match env.repo.user_by_id(record.user).await? {
        Some(user) if user.active => user,
        _ => return Err(invalid()),
    };
    if !env.repo.consume_code(&code_hash).await? {
        // Lost a race with another exchange of the same code: that is a replay too.
        revoke_grant(env, family_of_code(&code_hash)).await?;
        return Err(oauth(
            ErrorCode::InvalidGrant,
            "The authorization code was already used.",
        ));
    }
    let scope = ScopeSet::parse(&record.scope).unwrap_or_else(|_| ScopeSet::empty());
    let issued = issue_for_user(
        env,
        client,
        &user,
        &scope,
        family_of_code(&code_hash),
        None,
        Some((record.nonce.clone(), record.auth_time)),
    )
    .await?;
    remember_family_jti(env, family_of_code(&code_hash), &issued).await;
    Ok(issued)
}

pub async fn grant_refresh<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    client: &ClientRecord,
    form: &Form,
) -> Result<Issued, Failure> {
    if !client.allows_grant("refresh_token") {
        return Err(oauth(
            ErrorCode::UnauthorizedClient,
            "The client may not use this grant.",
        ));
    }
    let token = require(form, "refresh_token")?;
    let requested = form
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| scope_refusal(ScopeRefusal::Malformed))?;
    let token_hash = credentials::token_hash(token);
    let invalid = || {
        oauth(
            ErrorCode::InvalidGrant,
            "The refresh token is invalid, expired or revoked.",
        )
    };
    let Some(record) = env.repo.refresh(&token_hash).await? else {
        return Err(invalid());
    };
    if record.client != client.id || record.revoked {
        return Err(invalid());
    }
    if record.used {
        // Reuse of a rotated token (RFC 9700 §4.14.2): the whole family, newest too.
        revoke_grant(env, record.family).await?;
        return Err(invalid());
    }
    if !record.live {
        return Err(invalid());
    }
    let granted = ScopeSet::parse(&record.scope).unwrap_or_else(|_| ScopeSet::empty());
    let scope = match requested {
        Some(requested) if granted.contains_all(&requested) => requested,
        Some(_) => return Err(scope_refusal(ScopeRefusal::NotAllowed)),
        None => granted,
    };
    let user = match env.repo.user_by_id(record.user).await? {
        Some(user) if user.active => user,
        _ => return Err(invalid()),
    };
    if !env.repo.use_refresh(&token_hash).await? {
        // Someone else used it between our read and our update: reuse.
        revoke_grant(env, record.family).await?;
        return Err(invalid());
    }
    let issued = issue_for_user(
        env,
        client,
        &user,
        &scope,
        record.family,
        Some(record.id),
        None,
    )
    .await?;
    remember_family_jti(env, record.family, &issued).await;
    // A concurrent reuse may have revoked the family before our new tokens existed:
    // revoke again so the newest tokens die with their family.
    if env.repo.family_revoked(record.family).await? {
        revoke_grant(env, record.family).await?;
    }
    Ok(issued)
}

pub fn grant_client_credentials<R, K>(
    env: &Env<'_, R, K>,
    client: &ClientRecord,
    form: &Form,
) -> Result<Issued, Failure> {
    if !client.confidential || !client.allows_grant("client_credentials") {
        return Err(oauth(
            ErrorCode::UnauthorizedClient,
            "Only confidential clients registered for client_credentials may use it.",
        ));
    }
    let scope = scopes::requested(form.get("scope"), &client.scopes).map_err(scope_refusal)?;
    let claims = issue_access(env, &client.client_id, &client.client_id, &scope)?;
    let access_token =
        tokens::issue_access_token(&env.config.signing_key, &claims).map_err(ApiError::internal)?;
    Ok(Issued {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: claims.expires_in(),
            scope: scope.to_string(),
            refresh_token: None,
            id_token: None,
        },
        jti: claims.jti,
        exp: claims.exp,
    })
}

fn revoked_key<R, K>(env: &Env<'_, R, K>, jti: &str) -> String {
    contract::keys::revoked_jti(&env.config.kv_prefix, jti)
}

pub async fn revoke_jti<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    jti: &str,
    exp: u64,
) -> Result<(), Failure> {
    env.kv
        .set(
            &revoked_key(env, jti),
            exp.to_string().as_bytes(),
            contract::expiry::revoked_jti(exp, env.now),
        )
        .await
        .map_err(|e| Failure::Api(kv_failure(e)))
}

pub async fn is_revoked<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    jti: &str,
) -> Result<bool, ApiError> {
    env.kv
        .get(&revoked_key(env, jti))
        .await
        .map(|v| v.is_some())
        .map_err(kv_failure)
}
