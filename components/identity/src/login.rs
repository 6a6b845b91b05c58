//! `GET|POST /login`: the sign-in page that completes an authorization request. CSRF
//! double submit bound by HMAC to the sealed request, a strict CSP, throttled per address
//! and per account before any password work, the same work for unknown accounts.

use bytes::Bytes;
use edge_http::rate_limit::Decision;
use edge_http::{ApiError, EdgeResponse, HandlerResult, RequestContext};
use http::{HeaderValue, Method, StatusCode, header};
use store::BreakerStore;

use crate::authorize::{
    PENDING_LIFETIME_SECS, Pending, SEAL_PURPOSE, error_page, html_response, issue_code,
};
use crate::failure::kv_failure;
use crate::form::Form;
use crate::html::{self, LoginForm};
use crate::model::{ClientRecord, Env, Repository};
use crate::rate_limit;
use crate::redirect;
use crate::session::{
    SESSION_LIFETIME_SECS, Session, cookie, csrf_cookie, session_cookie, session_key, set_cookie,
};
use crate::signed;

/// The generic failure message: says nothing about which part was wrong.
pub const LOGIN_FAILED: &str = "The email or password is incorrect.";

const CSRF_PURPOSE: &str = "orderly/login-csrf";

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
        .map_err(ApiError::from)?;
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
    let user = env
        .repo
        .user_by_email(email)
        .await
        .map_err(ApiError::from)?;
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
        .set(
            &session_key(env, &session_id),
            &value,
            contract::expiry::session(session.exp, env.now),
        )
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
