//! Opaque, signed pagination cursors (HMAC-SHA256 keyed by the `cursor_key` variable).
//!
//! A cursor is `base64url(payload) "." base64url(tag)`; the payload is a small JSON
//! object holding the direction, the position (sort value and id) and the *binding*:
//! the sort and filters of the list it was made for. The tag is checked in constant
//! time before the payload is parsed; a cursor replayed with another `sort` or filter
//! is refused like a tampered one (one error kind, so a client learns nothing).
//!
//! (Written here because edge-http's generic `cursor` module had not landed yet.)

use base64ct::{Base64UrlUnpadded, Encoding};
use domain::ProductId;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::service::{Filter, Page, Position, Sort, SortField, SortValue};

type HmacSha256 = Hmac<Sha256>;

/// Cursors longer than this are refused unread.
pub const MAX_CURSOR_LEN: usize = 1024;

/// The shortest key accepted (`spin.toml` asks for at least 32 bytes).
pub const MIN_KEY_LEN: usize = 32;

/// Why a cursor was refused.
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// Format version.
    v: u8,
    /// `a`fter or `b`efore.
    d: String,
    /// The binding.
    q: String,
    /// The sort value: an integer (`created_at`, `price`) or a string (`name`).
    k: serde_json::Value,
    /// The product id.
    i: String,
}

/// The list a cursor belongs to, as text: sort and every filter.
pub fn binding(sort: Sort, filter: &Filter) -> String {
    format!(
        "{sort}|{}|{}|{}|{}",
        filter.status.as_str(),
        filter.currency.map_or("", |c| c.code()),
        filter.min_price.map(|p| p.to_string()).unwrap_or_default(),
        filter.max_price.map(|p| p.to_string()).unwrap_or_default(),
    )
}

impl CursorCodec {
    /// A codec keyed by `key`.
    ///
    /// # Errors
    /// [`InvalidCursor`] when the key is shorter than [`MIN_KEY_LEN`].
    pub fn new(key: &[u8]) -> Result<Self, InvalidCursor> {
        if key.len() < MIN_KEY_LEN {
            return Err(InvalidCursor);
        }
        Ok(Self { key: key.to_vec() })
    }

    fn tag(&self, payload: &[u8]) -> Result<HmacSha256, InvalidCursor> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| InvalidCursor)?;
        mac.update(payload);
        Ok(mac)
    }

    /// The cursor for reading after (`after = true`) or before `position` in the list
    /// bound by `sort` and `filter`.
    ///
    /// # Errors
    /// [`InvalidCursor`] only if the payload cannot be serialised (not expected).
    pub fn encode(
        &self,
        after: bool,
        position: &Position,
        sort: Sort,
        filter: &Filter,
    ) -> Result<String, InvalidCursor> {
        let k = match &position.value {
            SortValue::CreatedAt(v) | SortValue::Price(v) => serde_json::Value::from(*v),
            SortValue::Name(name) => serde_json::Value::from(name.as_str()),
        };
        let payload = Payload {
            v: 1,
            d: if after { "a" } else { "b" }.to_owned(),
            q: binding(sort, filter),
            k,
            i: position.id.to_string(),
        };
        let bytes = serde_json::to_vec(&payload).map_err(|_| InvalidCursor)?;
        let tag = self.tag(&bytes)?.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(&bytes),
            Base64UrlUnpadded::encode_string(&tag)
        ))
    }

    /// Checks `cursor` and reads the page it points at, for the list bound by `sort`
    /// and `filter`.
    ///
    /// # Errors
    /// [`InvalidCursor`] for anything but a cursor this key made for this list.
    pub fn decode(&self, cursor: &str, sort: Sort, filter: &Filter) -> Result<Page, InvalidCursor> {
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(InvalidCursor);
        }
        let (payload_text, tag_text) = cursor.split_once('.').ok_or(InvalidCursor)?;
        let payload = Base64UrlUnpadded::decode_vec(payload_text).map_err(|_| InvalidCursor)?;
        let tag = Base64UrlUnpadded::decode_vec(tag_text).map_err(|_| InvalidCursor)?;
        self.tag(&payload)?
            .verify_slice(&tag)
            .map_err(|_| InvalidCursor)?;
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| InvalidCursor)?;
        if payload.v != 1 || payload.q != binding(sort, filter) {
            return Err(InvalidCursor);
        }
        let value = match (sort.field, &payload.k) {
            (SortField::CreatedAt, k) => SortValue::CreatedAt(k.as_i64().ok_or(InvalidCursor)?),
            (SortField::Price, k) => SortValue::Price(k.as_i64().ok_or(InvalidCursor)?),
            (SortField::Name, serde_json::Value::String(name)) => SortValue::Name(name.clone()),
            (SortField::Name, _) => return Err(InvalidCursor),
        };
        let id = ProductId::parse(&payload.i).map_err(|_| InvalidCursor)?;
        let position = Position { value, id };
        match payload.d.as_str() {
            "a" => Ok(Page::After(position)),
            "b" => Ok(Page::Before(position)),
            _ => Err(InvalidCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Currency, SortDirection};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn position() -> Position {
        Position {
            value: SortValue::Name("Mug \"blue\" | x".into()),
            id: ProductId::generate(),
        }
    }

    fn by_name() -> Sort {
        Sort {
            field: SortField::Name,
            direction: SortDirection::Ascending,
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_list() {
        let codec = CursorCodec::new(KEY).unwrap();
        let filter = Filter::default();
        let cursor = codec.encode(true, &position(), by_name(), &filter).unwrap();
        assert!(!cursor.contains('|') && !cursor.contains('"'));
        let page = codec.decode(&cursor, by_name(), &filter).unwrap();
        assert!(matches!(page, Page::After(p) if p.value == position().value));
        let before = codec
            .encode(false, &position(), by_name(), &filter)
            .unwrap();
        assert!(matches!(
            codec.decode(&before, by_name(), &filter),
            Ok(Page::Before(_))
        ));
    }

    #[test]
    fn tampered_foreign_or_rebound_cursors_are_refused() {
        let codec = CursorCodec::new(KEY).unwrap();
        let filter = Filter::default();
        let cursor = codec.encode(true, &position(), by_name(), &filter).unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let mut bytes = Base64UrlUnpadded::decode_vec(payload).unwrap();
        bytes[10] ^= 1;
        let forged = format!("{}.{tag}", Base64UrlUnpadded::encode_string(&bytes));
        assert_eq!(
            codec.decode(&forged, by_name(), &filter),
            Err(InvalidCursor)
        );
        let other = CursorCodec::new(b"another key, also 32 bytes long!").unwrap();
        assert_eq!(
            other.decode(&cursor, by_name(), &filter),
            Err(InvalidCursor)
        );
        let euro = Filter {
            currency: Some(Currency::parse("EUR").unwrap()),
            ..Filter::default()
        };
        assert_eq!(codec.decode(&cursor, by_name(), &euro), Err(InvalidCursor));
        assert_eq!(
            codec.decode(&cursor, Sort::DEFAULT, &filter),
            Err(InvalidCursor)
        );
        for junk in ["", ".", "abc", "' OR 1=1 --", "a.b.c", &"x".repeat(2000)] {
            assert_eq!(codec.decode(junk, by_name(), &filter), Err(InvalidCursor));
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(CursorCodec::new(b"short").is_err());
    }
}
