//! The orders component's own types: what the service works with and the repository
//! reads and writes. No HTTP, no SQL.

use domain::{Currency, OrderId, OrderStatus, ProductId, Quantity, UserId};

/// Most lines one order may have.
pub const MAX_LINES: usize = 50;

/// One requested line: which product and how many (already parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    /// The product.
    pub product_id: ProductId,
    /// How many units.
    pub quantity: Quantity,
}

/// A placed line, with the catalogue data captured at order time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// 1-based position in the request.
    pub line_no: u16,
    /// The product.
    pub product_id: ProductId,
    /// The product's SKU when the order was placed.
    pub sku: String,
    /// The product's name when the order was placed.
    pub name: String,
    /// The unit price when the order was placed, in minor units of `currency`.
    pub unit_price_minor: i64,
    /// The price's currency.
    pub currency: Currency,
    /// How many units.
    pub quantity: u32,
}

impl OrderItem {
    /// `unit_price_minor × quantity` (checked when the order was placed, so it fits).
    pub fn line_total_minor(&self) -> i64 {
        self.unit_price_minor
            .saturating_mul(i64::from(self.quantity))
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order's id (UUIDv7).
    pub id: OrderId,
    /// Whose order it is.
    pub user_id: UserId,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// The one currency of all its items.
    pub currency: Currency,
    /// The sum of its lines, in minor units.
    pub total_minor: i64,
    /// Optimistic-concurrency version (1 when placed, +1 per change).
    pub version: u32,
    /// Microseconds since the Unix epoch (UTC).
    pub created_at_micros: i64,
    /// Microseconds since the Unix epoch (UTC).
    pub updated_at_micros: i64,
    /// The lines; empty in list views.
    pub items: Vec<OrderItem>,
}

/// Who is calling, as the service needs it (built from the verified principal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user the token speaks for (`None` for a machine client).
    pub user_id: Option<UserId>,
    /// Holds the `admin` scope.
    pub is_admin: bool,
    /// The OAuth client (scopes idempotency keys).
    pub client_id: String,
    /// The token's subject (scopes idempotency keys).
    pub subject: String,
}

impl Caller {
    /// Whether the caller may see and act on `owner`'s orders: the owner or an admin.
    pub fn may_access(&self, owner: UserId) -> bool {
        self.is_admin || self.user_id == Some(owner)
    }
}

/// Sort orders for a user's order list (each backed by an index of 0001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// `-created_at` (default): newest first.
    NewestFirst,
    /// `created_at`: oldest first.
    OldestFirst,
    /// `total`: smallest total first.
    TotalAscending,
    /// `-total`: largest total first.
    TotalDescending,
}

impl ListSort {
    /// The `sort=` spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NewestFirst => "-created_at",
            Self::OldestFirst => "created_at",
            Self::TotalAscending => "total",
            Self::TotalDescending => "-total",
        }
    }

    /// Parses the `sort=` spelling.
    pub fn parse(input: &str) -> Option<Self> {
        [
            Self::NewestFirst,
            Self::OldestFirst,
            Self::TotalAscending,
            Self::TotalDescending,
        ]
        .into_iter()
        .find(|s| s.as_str() == input)
    }

    /// The sort key of `order` under this sort.
    pub fn key_of(self, order: &Order) -> i64 {
        match self {
            Self::NewestFirst | Self::OldestFirst => order.created_at_micros,
            Self::TotalAscending | Self::TotalDescending => order.total_minor,
        }
    }
}

/// Where a page starts: after the row with this sort key and id (forward), or, when
/// `backward`, the page that ends just before it (a `prev` link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    /// The boundary row's sort key.
    pub key: i64,
    /// The boundary row's id (tie-breaker).
    pub id: OrderId,
    /// `false`: the rows after the boundary; `true`: the rows before it.
    pub backward: bool,
}

/// A list query, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Whose orders.
    pub owner: UserId,
    /// Only this status, if given.
    pub status: Option<OrderStatus>,
    /// Order of the list.
    pub sort: ListSort,
    /// Page size (1..=100).
    pub limit: u32,
    /// Continue after this row.
    pub after: Option<After>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The orders (without items).
    pub orders: Vec<Order>,
    /// Where the next page starts, if there is one.
    pub next: Option<After>,
    /// Where the previous page ends (a backward position), if there is one.
    pub prev: Option<After>,
}

/// An `Idempotency-Key` in the scope of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    /// The OAuth client.
    pub client_id: String,
    /// The token's subject.
    pub subject: String,
    /// The client's key (1..=255 printable ASCII).
    pub key: String,
    /// SHA-256 of method, route and body.
    pub request_hash: [u8; 32],
}

/// A response stored under an idempotency key, replayed for a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status first answered.
    pub status: u16,
    /// The body first answered.
    pub body: Vec<u8>,
    /// The order created.
    pub order_id: OrderId,
}
