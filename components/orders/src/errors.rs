//! The orders domain's failures as HTTP problems: each with its own problem type, detail
//! and the members a client needs to react (which product, how many are left). Store
//! failures go through the one mapping (`From<StoreError> for ApiError`).

use edge_http::{ApiError, DomainProblem, FieldError};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::model::OrderLine;
use crate::service::{IN_PROGRESS_RETRY_AFTER_SECS, OrderError};

/// 404 for an order (or a user's collection) the caller may not see or that does not exist.
pub fn not_found() -> ApiError {
    ApiError::not_found("No such order.")
}

/// The problem for `error`; `lines` (the request's lines, when placing) let an unknown
/// product be pointed at by its line.
pub fn order_error(error: OrderError, lines: &[OrderLine]) -> ApiError {
    match error {
        OrderError::NotFound => not_found(),
        OrderError::Forbidden(detail) => ApiError::Forbidden {
            detail: detail.to_owned(),
        },
        OrderError::VersionMismatch => ApiError::PreconditionFailed {
            detail: "The order has changed since the version named in If-Match.".into(),
        },
        OrderError::OutOfStock {
            product_id,
            sku,
            requested,
            available,
        } => DomainProblem::new(
            StatusCode::CONFLICT,
            "out-of-stock",
            format!(
                "Not enough stock for product {sku} ({product_id}): {requested} requested, {available} available."
            ),
        )
        .with_extension("product_id", json!(product_id.to_string()))
        .with_extension("sku", json!(sku))
        .with_extension("requested", json!(requested))
        .with_extension("available", json!(available))
        .into(),
        OrderError::UnknownProduct(product_id) => {
            let index = lines
                .iter()
                .position(|l| l.product_id == product_id)
                .unwrap_or(0);
            DomainProblem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-product",
                format!("Product {product_id} does not exist or is no longer sold."),
            )
            .with_errors(vec![FieldError::new(
                format!("/items/{index}/product_id"),
                "unknown_product",
                "no active product has this id",
            )])
            .with_extension("product_id", json!(product_id.to_string()))
            .into()
        }
        OrderError::PriceChanged { product_id, sku } => DomainProblem::new(
            StatusCode::CONFLICT,
            "price-changed",
            format!(
                "The price of product {sku} ({product_id}) changed while the order was placed; nothing was ordered, retry to order at the new price."
            ),
        )
        .with_extension("product_id", json!(product_id.to_string()))
        .with_extension("sku", json!(sku))
        .into(),
        OrderError::MixedCurrency => DomainProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mixed-currency",
            "All products of one order must be priced in the same currency.",
        )
        .into(),
        OrderError::TotalTooLarge => DomainProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "total-too-large",
            "The order's total is too large.",
        )
        .into(),
        OrderError::Transition(e) => DomainProblem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            format!("An order cannot go from {} to {}.", e.from, e.to),
        )
        .with_extension("from", json!(e.from.as_str()))
        .with_extension("to", json!(e.to.as_str()))
        .into(),
        OrderError::KeyReused => DomainProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "This Idempotency-Key was already used for a different request.",
        )
        .into(),
        OrderError::InProgress => ApiError::from(DomainProblem::new(
            StatusCode::CONFLICT,
            "request-in-progress",
            "A request with this Idempotency-Key is still being processed.",
        ))
        .with_headers(vec![(
            header::RETRY_AFTER,
            HeaderValue::from(IN_PROGRESS_RETRY_AFTER_SECS),
        )]),
        OrderError::Store(e) => ApiError::from(e),
    }
}
