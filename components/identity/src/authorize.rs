//! `GET /oauth2/authorize` (RFC 6749 §4.1.1, RFC 7636, RFC 9207): the request is parsed
//! into an [`AuthorizationRequest`](crate::authorization_request::AuthorizationRequest)
//! first; a signed-in user gets a code at once, anyone else the sign-in page
//! ([`crate::login`]) with the request sealed into its URL.

use bytes::Bytes;
use edge_http::{ApiError, EdgeResponse, HandlerResult, bytes_response};
use http::{HeaderValue, Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use store::BreakerStore;
use tokens::ScopeSet;

use crate::authorization_request::{ClientNamed, Refusal};
use crate::html;
use crate::model::{ClientRecord, Env, NewCode, Repository, UserRecord};
use crate::oauth_error::ErrorCode;
use crate::redirect;
use crate::scopes;
use crate::session::current_user;
use crate::signed;

/// Authorization codes live 60 seconds.
pub const CODE_LIFETIME_SECS: u64 = 60;
/// A pending authorization request may wait 10 minutes on the sign-in page.
pub const PENDING_LIFETIME_SECS: u64 = 600;

/// What the sealed authorization request is signed for.
pub const SEAL_PURPOSE: &str = "orderly/authorization-request";

/// The authorization request waiting for sign-in, carried sealed (HMAC) through the
/// browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// `client_id`.
    pub client_id: String,
    /// The resolved, registered redirect URI.
    pub redirect_uri: String,
    /// The requested (allowed) scope.
    pub scope: String,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

pub fn html_response(status: StatusCode, body: String, policy: Option<String>) -> EdgeResponse {
    let mut response = bytes_response(status, "text/html; charset=utf-8", Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let policy = policy.unwrap_or_else(|| html::HTML_POLICY.to_owned());
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> EdgeResponse {
    html_response(status, html::error_page(title, message), None)
}

pub fn see_other(location: &str) -> HandlerResult {
    let mut response = edge_http::empty_response(StatusCode::SEE_OTHER);
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// RFC 6749 §4.1.2.1 with RFC 9207: the error goes back to the (trusted) redirect URI.
fn redirect_error<R, K>(
    env: &Env<'_, R, K>,
    redirect_uri: &str,
    code: ErrorCode,
    description: &str,
    state: Option<&str>,
) -> HandlerResult {
    let description = crate::oauth_error::ascii_description(description);
    let mut params = vec![
        ("error", code.as_str()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", env.config.issuer.as_str()));
    let location = redirect::with_params(redirect_uri, &params)
        .ok_or_else(|| ApiError::internal("registered redirect URI is not a URL"))?;
    see_other(&location)
}

/// Issues a code for `user` and redirects to the client (303, RFC 9207 `iss`).
pub async fn issue_code<R: Repository, K>(
    env: &Env<'_, R, K>,
    client: &ClientRecord,
    pending: &Pending,
    user: &UserRecord,
    auth_time: u64,
) -> Result<EdgeResponse, ApiError> {
    let requested = ScopeSet::parse(&pending.scope).unwrap_or_else(|_| ScopeSet::empty());
    let scope = scopes::for_user(&requested, user.is_admin);
    let code = credentials::random_token().map_err(ApiError::internal)?;
    env.repo
        .insert_code(&NewCode {
            code_hash: credentials::token_hash(&code),
            client: client.id,
            user: user.id,
            redirect_uri: pending.redirect_uri.clone(),
            scope: scope.to_string(),
            code_challenge: pending.code_challenge.clone(),
            nonce: pending.nonce.clone(),
            auth_time,
            lifetime_secs: CODE_LIFETIME_SECS,
        })
        .await
        .map_err(ApiError::from)?;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &pending.state {
        params.push(("state", state.as_str()));
    }
    params.push(("iss", env.config.issuer.as_str()));
    let location = redirect::with_params(&pending.redirect_uri, &params)
        .ok_or_else(|| ApiError::internal("registered redirect URI is not a URL"))?;
    see_other(&location)
}

/// `GET /oauth2/authorize`: the request is parsed and checked against the client
/// ([`AuthorizationRequest`]); a signed-in user gets a code at once, anyone else the
/// sign-in page with the request sealed into its URL.
pub async fn authorize<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    let named = match ClientNamed::parse(request.uri().query().unwrap_or("")) {
        Ok(named) => named,
        Err(refusal) => return refused(env, refusal),
    };
    let client = env
        .repo
        .client(named.client_id())
        .await
        .map_err(ApiError::from)?;
    let authorization = match named.validate(client) {
        Ok(authorization) => authorization,
        Err(refusal) => return refused(env, refusal),
    };
    let pending = Pending {
        client_id: authorization.client.client_id.clone(),
        redirect_uri: authorization.redirect_uri.clone(),
        scope: authorization.scope.to_string(),
        state: authorization.state.clone(),
        nonce: authorization.nonce.clone(),
        code_challenge: authorization.code_challenge.clone(),
        exp: env.now + PENDING_LIFETIME_SECS,
    };
    // Every registered client is first-party (`ClientRecord::is_first_party`): no
    // consent screen.
    if !authorization.prompt.login
        && let Some((user, auth_time)) = current_user(env, request.headers()).await?
    {
        return issue_code(env, &authorization.client, &pending, &user, auth_time).await;
    }
    if authorization.prompt.none {
        return redirect_error(
            env,
            &authorization.redirect_uri,
            ErrorCode::LoginRequired,
            "The user is not signed in.",
            authorization.state.as_deref(),
        );
    }
    let payload = serde_json::to_vec(&pending).map_err(ApiError::internal)?;
    let sealed = signed::seal(&env.config.cursor_key, SEAL_PURPOSE, &payload)
        .ok_or_else(|| ApiError::internal("sealing the authorization request failed"))?;
    see_other(&format!("/login?request={sealed}"))
}

/// A refused authorization request: a page, or an error sent back to the client.
fn refused<R, K>(env: &Env<'_, R, K>, refusal: Refusal) -> HandlerResult {
    match refusal {
        Refusal::Page(message) => Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Authorization request refused",
            message,
        )),
        Refusal::Redirect {
            redirect_uri,
            state,
            code,
            description,
        } => redirect_error(env, &redirect_uri, code, description, state.as_deref()),
    }
}
