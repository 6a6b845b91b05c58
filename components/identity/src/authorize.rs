//! `GET /oauth2/authorize` (RFC 6749 §4.1.1, RFC 7636, RFC 9207) and the sign-in page
//! `GET|POST /login` that completes it.

use bytes::Bytes;
use edge_http::rate_limit::Decision;
use edge_http::{ApiError, EdgeResponse, HandlerResult, RequestContext, bytes_response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use store::BreakerStore;
use tokens::ScopeSet;

use crate::endpoints::{kv_failure, store_failure};
use crate::form::Form;
use crate::html::{self, LoginForm};
use crate::model::{ClientRecord, Env, NewCode, Repository, UserRecord};
use crate::oauth_error::ErrorCode;
use crate::pkce;
use crate::rate_limit;
use crate::redirect;
use crate::scopes::{self, ScopeRefusal};
use crate::signed;

/// Authorization codes live 60 seconds.
pub const CODE_LIFETIME_SECS: u64 = 60;
/// A pending authorization request may wait 10 minutes on the sign-in page.
pub const PENDING_LIFETIME_SECS: u64 = 600;
/// A sign-in session lasts 8 hours.
pub const SESSION_LIFETIME_SECS: u64 = 8 * 3600;
/// The generic failure message: says nothing about which part was wrong.
pub const LOGIN_FAILED: &str = "The email or password is incorrect.";

const SEAL_PURPOSE: &str = "orderly/authorization-request";
const CSRF_PURPOSE: &str = "orderly/login-csrf";
const MAX_STATE_LEN: usize = 1024;
const MAX_NONCE_LEN: usize = 255;

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

fn cookie_name(secure: bool, name: &str) -> String {
    // `__Host-` requires `Secure`, which browsers only accept over https.
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

fn session_cookie(secure: bool) -> String {
    cookie_name(secure, "orderly_session")
}

fn csrf_cookie(secure: bool) -> String {
    cookie_name(secure, "orderly_csrf")
}

fn set_cookie(secure: bool, name: &str, value: &str, max_age: u64, same_site: &str) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}")
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn html_response(status: StatusCode, body: String, policy: Option<String>) -> EdgeResponse {
    let mut response = bytes_response(status, "text/html; charset=utf-8", Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let policy = policy.unwrap_or_else(|| html::HTML_POLICY.to_owned());
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn error_page(status: StatusCode, title: &str, message: &str) -> EdgeResponse {
    html_response(status, html::error_page(title, message), None)
}

fn see_other(location: &str) -> HandlerResult {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Serialize, Deserialize)]
struct Session {
    user: String,
    auth_time: u64,
    exp: u64,
}

fn session_key<R, K>(env: &Env<'_, R, K>, session_id: &str) -> String {
    contract::keys::session(
        &env.config.kv_prefix,
        &hex(&credentials::token_hash(session_id)),
    )
}

/// The signed-in user, if the session cookie names a live session of an active user.
async fn current_user<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    headers: &HeaderMap,
) -> Result<Option<(UserRecord, u64)>, ApiError> {
    let Some(session_id) = cookie(headers, &session_cookie(env.config.secure_cookies)) else {
        return Ok(None);
    };
    let Some(raw) = env
        .kv
        .get(&session_key(env, session_id))
        .await
        .map_err(kv_failure)?
    else {
        return Ok(None);
    };
    let Ok(session) = serde_json::from_slice::<Session>(&raw) else {
        return Ok(None);
    };
    if session.exp <= env.now {
        return Ok(None);
    }
    let Ok(user_id) = uuid::Uuid::parse_str(&session.user) else {
        return Ok(None);
    };
    let user = env.repo.user_by_id(user_id).await.map_err(store_failure)?;
    Ok(user.filter(|u| u.active).map(|u| (u, session.auth_time)))
}

/// Issues a code for `user` and redirects to the client (303, RFC 9207 `iss`).
async fn issue_code<R: Repository, K>(
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
        .map_err(store_failure)?;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &pending.state {
        params.push(("state", state.as_str()));
    }
    params.push(("iss", env.config.issuer.as_str()));
    let location = redirect::with_params(&pending.redirect_uri, &params)
        .ok_or_else(|| ApiError::internal("registered redirect URI is not a URL"))?;
    see_other(&location)
}

/// `GET /oauth2/authorize`.
pub async fn authorize<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    let bad = |message: &str| {
        Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Authorization request refused",
            message,
        ))
    };
    // Until the client and its redirect URI are known, nothing is redirected
    // (RFC 6749 §4.1.2.1: never to an unverified URI).
    let Ok(query) = Form::parse(request.uri().query().unwrap_or("").as_bytes()) else {
        return bad("The request parameters are malformed or repeated.");
    };
    let Some(client_id) = query.get("client_id") else {
        return bad("The request names no client (client_id is missing).");
    };
    let client = match env.repo.client(client_id).await.map_err(store_failure)? {
        Some(client) if client.active => client,
        _ => return bad("The client is unknown or disabled."),
    };
    let redirect_uri = match redirect::resolve(query.get("redirect_uri"), &client.redirect_uris) {
        Ok(uri) => uri.to_owned(),
        Err(redirect::RedirectError::Missing) => {
            return bad("The request names no redirect_uri and the client has several.");
        }
        Err(redirect::RedirectError::NotRegistered) => {
            return bad("The redirect_uri is not registered for this client.");
        }
    };
    let state = query.get("state");
    let fail = |code: ErrorCode, description: &str| {
        redirect_error(
            env,
            &redirect_uri,
            code,
            description,
            state.filter(|s| s.len() <= MAX_STATE_LEN),
        )
    };
    if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return fail(ErrorCode::InvalidRequest, "state is too long.");
    }
    if query.get("request").is_some() || query.get("request_uri").is_some() {
        return fail(
            ErrorCode::InvalidRequest,
            "Request objects are not supported.",
        );
    }
    match query.get("response_type") {
        None => return fail(ErrorCode::InvalidRequest, "response_type is required."),
        Some("code") => {}
        Some(_) => {
            return fail(
                ErrorCode::UnsupportedResponseType,
                "Only response_type=code is supported.",
            );
        }
    }
    if !client.allows_grant("authorization_code") {
        return fail(
            ErrorCode::UnauthorizedClient,
            "The client may not use the authorization code grant.",
        );
    }
    if query.get("response_mode").is_some_and(|m| m != "query") {
        return fail(
            ErrorCode::InvalidRequest,
            "Only response_mode=query is supported.",
        );
    }
    match query.get("code_challenge_method") {
        Some(pkce::S256) => {}
        Some("plain") => {
            return fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method=plain is not supported; use S256.",
            );
        }
        Some(_) => {
            return fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256.",
            );
        }
        None => {
            return fail(
                ErrorCode::InvalidRequest,
                "PKCE is required: code_challenge_method=S256.",
            );
        }
    }
    let Some(code_challenge) = query.get("code_challenge") else {
        return fail(
            ErrorCode::InvalidRequest,
            "PKCE is required: code_challenge is missing.",
        );
    };
    if !pkce::is_valid_s256_challenge(code_challenge) {
        return fail(
            ErrorCode::InvalidRequest,
            "code_challenge must be 43 base64url characters.",
        );
    }
    let scope = match scopes::requested(query.get("scope"), &client.scopes) {
        Ok(scope) => scope,
        Err(ScopeRefusal::Malformed) => {
            return fail(ErrorCode::InvalidScope, "The scope is malformed.");
        }
        Err(ScopeRefusal::NotAllowed) => {
            return fail(
                ErrorCode::InvalidScope,
                "The requested scope exceeds what the client may request.",
            );
        }
    };
    let nonce = query.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return fail(ErrorCode::InvalidRequest, "nonce is too long.");
    }
    let pending = Pending {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope: scope.to_string(),
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        exp: env.now + PENDING_LIFETIME_SECS,
    };
    let prompt = query.get("prompt").unwrap_or("");
    let force_login = prompt.split(' ').any(|p| p == "login");
    // Every registered client is first-party (`ClientRecord::is_first_party`): no
    // consent screen.
    if !force_login && let Some((user, auth_time)) = current_user(env, request.headers()).await? {
        return issue_code(env, &client, &pending, &user, auth_time).await;
    }
    if prompt.split(' ').any(|p| p == "none") {
        return fail(ErrorCode::LoginRequired, "The user is not signed in.");
    }
    let payload = serde_json::to_vec(&pending).map_err(ApiError::internal)?;
    let sealed = signed::seal(&env.config.cursor_key, SEAL_PURPOSE, &payload)
        .ok_or_else(|| ApiError::internal("sealing the authorization request failed"))?;
    see_other(&format!("/login?request={sealed}"))
}

fn open_pending<R, K>(env: &Env<'_, R, K>, sealed: &str) -> Option<Pending> {
    let payload = signed::open(&env.config.cursor_key, SEAL_PURPOSE, sealed)?;
    let pending: Pending = serde_json::from_slice(&payload).ok()?;
    (pending.exp > env.now).then_some(pending)
}

fn csrf_token<R, K>(env: &Env<'_, R, K>, nonce: &str, sealed: &str) -> Result<String, ApiError> {
    signed::tag(
        &env.config.cursor_key,
        CSRF_PURPOSE,
        &[nonce.as_bytes(), sealed.as_bytes()],
    )
    .ok_or_else(|| ApiError::internal("CSRF token failed"))
}

const EXPIRED: &str =
    "This sign-in link is invalid or has expired. Go back to the application and start again.";

/// The sign-in page for `pending`, with a CSRF token bound to the browser's CSRF
/// cookie (double submit) and to the sealed request.
/// What the sign-in page shows.
struct LoginView<'a> {
    client: &'a ClientRecord,
    pending: &'a Pending,
    sealed: &'a str,
    csrf_nonce: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

fn login_form<R, K>(
    env: &Env<'_, R, K>,
    status: StatusCode,
    view: &LoginView<'_>,
) -> HandlerResult {
    let LoginView {
        client,
        pending,
        sealed,
        csrf_nonce,
        email,
        error,
    } = *view;
    let csrf = csrf_token(env, csrf_nonce, sealed)?;
    let body = html::login_page(&LoginForm {
        request: sealed,
        csrf: &csrf,
        client_name: &client.name,
        email,
        error,
    });
    let origin = redirect::origin(&pending.redirect_uri);
    let mut response = html_response(status, body, Some(html::login_policy(origin.as_deref())));
    let secure = env.config.secure_cookies;
    let cookie = set_cookie(
        secure,
        &csrf_cookie(secure),
        csrf_nonce,
        PENDING_LIFETIME_SECS,
        "Strict",
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

async fn pending_client<R: Repository, K>(
    env: &Env<'_, R, K>,
    pending: &Pending,
) -> Result<Option<ClientRecord>, ApiError> {
    let client = env
        .repo
        .client(&pending.client_id)
        .await
        .map_err(store_failure)?;
    Ok(client.filter(|c| c.active && c.redirect_uris.contains(&pending.redirect_uri)))
}

/// `GET|POST /login`.
pub async fn login<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET, Method::POST])?;
    if request.method() == Method::POST {
        return login_submit(env, request, context).await;
    }
    let query = Form::parse(request.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
    let Some(sealed) = query.get("request") else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign-in", EXPIRED));
    };
    let Some(pending) = open_pending(env, sealed) else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign-in", EXPIRED));
    };
    let Some(client) = pending_client(env, &pending).await? else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign-in", EXPIRED));
    };
    let nonce = match cookie(request.headers(), &csrf_cookie(env.config.secure_cookies)) {
        Some(existing) if existing.len() == 43 => existing.to_owned(),
        _ => credentials::random_token().map_err(ApiError::internal)?,
    };
    login_form(
        env,
        StatusCode::OK,
        &LoginView {
            client: &client,
            pending: &pending,
            sealed,
            csrf_nonce: &nonce,
            email: "",
            error: None,
        },
    )
}

/// 429 with `Retry-After`, as an HTML page (the kit adds the RateLimit headers of the
/// attached decisions).
fn throttled(decision: &Decision) -> EdgeResponse {
    let mut response = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Too many sign-in attempts. Wait a minute and try again.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(decision.reset_secs));
    response
}

async fn login_submit<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
    _context: &RequestContext,
) -> HandlerResult {
    edge_http::require_content_type(request.headers(), &["application/x-www-form-urlencoded"])?;
    let Ok(form) = Form::parse(request.body()) else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in",
            "The form is malformed.",
        ));
    };
    let secure = env.config.secure_cookies;
    // CSRF first (double submit + HMAC bound to the pending request).
    let sealed = form.get("request").unwrap_or("");
    let csrf_ok = match (
        cookie(request.headers(), &csrf_cookie(secure)),
        form.get("csrf"),
    ) {
        (Some(nonce), Some(token)) => signed::tag_matches(
            &env.config.cursor_key,
            CSRF_PURPOSE,
            &[nonce.as_bytes(), sealed.as_bytes()],
            token,
        ),
        _ => false,
    };
    if !csrf_ok {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "The sign-in form was not submitted from this site or has expired. Go back to the application and start again.",
        ));
    }
    let Some(pending) = open_pending(env, sealed) else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign-in", EXPIRED));
    };
    let email = form.get("email").unwrap_or("").trim();

    // Throttling per client address and per account (docs/standards.md §4), counted for every
    // attempt, before any password work.
    let (by_addr, by_account) = rate_limit::sign_in(env, request.headers(), email).await?;
    for decision in [&by_addr, &by_account] {
        if !decision.allowed {
            let mut response = throttled(decision);
            kit::serve::attach_decision(&mut response, by_addr.clone());
            kit::serve::attach_decision(&mut response, by_account.clone());
            return Ok(response);
        }
    }
    let password = form.get("password").unwrap_or("");
    let mut response = login_attempt(env, request, &pending, sealed, email, password).await?;
    kit::serve::attach_decision(&mut response, by_addr);
    kit::serve::attach_decision(&mut response, by_account);
    Ok(response)
}

/// A sign-in attempt that passed CSRF, the pending request and the throttles.
async fn login_attempt<R: Repository, K: BreakerStore>(
    env: &Env<'_, R, K>,
    request: &http::Request<Bytes>,
    pending: &Pending,
    sealed: &str,
    email: &str,
    password: &str,
) -> HandlerResult {
    let secure = env.config.secure_cookies;
    let Some(client) = pending_client(env, pending).await? else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign-in", EXPIRED));
    };
    let nonce = cookie(request.headers(), &csrf_cookie(secure))
        .unwrap_or("")
        .to_owned();
    if email.is_empty() || password.is_empty() {
        return login_form(
            env,
            StatusCode::BAD_REQUEST,
            &LoginView {
                client: &client,
                pending,
                sealed,
                csrf_nonce: &nonce,
                email,
                error: Some("Enter your email and password."),
            },
        );
    }
    let user = env.repo.user_by_email(email).await.map_err(store_failure)?;
    let verified = match &user {
        // The hash is checked even for a disabled account: the same work either way.
        Some(user) => {
            credentials::verify_secret(password, &user.password_hash).unwrap_or(false)
                && user.active
        }
        None => credentials::dummy_verify(password),
    };
    let Some(user) = user.filter(|_| verified) else {
        return login_form(
            env,
            StatusCode::BAD_REQUEST,
            &LoginView {
                client: &client,
                pending,
                sealed,
                csrf_nonce: &nonce,
                email,
                error: Some(LOGIN_FAILED),
            },
        );
    };

    // Signed in: a server-side session (only its hash is a key), then the code.
    let session_id = credentials::random_token().map_err(ApiError::internal)?;
    let session = Session {
        user: user.subject(),
        auth_time: env.now,
        exp: env.now + SESSION_LIFETIME_SECS,
    };
    let value = serde_json::to_vec(&session).map_err(ApiError::internal)?;
    env.kv
        .set(&session_key(env, &session_id), &value)
        .await
        .map_err(kv_failure)?;
    let mut response = issue_code(env, &client, pending, &user, env.now).await?;
    let session_cookie = set_cookie(
        secure,
        &session_cookie(secure),
        &session_id,
        SESSION_LIFETIME_SECS,
        "Lax",
    );
    let clear_csrf = set_cookie(secure, &csrf_cookie(secure), "", 0, "Strict");
    for value in [session_cookie, clear_csrf] {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&value).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; orderly_csrf=xyz"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("orderly_csrf_other=no"),
        );
        assert_eq!(cookie(&headers, "orderly_csrf"), Some("xyz"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "orderly"), None);
    }

    #[test]
    fn host_prefix_only_with_secure() {
        assert_eq!(session_cookie(true), "__Host-orderly_session");
        assert_eq!(session_cookie(false), "orderly_session");
        let c = set_cookie(true, "__Host-orderly_session", "v", 60, "Lax");
        assert_eq!(
            c,
            "__Host-orderly_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
    }
}
