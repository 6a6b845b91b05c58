//! The bookkeeping of an instance's connections, generic over the connection so it is
//! tested natively; `crate::spin` keeps one `Pool<spin_sdk::mysql::Connection>` per
//! component instance.
//!
//! No caller ever waits on another here (see `crate::spin` for why): [`Pool::try_take`]
//! answers at once with an idle connection, the right to open a new one, or nothing.

use std::cell::{Cell, RefCell};

/// An open connection nobody is using.
#[derive(Debug)]
struct Idle<C> {
    connection: C,
    needs_rollback: bool,
}

/// Idle connections, and how many exist (idle + taken + being opened).
#[derive(Debug)]
pub(crate) struct Pool<C> {
    idle: RefCell<Vec<Idle<C>>>,
    open: Cell<usize>,
}

impl<C> Default for Pool<C> {
    fn default() -> Self {
        Self {
            idle: RefCell::new(Vec::new()),
            open: Cell::new(0),
        }
    }
}

/// What [`Pool::try_take`] handed out.
#[derive(Debug)]
pub(crate) struct Taken<C> {
    /// An idle connection, or `None`: open one (a place is reserved for it).
    pub connection: Option<C>,
    /// A transaction was abandoned on this connection: `ROLLBACK` first.
    pub needs_rollback: bool,
}

impl<C> Pool<C> {
    /// The most recently returned idle connection, else a reserved place for a new
    /// one if fewer than `max` exist, else `None`.
    pub fn try_take(&self, max: usize) -> Option<Taken<C>> {
        if let Some(idle) = self.idle.borrow_mut().pop() {
            return Some(Taken {
                connection: Some(idle.connection),
                needs_rollback: idle.needs_rollback,
            });
        }
        (self.open.get() < max).then(|| {
            self.open.set(self.open.get() + 1);
            Taken {
                connection: None,
                needs_rollback: false,
            }
        })
    }

    /// Ends a taking: the connection goes back to the idle list, or, when there is none
    /// (lost, or never opened), its place is freed.
    pub fn give_back(&self, connection: Option<C>, needs_rollback: bool) {
        match connection {
            Some(connection) => self.idle.borrow_mut().push(Idle {
                connection,
                needs_rollback,
            }),
            None => self.open.set(self.open.get().saturating_sub(1)),
        }
    }

    /// Connections in existence (idle, taken, or being opened).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_callers_share_one_connection() {
        let pool = Pool::<&str>::default();
        let first = pool.try_take(1).unwrap();
        assert!(first.connection.is_none(), "nothing idle yet: open one");
        pool.give_back(Some("c1"), false);
        for _ in 0..100 {
            let again = pool.try_take(1).unwrap();
            assert_eq!(again.connection, Some("c1"));
            pool.give_back(again.connection, false);
        }
        assert_eq!(pool.open(), 1);
    }

    #[test]
    fn concurrent_callers_get_their_own_up_to_the_cap() {
        let pool = Pool::<u32>::default();
        let a = pool.try_take(2).unwrap();
        let b = pool.try_take(2).unwrap();
        assert!(a.connection.is_none() && b.connection.is_none());
        assert!(
            pool.try_take(2).is_none(),
            "at the cap: nothing, and no waiting"
        );
        pool.give_back(Some(1), false);
        assert_eq!(pool.try_take(2).unwrap().connection, Some(1));
    }

    #[test]
    fn a_lost_connection_frees_its_place() {
        let pool = Pool::<u32>::default();
        assert!(pool.try_take(1).unwrap().connection.is_none());
        assert!(pool.try_take(1).is_none());
        pool.give_back(None, false); // open failed, or the connection broke
        assert_eq!(pool.open(), 0);
        assert!(pool.try_take(1).unwrap().connection.is_none());
    }

    #[test]
    fn an_abandoned_transaction_travels_with_its_connection() {
        let pool = Pool::<u32>::default();
        let _ = pool.try_take(2);
        let _ = pool.try_take(2);
        pool.give_back(Some(1), true);
        pool.give_back(Some(2), false);
        // Most recent first.
        let t = pool.try_take(2).unwrap();
        assert_eq!((t.connection, t.needs_rollback), (Some(2), false));
        let t = pool.try_take(2).unwrap();
        assert_eq!((t.connection, t.needs_rollback), (Some(1), true));
        assert_eq!(pool.open(), 2);
    }

    #[test]
    fn places_never_underflow() {
        let pool = Pool::<u32>::default();
        pool.give_back(None, false);
        assert_eq!(pool.open(), 0);
    }
}
