//! Pagination cursors for the list, on the kit's signed keyset cursors
//! ([`kit::PageCursors`], HMAC-SHA256 keyed by the `cursor_key` variable).
//!
//! The position holds the direction (after / before) and the row (sort value and id); the
//! cursor is *bound* to the list's sort and every filter, so a cursor replayed with another
//! `sort` or filter fails verification like a tampered one. `limit` and `fields` are not
//! bound: a client may change them between pages.

use domain::ProductId;
use edge_http::ApiError;
use edge_http::cursor::CursorError;
use kit::{Direction, PageCursors};
use serde_json::Value;

use crate::service::{Filter, Page, Position, Sort, SortField, SortValue};

/// The `(name, value)` pairs a cursor is bound to: the sort, then each filter.
fn binding(sort: Sort, filter: &Filter) -> [(&'static str, String); 5] {
    [
        ("sort", sort.to_string()),
        ("status", filter.status.as_str().to_owned()),
        (
            "currency",
            filter.currency.map_or("", |c| c.code()).to_owned(),
        ),
        (
            "min_price",
            filter.min_price.map(|p| p.to_string()).unwrap_or_default(),
        ),
        (
            "max_price",
            filter.max_price.map(|p| p.to_string()).unwrap_or_default(),
        ),
    ]
}

fn pairs<'a>(binding: &'a [(&'static str, String); 5]) -> [(&'static str, &'a str); 5] {
    binding
        .each_ref()
        .map(|(name, value)| (*name, value.as_str()))
}

/// The cursor for reading after (`after = true`) or before `position` in the list of
/// `sort` and `filter`.
///
/// # Errors
/// A 500 when the cursor cannot be made (a bug).
pub fn encode(
    cursors: &PageCursors,
    after: bool,
    position: &Position,
    sort: Sort,
    filter: &Filter,
) -> Result<String, ApiError> {
    let key = match &position.value {
        SortValue::CreatedAt(v) | SortValue::Price(v) => Value::from(*v),
        SortValue::Name(name) => Value::from(name.as_str()),
    };
    let direction = if after {
        Direction::After
    } else {
        Direction::Before
    };
    let binding = binding(sort, filter);
    cursors.encode(
        &pairs(&binding),
        &kit::Position {
            direction,
            key,
            id: position.id.to_string(),
        },
    )
}

/// Checks `cursor` and reads the page it points at in the list of `sort` and `filter`.
///
/// # Errors
/// [`CursorError`] for anything but a cursor this key made for this list.
pub fn decode(
    cursors: &PageCursors,
    cursor: &str,
    sort: Sort,
    filter: &Filter,
) -> Result<Page, CursorError> {
    let binding = binding(sort, filter);
    let at = cursors.decode::<Value>(&pairs(&binding), cursor)?;
    let value = match (sort.field, &at.key) {
        (SortField::CreatedAt, k) => SortValue::CreatedAt(k.as_i64().ok_or(CursorError::Invalid)?),
        (SortField::Price, k) => SortValue::Price(k.as_i64().ok_or(CursorError::Invalid)?),
        (SortField::Name, Value::String(name)) => SortValue::Name(name.clone()),
        (SortField::Name, _) => return Err(CursorError::Invalid),
    };
    let id = ProductId::parse(&at.id).map_err(|_| CursorError::Invalid)?;
    let position = Position { value, id };
    Ok(match at.direction {
        Direction::After => Page::After(position),
        Direction::Before => Page::Before(position),
    })
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
        let codec = PageCursors::new(KEY).unwrap();
        let filter = Filter::default();
        let at = position();
        let cursor = encode(&codec, true, &at, by_name(), &filter).unwrap();
        assert!(!cursor.contains('|') && !cursor.contains('"'));
        assert_eq!(
            decode(&codec, &cursor, by_name(), &filter),
            Ok(Page::After(at.clone()))
        );
        let before = encode(&codec, false, &at, by_name(), &filter).unwrap();
        assert_eq!(
            decode(&codec, &before, by_name(), &filter),
            Ok(Page::Before(at))
        );
    }

    #[test]
    fn tampered_foreign_or_rebound_cursors_are_refused() {
        let codec = PageCursors::new(KEY).unwrap();
        let filter = Filter::default();
        let cursor = encode(&codec, true, &position(), by_name(), &filter).unwrap();
        let mut forged = cursor.clone().into_bytes();
        forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(decode(&codec, &forged, by_name(), &filter).is_err());
        let other = PageCursors::new(b"another key, also 32 bytes long!").unwrap();
        assert!(decode(&other, &cursor, by_name(), &filter).is_err());
        let euro = Filter {
            currency: Some(Currency::parse("EUR").unwrap()),
            ..Filter::default()
        };
        assert!(decode(&codec, &cursor, by_name(), &euro).is_err());
        assert!(decode(&codec, &cursor, Sort::DEFAULT, &filter).is_err());
        let cheap = Filter {
            max_price: Some(5),
            ..Filter::default()
        };
        assert!(decode(&codec, &cursor, by_name(), &cheap).is_err());
        for junk in ["", ".", "abc", "' OR 1=1 --", "a.b.c", &"x".repeat(2000)] {
            assert!(decode(&codec, junk, by_name(), &filter).is_err(), "{junk}");
        }
    }
}
