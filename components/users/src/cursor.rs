//! Opaque, signed pagination cursors (HMAC-SHA256 with the `cursor_key` variable).
//!
//! A cursor is `base64url(payload) "." base64url(tag)`, where the payload is
//! `v1|<a|b>|<sort>|<status or ->|<created_at micros>|<id>`. It binds the sort and the
//! filter it was made for: a cursor replayed with another `sort` or `status` is refused
//! like a tampered one. The tag is checked in constant time before the payload is read.
//! (Written before edge-http's generic `cursor` module landed; moving to it is a
//! follow-up that changes no behaviour.)

use base64ct::{Base64UrlUnpadded, Encoding};
use domain::{AccountStatus, UserId};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::service::{Direction, Position, SortOrder};

type HmacSha256 = Hmac<Sha256>;

/// Cursors longer than this are refused unread.
pub const MAX_CURSOR_LEN: usize = 512;

/// Why a cursor was refused. Deliberately one kind: the client learns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

/// Signs and checks cursors with one key.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key>)")
    }
}

impl CursorCodec {
    /// A codec keyed by `key` (the `cursor_key` variable's bytes).
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self) -> Result<HmacSha256, InvalidCursor> {
        HmacSha256::new_from_slice(&self.key).map_err(|_| InvalidCursor)
    }

    /// The cursor for reading `direction` from `position` under `sort` and `status`.
    pub fn encode(
        &self,
        direction: Direction,
        position: Position,
        sort: SortOrder,
        status: Option<AccountStatus>,
    ) -> Result<String, InvalidCursor> {
        let payload = format!(
            "v1|{}|{}|{}|{}|{}",
            match direction {
                Direction::After => "a",
                Direction::Before => "b",
            },
            sort.as_str(),
            status.map_or("-", AccountStatus::as_str),
            position.created_at_micros,
            position.id
        );
        let mut mac = self.mac()?;
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(payload.as_bytes()),
            Base64UrlUnpadded::encode_string(&tag)
        ))
    }

    /// Checks `cursor`'s signature and that it was made for `sort` and `status`.
    pub fn decode(
        &self,
        cursor: &str,
        sort: SortOrder,
        status: Option<AccountStatus>,
    ) -> Result<(Direction, Position), InvalidCursor> {
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(InvalidCursor);
        }
        let (payload_b64, tag_b64) = cursor.split_once('.').ok_or(InvalidCursor)?;
        let payload = Base64UrlUnpadded::decode_vec(payload_b64).map_err(|_| InvalidCursor)?;
        let tag = Base64UrlUnpadded::decode_vec(tag_b64).map_err(|_| InvalidCursor)?;
        let mut mac = self.mac()?;
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(payload).map_err(|_| InvalidCursor)?;
        let parts: Vec<&str> = text.split('|').collect();
        let [version, direction, cursor_sort, cursor_status, micros, id] = parts.as_slice() else {
            return Err(InvalidCursor);
        };
        if *version != "v1"
            || *cursor_sort != sort.as_str()
            || *cursor_status != status.map_or("-", AccountStatus::as_str)
        {
            return Err(InvalidCursor);
        }
        let direction = match *direction {
            "a" => Direction::After,
            "b" => Direction::Before,
            _ => return Err(InvalidCursor),
        };
        let created_at_micros = micros.parse::<i64>().map_err(|_| InvalidCursor)?;
        let id = UserId::parse(id).map_err(|_| InvalidCursor)?;
        Ok((
            direction,
            Position {
                created_at_micros,
                id,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> Position {
        Position {
            created_at_micros: 1_764_000_000_000_000,
            id: UserId::generate(),
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_sort_and_filter_only() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let at = position();
        let sort = SortOrder::CreatedDesc;
        let status = Some(AccountStatus::Active);
        let cursor = codec.encode(Direction::After, at, sort, status).unwrap();
        assert_eq!(
            codec.decode(&cursor, sort, status),
            Ok((Direction::After, at))
        );
        assert_eq!(
            codec.decode(&cursor, SortOrder::CreatedAsc, status),
            Err(InvalidCursor)
        );
        assert_eq!(codec.decode(&cursor, sort, None), Err(InvalidCursor));
    }

    #[test]
    fn tampered_or_foreign_cursors_are_refused() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let sort = SortOrder::CreatedAsc;
        let cursor = codec
            .encode(Direction::After, position(), sort, None)
            .unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let text = String::from_utf8(Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap();
        let forged = Base64UrlUnpadded::encode_string(text.replace("|a|", "|b|").as_bytes());
        assert_eq!(
            codec.decode(&format!("{forged}.{tag}"), sort, None),
            Err(InvalidCursor)
        );
        let other = CursorCodec::new(b"another key, also thirty-two bytes");
        assert_eq!(other.decode(&cursor, sort, None), Err(InvalidCursor));
        assert_eq!(codec.decode("garbage", sort, None), Err(InvalidCursor));
        assert_eq!(
            codec.decode(&"a".repeat(600), sort, None),
            Err(InvalidCursor)
        );
    }
}
