//! Pagination cursors for the list, on edge-http's signed [`Cursor`]s (HMAC-SHA256
//! keyed by the `cursor_key` variable).
//!
//! The payload holds the direction (`a`fter / `b`efore) and the position (sort value
//! and id); the key is *bound* to the list's sort and every filter, so a cursor
//! replayed with another `sort` or filter fails verification like a tampered one.
//! `limit` and `fields` are not bound: a client may change them between pages.

use domain::ProductId;
use edge_http::cursor::{Cursor, CursorEncodeError, CursorError, CursorKey};
use serde::{Deserialize, Serialize};

use crate::service::{Filter, Page, Position, Sort, SortField, SortValue};

/// The secret was shorter than edge-http's minimum (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTooShort;

/// Signs and checks the list's cursors with one secret (its `Debug` never prints it).
#[derive(Debug, Clone)]
pub struct CursorCodec {
    key: CursorKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// `a`fter or `b`efore.
    d: String,
    /// The sort value: an integer (`created_at`, `price`) or a string (`name`).
    k: serde_json::Value,
    /// The product id.
    i: String,
}

impl CursorCodec {
    /// A codec keyed by `secret`.
    ///
    /// # Errors
    /// [`KeyTooShort`] when edge-http refuses the secret.
    pub fn new(secret: &[u8]) -> Result<Self, KeyTooShort> {
        let key = CursorKey::new(secret).map_err(|_| KeyTooShort)?;
        Ok(Self { key })
    }

    /// The key bound to the list of `sort` and `filter`.
    fn bound(&self, sort: Sort, filter: &Filter) -> CursorKey {
        let sort = sort.to_string();
        let min = filter.min_price.map(|p| p.to_string()).unwrap_or_default();
        let max = filter.max_price.map(|p| p.to_string()).unwrap_or_default();
        self.key.clone().bound_to(&[
            ("sort", sort.as_str()),
            ("status", filter.status.as_str()),
            ("currency", filter.currency.map_or("", |c| c.code())),
            ("min_price", min.as_str()),
            ("max_price", max.as_str()),
        ])
    }

    /// The cursor for reading after (`after = true`) or before `position` in the list
    /// of `sort` and `filter`.
    ///
    /// # Errors
    /// [`CursorEncodeError`] (a bug: a 500).
    pub fn encode(
        &self,
        after: bool,
        position: &Position,
        sort: Sort,
        filter: &Filter,
    ) -> Result<String, CursorEncodeError> {
        let k = match &position.value {
            SortValue::CreatedAt(v) | SortValue::Price(v) => serde_json::Value::from(*v),
            SortValue::Name(name) => serde_json::Value::from(name.as_str()),
        };
        let payload = Payload {
            d: if after { "a" } else { "b" }.to_owned(),
            k,
            i: position.id.to_string(),
        };
        Cursor::encode(&payload, &self.bound(sort, filter))
    }

    /// Checks `cursor` and reads the page it points at in the list of `sort` and
    /// `filter`.
    ///
    /// # Errors
    /// [`CursorError`] for anything but a cursor this key made for this list.
    pub fn decode(&self, cursor: &str, sort: Sort, filter: &Filter) -> Result<Page, CursorError> {
        let payload: Payload = Cursor::decode(cursor, &self.bound(sort, filter))?;
        let value = match (sort.field, &payload.k) {
            (SortField::CreatedAt, k) => {
                SortValue::CreatedAt(k.as_i64().ok_or(CursorError::Invalid)?)
            }
            (SortField::Price, k) => SortValue::Price(k.as_i64().ok_or(CursorError::Invalid)?),
            (SortField::Name, serde_json::Value::String(name)) => SortValue::Name(name.clone()),
            (SortField::Name, _) => return Err(CursorError::Invalid),
        };
        let id = ProductId::parse(&payload.i).map_err(|_| CursorError::Invalid)?;
        let position = Position { value, id };
        match payload.d.as_str() {
            "a" => Ok(Page::After(position)),
            "b" => Ok(Page::Before(position)),
            _ => Err(CursorError::Invalid),
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
        let at = position();
        let cursor = codec.encode(true, &at, by_name(), &filter).unwrap();
        assert!(!cursor.contains('|') && !cursor.contains('"'));
        assert_eq!(
            codec.decode(&cursor, by_name(), &filter),
            Ok(Page::After(at.clone()))
        );
        let before = codec.encode(false, &at, by_name(), &filter).unwrap();
        assert_eq!(
            codec.decode(&before, by_name(), &filter),
            Ok(Page::Before(at))
        );
    }

    #[test]
    fn tampered_foreign_or_rebound_cursors_are_refused() {
        let codec = CursorCodec::new(KEY).unwrap();
        let filter = Filter::default();
        let cursor = codec.encode(true, &position(), by_name(), &filter).unwrap();
        let mut forged = cursor.clone().into_bytes();
        forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(codec.decode(&forged, by_name(), &filter).is_err());
        let other = CursorCodec::new(b"another key, also 32 bytes long!").unwrap();
        assert!(other.decode(&cursor, by_name(), &filter).is_err());
        let euro = Filter {
            currency: Some(Currency::parse("EUR").unwrap()),
            ..Filter::default()
        };
        assert!(codec.decode(&cursor, by_name(), &euro).is_err());
        assert!(codec.decode(&cursor, Sort::DEFAULT, &filter).is_err());
        let cheap = Filter {
            max_price: Some(5),
            ..Filter::default()
        };
        assert!(codec.decode(&cursor, by_name(), &cheap).is_err());
        for junk in ["", ".", "abc", "' OR 1=1 --", "a.b.c", &"x".repeat(2000)] {
            assert!(codec.decode(junk, by_name(), &filter).is_err(), "{junk}");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(CursorCodec::new(b"short").err(), Some(KeyTooShort));
    }
}
