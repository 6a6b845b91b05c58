//! The only code of this component that speaks SQL: typed values in, model types out.
//!
//! Every statement goes through [`store::Guarded`] (breaker, statement timeout, error
//! classification). Reads are [`Idempotency::Safe`] (retried when transient); writes are
//! [`Idempotency::Unsafe`] (tried once): an order is never placed twice by a retry.
//! The SQL text is built only from constants of this file (placeholder lists included),
//! never from input.

use domain::{Currency, OrderId, OrderStatus, ProductId, UserId};
use store::{
    BreakerStore, Clock, Database, Guarded, Idempotency, Random, Row, Sleeper, StoreError,
    Transaction, Transactional, Value, epoch_micros, from_epoch_micros,
};

use crate::model::{
    After, IdempotencyScope, ListQuery, ListSort, Order, OrderItem, StoredResponse,
};

/// The guarded stock decrement: never below zero, never for an archived product, and
/// only at the price and currency the order captured (read just before, without a
/// lock), so the captured price is the locked row's.
pub const DECREMENT_STOCK: &str = "UPDATE products SET stock = stock - ?, version = version + 1 \
     WHERE id = ? AND stock >= ? AND status = 'active' AND price_minor = ? AND currency = ?";

/// Puts a cancelled order's units back.
pub const RESTOCK: &str =
    "UPDATE products SET stock = stock + ?, version = version + 1 WHERE id = ?";

const SELECT_PRODUCTS_PREFIX: &str = "SELECT id, sku, name, price_minor, currency, stock, \
     CAST(status AS CHAR) FROM products WHERE id IN (";

const SELECT_PRODUCT_STATE: &str =
    "SELECT sku, CAST(status AS CHAR), stock FROM products WHERE id = ? LIMIT 1";

const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (id, user_id, status, currency, total_minor, version, created_at, updated_at) ",
    "VALUES (?, ?, 'pending', ?, ?, 1, ",
    from_epoch_micros!(),
    ", ",
    from_epoch_micros!(),
    ")"
);

const INSERT_ITEMS_PREFIX: &str = "INSERT INTO order_items \
     (order_id, line_no, product_id, sku, name, unit_price_minor, currency, quantity) VALUES ";
const ITEM_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?)";

const ORDER_COLUMNS: &str = concat!(
    "SELECT id, user_id, CAST(status AS CHAR), currency, total_minor, version, ",
    epoch_micros!("created_at"),
    ", ",
    epoch_micros!("updated_at"),
    " FROM orders"
);

const SELECT_ITEMS: &str = "SELECT line_no, product_id, sku, name, unit_price_minor, currency, \
     quantity FROM order_items WHERE order_id = ? ORDER BY line_no";

const SELECT_ITEMS_FOR_RESTOCK: &str =
    "SELECT product_id, quantity FROM order_items WHERE order_id = ? ORDER BY product_id";

const UPDATE_STATUS: &str = concat!(
    "UPDATE orders SET status = ?, version = version + 1, updated_at = ",
    from_epoch_micros!(),
    " WHERE id = ? AND version = ? AND status = ?"
);

const INSERT_KEY: &str = concat!(
    "INSERT INTO idempotency_keys ",
    "(client_id, subject, idempotency_key, request_hash, state, created_at, expires_at) ",
    "VALUES (?, ?, ?, ?, 'in_progress', ",
    from_epoch_micros!(),
    ", ",
    from_epoch_micros!(),
    ")"
);

const DELETE_EXPIRED_KEY: &str = concat!(
    "DELETE FROM idempotency_keys WHERE client_id = ? AND subject = ? AND idempotency_key = ? ",
    "AND expires_at < ",
    from_epoch_micros!()
);

const SELECT_KEY: &str = concat!(
    "SELECT request_hash, CAST(state AS CHAR), response_status, response_body, resource_id, ",
    epoch_micros!("created_at"),
    " FROM idempotency_keys WHERE client_id = ? AND subject = ? AND idempotency_key = ? LIMIT 1"
);

const TAKE_OVER_KEY: &str = concat!(
    "UPDATE idempotency_keys SET created_at = ",
    from_epoch_micros!(),
    " WHERE client_id = ? AND subject = ? AND idempotency_key = ? AND state = 'in_progress' ",
    "AND created_at < ",
    from_epoch_micros!()
);

const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET state = 'completed', response_status = ?, \
     response_body = ?, resource_id = ? \
     WHERE client_id = ? AND subject = ? AND idempotency_key = ? AND state = 'in_progress'";

const RELEASE_KEY: &str = "DELETE FROM idempotency_keys \
     WHERE client_id = ? AND subject = ? AND idempotency_key = ? AND state = 'in_progress'";

/// How placing an order's transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceResult {
    /// Committed; the rendered body (stored under the idempotency key, if any).
    Placed(Vec<u8>),
    /// Rolled back: the guarded decrement changed no row for this product (too little
    /// stock, archived, gone, or repriced since it was read).
    Shortage(ProductId),
    /// Rolled back: the idempotency key was no longer ours to complete.
    KeyLost,
}

/// A catalogue row as read (without a lock) before the order transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSnapshot {
    /// Its id.
    pub id: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Its unit price in minor units.
    pub price_minor: i64,
    /// The price's currency.
    pub currency: Currency,
    /// Units on the shelf.
    pub stock: i64,
    /// Still sold.
    pub active: bool,
}

/// A product's state, to explain a failed decrement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductState {
    /// Its SKU.
    pub sku: String,
    /// `active` or `archived`.
    pub active: bool,
    /// Units on the shelf.
    pub stock: i64,
}

/// An idempotency key's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// SHA-256 of the first request.
    pub request_hash: Vec<u8>,
    /// The stored response once completed.
    pub completed: Option<StoredResponse>,
    /// When the key was taken (µs since the epoch).
    pub created_at_micros: i64,
}

/// The orders repository over a guarded database.
#[derive(Debug)]
pub struct Repository<D, K, E> {
    db: Guarded<D, K, E>,
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn decode_id<T>(
    row: &Row,
    index: usize,
    make: fn([u8; 16]) -> Result<T, domain::IdError>,
) -> Result<T, StoreError> {
    let bytes: [u8; 16] = row.get(index)?;
    make(bytes).map_err(|_| StoreError::Decode {
        column: index,
        name: row.column_name(index).unwrap_or("").to_owned(),
        expected: "UUIDv7",
        found: "another UUID version",
    })
}

/// A text column; `ascii_bin` columns (SKU, currency) arrive as binary through Spin.
fn decode_text(row: &Row, index: usize) -> Result<String, StoreError> {
    match row.get::<String>(index) {
        Ok(text) => Ok(text),
        Err(e) => {
            let bytes: Vec<u8> = row.get(index).map_err(|_| e.clone())?;
            String::from_utf8(bytes).map_err(|_| e)
        }
    }
}

fn decode_currency(row: &Row, index: usize) -> Result<Currency, StoreError> {
    let code = decode_text(row, index)?;
    Currency::parse(&code).map_err(|_| StoreError::Decode {
        column: index,
        name: row.column_name(index).unwrap_or("").to_owned(),
        expected: "a supported ISO 4217 code",
        found: "another code",
    })
}

fn decode_order(row: &Row) -> Result<Order, StoreError> {
    let status = decode_text(row, 2)?;
    let status = OrderStatus::parse(&status).map_err(|_| StoreError::Decode {
        column: 2,
        name: "status".to_owned(),
        expected: "an order status",
        found: "another text",
    })?;
    Ok(Order {
        id: decode_id(row, 0, OrderId::from_bytes)?,
        user_id: decode_id(row, 1, UserId::from_bytes)?,
        status,
        currency: decode_currency(row, 3)?,
        total_minor: row.get(4)?,
        version: row.get(5)?,
        created_at_micros: row.get(6)?,
        updated_at_micros: row.get(7)?,
        items: Vec::new(),
    })
}

fn decode_item(row: &Row) -> Result<OrderItem, StoreError> {
    Ok(OrderItem {
        line_no: row.get(0)?,
        product_id: decode_id(row, 1, ProductId::from_bytes)?,
        sku: decode_text(row, 2)?,
        name: decode_text(row, 3)?,
        unit_price_minor: row.get(4)?,
        currency: decode_currency(row, 5)?,
        quantity: row.get(6)?,
    })
}

fn key_params(scope: &IdempotencyScope) -> [Value; 3] {
    [
        Value::from(scope.client_id.as_str()),
        Value::from(scope.subject.as_str()),
        Value::from(scope.key.as_str()),
    ]
}

/// What the orders service needs from storage: the seam that keeps business rules apart
/// from SQL (the MariaDB implementation is [`Repository`]).
#[allow(
    async_fn_in_trait,
    reason = "a wasm component is single-threaded; callers never need Send futures"
)]
pub trait OrdersRepository {
    /// The products named, as they are now (no lock). Unknown ids are simply absent.
    async fn products(&self, ids: &[ProductId]) -> Result<Vec<ProductSnapshot>, StoreError>;

    /// Places `order` in one transaction: the guarded stock decrements first (in
    /// product-id order, so concurrent orders lock rows in one order and cannot
    /// deadlock; the rows stay locked, which also covers the foreign-key checks of the
    /// items), then the order and its items, and — with an idempotency key — the key
    /// completed with `render(order)` as its stored response. The transaction holds the
    /// product locks for these few statements only.
    async fn place(
        &self,
        order: &Order,
        key: Option<&IdempotencyScope>,
        render: &dyn Fn(&Order) -> Vec<u8>,
    ) -> Result<PlaceResult, StoreError>;

    /// A product's SKU, status and stock, to explain a failed decrement.
    async fn product_state(&self, id: ProductId) -> Result<Option<ProductState>, StoreError>;

    /// The order with its items, if it exists.
    async fn find(&self, id: OrderId) -> Result<Option<Order>, StoreError>;

    /// One page (plus one row, to know whether another page follows) of a user's orders.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Order>, StoreError>;

    /// Moves `order` to `to` if it is still at its version and status; restocks its items
    /// in the same transaction when `restock`. `false` when the order changed meanwhile.
    async fn change_status(
        &self,
        order: &Order,
        to: OrderStatus,
        now_micros: i64,
        restock: bool,
    ) -> Result<bool, StoreError>;

    /// Takes `scope`'s key for this request (`in_progress`); `false` when it exists.
    async fn insert_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
        expires_micros: i64,
    ) -> Result<bool, StoreError>;

    /// Removes `scope`'s key if it has expired.
    async fn delete_expired_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
    ) -> Result<(), StoreError>;

    /// The key's row, if any.
    async fn read_key(&self, scope: &IdempotencyScope) -> Result<Option<KeyRow>, StoreError>;

    /// Takes over a key left `in_progress` since before `stale_before_micros` (its request
    /// died); `true` when this caller now owns it.
    async fn take_over_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
        stale_before_micros: i64,
    ) -> Result<bool, StoreError>;

    /// Gives up an `in_progress` key (the request failed; a retry may run again).
    async fn release_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError>;
}

impl<D, K, E> Repository<D, K, E> {
    /// The repository over `db`.
    pub fn new(db: Guarded<D, K, E>) -> Self {
        Self { db }
    }
}

impl<D, K, E> OrdersRepository for Repository<D, K, E>
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
{
    /// The products named, as they are now (no lock). Unknown ids are simply absent.
    async fn products(&self, ids: &[ProductId]) -> Result<Vec<ProductSnapshot>, StoreError> {
        let sql = format!("{SELECT_PRODUCTS_PREFIX}{})", placeholders(ids.len()));
        let params: Vec<Value> = ids.iter().map(|id| Value::from(id.to_bytes())).collect();
        self.db
            .query(&sql, &params)
            .await?
            .iter()
            .map(|row| {
                Ok(ProductSnapshot {
                    id: decode_id(row, 0, ProductId::from_bytes)?,
                    sku: decode_text(row, 1)?,
                    name: decode_text(row, 2)?,
                    price_minor: row.get(3)?,
                    currency: decode_currency(row, 4)?,
                    stock: row.get(5)?,
                    active: decode_text(row, 6)? == "active",
                })
            })
            .collect()
    }

    /// Places `order` in one transaction: the guarded stock decrements first (in
    /// product-id order, so concurrent orders lock rows in one order and cannot
    /// deadlock; the rows stay locked, which also covers the foreign-key checks of the
    /// items), then the order and its items, and — with an idempotency key — the key
    /// completed with `render(order)` as its stored response. The transaction holds the
    /// product locks for these few statements only.
    async fn place(
        &self,
        order: &Order,
        key: Option<&IdempotencyScope>,
        render: &dyn Fn(&Order) -> Vec<u8>,
    ) -> Result<PlaceResult, StoreError> {
        let mut locking: Vec<&OrderItem> = order.items.iter().collect();
        locking.sort_by_key(|item| item.product_id.to_bytes());
        self.db
            .run(Idempotency::Unsafe, |db| {
                let locking = &locking;
                async move {
                    let tx = db.begin().await?;
                    for item in locking {
                        let quantity = Value::from(item.quantity);
                        let changed = tx
                            .execute_affected(
                                DECREMENT_STOCK,
                                &[
                                    quantity.clone(),
                                    Value::from(item.product_id.to_bytes()),
                                    quantity,
                                    Value::from(item.unit_price_minor),
                                    Value::from(item.currency.code()),
                                ],
                            )
                            .await?;
                        if changed != 1 {
                            tx.rollback().await?;
                            return Ok(PlaceResult::Shortage(item.product_id));
                        }
                    }
                    tx.execute(
                        INSERT_ORDER,
                        &[
                            Value::from(order.id.to_bytes()),
                            Value::from(order.user_id.to_bytes()),
                            Value::from(order.currency.code()),
                            Value::from(order.total_minor),
                            Value::from(order.created_at_micros),
                            Value::from(order.updated_at_micros),
                        ],
                    )
                    .await?;
                    let rows = vec![ITEM_ROW; order.items.len()].join(", ");
                    let mut params = Vec::with_capacity(order.items.len() * 8);
                    for item in &order.items {
                        params.extend([
                            Value::from(order.id.to_bytes()),
                            Value::from(item.line_no),
                            Value::from(item.product_id.to_bytes()),
                            Value::from(item.sku.as_str()),
                            Value::from(item.name.as_str()),
                            Value::from(item.unit_price_minor),
                            Value::from(item.currency.code()),
                            Value::from(item.quantity),
                        ]);
                    }
                    tx.execute(&format!("{INSERT_ITEMS_PREFIX}{rows}"), &params)
                        .await?;
                    let body = render(order);
                    if let Some(scope) = key {
                        let mut params = vec![
                            Value::from(201_u16),
                            Value::from(body.clone()),
                            Value::from(order.id.to_bytes()),
                        ];
                        params.extend(key_params(scope));
                        if tx.execute_affected(COMPLETE_KEY, &params).await? != 1 {
                            tx.rollback().await?;
                            return Ok(PlaceResult::KeyLost);
                        }
                    }
                    tx.commit().await?;
                    Ok(PlaceResult::Placed(body))
                }
            })
            .await
    }

    /// A product's SKU, status and stock, to explain a failed decrement.
    async fn product_state(&self, id: ProductId) -> Result<Option<ProductState>, StoreError> {
        let Some(row) = self
            .db
            .query_opt(SELECT_PRODUCT_STATE, &[Value::from(id.to_bytes())])
            .await?
        else {
            return Ok(None);
        };
        let status = decode_text(&row, 1)?;
        Ok(Some(ProductState {
            sku: decode_text(&row, 0)?,
            active: status == "active",
            stock: row.get(2)?,
        }))
    }

    /// The order with its items, if it exists.
    async fn find(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let sql = format!("{ORDER_COLUMNS} WHERE id = ? LIMIT 1");
        let Some(row) = self
            .db
            .query_opt(&sql, &[Value::from(id.to_bytes())])
            .await?
        else {
            return Ok(None);
        };
        let mut order = decode_order(&row)?;
        order.items = self
            .db
            .query(SELECT_ITEMS, &[Value::from(id.to_bytes())])
            .await?
            .iter()
            .map(decode_item)
            .collect::<Result<_, _>>()?;
        Ok(Some(order))
    }

    /// One page (plus one row, to know whether another page follows) of a user's orders.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Order>, StoreError> {
        let (sql, params) = list_statement(query);
        self.db
            .query(&sql, &params)
            .await?
            .iter()
            .map(decode_order)
            .collect()
    }

    /// Moves `order` to `to` if it is still at its version and status; restocks its items
    /// in the same transaction when `restock`. `false` when the order changed meanwhile.
    async fn change_status(
        &self,
        order: &Order,
        to: OrderStatus,
        now_micros: i64,
        restock: bool,
    ) -> Result<bool, StoreError> {
        self.db
            .run(Idempotency::Unsafe, |db| async move {
                let tx = db.begin().await?;
                let changed = tx
                    .execute_affected(
                        UPDATE_STATUS,
                        &[
                            Value::from(to.as_str()),
                            Value::from(now_micros),
                            Value::from(order.id.to_bytes()),
                            Value::from(order.version),
                            Value::from(order.status.as_str()),
                        ],
                    )
                    .await?;
                if changed != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                if restock {
                    let items = tx
                        .query(
                            SELECT_ITEMS_FOR_RESTOCK,
                            &[Value::from(order.id.to_bytes())],
                        )
                        .await?;
                    for row in &items {
                        let product: [u8; 16] = row.get(0)?;
                        let quantity: u32 = row.get(1)?;
                        tx.execute(RESTOCK, &[Value::from(quantity), Value::from(product)])
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(true)
            })
            .await
    }

    /// Takes `scope`'s key for this request (`in_progress`); `false` when it exists.
    async fn insert_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
        expires_micros: i64,
    ) -> Result<bool, StoreError> {
        let mut params = key_params(scope).to_vec();
        params.extend([
            Value::from(scope.request_hash.to_vec()),
            Value::from(now_micros),
            Value::from(expires_micros),
        ]);
        match self
            .db
            .execute(Idempotency::Unsafe, INSERT_KEY, &params)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes `scope`'s key if it has expired.
    async fn delete_expired_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
    ) -> Result<(), StoreError> {
        let mut params = key_params(scope).to_vec();
        params.push(Value::from(now_micros));
        self.db
            .execute(Idempotency::Safe, DELETE_EXPIRED_KEY, &params)
            .await
    }

    /// The key's row, if any.
    async fn read_key(&self, scope: &IdempotencyScope) -> Result<Option<KeyRow>, StoreError> {
        let Some(row) = self.db.query_opt(SELECT_KEY, &key_params(scope)).await? else {
            return Ok(None);
        };
        let state = decode_text(&row, 1)?;
        let completed = if state == "completed" {
            let status: u16 = row.get(2)?;
            let body: Vec<u8> = row.get::<Option<Vec<u8>>>(3)?.unwrap_or_default();
            Some(StoredResponse {
                status,
                body,
                order_id: decode_id(&row, 4, OrderId::from_bytes)?,
            })
        } else {
            None
        };
        Ok(Some(KeyRow {
            request_hash: row.get(0)?,
            completed,
            created_at_micros: row.get(5)?,
        }))
    }

    /// Takes over a key left `in_progress` since before `stale_before_micros` (its request
    /// died); `true` when this caller now owns it.
    async fn take_over_key(
        &self,
        scope: &IdempotencyScope,
        now_micros: i64,
        stale_before_micros: i64,
    ) -> Result<bool, StoreError> {
        let mut params = vec![Value::from(now_micros)];
        params.extend(key_params(scope));
        params.push(Value::from(stale_before_micros));
        Ok(self
            .db
            .execute_affected(Idempotency::Unsafe, TAKE_OVER_KEY, &params)
            .await?
            == 1)
    }

    /// Gives up an `in_progress` key (the request failed; a retry may run again).
    async fn release_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        self.db
            .execute(Idempotency::Safe, RELEASE_KEY, &key_params(scope))
            .await
    }
}

/// The keyset statement for `query`: every fragment is a constant chosen by `match`.
pub fn list_statement(query: &ListQuery) -> (String, Vec<Value>) {
    let mut sql = format!("{ORDER_COLUMNS} WHERE user_id = ?");
    let mut params = vec![Value::from(query.owner.to_bytes())];
    if let Some(status) = query.status {
        sql.push_str(" AND status = ?");
        params.push(Value::from(status.as_str()));
    }
    // A backward page reads the list in reverse from its boundary (the service puts the
    // rows back in list order).
    let backward = query.after.is_some_and(|a| a.backward);
    let descending = matches!(
        query.sort,
        ListSort::NewestFirst | ListSort::TotalDescending
    ) != backward;
    let by_time = matches!(query.sort, ListSort::NewestFirst | ListSort::OldestFirst);
    if let Some(After { key, id, .. }) = query.after {
        let fragment = match (by_time, descending) {
            (true, true) => concat!(
                " AND (created_at < ",
                from_epoch_micros!(),
                " OR (created_at = ",
                from_epoch_micros!(),
                " AND id < ?))"
            ),
            (true, false) => concat!(
                " AND (created_at > ",
                from_epoch_micros!(),
                " OR (created_at = ",
                from_epoch_micros!(),
                " AND id > ?))"
            ),
            (false, true) => " AND (total_minor < ? OR (total_minor = ? AND id < ?))",
            (false, false) => " AND (total_minor > ? OR (total_minor = ? AND id > ?))",
        };
        sql.push_str(fragment);
        params.extend([
            Value::from(key),
            Value::from(key),
            Value::from(id.to_bytes()),
        ]);
    }
    sql.push_str(match (by_time, descending) {
        (true, true) => " ORDER BY created_at DESC, id DESC",
        (true, false) => " ORDER BY created_at ASC, id ASC",
        (false, true) => " ORDER BY total_minor DESC, id DESC",
        (false, false) => " ORDER BY total_minor ASC, id ASC",
    });
    sql.push_str(" LIMIT ?");
    params.push(Value::from(query.limit.saturating_add(1)));
    (sql, params)
}
