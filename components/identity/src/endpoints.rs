//! The JSON endpoints: token (RFC 6749 §3.2, RFC 7636), revocation (RFC 7009),
//! introspection (RFC 7662), userinfo (OIDC Core §5.3), discovery (RFC 8414) and JWKS.

use bytes::Bytes;
use edge_http::{
    ApiError, EdgeResponse, HandlerResult, RequestContext, bytes_response, json_response,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde_json::json;
use store::{BreakerStore, KvError, StoreError};
use tokens::{AccessClaims, Expectations, IdClaims, ScopeSet, TokenError};
use uuid::Uuid;

use crate::client_auth::{self, PresentError};
use crate::discovery;
use crate::form::Form;
use crate::model::{ClientRecord, Env, NewRefresh, Repository, UserRecord, family_of_code};
use crate::oauth_error::{ErrorCode, OAuthError, json_no_store, no_store};
use crate::pkce;
use crate::scopes::{self, OPENID, ScopeRefusal};

/// Refresh tokens live 14 days (rotated on every use).
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 14 * 24 * 3600;
/// Discovery and JWKS may be cached for 5 minutes (short enough for key rotation, whose
/// next key is published well ahead).
pub const METADATA_MAX_AGE_SECS: u64 = 300;

const FORM: &[&str] = &["application/x-www-form-urlencoded"];

/// A failure on an OAuth endpoint: an RFC 6749 error, or one of ours (5xx, 405, 415).
#[derive(Debug)]
pub enum Failure {
    /// RFC 6749 error JSON.
    OAuth(OAuthError),
    /// RFC 9457 problem.
    Api(ApiError),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Api(store_failure(e))
    }
}

/// A store failure as an answer: 503 + `Retry-After` when the database is unavailable
/// or overloaded, 500 otherwise (cause in the log only).
pub fn store_failure(error: StoreError) -> ApiError {
    match error {
        StoreError::Unavailable { retry_after_secs } => ApiError::ServiceUnavailable {
            retry_after_secs: u64::from(retry_after_secs),
        },
        StoreError::Transient { .. } | StoreError::Timeout { .. } => ApiError::ServiceUnavailable {
            retry_after_secs: 1,
        },
        other => ApiError::internal(other),
    }
}

/// A key-value failure where we must not fail open (revocation, throttling, sessions).
pub fn kv_failure(_error: KvError) -> ApiError {
    ApiError::ServiceUnavailable {
        retry_after_secs: 1,
    }
}

fn oauth(code: ErrorCode, description: &str) -> Failure {
    Failure::OAuth(OAuthError::new(code, description))
}

/// Turns a result into what the edge expects.
pub fn respond(result: Result<EdgeResponse, Failure>) -> HandlerResult {
    match result {
        Ok(response) => Ok(response),
        Err(Failure::OAuth(e)) => Ok(e.into_response()),
        Err(Failure::Api(e)) => Err(e),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_form(request: &http::Request<Bytes>) -> Result<Form, Failure> {
    edge_http::require_content_type(request.headers(), FORM)?;
    Form::parse(request.body()).map_err(|e| oauth(ErrorCode::InvalidRequest, &e.description()))
}

// ------------------------------------------------------------------ discovery, JWKS

fn cacheable_json(value: &serde_json::Value) -> HandlerResult {
    let mut response = json_response(StatusCode::OK, value)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={METADATA_MAX_AGE_SECS}"))
            .map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub fn metadata<R, K>(env: &Env<'_, R, K>, request: &http::Request<Bytes>) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    cacheable_json(&discovery::metadata(&env.config.issuer))
}

/// `GET /oauth2/jwks`: current, next and retired public keys.
pub fn jwks<R, K>(env: &Env<'_, R, K>, request: &http::Request<Bytes>) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    let body = env.config.verifying_keys.to_jwks_json();
    let mut response = bytes_response(StatusCode::OK, "application/json", Bytes::from(body));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={METADATA_MAX_AGE_SECS}"))
            .map_err(ApiError::internal)?,
    );
    Ok(response)
}

// ------------------------------------------------------------------ client authentication

/// Authenticates the client (RFC 6749 §2.3.1). Secrets are checked with Argon2id in
/// constant time; an unknown client still costs one dummy verification.
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
            let verified = client
                .secret_hash
                .as_deref()
                .is_some_and(|hash| credentials::verify_secret(secret, hash).unwrap_or(false));
            if verified { Ok(client) } else { Err(failed()) }
        }
        (Some(client), None) if client.active && !client.confidential => Ok(client),
        (_, Some(secret)) => {
            credentials::dummy_verify(secret);
            Err(failed())
        }
        (_, None) => Err(failed()),
    }
}

// ------------------------------------------------------------------ token endpoint

#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// What an access token was issued as (for revocation bookkeeping).
struct Issued {
    response: TokenResponse,
    jti: String,
    exp: u64,
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

fn require<'a>(form: &'a Form, name: &str) -> Result<&'a str, Failure> {
    form.get(name)
        .ok_or_else(|| oauth(ErrorCode::InvalidRequest, &format!("{name} is required.")))
}

fn scope_refusal(refusal: ScopeRefusal) -> Failure {
    match refusal {
        ScopeRefusal::Malformed => oauth(ErrorCode::InvalidScope, "The scope is malformed."),
        ScopeRefusal::NotAllowed => oauth(
            ErrorCode::InvalidScope,
            "The requested scope exceeds what is allowed.",
        ),
    }
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
        .set(&family_jti_key(env, family), value.as_bytes())
        .await;
}

/// Revokes every refresh token of `family` and its latest access token: a replayed
/// code (RFC 6749 §4.1.2), a reused refresh token, or a revocation request.
async fn revoke_grant<R: Repository, K: BreakerStore>(
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

async fn grant_code<R: Repository, K: BreakerStore>(
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

async fn grant_refresh<R: Repository, K: BreakerStore>(
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

fn grant_client_credentials<R, K>(
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

// ------------------------------------------------------------------ revocation

fn revoked_key<R, K>(env: &Env<'_, R, K>, jti: &str) -> String {
    contract::keys::revoked_jti(&env.config.kv_prefix, jti)
}

async fn revoke_jti<R, K: BreakerStore>(
    env: &Env<'_, R, K>,
    jti: &str,
    exp: u64,
) -> Result<(), Failure> {
    env.kv
        .set(&revoked_key(env, jti), exp.to_string().as_bytes())
        .await
        .map_err(|e| Failure::Api(kv_failure(e)))
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

fn verify_own_access_token<R, K>(
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

// ------------------------------------------------------------------ introspection

async fn is_revoked<R, K: BreakerStore>(env: &Env<'_, R, K>, jti: &str) -> Result<bool, ApiError> {
    env.kv
        .get(&revoked_key(env, jti))
        .await
        .map(|v| v.is_some())
        .map_err(kv_failure)
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

// ------------------------------------------------------------------ userinfo

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
            HeaderValue::from_static(
                "Bearer realm=\"orderly\", error=\"insufficient_scope\", scope=\"openid\"",
            ),
        );
        return Ok(response);
    }
    let user = match Uuid::parse_str(&claims.sub) {
        Ok(id) => env.repo.user_by_id(id).await.map_err(store_failure)?,
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
