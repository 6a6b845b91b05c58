//! Keyset pagination cursors: one codec for every list (docs/standards.md §13).
//!
//! A cursor is edge-http's signed [`Cursor`] (`base64url(payload).base64url(HMAC-SHA256)`
//! under the `cursor_key` variable) around a [`Position`]: the direction (`a`fter the row
//! for a `next` link, `b`efore it for `prev`), the row's sort key (any JSON value — a
//! number, a string, or an array for compound sorts) and its id. The key is *bound* to the
//! list: the caller passes every parameter that decides which rows or which order a page
//! holds (sort, filters, owner), so a cursor replayed against another list, another sort or
//! another user fails verification exactly like a tampered one: 400 at `/query/cursor`.
//! `limit` and `fields` are not bound; a client may change them between pages.

use edge_http::ApiError;
use edge_http::cursor::{Cursor, CursorError, CursorKey, CursorKeyTooShort};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Which side of the row the next page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Rows after the position (the `next` link).
    #[serde(rename = "a")]
    After,
    /// Rows before the position, read backwards (the `prev` link).
    #[serde(rename = "b")]
    Before,
}

/// A place in a list: a row's sort key and id, and which way to read from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position<K> {
    /// The direction.
    #[serde(rename = "d")]
    pub direction: Direction,
    /// The row's sort key.
    #[serde(rename = "k")]
    pub key: K,
    /// The row's id (the tie-breaker of every sort).
    #[serde(rename = "i")]
    pub id: String,
}

/// Signs and checks the cursors of every list with one secret (`Debug` never prints it).
#[derive(Debug, Clone)]
pub struct PageCursors {
    key: CursorKey,
}

impl PageCursors {
    /// Cursors keyed by `secret` (the `cursor_key` variable).
    ///
    /// # Errors
    /// When the secret is shorter than 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, CursorKeyTooShort> {
        Ok(Self {
            key: CursorKey::new(secret)?,
        })
    }

    /// The cursor for `position` in the list `binding` describes.
    ///
    /// # Errors
    /// A 500 when the position cannot be encoded (a bug: an unserialisable key or one so
    /// long the cursor would exceed its cap).
    pub fn encode<K: Serialize>(
        &self,
        binding: &[(&str, &str)],
        position: &Position<K>,
    ) -> Result<String, ApiError> {
        Cursor::encode(position, &self.key.clone().bound_to(binding)).map_err(ApiError::internal)
    }

    /// The position a cursor names, if it was made by [`PageCursors::encode`] with this
    /// secret for the same `binding`.
    ///
    /// # Errors
    /// 400 at `/query/cursor` for anything else (too long, tampered, foreign, or for
    /// another list), without saying which.
    pub fn decode<K: DeserializeOwned>(
        &self,
        binding: &[(&str, &str)],
        text: &str,
    ) -> Result<Position<K>, CursorError> {
        Cursor::decode(text, &self.key.clone().bound_to(binding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_http::cursor::CursorError;
    use serde_json::{Value, json};

    fn cursors() -> PageCursors {
        PageCursors::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_position_round_trips_through_its_list() {
        let binding = [("sort", "-created_at"), ("status", "active")];
        let position = Position {
            direction: Direction::Before,
            key: json!([1_764_072_000_000_000_i64, "b"]),
            id: "0190b0c4-0000-7000-8000-000000000001".to_owned(),
        };
        let text = cursors().encode(&binding, &position).unwrap();
        assert_eq!(cursors().decode::<Value>(&binding, &text), Ok(position));
    }

    #[test]
    fn a_cursor_for_another_list_or_secret_is_invalid_like_a_tampered_one() {
        let position = Position {
            direction: Direction::After,
            key: 5_i64,
            id: "x".to_owned(),
        };
        let text = cursors().encode(&[("sort", "price")], &position).unwrap();
        assert_eq!(
            cursors().decode::<i64>(&[("sort", "-price")], &text),
            Err(CursorError::Invalid)
        );
        let other = PageCursors::new(&[8u8; 32]).unwrap();
        assert_eq!(
            other.decode::<i64>(&[("sort", "price")], &text),
            Err(CursorError::Invalid)
        );
        let mut tampered = text.clone();
        tampered.insert(2, 'A');
        assert_eq!(
            cursors().decode::<i64>(&[("sort", "price")], &tampered),
            Err(CursorError::Invalid)
        );
        // A key of another type is refused as well (never a panic or a 500).
        assert_eq!(
            cursors().decode::<String>(&[("sort", "price")], &text),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert!(PageCursors::new(b"short").is_err());
        assert!(!format!("{:?}", cursors()).contains('7'));
    }
}
