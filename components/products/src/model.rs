//! The catalogue's types: a stored [`Product`], a validated [`ProductDraft`] (what a
//! POST, PUT or merged PATCH document becomes), and the request DTO.
//!
//! ## The request document (POST and PUT bodies, and a PATCH after merging)
//!
//! ```json
//! {"sku": "MUG-001", "name": "Mug", "description": "Blue", "price": {"amount_minor": 1299,
//!  "currency": "EUR"}, "stock": 10, "status": "active"}
//! ```
//!
//! `description` may be absent or `null` (no description); `status` defaults to
//! `active`. Every other member is required and no other member is allowed.
//! [`parse_draft`] checks the document's shape first (unknown members, missing members,
//! JSON types: every problem at once, each with its JSON pointer), then deserialises
//! the [`ProductInput`] DTO (`deny_unknown_fields`), then parses each value with its
//! domain type ([`Sku`], [`ProductName`], [`Description`], [`Money`], [`Stock`],
//! [`ProductStatus`]), again reporting every invalid field.

use domain::{
    Currency, Description, Money, ProductId, ProductName, ProductStatus, Sku, Stock,
    ValidationError,
};
use edge_http::FieldError;
use kit::json::{Kind, Member, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A product as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Its id (UUIDv7).
    pub id: ProductId,
    /// The writable part.
    pub draft: ProductDraft,
    /// Bumped on every change; the `ETag` is made from it.
    pub version: u32,
    /// Creation time, microseconds since the Unix epoch (UTC).
    pub created_at_micros: i64,
    /// Last change, microseconds since the Unix epoch (UTC).
    pub updated_at_micros: i64,
}

/// Everything a client may set on a product, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    /// Unique stock-keeping unit.
    pub sku: Sku,
    /// Display name.
    pub name: ProductName,
    /// Optional long text.
    pub description: Option<Description>,
    /// Unit price.
    pub price: Money,
    /// Units on hand.
    pub stock: Stock,
    /// Listed (`active`) or kept for past orders only (`archived`).
    pub status: ProductStatus,
}

/// The price member of the request document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// Minor units (cents for EUR); not negative.
    pub amount_minor: i64,
    /// ISO 4217 code of a supported currency.
    pub currency: String,
}

/// The request document as JSON types; [`parse_draft`] turns it into a
/// [`ProductDraft`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// See [`Sku`].
    pub sku: String,
    /// See [`ProductName`].
    pub name: String,
    /// See [`Description`]; absent or `null` for none.
    #[serde(default)]
    pub description: Option<String>,
    /// See [`Money`].
    pub price: PriceInput,
    /// See [`Stock`].
    pub stock: i64,
    /// `active` (default) or `archived`.
    #[serde(default)]
    pub status: Option<String>,
}

/// The price object of the request document.
pub static PRICE_SCHEMA: Schema = Schema::new(&[
    Member::required("amount_minor", Kind::Integer),
    Member::required("currency", Kind::String),
]);

/// The request document (POST and PUT bodies, and a PATCH after merging).
pub static PRODUCT_SCHEMA: Schema = Schema::new(&[
    Member::required("sku", Kind::String),
    Member::required("name", Kind::String),
    Member::nullable("description", Kind::String),
    Member::required("price", Kind::Object(&PRICE_SCHEMA)),
    Member::required("stock", Kind::Integer),
    Member::optional("status", Kind::String),
]);

/// Checks `document` against the request shape and parses it into a draft.
///
/// # Errors
/// Every problem found, each with its JSON pointer, code and message.
pub fn parse_draft(document: &Value) -> Result<ProductDraft, Vec<FieldError>> {
    PRODUCT_SCHEMA.check(document)?;
    let input: ProductInput = serde_json::from_value(document.clone()).map_err(|_| {
        vec![FieldError::new(
            "",
            "invalid_document",
            "the body does not match the product schema",
        )]
    })?;
    validate(input)
}

fn field<T, E: ValidationError>(
    result: Result<T, E>,
    pointer: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            errors.push(FieldError::new(pointer, e.code(), e.to_string()));
            None
        }
    }
}

/// Parses each value of `input` with its domain type.
///
/// # Errors
/// One entry per invalid field.
pub fn validate(input: ProductInput) -> Result<ProductDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let sku = field(Sku::parse(&input.sku), "/sku", &mut errors);
    let name = field(ProductName::parse(&input.name), "/name", &mut errors);
    let description = match input.description.as_deref() {
        None => Some(None),
        Some(text) => field(Description::parse(text), "/description", &mut errors).map(Some),
    };
    let currency = field(
        Currency::parse(&input.price.currency),
        "/price/currency",
        &mut errors,
    );
    let price = currency.and_then(|currency| {
        field(
            Money::new(input.price.amount_minor, currency),
            "/price/amount_minor",
            &mut errors,
        )
    });
    let stock = field(Stock::new(input.stock), "/stock", &mut errors);
    let status = match input.status.as_deref() {
        None => Some(ProductStatus::Active),
        Some(text) => field(ProductStatus::parse(text), "/status", &mut errors),
    };
    match (sku, name, description, price, stock, status) {
        (Some(sku), Some(name), Some(description), Some(price), Some(stock), Some(status))
            if errors.is_empty() =>
        {
            Ok(ProductDraft {
                sku,
                name,
                description,
                price,
                stock,
                status,
            })
        }
        _ => Err(errors),
    }
}

impl ProductDraft {
    /// The draft as a request document (the base a merge patch applies to).
    pub fn to_document(&self) -> Value {
        let mut object = Map::new();
        object.insert("sku".into(), Value::from(self.sku.as_str()));
        object.insert("name".into(), Value::from(self.name.as_str()));
        if let Some(description) = &self.description {
            object.insert("description".into(), Value::from(description.as_str()));
        }
        let mut price = Map::new();
        price.insert(
            "amount_minor".into(),
            Value::from(self.price.amount_minor()),
        );
        price.insert("currency".into(), Value::from(self.price.currency().code()));
        object.insert("price".into(), Value::Object(price));
        object.insert("stock".into(), Value::from(self.stock.get()));
        object.insert("status".into(), Value::from(self.status.as_str()));
        Value::Object(object)
    }
}

/// RFC 7396 JSON Merge Patch: applies `patch` to `target` in place. `null` members
/// remove, objects merge recursively, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_members) = target {
        for (name, value) in patch_members {
            if value.is_null() {
                target_members.remove(name);
            } else {
                let slot = target_members.entry(name.clone()).or_insert(Value::Null);
                merge_patch(slot, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "sku": "MUG-001",
            "name": "Mug",
            "description": "Blue",
            "price": {"amount_minor": 1299, "currency": "EUR"},
            "stock": 10,
            "status": "active"
        })
    }

    fn pointers(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn a_valid_document_becomes_a_draft_that_round_trips() {
        let draft = parse_draft(&valid()).unwrap();
        assert_eq!(draft.sku.as_str(), "MUG-001");
        assert_eq!(draft.price.amount_minor(), 1299);
        assert_eq!(draft.price.currency().code(), "EUR");
        assert_eq!(draft.stock.get(), 10);
        assert_eq!(draft.to_document(), valid());
    }

    #[test]
    fn description_and_status_are_optional() {
        let draft = parse_draft(&json!({
            "sku": "MUG-002", "name": "Mug", "description": null,
            "price": {"amount_minor": 0, "currency": "USD"}, "stock": 0
        }))
        .unwrap();
        assert_eq!(draft.description, None);
        assert_eq!(draft.status, ProductStatus::Active);
    }

    #[test]
    fn every_shape_problem_is_reported_with_its_pointer() {
        let errors = parse_draft(&json!({
            "name": 5, "price": {"amount_minor": "1", "currency": "EUR", "x": 1},
            "stock": 1.5, "owner": "me", "status": null
        }))
        .unwrap_err();
        let mut got = pointers(&errors);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ("/name", "invalid_type"),
                ("/owner", "unknown_field"),
                ("/price/amount_minor", "invalid_type"),
                ("/price/x", "unknown_field"),
                ("/sku", "required"),
                ("/status", "invalid_type"),
                ("/stock", "invalid_type"),
            ]
        );
    }

    #[test]
    fn every_domain_rule_is_reported_with_its_pointer() {
        let errors = parse_draft(&json!({
            "sku": "a b", "name": "", "price": {"amount_minor": -1, "currency": "EUR"},
            "stock": -3, "status": "deleted"
        }))
        .unwrap_err();
        let got: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            got,
            ["/sku", "/name", "/price/amount_minor", "/stock", "/status"]
        );
        assert!(errors.iter().all(|e| !e.message.contains("a b")));
    }

    #[test]
    fn an_unknown_currency_is_reported_on_the_currency() {
        let mut doc = valid();
        doc["price"]["currency"] = json!("XXX");
        let errors = parse_draft(&doc).unwrap_err();
        assert_eq!(errors[0].pointer, "/price/currency");
    }

    #[test]
    fn a_non_object_body_is_refused() {
        let errors = parse_draft(&json!([1, 2])).unwrap_err();
        assert_eq!(pointers(&errors), [("", "invalid_type")]);
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = valid();
        merge_patch(
            &mut target,
            &json!({"description": null, "price": {"amount_minor": 5}, "stock": 3}),
        );
        assert_eq!(target.get("description"), None);
        assert_eq!(
            target["price"],
            json!({"amount_minor": 5, "currency": "EUR"})
        );
        assert_eq!(target["stock"], 3);
        // Nulling a required member removes it, and re-validation catches it.
        merge_patch(&mut target, &json!({"name": null}));
        let errors = parse_draft(&target).unwrap_err();
        assert_eq!(pointers(&errors), [("/name", "required")]);
        // A non-object patch replaces the whole document.
        merge_patch(&mut target, &json!(7));
        assert_eq!(target, json!(7));
    }
}
