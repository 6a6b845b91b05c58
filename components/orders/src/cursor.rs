//! Keyset cursors for order lists, signed with edge-http's [`edge_http::cursor`]
//! (`base64url(payload).base64url(HMAC-SHA256)` under the `cursor_key` variable).
//!
//! The signature binds the page position to the list it came from (owner, sort, status
//! filter), so a cursor cannot be replayed against another user's list or another
//! order; a tampered or foreign cursor fails verification and is a 400.

use domain::{OrderId, OrderStatus, UserId};
use edge_http::cursor::{Cursor, CursorKey};
use serde::{Deserialize, Serialize};

use crate::model::{After, ListSort};

/// Why a cursor was refused (the handler answers 400 without saying more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

/// What a cursor is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorScope {
    /// Whose list.
    pub owner: UserId,
    /// Its sort.
    pub sort: ListSort,
    /// Its status filter.
    pub status: Option<OrderStatus>,
}

/// The signed payload: the last row's sort key and id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    k: i64,
    id: String,
    /// Backward (a `prev` link): the page ending before this row.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    b: bool,
}

fn key(secret: &[u8], scope: &CursorScope) -> Option<CursorKey> {
    let owner = scope.owner.to_string();
    Some(CursorKey::new(secret).ok()?.bound_to(&[
        ("owner", owner.as_str()),
        ("sort", scope.sort.as_str()),
        ("status", scope.status.map_or("", OrderStatus::as_str)),
    ]))
}

/// Signs `after` for `scope`. `None` only if the key is unusable (shorter than 32 bytes).
pub fn encode(secret: &[u8], scope: &CursorScope, after: &After) -> Option<String> {
    let position = Position {
        k: after.key,
        id: after.id.to_string(),
        b: after.backward,
    };
    Cursor::encode(&position, &key(secret, scope)?).ok()
}

/// Verifies and reads a cursor for `scope`.
pub fn decode(secret: &[u8], scope: &CursorScope, cursor: &str) -> Result<After, InvalidCursor> {
    let key = key(secret, scope).ok_or(InvalidCursor)?;
    let position: Position = Cursor::decode(cursor, &key).map_err(|_| InvalidCursor)?;
    Ok(After {
        key: position.k,
        id: OrderId::parse(&position.id).map_err(|_| InvalidCursor)?,
        backward: position.b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn scope() -> CursorScope {
        CursorScope {
            owner: UserId::parse("0190b0c4-0000-7000-8000-000000000001").unwrap(),
            sort: ListSort::NewestFirst,
            status: None,
        }
    }

    fn after() -> After {
        After {
            key: 1_790_000_000_000_123,
            id: OrderId::parse("0190b0c4-0000-7000-8000-0000000000bb").unwrap(),
            backward: false,
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_list() {
        let cursor = encode(KEY, &scope(), &after()).unwrap();
        assert_eq!(decode(KEY, &scope(), &cursor), Ok(after()));
        assert!(!cursor.contains("0190b0c4"), "opaque");
        let back = After {
            backward: true,
            ..after()
        };
        let cursor = encode(KEY, &scope(), &back).unwrap();
        assert_eq!(decode(KEY, &scope(), &cursor), Ok(back));
    }

    #[test]
    fn tampered_foreign_or_malformed_cursors_are_refused() {
        let cursor = encode(KEY, &scope(), &after()).unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged_payload = Base64UrlUnpadded::encode_string(
            br#"{"k":0,"id":"0190b0c4-0000-7000-8000-0000000000bb"}"#,
        );
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[1..]),
            format!("{payload}x.{tag}"),
            "' OR 1=1 --".to_owned(),
            String::new(),
            "a".repeat(4096),
        ] {
            assert_eq!(decode(KEY, &scope(), &bad), Err(InvalidCursor), "{bad}");
        }
        let other_key = b"another-key-another-key-another-key!";
        assert_eq!(decode(other_key, &scope(), &cursor), Err(InvalidCursor));
        let other_sort = CursorScope {
            sort: ListSort::TotalAscending,
            ..scope()
        };
        assert_eq!(decode(KEY, &other_sort, &cursor), Err(InvalidCursor));
        let other_owner = CursorScope {
            owner: UserId::parse("0190b0c4-0000-7000-8000-000000000002").unwrap(),
            ..scope()
        };
        assert_eq!(decode(KEY, &other_owner, &cursor), Err(InvalidCursor));
    }
}
