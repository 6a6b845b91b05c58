//! The catalogue's rules, without HTTP: create, read, list, replace, delete, each
//! against a [`Catalogue`] (the repository's interface; MariaDB in
//! `repository.rs`, an in-memory fake in the tests).
//!
//! Optimistic concurrency: every change names the version it was made against and the
//! repository applies it in one guarded statement (`… WHERE id = ? AND version = ?`);
//! when nothing matched, the product is read again to tell "gone" (404) from "changed
//! meanwhile" (412).

use std::fmt;

use domain::{AllowListed, Currency, Limit, ProductId, ProductStatus, SortDirection};
use store::{ForeignKeyKind, StoreError};

use crate::model::{Product, ProductDraft};

/// The unique key that keeps SKUs unique (`migrations/0001`).
pub const SKU_CONSTRAINT: &str = "uq_products_sku";

/// The fields a list may be sorted by; each is backed by an index of `0001`
/// (`ix_products_status_created`, `_price`, `_name`; with a currency filter,
/// `ix_products_status_currency_price`), with `id` as the last tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// `created_at`.
    CreatedAt,
    /// `price` (the amount in minor units).
    Price,
    /// `name`.
    Name,
}

impl AllowListed for SortField {
    const ALL: &'static [Self] = &[Self::CreatedAt, Self::Price, Self::Name];

    fn name(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Price => "price",
            Self::Name => "name",
        }
    }
}

/// One sort key (the `id` tie-breaker follows it in the same direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    /// The field.
    pub field: SortField,
    /// Its direction.
    pub direction: SortDirection,
}

impl Sort {
    /// The default order: newest first.
    pub const DEFAULT: Sort = Sort {
        field: SortField::CreatedAt,
        direction: SortDirection::Descending,
    };
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.direction == SortDirection::Descending {
            f.write_str("-")?;
        }
        f.write_str(self.field.name())
    }
}

/// The value of the sort field at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// `created_at` in microseconds since the epoch.
    CreatedAt(i64),
    /// `price_minor`.
    Price(i64),
    /// `name`.
    Name(String),
}

/// A place in a sorted list: the sort value and the id of the product there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The sort field's value.
    pub value: SortValue,
    /// The tie-breaker.
    pub id: ProductId,
}

impl Position {
    /// Where `product` sits under `sort`.
    pub fn of(product: &Product, sort: Sort) -> Self {
        let value = match sort.field {
            SortField::CreatedAt => SortValue::CreatedAt(product.created_at_micros),
            SortField::Price => SortValue::Price(product.draft.price.amount_minor()),
            SortField::Name => SortValue::Name(product.draft.name.as_str().to_owned()),
        };
        Self {
            value,
            id: product.id,
        }
    }
}

/// Which rows a list holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Only products with this status (`active` unless asked otherwise).
    pub status: ProductStatus,
    /// Only prices in this currency.
    pub currency: Option<Currency>,
    /// Only prices of at least this many minor units.
    pub min_price: Option<i64>,
    /// Only prices of at most this many minor units.
    pub max_price: Option<i64>,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            status: ProductStatus::Active,
            currency: None,
            min_price: None,
            max_price: None,
        }
    }
}

/// Which page of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The first page.
    First,
    /// The page after this position.
    After(Position),
    /// The page before this position.
    Before(Position),
}

/// A list request, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Which rows.
    pub filter: Filter,
    /// In which order.
    pub sort: Sort,
    /// How many.
    pub limit: Limit,
    /// From where.
    pub page: Page,
}

/// What the repository is asked for: `fetch` rows of `filter`, in `sort` order or its
/// reverse (`reverse`), strictly after `from` in that scan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<'a> {
    /// Which rows.
    pub filter: &'a Filter,
    /// The requested order.
    pub sort: Sort,
    /// Scan against the requested order (for a page before a position).
    pub reverse: bool,
    /// Start strictly after this position in scan order.
    pub from: Option<&'a Position>,
    /// How many rows at most.
    pub fetch: u32,
}

impl Scan<'_> {
    /// The direction rows come in.
    pub fn direction(&self) -> SortDirection {
        match (self.sort.direction, self.reverse) {
            (SortDirection::Ascending, false) | (SortDirection::Descending, true) => {
                SortDirection::Ascending
            }
            _ => SortDirection::Descending,
        }
    }
}

/// One page and where the neighbouring pages start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The products, in the requested order.
    pub items: Vec<Product>,
    /// The position to read the next page after, if there is one.
    pub next: Option<Position>,
    /// The position to read the previous page before, if there is one.
    pub prev: Option<Position>,
}

/// The repository's interface.
#[allow(
    async_fn_in_trait,
    reason = "a wasm component is single-threaded; callers never need Send futures"
)]
pub trait Catalogue {
    /// The product with `id`, if any.
    async fn find(&self, id: ProductId) -> Result<Option<Product>, StoreError>;
    /// Stores a new product.
    async fn insert(&self, product: &Product) -> Result<(), StoreError>;
    /// Replaces the writable fields of `id` if it is still at `version`, bumping the
    /// version and `updated_at`. `false` when no row matched.
    async fn update(
        &self,
        id: ProductId,
        version: u32,
        draft: &ProductDraft,
        now_micros: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes `id` if it is still at `version`. `false` when no row matched.
    async fn delete(&self, id: ProductId, version: u32) -> Result<bool, StoreError>;
    /// The rows of a scan.
    async fn scan(&self, scan: &Scan<'_>) -> Result<Vec<Product>, StoreError>;
}

/// Why a catalogue operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueError {
    /// No product with that id.
    NotFound,
    /// Another product already has the SKU.
    SkuTaken,
    /// The product changed since the version the caller named.
    VersionMismatch,
    /// Order lines still refer to the product; archive it instead.
    StillReferenced,
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such product"),
            Self::SkuTaken => f.write_str("the SKU is taken"),
            Self::VersionMismatch => f.write_str("the product changed"),
            Self::StillReferenced => f.write_str("the product is referenced by orders"),
            Self::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for CatalogueError {}

impl From<StoreError> for CatalogueError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Conflict { constraint }
                if constraint.as_deref().is_none_or(|c| c == SKU_CONSTRAINT) =>
            {
                Self::SkuTaken
            }
            StoreError::ForeignKey {
                kind: ForeignKeyKind::StillReferenced,
                ..
            } => Self::StillReferenced,
            _ => Self::Store(error),
        }
    }
}

/// The product with `id`.
///
/// # Errors
/// [`CatalogueError::NotFound`] or a store failure.
pub async fn get<C: Catalogue>(catalogue: &C, id: ProductId) -> Result<Product, CatalogueError> {
    catalogue.find(id).await?.ok_or(CatalogueError::NotFound)
}

/// Creates a product from `draft` at `now_micros`.
///
/// # Errors
/// [`CatalogueError::SkuTaken`] (nothing stored) or a store failure.
pub async fn create<C: Catalogue>(
    catalogue: &C,
    draft: ProductDraft,
    now_micros: i64,
) -> Result<Product, CatalogueError> {
    let product = Product {
        id: ProductId::generate(),
        draft,
        version: 1,
        created_at_micros: now_micros,
        updated_at_micros: now_micros,
    };
    catalogue.insert(&product).await?;
    Ok(product)
}

/// Replaces `current`'s writable fields with `draft`, provided it is still at
/// `current.version` (the caller has checked its precondition against `current`).
///
/// # Errors
/// [`CatalogueError::NotFound`] or [`CatalogueError::VersionMismatch`] when it changed
/// or went meanwhile, [`CatalogueError::SkuTaken`], or a store failure.
pub async fn replace<C: Catalogue>(
    catalogue: &C,
    current: &Product,
    draft: ProductDraft,
    now_micros: i64,
) -> Result<Product, CatalogueError> {
    if catalogue
        .update(current.id, current.version, &draft, now_micros)
        .await?
    {
        return Ok(Product {
            id: current.id,
            draft,
            version: current.version.saturating_add(1),
            created_at_micros: current.created_at_micros,
            updated_at_micros: now_micros,
        });
    }
    Err(missing_or_changed(catalogue, current.id).await)
}

/// Deletes `id` if it is still at `version`.
///
/// # Errors
/// [`CatalogueError::NotFound`], [`CatalogueError::VersionMismatch`],
/// [`CatalogueError::StillReferenced`] or a store failure.
pub async fn delete<C: Catalogue>(
    catalogue: &C,
    id: ProductId,
    version: u32,
) -> Result<(), CatalogueError> {
    if catalogue.delete(id, version).await? {
        return Ok(());
    }
    Err(missing_or_changed(catalogue, id).await)
}

async fn missing_or_changed<C: Catalogue>(catalogue: &C, id: ProductId) -> CatalogueError {
    match catalogue.find(id).await {
        Ok(Some(_)) => CatalogueError::VersionMismatch,
        Ok(None) => CatalogueError::NotFound,
        Err(e) => e.into(),
    }
}

/// One page of the list.
///
/// # Errors
/// A store failure.
pub async fn list<C: Catalogue>(
    catalogue: &C,
    query: &ListQuery,
) -> Result<ListPage, CatalogueError> {
    let limit = query.limit.get();
    let fetch = limit.saturating_add(1);
    let (from, reverse) = match &query.page {
        Page::First => (None, false),
        Page::After(position) => (Some(position), false),
        Page::Before(position) => (Some(position), true),
    };
    let scan = Scan {
        filter: &query.filter,
        sort: query.sort,
        reverse,
        from,
        fetch,
    };
    let mut items = catalogue.scan(&scan).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    if reverse {
        items.reverse();
    }
    let first = items.first().map(|p| Position::of(p, query.sort));
    let last = items.last().map(|p| Position::of(p, query.sort));
    let (next, prev) = match &query.page {
        Page::First => (last.filter(|_| more), None),
        Page::After(_) => (last.filter(|_| more), first),
        Page::Before(_) => (last, first.filter(|_| more)),
    };
    Ok(ListPage { items, next, prev })
}

#[cfg(test)]
pub(crate) mod fakes {
    use std::cell::RefCell;
    use std::cmp::Ordering;

    use super::*;

    /// An in-memory catalogue with the repository's semantics (unique SKU, guarded
    /// version updates, keyset scans).
    #[derive(Default)]
    pub struct FakeCatalogue {
        pub rows: RefCell<Vec<Product>>,
        /// Ids that order lines refer to.
        pub referenced: RefCell<Vec<ProductId>>,
        pub fail: RefCell<Option<StoreError>>,
    }

    impl FakeCatalogue {
        fn failing(&self) -> Result<(), StoreError> {
            self.fail.borrow().clone().map_or(Ok(()), Err)
        }
    }

    fn compare(a: &Product, b: &Position, sort: Sort) -> Ordering {
        let own = Position::of(a, sort);
        let by_value = match (&own.value, &b.value) {
            (SortValue::CreatedAt(x), SortValue::CreatedAt(y))
            | (SortValue::Price(x), SortValue::Price(y)) => x.cmp(y),
            (SortValue::Name(x), SortValue::Name(y)) => x.cmp(y),
            _ => Ordering::Equal,
        };
        by_value.then_with(|| own.id.to_bytes().cmp(&b.id.to_bytes()))
    }

    impl Catalogue for FakeCatalogue {
        async fn find(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
            self.failing()?;
            Ok(self.rows.borrow().iter().find(|p| p.id == id).cloned())
        }

        async fn insert(&self, product: &Product) -> Result<(), StoreError> {
            self.failing()?;
            let mut rows = self.rows.borrow_mut();
            if rows.iter().any(|p| p.draft.sku == product.draft.sku) {
                return Err(StoreError::Conflict {
                    constraint: Some(SKU_CONSTRAINT.into()),
                });
            }
            rows.push(product.clone());
            Ok(())
        }

        async fn update(
            &self,
            id: ProductId,
            version: u32,
            draft: &ProductDraft,
            now_micros: i64,
        ) -> Result<bool, StoreError> {
            self.failing()?;
            let mut rows = self.rows.borrow_mut();
            if rows.iter().any(|p| p.id != id && p.draft.sku == draft.sku) {
                return Err(StoreError::Conflict {
                    constraint: Some(SKU_CONSTRAINT.into()),
                });
            }
            match rows.iter_mut().find(|p| p.id == id && p.version == version) {
                Some(row) => {
                    row.draft = draft.clone();
                    row.version += 1;
                    row.updated_at_micros = now_micros;
                    Ok(true)
                }
                None => Ok(false),
            }
        }

        async fn delete(&self, id: ProductId, version: u32) -> Result<bool, StoreError> {
            self.failing()?;
            let mut rows = self.rows.borrow_mut();
            let Some(index) = rows.iter().position(|p| p.id == id && p.version == version) else {
                return Ok(false);
            };
            if self.referenced.borrow().contains(&id) {
                return Err(StoreError::ForeignKey {
                    kind: ForeignKeyKind::StillReferenced,
                    constraint: Some("fk_order_items_product".into()),
                });
            }
            rows.remove(index);
            Ok(true)
        }

        async fn scan(&self, scan: &Scan<'_>) -> Result<Vec<Product>, StoreError> {
            self.failing()?;
            let filter = scan.filter;
            let ascending = scan.direction() == SortDirection::Ascending;
            let mut rows: Vec<Product> = self
                .rows
                .borrow()
                .iter()
                .filter(|p| p.draft.status == filter.status)
                .filter(|p| {
                    filter
                        .currency
                        .is_none_or(|c| p.draft.price.currency() == c)
                })
                .filter(|p| {
                    filter
                        .min_price
                        .is_none_or(|m| p.draft.price.amount_minor() >= m)
                })
                .filter(|p| {
                    filter
                        .max_price
                        .is_none_or(|m| p.draft.price.amount_minor() <= m)
                })
                .filter(|p| {
                    scan.from.is_none_or(|from| {
                        let order = compare(p, from, scan.sort);
                        if ascending {
                            order == Ordering::Greater
                        } else {
                            order == Ordering::Less
                        }
                    })
                })
                .cloned()
                .collect();
            rows.sort_by(|a, b| {
                let order = compare(a, &Position::of(b, scan.sort), scan.sort);
                if ascending { order } else { order.reverse() }
            });
            rows.truncate(scan.fetch as usize);
            Ok(rows)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fakes::FakeCatalogue;
    use super::*;
    use crate::model::parse_draft;
    use futures::executor::block_on;
    use serde_json::json;

    fn draft(sku: &str, price: i64) -> ProductDraft {
        parse_draft(&json!({
            "sku": sku, "name": format!("Product {sku}"),
            "price": {"amount_minor": price, "currency": "EUR"}, "stock": 5
        }))
        .unwrap()
    }

    fn seeded(count: i64) -> FakeCatalogue {
        let catalogue = FakeCatalogue::default();
        for i in 0..count {
            // Equal prices in pairs, so the id tie-breaker matters.
            block_on(create(
                &catalogue,
                draft(&format!("SKU-{i:03}"), i / 2),
                1_000 + i,
            ))
            .unwrap();
        }
        catalogue
    }

    fn walk(catalogue: &FakeCatalogue, sort: Sort, limit: i64) -> Vec<ProductId> {
        let mut seen = Vec::new();
        let mut page = Page::First;
        loop {
            let query = ListQuery {
                filter: Filter::default(),
                sort,
                limit: Limit::new(limit).unwrap(),
                page,
            };
            let result = block_on(list(catalogue, &query)).unwrap();
            seen.extend(result.items.iter().map(|p| p.id));
            match result.next {
                Some(next) => page = Page::After(next),
                None => return seen,
            }
        }
    }

    #[test]
    fn create_then_get_returns_version_one() {
        let catalogue = FakeCatalogue::default();
        let product = block_on(create(&catalogue, draft("MUG-1", 100), 42)).unwrap();
        assert_eq!(product.version, 1);
        assert_eq!(product.created_at_micros, 42);
        assert_eq!(block_on(get(&catalogue, product.id)).unwrap(), product);
    }

    #[test]
    fn a_taken_sku_is_a_conflict_and_stores_nothing() {
        let catalogue = FakeCatalogue::default();
        block_on(create(&catalogue, draft("MUG-1", 100), 1)).unwrap();
        let err = block_on(create(&catalogue, draft("MUG-1", 200), 2)).unwrap_err();
        assert_eq!(err, CatalogueError::SkuTaken);
        assert_eq!(catalogue.rows.borrow().len(), 1);
    }

    #[test]
    fn replace_bumps_the_version_and_a_stale_version_is_refused() {
        let catalogue = FakeCatalogue::default();
        let product = block_on(create(&catalogue, draft("MUG-1", 100), 1)).unwrap();
        let replaced = block_on(replace(&catalogue, &product, draft("MUG-2", 300), 9)).unwrap();
        assert_eq!(replaced.version, 2);
        assert_eq!(replaced.created_at_micros, 1);
        assert_eq!(replaced.updated_at_micros, 9);
        assert_eq!(block_on(get(&catalogue, product.id)).unwrap(), replaced);
        let stale = block_on(replace(&catalogue, &product, draft("MUG-3", 1), 10));
        assert_eq!(stale.unwrap_err(), CatalogueError::VersionMismatch);
        assert_eq!(catalogue.rows.borrow()[0].draft.sku.as_str(), "MUG-2");
        let mut gone = product.clone();
        gone.id = ProductId::generate();
        let missing = block_on(replace(&catalogue, &gone, draft("X-1", 1), 1));
        assert_eq!(missing.unwrap_err(), CatalogueError::NotFound);
    }

    #[test]
    fn delete_needs_the_current_version_and_refuses_referenced_products() {
        let catalogue = FakeCatalogue::default();
        let product = block_on(create(&catalogue, draft("MUG-1", 100), 1)).unwrap();
        assert_eq!(
            block_on(delete(&catalogue, product.id, 7)).unwrap_err(),
            CatalogueError::VersionMismatch
        );
        catalogue.referenced.borrow_mut().push(product.id);
        assert_eq!(
            block_on(delete(&catalogue, product.id, 1)).unwrap_err(),
            CatalogueError::StillReferenced
        );
        catalogue.referenced.borrow_mut().clear();
        block_on(delete(&catalogue, product.id, 1)).unwrap();
        assert_eq!(
            block_on(get(&catalogue, product.id)).unwrap_err(),
            CatalogueError::NotFound
        );
    }

    #[test]
    fn walking_every_sort_visits_each_product_once_in_order() {
        let catalogue = seeded(23);
        for field in SortField::ALL {
            for direction in [SortDirection::Ascending, SortDirection::Descending] {
                let sort = Sort {
                    field: *field,
                    direction,
                };
                let seen = walk(&catalogue, sort, 5);
                let all = walk(&catalogue, sort, 100);
                assert_eq!(seen.len(), 23, "{sort}");
                assert_eq!(seen, all, "{sort}");
            }
        }
    }

    #[test]
    fn pages_link_back_to_where_they_came_from() {
        let catalogue = seeded(7);
        let sort = Sort::DEFAULT;
        let page = |page| ListQuery {
            filter: Filter::default(),
            sort,
            limit: Limit::new(3).unwrap(),
            page,
        };
        let first = block_on(list(&catalogue, &page(Page::First))).unwrap();
        assert!(first.prev.is_none());
        let second = block_on(list(
            &catalogue,
            &page(Page::After(first.next.clone().unwrap())),
        ))
        .unwrap();
        let back = block_on(list(
            &catalogue,
            &page(Page::Before(second.prev.clone().unwrap())),
        ))
        .unwrap();
        assert_eq!(back.items, first.items);
        assert!(back.prev.is_none());
        assert!(back.next.is_some());
        let third = block_on(list(
            &catalogue,
            &page(Page::After(second.next.clone().unwrap())),
        ))
        .unwrap();
        assert_eq!(third.items.len(), 1);
        assert!(third.next.is_none());
    }

    #[test]
    fn store_failures_pass_through() {
        let catalogue = FakeCatalogue::default();
        *catalogue.fail.borrow_mut() = Some(StoreError::Unavailable {
            retry_after_secs: 3,
        });
        assert!(matches!(
            block_on(get(&catalogue, ProductId::generate())),
            Err(CatalogueError::Store(StoreError::Unavailable { .. }))
        ));
    }
}
