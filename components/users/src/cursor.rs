//! Keyset cursors of the admin list, on the kit's signed cursors ([`kit::PageCursors`]):
//! the position is the row's `created_at` (microseconds) and id, the cursor is bound to
//! `sort` and `status`, so a cursor replayed with another sort or filter is refused like a
//! tampered one.

use domain::{AccountStatus, UserId};
use edge_http::ApiError;
use edge_http::cursor::CursorError;
use kit::PageCursors;

use crate::service::{Direction, Position, SortOrder};

fn binding(sort: SortOrder, status: Option<AccountStatus>) -> [(&'static str, &'static str); 2] {
    [
        ("sort", sort.as_str()),
        ("status", status.map_or("", AccountStatus::as_str)),
    ]
}

/// The cursor for reading `direction` from `position` under `sort` and `status`.
///
/// # Errors
/// A 500 when the cursor cannot be made (a bug).
pub fn encode(
    cursors: &PageCursors,
    direction: Direction,
    position: Position,
    sort: SortOrder,
    status: Option<AccountStatus>,
) -> Result<String, ApiError> {
    let direction = match direction {
        Direction::After => kit::Direction::After,
        Direction::Before => kit::Direction::Before,
    };
    cursors.encode(
        &binding(sort, status),
        &kit::Position {
            direction,
            key: position.created_at_micros,
            id: position.id.to_string(),
        },
    )
}

/// Checks `cursor`'s signature and that it was made for `sort` and `status`.
///
/// # Errors
/// [`CursorError`] for anything else (400 at `/query/cursor`).
pub fn decode(
    cursors: &PageCursors,
    cursor: &str,
    sort: SortOrder,
    status: Option<AccountStatus>,
) -> Result<(Direction, Position), CursorError> {
    let at = cursors.decode::<i64>(&binding(sort, status), cursor)?;
    let id = UserId::parse(&at.id).map_err(|_| CursorError::Invalid)?;
    let direction = match at.direction {
        kit::Direction::After => Direction::After,
        kit::Direction::Before => Direction::Before,
    };
    Ok((
        direction,
        Position {
            created_at_micros: at.key,
            id,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors() -> PageCursors {
        PageCursors::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_sort_and_filter_only() {
        let position = Position {
            created_at_micros: 1_795_000_000_000_000,
            id: UserId::generate(),
        };
        let status = Some(AccountStatus::Active);
        let text = encode(
            &cursors(),
            Direction::Before,
            position,
            SortOrder::CreatedAsc,
            status,
        )
        .unwrap();
        assert_eq!(
            decode(&cursors(), &text, SortOrder::CreatedAsc, status),
            Ok((Direction::Before, position))
        );
        assert!(decode(&cursors(), &text, SortOrder::CreatedDesc, status).is_err());
        assert!(decode(&cursors(), &text, SortOrder::CreatedAsc, None).is_err());
        let other = PageCursors::new(b"another key, also 32 bytes long!").unwrap();
        assert!(decode(&other, &text, SortOrder::CreatedAsc, status).is_err());
    }
}
