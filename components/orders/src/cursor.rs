//! Opaque, signed keyset cursors: `base64url(payload).base64url(HMAC-SHA256(key, payload))`.
//!
//! The payload binds the page position to the list it came from (owner, sort, status
//! filter), so a cursor cannot be replayed against another user's list or another
//! order; a tampered or foreign cursor fails the MAC and is a 400.

use base64ct::{Base64UrlUnpadded, Encoding};
use domain::{OrderId, OrderStatus, UserId};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::{After, ListSort};

type HmacSha256 = Hmac<Sha256>;

/// Shortest `cursor_key` accepted (bytes).
pub const MIN_KEY_BYTES: usize = 32;
/// Longest cursor accepted (characters), checked before any decoding.
pub const MAX_CURSOR_LEN: usize = 512;

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

fn payload(scope: &CursorScope, after: &After) -> String {
    format!(
        "v1|{}|{}|{}|{}|{}",
        scope.owner,
        scope.sort.as_str(),
        scope.status.map_or("-", OrderStatus::as_str),
        after.key,
        after.id
    )
}

fn mac(key: &[u8], data: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac)
}

/// Signs `after` for `scope`. `None` only if the key is unusable.
pub fn encode(key: &[u8], scope: &CursorScope, after: &After) -> Option<String> {
    let payload = payload(scope, after);
    let tag = mac(key, payload.as_bytes())?.finalize().into_bytes();
    Some(format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(payload.as_bytes()),
        Base64UrlUnpadded::encode_string(&tag)
    ))
}

/// Verifies and reads a cursor for `scope`.
pub fn decode(key: &[u8], scope: &CursorScope, cursor: &str) -> Result<After, InvalidCursor> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(InvalidCursor);
    }
    let (payload, tag) = cursor.split_once('.').ok_or(InvalidCursor)?;
    let payload = Base64UrlUnpadded::decode_vec(payload).map_err(|_| InvalidCursor)?;
    let tag = Base64UrlUnpadded::decode_vec(tag).map_err(|_| InvalidCursor)?;
    mac(key, &payload)
        .ok_or(InvalidCursor)?
        .verify_slice(&tag)
        .map_err(|_| InvalidCursor)?;
    let text = String::from_utf8(payload).map_err(|_| InvalidCursor)?;
    let parts: Vec<&str> = text.split('|').collect();
    let [version, owner, sort, status, sort_key, id] = parts.as_slice() else {
        return Err(InvalidCursor);
    };
    let expected_status = scope.status.map_or("-", OrderStatus::as_str);
    if *version != "v1"
        || *owner != scope.owner.to_string()
        || *sort != scope.sort.as_str()
        || *status != expected_status
    {
        return Err(InvalidCursor);
    }
    Ok(After {
        key: sort_key.parse().map_err(|_| InvalidCursor)?,
        id: OrderId::parse(id).map_err(|_| InvalidCursor)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_list() {
        let cursor = encode(KEY, &scope(), &after()).unwrap();
        assert_eq!(decode(KEY, &scope(), &cursor), Ok(after()));
        assert!(!cursor.contains('|'), "opaque");
    }

    #[test]
    fn tampered_foreign_or_malformed_cursors_are_refused() {
        let cursor = encode(KEY, &scope(), &after()).unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged_payload = Base64UrlUnpadded::encode_string(
            b"v1|0190b0c4-0000-7000-8000-000000000001|-created_at|-|0|0190b0c4-0000-7000-8000-0000000000bb",
        );
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[1..]),
            format!("{payload}x.{tag}"),
            "' OR 1=1 --".to_owned(),
            String::new(),
            "a".repeat(MAX_CURSOR_LEN + 1),
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
