//! The list's query string: every parameter from an allow-list, each value parsed into
//! a type, every problem reported with a `query/<name>` pointer.
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `limit` | page size, 1–100; more is a 400, not silently capped | 20 |
//! | `cursor` | from a previous page's `_links` | first page |
//! | `sort` | one of `created_at`, `price`, `name`, `-` for descending | `-created_at` |
//! | `fields` | sparse fieldset from [`ProductField`]; `id` and `_links` always present | all |
//! | `status` | `active` or `archived` | `active` |
//! | `currency` | ISO 4217 code | any |
//! | `min_price`, `max_price` | minor units, 0 or more | none |
//!
//! Only one sort field is accepted: every allowed order is then exactly an index of
//! `0001` (`status, <field>, id`), which a compound sort such as `-created_at,price`
//! would not be. Unknown, repeated, badly encoded or oversized parameters are refused
//! by edge-http's [`QueryParams`] before any value is read.

use domain::{
    AllowListed, Currency, FieldSelection, Limit, ProductStatus, SortSpec, ValidationError,
};
use edge_http::query::{QueryParams, QueryRules, query_pointer};
use edge_http::{ApiError, FieldError, QueryString};

use crate::service::{Filter, Sort, SortField};

/// The parameters the list understands.
pub const RULES: QueryRules = QueryRules::new(PARAMETERS);

/// Their names.
pub const PARAMETERS: &[&str] = &[
    "limit",
    "cursor",
    "sort",
    "fields",
    "status",
    "currency",
    "min_price",
    "max_price",
];

/// The members of a product a client may select with `fields=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductField {
    /// `sku`.
    Sku,
    /// `name`.
    Name,
    /// `description`.
    Description,
    /// `price`.
    Price,
    /// `stock`.
    Stock,
    /// `status`.
    Status,
    /// `version`.
    Version,
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
}

impl AllowListed for ProductField {
    const ALL: &'static [Self] = &[
        Self::Sku,
        Self::Name,
        Self::Description,
        Self::Price,
        Self::Stock,
        Self::Status,
        Self::Version,
        Self::CreatedAt,
        Self::UpdatedAt,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Sku => "sku",
            Self::Name => "name",
            Self::Description => "description",
            Self::Price => "price",
            Self::Stock => "stock",
            Self::Status => "status",
            Self::Version => "version",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

/// A parsed list query (the cursor still to be checked against sort and filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// Which rows.
    pub filter: Filter,
    /// In which order.
    pub sort: Sort,
    /// How many.
    pub limit: Limit,
    /// The raw cursor, if any.
    pub cursor: Option<String>,
    /// Which members besides `id` and `_links`; `None` for all.
    pub fields: Option<Vec<ProductField>>,
}

fn error(name: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(query_pointer(name), code, message)
}

fn check<T, E: ValidationError>(
    name: &str,
    result: Result<T, E>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|e| errors.push(error(name, e.code(), e.to_string())))
        .ok()
}

/// A price bound: decimal digits only, at most 18 of them (fits `BIGINT`).
fn price_bound(name: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    if text.starts_with('-') {
        errors.push(error(name, "negative", "must not be negative"));
        return None;
    }
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(error(
            name,
            "not_a_number",
            "must be a whole number of minor units (at most 18 digits)",
        ));
        return None;
    }
    text.parse().ok()
}

/// `fields=`: the allow-listed names; `id` (always present) may be named too.
fn parse_fields(text: &str, errors: &mut Vec<FieldError>) -> Option<Vec<ProductField>> {
    let rest: Vec<&str> = text.split(',').filter(|name| *name != "id").collect();
    if rest.is_empty() && !text.is_empty() {
        return Some(Vec::new());
    }
    check(
        "fields",
        FieldSelection::<ProductField>::parse(&rest.join(",")),
        errors,
    )
    .map(|selection| selection.fields().to_vec())
}

/// Parses the raw query string (`None` when the URL has none).
///
/// # Errors
/// A 400 listing every problem, each at `/query/<name>`.
pub fn parse(query: Option<&str>) -> Result<ListParams, ApiError> {
    let params = QueryParams::parse(query, &RULES)?;
    let mut errors = Vec::new();
    let get = |name: &str| params.get(name);

    let limit = check("limit", Limit::from_query(get("limit")), &mut errors);
    let sort = match get("sort") {
        None => Some(Sort::DEFAULT),
        Some(text) => {
            check("sort", SortSpec::<SortField>::parse(text), &mut errors).and_then(|spec| {
                match spec.keys() {
                    [key] => Some(Sort {
                        field: key.field,
                        direction: key.direction,
                    }),
                    _ => {
                        errors.push(error(
                            "sort",
                            "too_many_fields",
                            format!(
                                "sort by one of: {} (prefix - for descending)",
                                SortField::allowed_names()
                            ),
                        ));
                        None
                    }
                }
            })
        }
    };
    let fields = match get("fields") {
        None => Some(None),
        Some(text) => parse_fields(text, &mut errors).map(Some),
    };
    let status = match get("status") {
        None => Some(ProductStatus::Active),
        Some(text) => check("status", ProductStatus::parse(text), &mut errors),
    };
    let currency = match get("currency") {
        None => Some(None),
        Some(text) => check("currency", Currency::parse(text), &mut errors).map(Some),
    };
    let min_price = get("min_price").map(|t| price_bound("min_price", t, &mut errors));
    let max_price = get("max_price").map(|t| price_bound("max_price", t, &mut errors));
    if let (Some(Some(min)), Some(Some(max))) = (min_price, max_price)
        && min > max
    {
        errors.push(error(
            "min_price",
            "greater_than_max",
            "must not be greater than max_price",
        ));
    }
    let cursor = get("cursor").map(str::to_owned);

    match (limit, sort, fields, status, currency) {
        (Some(limit), Some(sort), Some(fields), Some(status), Some(currency))
            if errors.is_empty() =>
        {
            Ok(ListParams {
                filter: Filter {
                    status,
                    currency,
                    min_price: min_price.flatten(),
                    max_price: max_price.flatten(),
                },
                sort,
                limit,
                cursor,
                fields,
            })
        }
        _ => Err(ApiError::validation(errors)),
    }
}

/// The list's own parameters in canonical form (for `_links`; never `cursor`).
pub fn to_query(params: &ListParams) -> QueryString {
    let fields = params.fields.as_ref().map(|fields| {
        std::iter::once("id")
            .chain(fields.iter().map(|f| f.name()))
            .collect::<Vec<_>>()
            .join(",")
    });
    QueryString::new()
        .with("limit", params.limit.to_string())
        .with("sort", params.sort.to_string())
        .with("status", params.filter.status.as_str())
        .with_optional("currency", params.filter.currency.map(|c| c.code()))
        .with_optional("min_price", params.filter.min_price.map(|p| p.to_string()))
        .with_optional("max_price", params.filter.max_price.map(|p| p.to_string()))
        .with_optional("fields", fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::SortDirection;

    fn codes(result: Result<ListParams, ApiError>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::BadRequest { errors, .. }) => {
                errors.into_iter().map(|e| (e.pointer, e.code)).collect()
            }
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_active_newest_first_twenty() {
        let params = parse(None).unwrap();
        assert_eq!(params.filter, Filter::default());
        assert_eq!(params.sort, Sort::DEFAULT);
        assert_eq!(params.limit, Limit::DEFAULT);
        assert_eq!(params.fields, None);
        assert_eq!(
            to_query(&params).encode(),
            "limit=20&sort=-created_at&status=active"
        );
    }

    #[test]
    fn every_parameter_parses() {
        let params = parse(Some(
            "limit=5&sort=price&fields=name,price&status=archived&currency=EUR&min_price=0&max_price=900&cursor=abc",
        ))
        .unwrap();
        assert_eq!(params.limit.get(), 5);
        assert_eq!(params.sort.field, SortField::Price);
        assert_eq!(params.sort.direction, SortDirection::Ascending);
        assert_eq!(params.filter.status, ProductStatus::Archived);
        assert_eq!(params.filter.min_price, Some(0));
        assert_eq!(params.filter.max_price, Some(900));
        assert_eq!(params.cursor.as_deref(), Some("abc"));
        assert_eq!(
            params.fields,
            Some(vec![ProductField::Name, ProductField::Price])
        );
        assert_eq!(parse(Some("fields=id")).unwrap().fields, Some(Vec::new()));
        assert_eq!(
            to_query(&params).encode(),
            "limit=5&sort=price&status=archived&currency=EUR&min_price=0&max_price=900&fields=id%2Cname%2Cprice"
        );
    }

    #[test]
    fn hostile_values_are_refused_per_parameter() {
        let got = codes(parse(Some(
            "limit=100000&sort=name;DROP TABLE products&fields=password_hash&status=active'--&currency=EU%27&min_price=-1&max_price=1e3",
        )));
        assert_eq!(
            got,
            [
                ("/query/limit".into(), "too_large".into()),
                ("/query/sort".into(), "unknown_field".into()),
                ("/query/fields".into(), "unknown_field".into()),
                ("/query/status".into(), "unknown_status".into()),
                ("/query/currency".into(), got[4].1.clone()),
                ("/query/min_price".into(), "negative".into()),
                ("/query/max_price".into(), "not_a_number".into()),
            ]
        );
    }

    #[test]
    fn unknown_repeated_and_compound_parameters_are_refused() {
        assert_eq!(
            codes(parse(Some("page=2"))),
            [("/query/page".into(), "unknown_parameter".into())]
        );
        assert_eq!(
            codes(parse(Some("limit=1&limit=2"))),
            [("/query/limit".into(), "duplicate_parameter".into())]
        );
        assert_eq!(
            codes(parse(Some("sort=-created_at,price"))),
            [("/query/sort".into(), "too_many_fields".into())]
        );
        assert_eq!(
            codes(parse(Some("min_price=9&max_price=1"))),
            [("/query/min_price".into(), "greater_than_max".into())]
        );
        assert_eq!(
            codes(parse(Some("limit=0"))),
            [("/query/limit".into(), "too_small".into())]
        );
    }
}
