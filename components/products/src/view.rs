//! The product's public representation and its `_links` (HATEOAS).
//!
//! ```json
//! {"id": "0192…", "sku": "MUG-001", "name": "Mug", "description": null,
//!  "price": {"amount_minor": 1299, "currency": "EUR"}, "stock": 10, "status": "active",
//!  "version": 1, "created_at": "2026-11-25T12:08:10.965917Z", "updated_at": "…",
//!  "_links": {"self": {"href": "/api/v1/products/0192…"},
//!             "collection": {"href": "/api/v1/products"},
//!             "update": {"href": "…", "method": "PUT"},      (with products:write only)
//!             "patch": {"href": "…", "method": "PATCH"},     (with products:write only)
//!             "delete": {"href": "…", "method": "DELETE"}}}  (with products:write only)
//! ```

use domain::{AllowListed, ProductId};
use edge_http::{Link, Links};
use serde_json::{Map, Value, json};

use crate::model::Product;
use crate::query::ProductField;

/// The collection's path.
pub const COLLECTION_PATH: &str = "/api/v1/products";

/// The path of one product.
pub fn product_path(id: ProductId) -> String {
    format!("{COLLECTION_PATH}/{id}")
}

/// Microseconds since the Unix epoch as RFC 3339 UTC with six fractional digits.
pub fn rfc3339_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

fn field_value(product: &Product, field: ProductField) -> Value {
    let draft = &product.draft;
    match field {
        ProductField::Sku => json!(draft.sku.as_str()),
        ProductField::Name => json!(draft.name.as_str()),
        ProductField::Description => draft
            .description
            .as_ref()
            .map_or(Value::Null, |d| json!(d.as_str())),
        ProductField::Price => json!({
            "amount_minor": draft.price.amount_minor(),
            "currency": draft.price.currency().code(),
        }),
        ProductField::Stock => json!(draft.stock.get()),
        ProductField::Status => json!(draft.status.as_str()),
        ProductField::Version => json!(product.version),
        ProductField::CreatedAt => json!(rfc3339_micros(product.created_at_micros)),
        ProductField::UpdatedAt => json!(rfc3339_micros(product.updated_at_micros)),
    }
}

/// The product's `_links`: `self` and `collection` always, the write actions only for
/// a caller who may take them.
pub fn links(id: ProductId, can_write: bool) -> Links {
    let href = product_path(id);
    let links = Links::new()
        .with("self", href.clone())
        .with("collection", COLLECTION_PATH);
    if !can_write {
        return links;
    }
    links
        .with_link("update", Link::new(href.clone()).with_method("PUT"))
        .with_link("patch", Link::new(href.clone()).with_method("PATCH"))
        .with_link("delete", Link::new(href).with_method("DELETE"))
}

/// The representation of `product` with `fields` (all when `None`); `id` and `_links`
/// are always present.
pub fn product_view(product: &Product, fields: Option<&[ProductField]>, can_write: bool) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), json!(product.id.to_string()));
    let selected = fields.unwrap_or(ProductField::ALL);
    for field in ProductField::ALL {
        if selected.contains(field) {
            object.insert(field.name().into(), field_value(product, *field));
        }
    }
    object.insert(
        "_links".into(),
        serde_json::to_value(links(product.id, can_write)).unwrap_or(Value::Null),
    );
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_draft;

    fn product() -> Product {
        Product {
            id: ProductId::generate(),
            draft: parse_draft(&json!({
                "sku": "MUG-1", "name": "Mug",
                "price": {"amount_minor": 1299, "currency": "EUR"}, "stock": 4
            }))
            .unwrap(),
            version: 3,
            created_at_micros: 1_764_072_490_965_917,
            updated_at_micros: 0,
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_764_072_490_965_917),
            "2025-11-25T12:08:10.965917Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_001),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn the_full_view_has_every_field_and_links_by_permission() {
        let p = product();
        let view = product_view(&p, None, false);
        assert_eq!(view["id"], json!(p.id.to_string()));
        assert_eq!(
            view["price"],
            json!({"amount_minor": 1299, "currency": "EUR"})
        );
        assert_eq!(view["description"], Value::Null);
        assert_eq!(view["version"], 3);
        assert_eq!(view["_links"]["self"]["href"], json!(product_path(p.id)));
        assert!(view["_links"].get("update").is_none());
        let writer = product_view(&p, None, true);
        assert_eq!(writer["_links"]["delete"]["method"], "DELETE");
    }

    #[test]
    fn a_sparse_view_keeps_id_and_links() {
        let p = product();
        let view = product_view(&p, Some(&[ProductField::Name]), false);
        let mut keys: Vec<_> = view.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["_links", "id", "name"]);
    }
}
