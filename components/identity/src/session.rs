//! The browser's sign-in session: cookies (`__Host-` prefixed over https, `HttpOnly`),
//! the session record in the shared store (keyed by the hash of its id, expiring with
//! [`SESSION_LIFETIME_SECS`]), and who is signed in.

use edge_http::ApiError;
use http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use store::BreakerStore;

use crate::failure::kv_failure;
use crate::model::{Env, Repository, UserRecord};

/// A sign-in session lasts 8 hours.
pub const SESSION_LIFETIME_SECS: u64 = 8 * 3600;

fn cookie_name(secure: bool, name: &str) -> String {
    // `__Host-` requires `Secure`, which browsers only accept over https.
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

pub fn session_cookie(secure: bool) -> String {
    cookie_name(secure, "orderly_session")
}

pub fn csrf_cookie(secure: bool) -> String {
    cookie_name(secure, "orderly_csrf")
}

pub fn set_cookie(secure: bool, name: &str, value: &str, max_age: u64, same_site: &str) -> String {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sign-in session, stored in the shared store under the hash of its id.
#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    /// The user's subject.
    pub user: String,
    /// When the user signed in.
    pub auth_time: u64,
    /// When the session ends.
    pub exp: u64,
}

pub fn session_key<R, K>(env: &Env<'_, R, K>, session_id: &str) -> String {
    contract::keys::session(
        &env.config.kv_prefix,
        &hex(&credentials::token_hash(session_id)),
    )
}

/// The signed-in user, if the session cookie names a live session of an active user.
pub async fn current_user<R: Repository, K: BreakerStore>(
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
    let user = env.repo.user_by_id(user_id).await.map_err(ApiError::from)?;
    Ok(user.filter(|u| u.active).map(|u| (u, session.auth_time)))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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
