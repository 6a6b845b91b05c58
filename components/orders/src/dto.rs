//! What clients send: the order body, the status patch, the `Idempotency-Key` header and
//! the list query — each parsed into domain types, every problem reported with its pointer.

use domain::{FieldSelection, Limit, OrderStatus, ProductId, Quantity, UserId, ValidationError};
use edge_http::query::{QueryParams, QueryRules, query_pointer};
use edge_http::{ApiError, FieldError};
use http::HeaderMap;
use kit::json::{Kind, Member, Schema, parse_body, parse_patch as parse_patch_body};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::{ListSort, MAX_LINES, OrderLine};
use crate::view::{OrderField, collection_href};

/// The idempotency key header (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

static LINE_SCHEMA: Schema = Schema::new(&[
    Member::required("product_id", Kind::String),
    Member::required("quantity", Kind::Integer),
]);
static LINE: Kind = Kind::Object(&LINE_SCHEMA);

/// `{"items": [{"product_id": "…", "quantity": n}, …]}`, nothing else. The array is
/// capped at [`MAX_LINES`] by the schema check too, before any line is parsed.
pub static ORDER_SCHEMA: Schema = Schema::new(&[Member::required(
    "items",
    Kind::Array {
        items: &LINE,
        max_items: MAX_LINES,
    },
)]);

/// A merge patch of an order: only `status`.
pub static PATCH_SCHEMA: Schema = Schema::new(&[Member::required("status", Kind::String)]);

#[derive(Debug, Deserialize)]
struct PlaceOrderBody {
    items: Vec<LineBody>,
}

#[derive(Debug, Deserialize)]
struct LineBody {
    product_id: String,
    quantity: i64,
}

/// Parses the order body. Duplicate members, unknown members and wrong types are 400s
/// (the kit's strict parser); so are a missing or empty `items`, more than [`MAX_LINES`]
/// lines, an invalid product id or quantity, and a product named twice (duplicates are
/// rejected, not merged, so the client states each quantity once).
///
/// # Errors
/// 400 with every invalid field.
pub fn parse_lines(body: &[u8]) -> Result<Vec<OrderLine>, ApiError> {
    let value = parse_body(body, &ORDER_SCHEMA).map_err(too_many_as_before)?;
    let parsed: PlaceOrderBody = kit::json::into_input(value)?;
    if parsed.items.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "/items",
            "too_few",
            format!("an order has 1 to {MAX_LINES} items"),
        )]));
    }
    let mut errors = Vec::new();
    let mut lines: Vec<OrderLine> = Vec::with_capacity(parsed.items.len());
    for (index, line) in parsed.items.iter().enumerate() {
        let product_id = ProductId::parse(&line.product_id);
        let quantity = Quantity::new(line.quantity);
        if let Err(e) = &product_id {
            errors.push(field_error(&format!("/items/{index}/product_id"), e));
        }
        if let Err(e) = &quantity {
            errors.push(field_error(&format!("/items/{index}/quantity"), e));
        }
        if let (Ok(product_id), Ok(quantity)) = (product_id, quantity) {
            if lines.iter().any(|l| l.product_id == product_id) {
                errors.push(FieldError::new(
                    format!("/items/{index}/product_id"),
                    "duplicate_product",
                    "each product may appear in one line only",
                ));
            } else {
                lines.push(OrderLine {
                    product_id,
                    quantity,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The kit reports an over-long array as `too_many_items`; orders has always said
/// `too_many` with the 1..=50 range, which clients may match on.
fn too_many_as_before(error: ApiError) -> ApiError {
    match error {
        ApiError::BadRequest { detail, errors } => ApiError::BadRequest {
            detail,
            errors: errors
                .into_iter()
                .map(|e| {
                    if e.code == "too_many_items" {
                        FieldError::new(
                            e.pointer,
                            "too_many",
                            format!("an order has 1 to {MAX_LINES} items"),
                        )
                    } else {
                        e
                    }
                })
                .collect(),
        },
        other => other,
    }
}

/// Parses the merge patch: only `status`, to a known status.
///
/// # Errors
/// 400 naming `/status` or the offending member.
pub fn parse_patch(body: &[u8]) -> Result<OrderStatus, ApiError> {
    let value = parse_patch_body(body, &PATCH_SCHEMA)?;
    let Some(status) = value.get("status").and_then(|v| v.as_str()) else {
        return Err(ApiError::validation(vec![FieldError::new(
            "/status",
            "required",
            "status is the only field that may change",
        )]));
    };
    OrderStatus::parse(status).map_err(|e| ApiError::validation(vec![field_error("/status", &e)]))
}

fn field_error(pointer: &str, error: &impl ValidationError) -> FieldError {
    FieldError::new(pointer, error.code(), error.to_string())
}

/// The `Idempotency-Key` header: absent, or one value of 1..=255 printable ASCII.
///
/// # Errors
/// 400 at `header/idempotency-key` for anything else.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::validation(vec![FieldError::new(
            "header/idempotency-key",
            "invalid_format",
            format!(
                "one Idempotency-Key of 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
            ),
        )])
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let bytes = value.as_bytes();
    let key = bytes
        .strip_prefix(b"\"")
        .and_then(|b| b.strip_suffix(b"\""))
        .unwrap_or(bytes);
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.iter().all(|b| (0x20..=0x7e).contains(b))
    {
        return Err(invalid());
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

/// SHA-256 over method, canonical route and body: what "the same request" means.
pub fn request_hash(owner: UserId, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"POST\n");
    hasher.update(collection_href(owner).as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().into()
}

/// The list's query parameters (unknown, repeated, oversized or badly encoded → 400).
const LIST_QUERY: QueryRules = QueryRules::new(&["limit", "cursor", "status", "sort", "fields"]);

/// The list query of a user's orders, parsed (the cursor is decoded by the handler, which
/// knows whose list it is).
#[derive(Debug)]
pub struct ListParams {
    /// Page size.
    pub limit: Limit,
    /// Status filter.
    pub status: Option<OrderStatus>,
    /// Sort order.
    pub sort: ListSort,
    /// Sparse fieldset of the entries.
    pub fields: FieldSelection<OrderField>,
    /// Whether `fields` was given (links repeat it only then).
    pub fields_given: bool,
    /// The cursor as sent.
    pub cursor: Option<String>,
}

impl ListParams {
    /// Parses the query string of `uri`.
    ///
    /// # Errors
    /// 400 with every invalid parameter at `/query/<name>`.
    pub fn parse(uri: &http::Uri) -> Result<Self, ApiError> {
        let params = QueryParams::from_uri(uri, &LIST_QUERY)?;
        let mut errors = Vec::new();
        let query_error = |name: &str, e: &dyn ValidationError| {
            FieldError::new(query_pointer(name), e.code(), e.to_string())
        };
        let limit = Limit::from_query(params.get("limit"))
            .map_err(|e| errors.push(query_error("limit", &e)))
            .unwrap_or_default();
        let status = match params.get("status").map(OrderStatus::parse) {
            Some(Ok(status)) => Some(status),
            Some(Err(e)) => {
                errors.push(query_error("status", &e));
                None
            }
            None => None,
        };
        let sort = match params.get("sort") {
            None => ListSort::NewestFirst,
            Some(text) => ListSort::parse(text).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    query_pointer("sort"),
                    "unknown_field",
                    "sort must be one of: -created_at, created_at, -total, total",
                ));
                ListSort::NewestFirst
            }),
        };
        let fields = FieldSelection::<OrderField>::from_query(params.get("fields"))
            .map_err(|e| errors.push(query_error("fields", &e)))
            .unwrap_or_else(|()| FieldSelection::all());
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Self {
            limit,
            status,
            sort,
            fields,
            fields_given: params.get("fields").is_some(),
            cursor: params.get("cursor").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::OrderStatus;
    use http::HeaderValue;

    fn pid(n: u8) -> String {
        format!("0190b0c4-0000-7000-8000-0000000000{n:02x}")
    }

    fn pointers(error: ApiError) -> Vec<(String, String)> {
        match error {
            ApiError::BadRequest { errors, .. } => {
                errors.into_iter().map(|e| (e.pointer, e.code)).collect()
            }
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_parses_in_request_order() {
        let body = format!(
            r#"{{"items":[{{"product_id":"{}","quantity":2}},{{"product_id":"{}","quantity":1000}}]}}"#,
            pid(2),
            pid(1)
        );
        let lines = parse_lines(body.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].product_id.to_string(), pid(2));
        assert_eq!(lines[1].quantity.get(), 1000);
    }

    #[test]
    fn hostile_bodies_are_400s_naming_the_field() {
        let p = pid(1);
        let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":-1}}]}}"#),
                vec![("/items/0/quantity", "too_small")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1001}}]}}"#),
                vec![("/items/0/quantity", "too_large")],
            ),
            (
                r#"{"items":[{"product_id":"1' OR '1'='1","quantity":1}]}"#.to_owned(),
                vec![("/items/0/product_id", "invalid_format")],
            ),
            (
                format!(
                    r#"{{"items":[{{"product_id":"{p}","quantity":1}},{{"product_id":"{p}","quantity":2}}]}}"#
                ),
                vec![("/items/1/product_id", "duplicate_product")],
            ),
            (r#"{"items":[]}"#.to_owned(), vec![("/items", "too_few")]),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"price_minor":0}}]}}"#),
                vec![("/items/0/price_minor", "unknown_field")],
            ),
            // A member named twice, at any depth, is refused rather than resolved.
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1}}],"items":[]}}"#),
                vec![("", "duplicate_member")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"quantity":5}}]}}"#),
                vec![("", "duplicate_member")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1.5}}]}}"#),
                vec![("/items/0/quantity", "invalid_type")],
            ),
            (
                r#"{"lines":[]}"#.to_owned(),
                vec![("/lines", "unknown_field"), ("/items", "required")],
            ),
        ];
        for (body, expected) in cases {
            let got = pointers(parse_lines(body.as_bytes()).unwrap_err());
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(p, c)| (p.to_owned(), c.to_owned()))
                .collect();
            assert_eq!(got, expected, "{body}");
        }
        // Not JSON at all: a 400 without field errors.
        assert!(matches!(
            parse_lines(b"not json"),
            Err(ApiError::BadRequest { ref errors, .. }) if errors.is_empty()
        ));
        let many: Vec<String> = (0..51)
            .map(|n| format!(r#"{{"product_id":"{}","quantity":1}}"#, pid(n)))
            .collect();
        let body = format!(r#"{{"items":[{}]}}"#, many.join(","));
        assert_eq!(
            pointers(parse_lines(body.as_bytes()).unwrap_err()),
            [("/items".to_owned(), "too_many".to_owned())]
        );
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_255() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).unwrap(), None);
        headers.insert(
            IDEMPOTENCY_KEY_HEADER,
            HeaderValue::from_static("\"abc-1\""),
        );
        assert_eq!(idempotency_key(&headers).unwrap().as_deref(), Some("abc-1"));
        for bad in [String::new(), "k".repeat(256), "tab\there".to_owned()] {
            let mut headers = HeaderMap::new();
            headers.insert(
                IDEMPOTENCY_KEY_HEADER,
                HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            assert!(idempotency_key(&headers).is_err(), "{bad:?}");
        }
        let mut twice = HeaderMap::new();
        twice.append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("a"));
        twice.append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("b"));
        assert!(idempotency_key(&twice).is_err());
    }

    #[test]
    fn the_request_hash_covers_owner_and_body() {
        let a = UserId::parse("0190b0c4-0000-7000-8000-000000000001").unwrap();
        let b = UserId::parse("0190b0c4-0000-7000-8000-000000000002").unwrap();
        assert_eq!(request_hash(a, b"{}"), request_hash(a, b"{}"));
        assert_ne!(request_hash(a, b"{}"), request_hash(b, b"{}"));
        assert_ne!(request_hash(a, b"{}"), request_hash(a, b"{ }"));
    }

    #[test]
    fn the_patch_body_sets_only_a_known_status() {
        assert_eq!(
            parse_patch(br#"{"status":"cancelled"}"#).unwrap(),
            OrderStatus::Cancelled
        );
        for bad in [
            &br#"{"status":"refunded"}"#[..],
            br#"{"status":"paid","total_minor":0}"#,
            br#"{}"#,
            br#"{"status":"paid","status":"shipped"}"#,
        ] {
            assert!(
                matches!(parse_patch(bad), Err(ApiError::BadRequest { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
