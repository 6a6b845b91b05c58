//! What clients get back: the user representation (never a password hash), its strong
//! `ETag`, the admin list page, and `If-Match` read as a test of a user's versions.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use domain::UserId;
use edge_http::conditional::{ETag, EntityTagCondition};
use edge_http::{APPLICATION_JSON, ApiError, HandlerResult, bytes_response, json_response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use kit::PageCursors;
use serde_json::{Map, Value, json};

use crate::cursor;
use crate::dto::ListQuery;
use crate::service::{Caller, Direction, Page, Precondition, User};

/// The collection's path.
pub const COLLECTION_PATH: &str = "/api/v1/users";
/// `Cache-Control` of every user representation.
pub const CACHE_CONTROL: &str = "private, no-store";

/// `/api/v1/users/{id}`.
pub fn self_href(id: UserId) -> String {
    format!("{COLLECTION_PATH}/{id}")
}

fn rfc3339(micros: i64) -> String {
    let micros = u64::try_from(micros).unwrap_or(0);
    edge_http::log_line::format_rfc3339_millis(UNIX_EPOCH + Duration::from_micros(micros))
}

/// The public view of a user with the links `caller` may follow (no caller: just
/// registered, anonymous).
pub fn user_view(user: &User, caller: Option<&Caller>) -> Value {
    let href = self_href(user.id);
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": href }));
    if let Some(caller) = caller {
        links.insert("update".into(), json!({ "href": href, "method": "PATCH" }));
        links.insert("delete".into(), json!({ "href": href, "method": "DELETE" }));
        links.insert("orders".into(), json!({ "href": format!("{href}/orders") }));
        if caller.admin {
            links.insert("collection".into(), json!({ "href": COLLECTION_PATH }));
        }
    }
    let roles: Vec<&'static str> = user.roles.into();
    json!({
        "id": user.id.to_string(),
        "email": user.email,
        "display_name": user.display_name,
        "roles": roles,
        "status": user.status.as_str(),
        "version": user.version,
        "created_at": rfc3339(user.created_at_micros),
        "updated_at": rfc3339(user.updated_at_micros),
        "_links": Value::Object(links),
    })
}

/// One user, with its `ETag`, `Cache-Control` and `Vary`.
///
/// # Errors
/// A 500 when the view does not serialise (a bug).
pub fn user_response(status: StatusCode, user: &User, caller: Option<&Caller>) -> HandlerResult {
    let mut response = json_response(status, &user_view(user, caller))?;
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag_of(user).to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(response)
}

/// The admin list page: items, `_links` self/next/prev, a strong `ETag` of its bytes.
///
/// # Errors
/// A 500 when a cursor or the body cannot be made (a bug).
pub fn list_response(
    page: &Page,
    query: &ListQuery,
    caller: &Caller,
    cursors: &PageCursors,
) -> HandlerResult {
    let encode = |direction, position| {
        cursor::encode(cursors, direction, position, query.sort, query.status)
    };
    let mut links = Map::new();
    let self_cursor = match query.from {
        Some((direction, position)) => Some(encode(direction, position)?),
        None => None,
    };
    links.insert(
        "self".into(),
        json!({ "href": query.href(COLLECTION_PATH, self_cursor.as_deref()) }),
    );
    if let Some(next) = page.next {
        let cursor = encode(Direction::After, next)?;
        links.insert(
            "next".into(),
            json!({ "href": query.href(COLLECTION_PATH, Some(&cursor)) }),
        );
    }
    if let Some(prev) = page.prev {
        let cursor = encode(Direction::Before, prev)?;
        links.insert(
            "prev".into(),
            json!({ "href": query.href(COLLECTION_PATH, Some(&cursor)) }),
        );
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|user| user_view(user, Some(caller)))
        .collect();
    let body = serde_json::to_vec(&json!({ "items": items, "_links": Value::Object(links) }))
        .map_err(ApiError::internal)?;
    let etag = ETag::from_bytes(&body);
    let mut response = bytes_response(StatusCode::OK, APPLICATION_JSON, Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

/// The strong entity tag of version `version` of user `id` (`edge_http::conditional`: a
/// hash of both, so it changes with every write and names no other user's state; the
/// edge's compression suffix is ignored when comparing).
pub fn etag_for(id: UserId, version: u32) -> ETag {
    ETag::from_version(id, u64::from(version))
}

fn etag_of(user: &User) -> ETag {
    etag_for(user.id, user.version)
}

/// `If-Match` (strong comparison, RFC 9110 §13.1.1) as a test of `id`'s versions; a
/// malformed header is a 412.
///
/// # Errors
/// 412 for a header that is not a list of entity tags.
pub fn if_match(headers: &HeaderMap, id: UserId) -> Result<Precondition<'static>, ApiError> {
    match EntityTagCondition::from_headers(headers, header::IF_MATCH) {
        Ok(None) => Ok(Precondition::Missing),
        Ok(Some(EntityTagCondition::Any)) => Ok(Precondition::Any),
        Ok(Some(condition)) => Ok(Precondition::Matching(Box::new(move |version| {
            condition.matches_strong(&etag_for(id, version))
        }))),
        Err(_) => Err(ApiError::PreconditionFailed {
            detail: "If-Match is not a valid list of entity tags.".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_is_strong_and_bound_to_the_user() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let holds = |headers: &HeaderMap, id: UserId, version: u32| match if_match(headers, id) {
            Ok(Precondition::Matching(test)) => Some(test(version)),
            Ok(Precondition::Any) => Some(true),
            Ok(Precondition::Missing) => None,
            Err(e) => panic!("{e:?}"),
        };
        let mut headers = HeaderMap::new();
        assert_eq!(holds(&headers, a, 3), None);
        let tag = etag_for(a, 3).to_string();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(holds(&headers, a, 3), Some(true));
        assert_eq!(holds(&headers, a, 4), Some(false));
        assert_eq!(holds(&headers, b, 3), Some(false));
        // The tag as the edge's gzip sent it still matches.
        let gzip = format!("{}-gzip\"", tag.trim_end_matches('"'));
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&gzip).unwrap());
        assert_eq!(holds(&headers, a, 3), Some(true));
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(&format!("W/{tag}")).unwrap(),
        );
        assert_eq!(holds(&headers, a, 3), Some(false));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(holds(&headers, a, 3), Some(true));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("nonsense"));
        assert!(if_match(&headers, a).is_err());
    }
}
