//! Opaque, signed pagination cursors for the admin list, over `edge_http::cursor`
//! (HMAC-SHA256 with the `cursor_key` variable, bound to the query it was made for).
//!
//! The payload is `{"d": "a"|"b", "t": <created_at micros>, "id": "<user id>"}`; the
//! key is bound to `sort` and `status`, so a cursor replayed with another sort or
//! filter is refused exactly like a tampered one.

use domain::{AccountStatus, UserId};
use edge_http::cursor::{Cursor, CursorKey};
use serde::{Deserialize, Serialize};

use crate::service::{Direction, Position, SortOrder};

/// Why a cursor was refused. Deliberately one kind: the client learns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

/// What a cursor carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    d: String,
    t: i64,
    id: String,
}

/// Signs and checks cursors with one key.
#[derive(Clone)]
pub struct CursorCodec {
    secret: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key>)")
    }
}

impl CursorCodec {
    /// A codec keyed by `secret` (the `cursor_key` variable's bytes; at least 32).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
        }
    }

    fn key(
        &self,
        sort: SortOrder,
        status: Option<AccountStatus>,
    ) -> Result<CursorKey, InvalidCursor> {
        Ok(CursorKey::new(&self.secret)
            .map_err(|_| InvalidCursor)?
            .bound_to(&[
                ("sort", sort.as_str()),
                ("status", status.map_or("", AccountStatus::as_str)),
            ]))
    }

    /// The cursor for reading `direction` from `position` under `sort` and `status`.
    pub fn encode(
        &self,
        direction: Direction,
        position: Position,
        sort: SortOrder,
        status: Option<AccountStatus>,
    ) -> Result<String, InvalidCursor> {
        let payload = Payload {
            d: match direction {
                Direction::After => "a",
                Direction::Before => "b",
            }
            .to_owned(),
            t: position.created_at_micros,
            id: position.id.to_string(),
        };
        Cursor::encode(&payload, &self.key(sort, status)?).map_err(|_| InvalidCursor)
    }

    /// Checks `cursor`'s signature and that it was made for `sort` and `status`.
    pub fn decode(
        &self,
        cursor: &str,
        sort: SortOrder,
        status: Option<AccountStatus>,
    ) -> Result<(Direction, Position), InvalidCursor> {
        let payload: Payload =
            Cursor::decode(cursor, &self.key(sort, status)?).map_err(|_| InvalidCursor)?;
        let direction = match payload.d.as_str() {
            "a" => Direction::After,
            "b" => Direction::Before,
            _ => return Err(InvalidCursor),
        };
        let id = UserId::parse(&payload.id).map_err(|_| InvalidCursor)?;
        Ok((
            direction,
            Position {
                created_at_micros: payload.t,
                id,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

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
        let forged = Base64UrlUnpadded::encode_string(text.replace("\"a\"", "\"b\"").as_bytes());
        assert_ne!(forged, payload);
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
