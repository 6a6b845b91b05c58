//! The rules of orders: who may see and change what, idempotent placement, the state
//! machine. No HTTP types here; the handler maps [`OrderError`] to problems.

use std::time::Duration;

use domain::{Money, OrderId, OrderStatus, ProductId, TransitionError, UserId};
use store::{Clock, ForeignKeyKind, Sleeper, StoreError};

use crate::model::OrderItem;
use crate::model::{
    After, Caller, IdempotencyScope, ListQuery, Order, OrderLine, Page, StoredResponse,
};
use crate::repository::{OrdersRepository, PlaceResult, ProductSnapshot};

/// How long an idempotency key (and the response stored under it) lives: 24 h.
pub const KEY_LIFETIME_MICROS: i64 = 24 * 60 * 60 * 1_000_000;
/// A key `in_progress` for longer than this belongs to a request that died; a retry may
/// take it over (every statement is capped at 2 s, so a live request is long done).
pub const KEY_STALE_MICROS: i64 = 30 * 1_000_000;
/// How long a duplicate request waits, in total, for the first one to finish: longer
/// than the first may wait for a connection ([`crate::admission::CONNECTION_WAIT`]), so
/// a duplicate does not give up on a first request that is merely queued.
pub const KEY_WAIT: Duration = Duration::from_secs(10);
/// Seconds a client should wait before retrying a request still in progress.
pub const IN_PROGRESS_RETRY_AFTER_SECS: u64 = 1;

const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(200);
const OWNERSHIP_ATTEMPTS: usize = 3;

/// Why an orders operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// No such order or collection for this caller (also hides others' orders).
    NotFound,
    /// The caller may see the order but not make this change.
    Forbidden(&'static str),
    /// Not enough stock for a product (409).
    OutOfStock {
        /// The product.
        product_id: ProductId,
        /// Its SKU.
        sku: String,
        /// Units requested.
        requested: u32,
        /// Units on the shelf now.
        available: i64,
    },
    /// The product does not exist or is archived (422).
    UnknownProduct(ProductId),
    /// The products are priced in more than one currency (422).
    MixedCurrency,
    /// The total does not fit in the money type (422).
    TotalTooLarge,
    /// The order's version is not the one the caller named, or it changed meanwhile (412).
    VersionMismatch,
    /// The state machine forbids the move (409).
    Transition(TransitionError),
    /// The product's price or currency changed while the order was being placed (409;
    /// retrying places it at the new price).
    PriceChanged {
        /// The product.
        product_id: ProductId,
        /// Its SKU.
        sku: String,
    },
    /// The idempotency key was used with another request (422).
    KeyReused,
    /// A request with the same idempotency key is still running (409 + Retry-After).
    InProgress,
    /// The database failed.
    Store(StoreError),
}

impl From<StoreError> for OrderError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// What a placement answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A new order, with the body stored for its idempotency key.
    Created {
        /// The order.
        order: Order,
        /// The rendered 201 body.
        body: Vec<u8>,
    },
    /// A retry with the same key and body: the first response.
    Replayed(StoredResponse),
}

/// The statuses `caller` may move `order` to: an admin along every edge of the state
/// machine; the owner only to `cancelled` (while pending or paid).
pub fn allowed_transitions(caller: &Caller, order: &Order) -> Vec<OrderStatus> {
    order
        .status
        .successors()
        .iter()
        .copied()
        .filter(|to| {
            caller.is_admin || (*to == OrderStatus::Cancelled && caller.may_access(order.user_id))
        })
        .collect()
}

/// The orders service: repository, clock and sleeper.
///
/// It reads the clock itself (a [`Clock`], not one instant per request) because placing
/// an order with an idempotency key may wait for a duplicate's first answer, and the key's
/// expiry and the take-over of a dead key are judged against the time *then*.
pub struct OrdersService<'a, R, S> {
    repo: &'a R,
    sleeper: &'a S,
    clock: &'a dyn Clock,
}

impl<'a, R, S> OrdersService<'a, R, S>
where
    R: OrdersRepository,
    S: Sleeper,
{
    /// The service over `repo`; `sleeper` paces waiting for a duplicate request and
    /// `clock` is the wall clock.
    pub fn new(repo: &'a R, sleeper: &'a S, clock: &'a dyn Clock) -> Self {
        Self {
            repo,
            sleeper,
            clock,
        }
    }

    /// Now, in microseconds since the epoch (as the tables store it).
    fn now_micros(&self) -> i64 {
        kit::Now::from_clock(self.clock).micros()
    }

    /// Places an order for `owner`. With a key: the first request runs, concurrent and
    /// later duplicates get its stored response; another request under the same key is
    /// [`OrderError::KeyReused`]. A failed placement releases the key.
    pub async fn place(
        &self,
        caller: &Caller,
        owner: UserId,
        lines: &[OrderLine],
        key: Option<&IdempotencyScope>,
        render: &dyn Fn(&Order) -> Vec<u8>,
    ) -> Result<Placement, OrderError> {
        if !caller.may_access(owner) {
            return Err(OrderError::NotFound);
        }
        let Some(scope) = key else {
            return self.place_now(owner, lines, None, render).await;
        };
        let now = self.now_micros();
        self.repo.delete_expired_key(scope, now).await?;
        for _ in 0..OWNERSHIP_ATTEMPTS {
            let now = self.now_micros();
            if self
                .repo
                .insert_key(scope, now, now.saturating_add(KEY_LIFETIME_MICROS))
                .await?
            {
                return self.place_owned(owner, lines, scope, render).await;
            }
            match self.wait_for(scope).await? {
                Waited::Done(response) => return Ok(Placement::Replayed(response)),
                Waited::Owned => return self.place_owned(owner, lines, scope, render).await,
                Waited::Released => {}
            }
        }
        Err(OrderError::InProgress)
    }

    async fn place_owned(
        &self,
        owner: UserId,
        lines: &[OrderLine],
        scope: &IdempotencyScope,
        render: &dyn Fn(&Order) -> Vec<u8>,
    ) -> Result<Placement, OrderError> {
        let result = self.place_now(owner, lines, Some(scope), render).await;
        if result.is_err() {
            // Best effort: if this fails too, the key goes stale and is taken over later.
            let _ = self.repo.release_key(scope).await;
        }
        result
    }

    /// Polls the key until the request holding it finishes, releases it, or stalls.
    async fn wait_for(&self, scope: &IdempotencyScope) -> Result<Waited, OrderError> {
        let mut waited = Duration::ZERO;
        let mut pause = FIRST_POLL;
        loop {
            let Some(row) = self.repo.read_key(scope).await? else {
                return Ok(Waited::Released);
            };
            if row.request_hash != scope.request_hash {
                return Err(OrderError::KeyReused);
            }
            if let Some(response) = row.completed {
                return Ok(Waited::Done(response));
            }
            let now = self.now_micros();
            if row.created_at_micros < now.saturating_sub(KEY_STALE_MICROS)
                && self
                    .repo
                    .take_over_key(scope, now, now.saturating_sub(KEY_STALE_MICROS))
                    .await?
            {
                return Ok(Waited::Owned);
            }
            if waited >= KEY_WAIT {
                return Err(OrderError::InProgress);
            }
            self.sleeper.sleep(pause).await;
            waited += pause;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    async fn place_now(
        &self,
        owner: UserId,
        lines: &[OrderLine],
        key: Option<&IdempotencyScope>,
        render: &dyn Fn(&Order) -> Vec<u8>,
    ) -> Result<Placement, OrderError> {
        // Read the catalogue without a lock and refuse what cannot succeed before the
        // transaction: under a rush on one product, the losers never queue for its lock.
        let ids: Vec<ProductId> = lines.iter().map(|l| l.product_id).collect();
        let products = self.repo.products(&ids).await?;
        let order = build_order(owner, lines, &products, self.now_micros())?;
        let result = self.repo.place(&order, key, render).await;
        match result {
            Ok(PlaceResult::Placed(body)) => Ok(Placement::Created { order, body }),
            Ok(PlaceResult::Shortage(product_id)) => {
                let requested = lines
                    .iter()
                    .find(|l| l.product_id == product_id)
                    .map_or(0, |l| l.quantity.get());
                match self.repo.product_state(product_id).await? {
                    Some(state) if state.active && state.stock < i64::from(requested) => {
                        Err(OrderError::OutOfStock {
                            product_id,
                            sku: state.sku,
                            requested,
                            available: state.stock,
                        })
                    }
                    Some(state) if state.active => Err(OrderError::PriceChanged {
                        product_id,
                        sku: state.sku,
                    }),
                    _ => Err(OrderError::UnknownProduct(product_id)),
                }
            }
            Ok(PlaceResult::KeyLost) => Err(OrderError::InProgress),
            // The owner does not exist (an admin ordering for an unknown user id).
            Err(StoreError::ForeignKey {
                kind: ForeignKeyKind::MissingParent,
                ..
            }) => Err(OrderError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The order with its items, if the caller may see it.
    pub async fn get(&self, caller: &Caller, id: OrderId) -> Result<Order, OrderError> {
        match self.repo.find(id).await? {
            Some(order) if caller.may_access(order.user_id) => Ok(order),
            _ => Err(OrderError::NotFound),
        }
    }

    /// One page of `query.owner`'s orders, if the caller may see them.
    pub async fn list(&self, caller: &Caller, query: &ListQuery) -> Result<Page, OrderError> {
        if !caller.may_access(query.owner) {
            return Err(OrderError::NotFound);
        }
        let mut orders = self.repo.list(query).await?;
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let more = orders.len() > limit;
        orders.truncate(limit);
        let position = |order: &Order, backward: bool| After {
            key: query.sort.key_of(order),
            id: order.id,
            backward,
        };
        let (next, prev) = if query.after.is_some_and(|a| a.backward) {
            // Read backwards from the boundary: put the rows back in list order; a
            // page follows (the boundary row), one precedes if the read overflowed.
            orders.reverse();
            let prev = if more {
                orders.first().map(|first| position(first, true))
            } else {
                None
            };
            (orders.last().map(|last| position(last, false)), prev)
        } else {
            let next = if more {
                orders.last().map(|last| position(last, false))
            } else {
                None
            };
            // Only the first page (no cursor) has nothing before it.
            let prev = if query.after.is_some() {
                orders.first().map(|first| position(first, true))
            } else {
                None
            };
            (next, prev)
        };
        Ok(Page { orders, next, prev })
    }

    /// Moves the order to `to` if the caller may, the version matches and the state
    /// machine allows it; cancelling restocks in the same transaction.
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: OrderId,
        to: OrderStatus,
        expected_version: u32,
    ) -> Result<Order, OrderError> {
        let order = self.get(caller, id).await?;
        if !caller.is_admin && to != OrderStatus::Cancelled {
            return Err(OrderError::Forbidden(
                "Only an administrator may mark an order paid, shipped or delivered; its owner may cancel it.",
            ));
        }
        if order.version != expected_version {
            return Err(OrderError::VersionMismatch);
        }
        order
            .status
            .transition(to)
            .map_err(OrderError::Transition)?;
        let restock = order.status.restocks_on(to);
        if !self
            .repo
            .change_status(&order, to, self.now_micros(), restock)
            .await?
        {
            return Err(OrderError::VersionMismatch);
        }
        self.get(caller, id).await
    }
}

/// The order for `lines` at the catalogue's current prices, or why it cannot be placed:
/// an unknown or archived product (422), mixed currencies (422), too little stock
/// (409), a total beyond 64 bits (422). Lines keep the request's order (`line_no`).
pub fn build_order(
    owner: UserId,
    lines: &[OrderLine],
    products: &[ProductSnapshot],
    now_micros: i64,
) -> Result<Order, OrderError> {
    let mut items = Vec::with_capacity(lines.len());
    let mut currency = None;
    for (index, line) in lines.iter().enumerate() {
        let product = products
            .iter()
            .find(|p| p.id == line.product_id && p.active)
            .ok_or(OrderError::UnknownProduct(line.product_id))?;
        if currency.is_some_and(|c| c != product.currency) {
            return Err(OrderError::MixedCurrency);
        }
        currency = Some(product.currency);
        if product.stock < i64::from(line.quantity.get()) {
            return Err(OrderError::OutOfStock {
                product_id: product.id,
                sku: product.sku.clone(),
                requested: line.quantity.get(),
                available: product.stock.max(0),
            });
        }
        items.push(OrderItem {
            line_no: u16::try_from(index + 1).map_err(|_| OrderError::TotalTooLarge)?,
            product_id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            unit_price_minor: product.price_minor,
            currency: product.currency,
            quantity: line.quantity.get(),
        });
    }
    let currency = currency.ok_or(OrderError::TotalTooLarge)?;
    let total = items
        .iter()
        .zip(lines)
        .try_fold(Money::zero(currency), |sum, (item, line)| {
            Money::new(item.unit_price_minor, currency)
                .and_then(|price| price.checked_mul(line.quantity))
                .and_then(|amount| sum.checked_add(amount))
        })
        .map_err(|_| OrderError::TotalTooLarge)?;
    Ok(Order {
        id: OrderId::generate(),
        user_id: owner,
        status: OrderStatus::Pending,
        currency,
        total_minor: total.amount_minor(),
        version: 1,
        created_at_micros: now_micros,
        updated_at_micros: now_micros,
        items,
    })
}

enum Waited {
    Done(StoredResponse),
    Owned,
    Released,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::Repository;
    use domain::{Currency, Quantity};
    use futures::executor::block_on;
    use store::testing::{CallKind, FakeDatabase, FakeEnv, FakeKv, FakeSleeper, Reply};
    use store::{Breaker, BreakerConfig, Guarded, Row, Value};

    const NOW: i64 = 1_790_000_000_000_000;

    fn repo<'a>(
        db: &'a FakeDatabase,
        kv: &'a FakeKv,
        env: &'a FakeEnv,
    ) -> Repository<&'a FakeDatabase, &'a FakeKv, &'a FakeEnv> {
        Repository::new(Guarded::new(
            db,
            Breaker::new(kv, BreakerConfig::new("b")),
            env,
        ))
    }

    fn user() -> UserId {
        UserId::parse("0190b0c4-0000-7000-8000-000000000001").unwrap()
    }

    fn product() -> ProductId {
        ProductId::parse("0190b0c4-0000-7000-8000-0000000000aa").unwrap()
    }

    fn owner_caller() -> Caller {
        Caller {
            user_id: Some(user()),
            is_admin: false,
            client_id: "web".into(),
            subject: user().to_string(),
        }
    }

    fn lines() -> Vec<OrderLine> {
        vec![OrderLine {
            product_id: product(),
            quantity: Quantity::new(2).unwrap(),
        }]
    }

    fn scope(hash: u8) -> IdempotencyScope {
        IdempotencyScope {
            client_id: "web".into(),
            subject: user().to_string(),
            key: "k-1".into(),
            request_hash: [hash; 32],
        }
    }

    /// The tests' wall clock: always `NOW`.
    struct Fixed;
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            u64::try_from(NOW / 1000).unwrap()
        }
    }

    fn render(order: &Order) -> Vec<u8> {
        order.id.to_string().into_bytes()
    }

    fn product_row(stock: i64) -> Row {
        Row::from_values(vec![
            Value::Bytes(product().to_bytes().to_vec()),
            Value::Bytes(b"SKU-1".to_vec()),
            Value::Text("Widget".into()),
            Value::Int(1250),
            Value::Bytes(b"EUR".to_vec()),
            Value::Int(stock),
            Value::Text("active".into()),
        ])
    }

    #[test]
    fn placing_decrements_with_the_guard_captures_prices_and_commits() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Rows(vec![product_row(5)]));
        db.push(Reply::Ok); // begin
        db.push(Reply::Affected(1)); // decrement
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let placed =
            block_on(service.place(&owner_caller(), user(), &lines(), None, &render)).unwrap();
        let Placement::Created { order, .. } = placed else {
            panic!("expected a new order")
        };
        assert_eq!(order.total_minor, 2500);
        assert_eq!(order.currency, Currency::parse("EUR").unwrap());
        assert_eq!(order.items[0].sku, "SKU-1");
        let calls = db.calls();
        assert_eq!(calls[0].kind, CallKind::Query);
        assert_eq!(calls[1].kind, CallKind::Begin);
        assert!(calls[2].sql.contains("stock = stock - ?"));
        assert!(
            calls[2]
                .sql
                .contains("AND stock >= ? AND status = 'active'")
        );
        assert_eq!(calls[2].params[0], Value::UInt(2));
        assert_eq!(
            calls[2].params[3],
            Value::Int(1250),
            "at the captured price"
        );
        assert!(calls[3].sql.contains("INSERT INTO orders"));
        assert!(calls[4].sql.contains("INSERT INTO order_items"));
        assert_eq!(calls.last().unwrap().kind, CallKind::Commit);
    }

    #[test]
    fn a_failed_decrement_rolls_back_and_names_the_product() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Rows(vec![product_row(2)])); // enough when read
        db.push(Reply::Ok); // begin
        db.push(Reply::Affected(0)); // someone else took it meanwhile
        db.push(Reply::Ok); // rollback
        db.push(Reply::Rows(vec![Row::from_values(vec![
            Value::Bytes(b"SKU-1".to_vec()),
            Value::Text("active".into()),
            Value::Int(1),
        ])]));
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let err =
            block_on(service.place(&owner_caller(), user(), &lines(), None, &render)).unwrap_err();
        assert_eq!(
            err,
            OrderError::OutOfStock {
                product_id: product(),
                sku: "SKU-1".into(),
                requested: 2,
                available: 1
            }
        );
        let kinds: Vec<_> = db.calls().iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::Query,
                CallKind::Begin,
                CallKind::ExecuteAffected,
                CallKind::Rollback,
                CallKind::Query
            ]
        );
    }

    #[test]
    fn too_little_stock_when_read_is_refused_without_a_transaction() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Rows(vec![product_row(1)]));
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let err =
            block_on(service.place(&owner_caller(), user(), &lines(), None, &render)).unwrap_err();
        assert!(
            matches!(err, OrderError::OutOfStock { available: 1, .. }),
            "{err:?}"
        );
        assert_eq!(db.calls().len(), 1, "no lock taken");
    }

    #[test]
    fn an_unknown_or_archived_product_and_mixed_currencies_are_refused() {
        let snapshot = |id: &str, currency: &str, active: bool| ProductSnapshot {
            id: ProductId::parse(id).unwrap(),
            sku: "S".into(),
            name: "N".into(),
            price_minor: 10,
            currency: Currency::parse(currency).unwrap(),
            stock: 10,
            active,
        };
        let a = "0190b0c4-0000-7000-8000-0000000000a1";
        let b = "0190b0c4-0000-7000-8000-0000000000b1";
        let line = |id: &str| OrderLine {
            product_id: ProductId::parse(id).unwrap(),
            quantity: Quantity::new(1).unwrap(),
        };
        assert_eq!(
            build_order(user(), &[line(a)], &[snapshot(a, "EUR", false)], NOW).unwrap_err(),
            OrderError::UnknownProduct(ProductId::parse(a).unwrap())
        );
        assert_eq!(
            build_order(user(), &[line(a)], &[], NOW).unwrap_err(),
            OrderError::UnknownProduct(ProductId::parse(a).unwrap())
        );
        assert_eq!(
            build_order(
                user(),
                &[line(a), line(b)],
                &[snapshot(a, "EUR", true), snapshot(b, "USD", true)],
                NOW
            )
            .unwrap_err(),
            OrderError::MixedCurrency
        );
        let order = build_order(
            user(),
            &[line(b), line(a)],
            &[snapshot(a, "EUR", true), snapshot(b, "EUR", true)],
            NOW,
        )
        .unwrap();
        assert_eq!(order.total_minor, 20);
        assert_eq!(order.items[0].product_id, ProductId::parse(b).unwrap());
        assert_eq!(order.items[1].line_no, 2);
    }

    #[test]
    fn another_users_collection_is_not_found_and_untouched() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let other = UserId::parse("0190b0c4-0000-7000-8000-000000000002").unwrap();
        let err =
            block_on(service.place(&owner_caller(), other, &lines(), None, &render)).unwrap_err();
        assert_eq!(err, OrderError::NotFound);
        assert!(db.calls().is_empty());
    }

    fn key_row(hash: u8, completed: bool) -> Row {
        Row::from_values(vec![
            Value::Bytes(vec![hash; 32]),
            Value::Text(
                if completed {
                    "completed"
                } else {
                    "in_progress"
                }
                .into(),
            ),
            if completed {
                Value::UInt(201)
            } else {
                Value::Null
            },
            if completed {
                Value::Bytes(b"{\"id\":1}".to_vec())
            } else {
                Value::Null
            },
            if completed {
                Value::Bytes(
                    OrderId::parse("0190b0c4-0000-7000-8000-0000000000bb")
                        .unwrap()
                        .to_bytes()
                        .to_vec(),
                )
            } else {
                Value::Null
            },
            Value::Int(NOW),
        ])
    }

    #[test]
    fn a_duplicate_key_waits_for_the_first_response_and_replays_it() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Ok); // delete expired
        db.push(Reply::Error(StoreError::Conflict {
            constraint: Some("PRIMARY".into()),
        }));
        db.push(Reply::Rows(vec![key_row(7, false)]));
        db.push(Reply::Rows(vec![key_row(7, true)]));
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let placed =
            block_on(service.place(&owner_caller(), user(), &lines(), Some(&scope(7)), &render))
                .unwrap();
        let Placement::Replayed(stored) = placed else {
            panic!("expected a replay")
        };
        assert_eq!(stored.status, 201);
        assert_eq!(stored.body, b"{\"id\":1}");
        assert_eq!(sleeper.slept(), [FIRST_POLL]);
        assert!(
            !db.calls().iter().any(|c| c.kind == CallKind::Begin),
            "no second order"
        );
    }

    #[test]
    fn a_key_left_in_progress_by_a_dead_request_is_taken_over_and_the_order_placed() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Ok); // delete expired
        db.push(Reply::Error(StoreError::Conflict { constraint: None }));
        let mut stale = key_row(7, false).into_values();
        stale[5] = Value::Int(NOW - KEY_STALE_MICROS - 1);
        db.push(Reply::Rows(vec![Row::from_values(stale)]));
        db.push(Reply::Affected(1)); // take over
        db.push(Reply::Rows(vec![product_row(5)]));
        db.push(Reply::Ok); // begin
        db.push(Reply::Affected(1)); // decrement
        db.push(Reply::Ok); // insert order
        db.push(Reply::Ok); // insert items
        db.push(Reply::Affected(1)); // complete the key
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let placed =
            block_on(service.place(&owner_caller(), user(), &lines(), Some(&scope(7)), &render))
                .unwrap();
        assert!(matches!(placed, Placement::Created { .. }));
        let calls = db.calls();
        assert!(calls[0].sql.contains("DELETE FROM idempotency_keys"));
        assert!(calls[0].sql.contains("expires_at <"));
        assert!(calls[3].sql.contains("state = 'in_progress'"));
        assert!(
            calls
                .iter()
                .any(|c| c.sql.contains("SET state = 'completed'"))
        );
        assert_eq!(calls.last().unwrap().kind, CallKind::Commit);
        assert!(sleeper.slept().is_empty(), "no wait for a dead request");
    }

    #[test]
    fn the_same_key_with_another_body_is_refused() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Ok);
        db.push(Reply::Error(StoreError::Conflict {
            constraint: Some("PRIMARY".into()),
        }));
        db.push(Reply::Rows(vec![key_row(7, true)]));
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let err =
            block_on(service.place(&owner_caller(), user(), &lines(), Some(&scope(8)), &render))
                .unwrap_err();
        assert_eq!(err, OrderError::KeyReused);
    }

    #[test]
    fn a_request_still_in_progress_gives_up_after_the_bounded_wait() {
        let (db, kv, env, sleeper) = (
            FakeDatabase::new(),
            FakeKv::default(),
            FakeEnv::default(),
            FakeSleeper::default(),
        );
        db.push(Reply::Ok);
        db.push(Reply::Error(StoreError::Conflict { constraint: None }));
        for _ in 0..100 {
            db.push(Reply::Rows(vec![key_row(7, false)]));
        }
        let r = repo(&db, &kv, &env);
        let service = OrdersService::new(&r, &sleeper, &Fixed);
        let err =
            block_on(service.place(&owner_caller(), user(), &lines(), Some(&scope(7)), &render))
                .unwrap_err();
        assert_eq!(err, OrderError::InProgress);
        let total: Duration = sleeper.slept().iter().sum();
        assert!(
            total >= KEY_WAIT && total < KEY_WAIT + MAX_POLL * 2,
            "{total:?}"
        );
    }

    #[test]
    fn owners_may_only_cancel_admins_may_move_along_every_edge() {
        let order = Order {
            id: OrderId::parse("0190b0c4-0000-7000-8000-0000000000bb").unwrap(),
            user_id: user(),
            status: OrderStatus::Pending,
            currency: Currency::parse("EUR").unwrap(),
            total_minor: 1,
            version: 1,
            created_at_micros: NOW,
            updated_at_micros: NOW,
            items: vec![],
        };
        assert_eq!(
            allowed_transitions(&owner_caller(), &order),
            [OrderStatus::Cancelled]
        );
        let admin = Caller {
            user_id: None,
            is_admin: true,
            client_id: "ops".into(),
            subject: "ops".into(),
        };
        assert_eq!(
            allowed_transitions(&admin, &order),
            [OrderStatus::Paid, OrderStatus::Cancelled]
        );
        let shipped = Order {
            status: OrderStatus::Shipped,
            ..order
        };
        assert!(allowed_transitions(&owner_caller(), &shipped).is_empty());
    }
}
