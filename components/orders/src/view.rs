//! What clients get back: the order with its items and the transitions the caller may take
//! as `_links`, list entries with a sparse fieldset, and the cache headers of user data.

use bytes::Bytes;
use domain::{AllowListed, FieldSelection, OrderId, OrderStatus, UserId};
use edge_http::conditional::ETag;
use edge_http::{APPLICATION_JSON, EdgeResponse, bytes_response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::model::{Caller, Order};
use crate::service::allowed_transitions;

/// JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
/// `Cache-Control` of every order representation (user data, revalidated).
pub const USER_DATA_CACHE: &str = "private, no-cache";

fn rfc3339(micros: i64) -> String {
    let micros = u64::try_from(micros).unwrap_or(0);
    edge_http::log_line::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros),
    )
}

/// `/api/v1/orders/{id}`.
pub fn order_href(id: OrderId) -> String {
    format!("/api/v1/orders/{id}")
}

/// `/api/v1/users/{owner}/orders`.
pub fn collection_href(owner: UserId) -> String {
    format!("/api/v1/users/{owner}/orders")
}

fn action_name(to: OrderStatus) -> &'static str {
    match to {
        OrderStatus::Paid => "pay",
        OrderStatus::Shipped => "ship",
        OrderStatus::Delivered => "deliver",
        OrderStatus::Cancelled => "cancel",
        OrderStatus::Pending => "reopen",
    }
}

fn order_links(caller: &Caller, order: &Order) -> Value {
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": order_href(order.id) }));
    links.insert(
        "collection".into(),
        json!({ "href": collection_href(order.user_id) }),
    );
    for to in allowed_transitions(caller, order) {
        links.insert(
            action_name(to).into(),
            json!({
                "href": order_href(order.id),
                "method": "PATCH",
                "type": MERGE_PATCH_JSON,
                "body": { "status": to.as_str() },
            }),
        );
    }
    Value::Object(links)
}

/// The full order: summary fields, items and links.
pub fn order_view(caller: &Caller, order: &Order) -> Value {
    let mut view = summary_fields(order);
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            json!({
                "line_no": item.line_no,
                "product_id": item.product_id.to_string(),
                "sku": item.sku,
                "name": item.name,
                "unit_price_minor": item.unit_price_minor,
                "currency": item.currency.code(),
                "quantity": item.quantity,
                "line_total_minor": item.line_total_minor(),
            })
        })
        .collect();
    view.insert("items".into(), Value::Array(items));
    view.insert("_links".into(), order_links(caller, order));
    Value::Object(view)
}

/// The fields of `fields=` for list entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    /// `id`
    Id,
    /// `user_id`
    UserId,
    /// `status`
    Status,
    /// `currency`
    Currency,
    /// `total_minor`
    TotalMinor,
    /// `version`
    Version,
    /// `created_at`
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
}

impl AllowListed for OrderField {
    const ALL: &'static [Self] = &[
        Self::Id,
        Self::UserId,
        Self::Status,
        Self::Currency,
        Self::TotalMinor,
        Self::Version,
        Self::CreatedAt,
        Self::UpdatedAt,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::UserId => "user_id",
            Self::Status => "status",
            Self::Currency => "currency",
            Self::TotalMinor => "total_minor",
            Self::Version => "version",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

fn summary_fields(order: &Order) -> Map<String, Value> {
    let mut view = Map::new();
    for field in OrderField::ALL {
        let value = match field {
            OrderField::Id => json!(order.id.to_string()),
            OrderField::UserId => json!(order.user_id.to_string()),
            OrderField::Status => json!(order.status.as_str()),
            OrderField::Currency => json!(order.currency.code()),
            OrderField::TotalMinor => json!(order.total_minor),
            OrderField::Version => json!(order.version),
            OrderField::CreatedAt => json!(rfc3339(order.created_at_micros)),
            OrderField::UpdatedAt => json!(rfc3339(order.updated_at_micros)),
        };
        view.insert(field.name().into(), value);
    }
    view
}

/// A list entry: `id`, the selected fields and a `self` link.
pub fn list_entry(order: &Order, fields: &FieldSelection<OrderField>) -> Value {
    let mut entry: Map<String, Value> = summary_fields(order)
        .into_iter()
        .filter(|(name, _)| {
            name == "id" || OrderField::from_name(name).is_some_and(|f| fields.contains(f))
        })
        .collect();
    entry.insert(
        "_links".into(),
        json!({ "self": { "href": order_href(order.id) } }),
    );
    Value::Object(entry)
}

/// The bytes of a JSON value.
pub fn json_bytes(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `Cache-Control: private, no-cache` and `Vary: Authorization`.
pub fn cache_headers(response: &mut EdgeResponse) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(USER_DATA_CACHE),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Authorization"));
}

/// The strong `ETag` of an order's version.
pub fn order_etag(order: &Order) -> ETag {
    ETag::from_version(order.id, u64::from(order.version))
}

/// One order as a response: the view, its `ETag`, the cache headers.
pub fn order_response(caller: &Caller, order: &Order, status: StatusCode) -> EdgeResponse {
    let body = json_bytes(&order_view(caller, order));
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    response
        .headers_mut()
        .insert(header::ETAG, order_etag(order).to_header_value());
    cache_headers(&mut response);
    response
}
