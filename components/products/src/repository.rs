//! The only code that speaks SQL for the catalogue: [`MariaCatalogue`] implements
//! [`Catalogue`] over [`store::Guarded`] (breaker, retries, statement timeout, error
//! classification). Every value travels as a placeholder; the only SQL text chosen at
//! run time comes from `match`es on allow-listed enums ([`SortField`],
//! [`SortDirection`]) and the page size, a `u32`.
//!
//! Timestamps are written from the component's clock (UTC micros through
//! `TIMESTAMPADD`) and read with `epoch_micros!`, so the session time zone never
//! matters and `ON UPDATE CURRENT_TIMESTAMP` never fires on its own.

use domain::{
    Currency, Description, Money, ProductId, ProductName, ProductStatus, Sku, SortDirection, Stock,
};
use store::{
    BreakerStore, Clock, Database, Guarded, Idempotency, Random, Row, Sleeper, StoreError, Value,
};
use uuid::Uuid;

use crate::model::{Product, ProductDraft};
use crate::service::{Catalogue, Scan, SortField, SortValue};

/// The columns every read selects, in [`decode`]'s order.
const COLUMNS: &str = concat!(
    "id, sku, name, description, price_minor, currency, stock, status, version, ",
    store::epoch_micros!("created_at"),
    ", ",
    store::epoch_micros!("updated_at")
);

const FIND: &str = concat!(
    "SELECT id, sku, name, description, price_minor, currency, stock, status, version, ",
    store::epoch_micros!("created_at"),
    ", ",
    store::epoch_micros!("updated_at"),
    " FROM products WHERE id = ? LIMIT 1"
);

const INSERT: &str = concat!(
    "INSERT INTO products (id, sku, name, description, price_minor, currency, stock, status, ",
    "version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ",
    store::from_epoch_micros!(),
    ", ",
    store::from_epoch_micros!(),
    ")"
);

const UPDATE: &str = concat!(
    "UPDATE products SET sku = ?, name = ?, description = ?, price_minor = ?, currency = ?, ",
    "stock = ?, status = ?, version = version + 1, updated_at = ",
    store::from_epoch_micros!(),
    " WHERE id = ? AND version = ?"
);

const DELETE: &str = "DELETE FROM products WHERE id = ? AND version = ?";

/// The catalogue in MariaDB.
#[derive(Debug)]
pub struct MariaCatalogue<D, K, E> {
    db: Guarded<D, K, E>,
}

impl<D, K, E> MariaCatalogue<D, K, E> {
    /// The catalogue behind `db`.
    pub fn new(db: Guarded<D, K, E>) -> Self {
        Self { db }
    }
}

fn decode_error(column: usize, expected: &'static str) -> StoreError {
    StoreError::Decode {
        column,
        name: String::new(),
        expected,
        found: "a value its domain type refuses",
    }
}

/// A text column. `ascii_bin` columns (`sku`, `currency`) arrive as binary through
/// `spin:mysql`, so both kinds are accepted (binary must be UTF-8).
fn text(row: &Row, column: usize) -> Result<String, StoreError> {
    match row.value(column)? {
        Value::Bytes(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| decode_error(column, "UTF-8 text"))
        }
        _ => row.get::<String>(column),
    }
}

/// A row of [`COLUMNS`] as a [`Product`]. Values the domain types refuse (which the
/// schema's checks should have stopped) are decode errors, never panics.
fn decode(row: &Row) -> Result<Product, StoreError> {
    let id = ProductId::try_from(row.get::<Uuid>(0)?)
        .map_err(|_| decode_error(0, "a UUIDv7 product id"))?;
    let sku = Sku::parse(&text(row, 1)?).map_err(|_| decode_error(1, "a SKU"))?;
    let name = ProductName::parse(&text(row, 2)?).map_err(|_| decode_error(2, "a product name"))?;
    let description = row
        .get::<Option<String>>(3)?
        .map(|text| Description::parse(&text))
        .transpose()
        .map_err(|_| decode_error(3, "a description"))?;
    let currency = Currency::parse(&text(row, 5)?).map_err(|_| decode_error(5, "a currency"))?;
    let price = Money::new(row.get::<i64>(4)?, currency).map_err(|_| decode_error(4, "a price"))?;
    let stock = Stock::new(row.get::<i64>(6)?).map_err(|_| decode_error(6, "a stock count"))?;
    let status =
        ProductStatus::parse(&text(row, 7)?).map_err(|_| decode_error(7, "a product status"))?;
    Ok(Product {
        id,
        draft: ProductDraft {
            sku,
            name,
            description,
            price,
            stock,
            status,
        },
        version: row.get::<u32>(8)?,
        created_at_micros: row.get::<i64>(9)?,
        updated_at_micros: row.get::<i64>(10)?,
    })
}

fn id_value(id: ProductId) -> Value {
    Value::from(id.to_bytes().to_vec())
}

fn draft_values(draft: &ProductDraft) -> Vec<Value> {
    vec![
        Value::from(draft.sku.as_str()),
        Value::from(draft.name.as_str()),
        draft
            .description
            .as_ref()
            .map_or(Value::Null, |d| Value::from(d.as_str())),
        Value::from(draft.price.amount_minor()),
        Value::from(draft.price.currency().code()),
        Value::from(i64::from(draft.stock.get())),
        Value::from(draft.status.as_str()),
    ]
}

/// The `SELECT` of a keyset scan and its parameters.
pub fn scan_sql(scan: &Scan<'_>) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {COLUMNS} FROM products WHERE status = ?");
    let mut params = vec![Value::from(scan.filter.status.as_str())];
    if let Some(currency) = scan.filter.currency {
        sql.push_str(" AND currency = ?");
        params.push(Value::from(currency.code()));
    }
    if let Some(min) = scan.filter.min_price {
        sql.push_str(" AND price_minor >= ?");
        params.push(Value::from(min));
    }
    if let Some(max) = scan.filter.max_price {
        sql.push_str(" AND price_minor <= ?");
        params.push(Value::from(max));
    }
    let (column, placeholder) = match scan.sort.field {
        SortField::CreatedAt => ("created_at", store::from_epoch_micros!()),
        SortField::Price => ("price_minor", "?"),
        SortField::Name => ("name", "?"),
    };
    let (op, order) = match scan.direction() {
        SortDirection::Ascending => (">", "ASC"),
        SortDirection::Descending => ("<", "DESC"),
    };
    if let Some(from) = scan.from {
        let value = match &from.value {
            SortValue::CreatedAt(micros) => Value::from(*micros),
            SortValue::Price(amount) => Value::from(*amount),
            SortValue::Name(name) => Value::from(name.as_str()),
        };
        sql.push_str(&format!(
            " AND ({column} {op} {placeholder} OR ({column} = {placeholder} AND id {op} ?))"
        ));
        params.push(value.clone());
        params.push(value);
        params.push(id_value(from.id));
    }
    sql.push_str(&format!(
        " ORDER BY {column} {order}, id {order} LIMIT {}",
        scan.fetch
    ));
    (sql, params)
}

impl<D, K, E> Catalogue for MariaCatalogue<D, K, E>
where
    D: Database,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
{
    async fn find(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        self.db
            .query_opt(FIND, &[id_value(id)])
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn insert(&self, product: &Product) -> Result<(), StoreError> {
        let mut params = vec![id_value(product.id)];
        params.extend(draft_values(&product.draft));
        params.push(Value::from(product.created_at_micros));
        params.push(Value::from(product.updated_at_micros));
        // Not retried: a lost connection after the server committed would turn the
        // retry into a false SKU conflict.
        self.db.execute(Idempotency::Unsafe, INSERT, &params).await
    }

    async fn update(
        &self,
        id: ProductId,
        version: u32,
        draft: &ProductDraft,
        now_micros: i64,
    ) -> Result<bool, StoreError> {
        let mut params = draft_values(draft);
        params.push(Value::from(now_micros));
        params.push(id_value(id));
        params.push(Value::from(version));
        // Guarded by the version: a retry after a lost commit matches nothing and is
        // reported as a version mismatch rather than applied twice.
        let affected = self
            .db
            .execute_affected(Idempotency::Safe, UPDATE, &params)
            .await?;
        Ok(affected > 0)
    }

    async fn delete(&self, id: ProductId, version: u32) -> Result<bool, StoreError> {
        let affected = self
            .db
            .execute_affected(
                Idempotency::Safe,
                DELETE,
                &[id_value(id), Value::from(version)],
            )
            .await?;
        Ok(affected > 0)
    }

    async fn scan(&self, scan: &Scan<'_>) -> Result<Vec<Product>, StoreError> {
        let (sql, params) = scan_sql(scan);
        self.db
            .query(&sql, &params)
            .await?
            .iter()
            .map(decode)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Filter, Position, Sort};
    use domain::Currency;
    use futures::executor::block_on;
    use store::testing::{FakeDatabase, FakeEnv, FakeKv, Reply};
    use store::{Breaker, BreakerConfig};

    fn row(id: ProductId, description: Option<&str>) -> Row {
        Row::from_values(vec![
            Value::from(id.to_bytes().to_vec()),
            // ascii_bin columns arrive as binary.
            Value::from(b"MUG-1".to_vec()),
            Value::from("Mug"),
            description.map_or(Value::Null, Value::from),
            Value::Int(1299),
            Value::from(b"EUR".to_vec()),
            Value::Int(3),
            Value::from("active"),
            Value::UInt(2),
            Value::Int(1_000),
            Value::Int(2_000),
        ])
    }

    fn catalogue<'a>(
        db: &'a FakeDatabase,
        kv: &'a FakeKv,
    ) -> MariaCatalogue<&'a FakeDatabase, &'a FakeKv, FakeEnv> {
        MariaCatalogue::new(Guarded::new(
            db,
            Breaker::new(kv, BreakerConfig::new("t:breaker:products")),
            FakeEnv::default(),
        ))
    }

    #[test]
    fn find_decodes_a_typed_row_under_the_statement_timeout() {
        let (db, kv) = (FakeDatabase::new(), FakeKv::default());
        let id = ProductId::generate();
        db.push(Reply::Rows(vec![row(id, None)]));
        let product = block_on(catalogue(&db, &kv).find(id)).unwrap().unwrap();
        assert_eq!(product.id, id);
        assert_eq!(product.draft.description, None);
        assert_eq!(product.version, 2);
        assert_eq!(product.created_at_micros, 1_000);
        let calls = db.calls();
        assert!(
            calls[0]
                .sql
                .starts_with("SET STATEMENT max_statement_time=")
        );
        assert!(calls[0].sql.contains("WHERE id = ?"));
        assert_eq!(calls[0].params, [Value::from(id.to_bytes().to_vec())]);
    }

    #[test]
    fn a_row_the_domain_refuses_is_a_decode_error_not_a_panic() {
        let (db, kv) = (FakeDatabase::new(), FakeKv::default());
        let id = ProductId::generate();
        let mut values = row(id, Some("x")).into_values();
        values[4] = Value::Int(-5);
        db.push(Reply::Rows(vec![Row::from_values(values)]));
        let err = block_on(catalogue(&db, &kv).find(id)).unwrap_err();
        assert!(matches!(err, StoreError::Decode { column: 4, .. }), "{err}");
    }

    #[test]
    fn update_is_one_statement_guarded_by_id_and_version() {
        let (db, kv) = (FakeDatabase::new(), FakeKv::default());
        let id = ProductId::generate();
        db.push(Reply::Rows(vec![row(id, Some("Blue"))]));
        let current = block_on(catalogue(&db, &kv).find(id)).unwrap().unwrap();
        db.push(Reply::Affected(1));
        let updated = block_on(catalogue(&db, &kv).update(id, 2, &current.draft, 5)).unwrap();
        assert!(updated);
        let call = &db.calls()[1];
        assert!(call.sql.contains("version = version + 1"));
        assert!(call.sql.ends_with("WHERE id = ? AND version = ?"));
        assert_eq!(call.params.last(), Some(&Value::from(2_u32)));
        assert_eq!(call.params[2], Value::from("Blue"));
    }

    #[test]
    fn scans_bind_every_value_and_order_by_an_indexed_column_then_id() {
        let filter = Filter {
            currency: Some(Currency::parse("EUR").unwrap()),
            min_price: Some(10),
            max_price: Some(99),
            ..Filter::default()
        };
        let from = Position {
            value: SortValue::Name("'; DROP TABLE products; --".into()),
            id: ProductId::generate(),
        };
        let scan = Scan {
            filter: &filter,
            sort: Sort {
                field: SortField::Name,
                direction: SortDirection::Descending,
            },
            reverse: true,
            from: Some(&from),
            fetch: 21,
        };
        let (sql, params) = scan_sql(&scan);
        assert_eq!(
            sql,
            format!(
                "SELECT {COLUMNS} FROM products WHERE status = ? AND currency = ? AND price_minor >= ? \
                 AND price_minor <= ? AND (name > ? OR (name = ? AND id > ?)) ORDER BY name ASC, id ASC LIMIT 21"
            )
        );
        assert!(!sql.contains("DROP"));
        assert_eq!(params.len(), 7);
        assert_eq!(params[4], Value::from("'; DROP TABLE products; --"));
    }

    #[test]
    fn created_at_positions_are_compared_as_utc_datetimes() {
        let filter = Filter::default();
        let from = Position {
            value: SortValue::CreatedAt(77),
            id: ProductId::generate(),
        };
        let scan = Scan {
            filter: &filter,
            sort: Sort::DEFAULT,
            reverse: false,
            from: Some(&from),
            fetch: 3,
        };
        let (sql, params) = scan_sql(&scan);
        assert!(sql.contains(
            "created_at < TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00') OR (created_at = TIMESTAMPADD"
        ));
        assert!(sql.ends_with("ORDER BY created_at DESC, id DESC LIMIT 3"));
        assert_eq!(params[1], Value::Int(77));
    }
}
