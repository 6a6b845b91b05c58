//! Keyset cursors for order lists, on the kit's signed cursors ([`kit::PageCursors`]).
//!
//! The cursor binds the page position to the list it came from (owner, sort, status
//! filter), so it cannot be replayed against another user's list or another sort; a
//! tampered or foreign cursor fails verification and is a 400 at `/query/cursor`.

use domain::{OrderId, OrderStatus, UserId};
use edge_http::ApiError;
use edge_http::cursor::CursorError;
use kit::{Direction, PageCursors, Position};

use crate::model::{After, ListSort};

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

impl CursorScope {
    fn owner_text(&self) -> String {
        self.owner.to_string()
    }
}

fn binding<'a>(scope: &CursorScope, owner: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("owner", owner),
        ("sort", scope.sort.as_str()),
        ("status", scope.status.map_or("", OrderStatus::as_str)),
    ]
}

/// Signs `after` for `scope`.
///
/// # Errors
/// A 500 when the cursor cannot be made (a bug).
pub fn encode(
    cursors: &PageCursors,
    scope: &CursorScope,
    after: &After,
) -> Result<String, ApiError> {
    let owner = scope.owner_text();
    cursors.encode(
        &binding(scope, &owner),
        &Position {
            direction: if after.backward {
                Direction::Before
            } else {
                Direction::After
            },
            key: after.key,
            id: after.id.to_string(),
        },
    )
}

/// Verifies and reads a cursor for `scope`.
///
/// # Errors
/// [`CursorError`] for anything but a cursor made for this list with this key.
pub fn decode(
    cursors: &PageCursors,
    scope: &CursorScope,
    cursor: &str,
) -> Result<After, CursorError> {
    let owner = scope.owner_text();
    let at = cursors.decode::<i64>(&binding(scope, &owner), cursor)?;
    Ok(After {
        key: at.key,
        id: OrderId::parse(&at.id).map_err(|_| CursorError::Invalid)?,
        backward: at.direction == Direction::Before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors() -> PageCursors {
        PageCursors::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

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
        let cursor = encode(&cursors(), &scope(), &after()).unwrap();
        assert_eq!(decode(&cursors(), &scope(), &cursor), Ok(after()));
        assert!(!cursor.contains("0190b0c4"), "opaque");
        let back = After {
            backward: true,
            ..after()
        };
        let cursor = encode(&cursors(), &scope(), &back).unwrap();
        assert_eq!(decode(&cursors(), &scope(), &cursor), Ok(back));
    }

    #[test]
    fn foreign_or_malformed_cursors_are_refused() {
        let cursor = encode(&cursors(), &scope(), &after()).unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        for bad in [
            format!("{payload}.{}", &tag[1..]),
            format!("{payload}x.{tag}"),
            "' OR 1=1 --".to_owned(),
            String::new(),
            "a".repeat(4096),
        ] {
            assert!(decode(&cursors(), &scope(), &bad).is_err(), "{bad}");
        }
        let other = PageCursors::new(b"another-key-another-key-another-key!").unwrap();
        assert!(decode(&other, &scope(), &cursor).is_err());
        let other_sort = CursorScope {
            sort: ListSort::TotalAscending,
            ..scope()
        };
        assert!(decode(&cursors(), &other_sort, &cursor).is_err());
        let other_owner = CursorScope {
            owner: UserId::parse("0190b0c4-0000-7000-8000-000000000002").unwrap(),
            ..scope()
        };
        assert!(decode(&cursors(), &other_owner, &cursor).is_err());
    }
}
