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
//! would not be. Unknown or repeated parameters are refused.

use domain::{
    AllowListed, Currency, FieldSelection, Limit, ProductStatus, SortSpec, ValidationError,
};
use edge_http::FieldError;

use crate::service::{Filter, Sort, SortField};

/// The parameters the list understands.
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
    FieldError::new(format!("query/{name}"), code, message)
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
/// One [`FieldError`] per problem.
pub fn parse(query: Option<&str>) -> Result<ListParams, Vec<FieldError>> {
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(query.unwrap_or("")) {
        Ok(pairs) => pairs,
        Err(_) => {
            return Err(vec![FieldError::new(
                "query",
                "malformed",
                "the query string is not valid form encoding",
            )]);
        }
    };
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &pairs {
        match PARAMETERS.iter().find(|p| **p == name.as_str()) {
            None => errors.push(FieldError::new(
                "query",
                "unknown_parameter",
                format!("allowed parameters: {}", PARAMETERS.join(", ")),
            )),
            Some(known) if seen.contains(known) => {
                errors.push(error(known, "repeated", "may be given only once"));
            }
            Some(known) => seen.push(known),
        }
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };

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
        _ => Err(errors),
    }
}

/// The canonical query string of a list page (for `_links`): the list's own
/// parameters, then `cursor` when given.
pub fn to_query(params: &ListParams, cursor: Option<&str>) -> String {
    let mut pairs: Vec<(&str, String)> = vec![
        ("limit", params.limit.to_string()),
        ("sort", params.sort.to_string()),
        ("status", params.filter.status.as_str().to_owned()),
    ];
    if let Some(currency) = params.filter.currency {
        pairs.push(("currency", currency.code().to_owned()));
    }
    if let Some(min) = params.filter.min_price {
        pairs.push(("min_price", min.to_string()));
    }
    if let Some(max) = params.filter.max_price {
        pairs.push(("max_price", max.to_string()));
    }
    if let Some(fields) = &params.fields {
        let names: Vec<&str> = std::iter::once("id")
            .chain(fields.iter().map(|f| f.name()))
            .collect();
        pairs.push(("fields", names.join(",")));
    }
    if let Some(cursor) = cursor {
        pairs.push(("cursor", cursor.to_owned()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::SortDirection;

    fn codes(result: Result<ListParams, Vec<FieldError>>) -> Vec<(String, String)> {
        result
            .unwrap_err()
            .into_iter()
            .map(|e| (e.pointer, e.code))
            .collect()
    }

    #[test]
    fn defaults_are_active_newest_first_twenty() {
        let params = parse(None).unwrap();
        assert_eq!(params.filter, Filter::default());
        assert_eq!(params.sort, Sort::DEFAULT);
        assert_eq!(params.limit, Limit::DEFAULT);
        assert_eq!(params.fields, None);
        assert_eq!(
            to_query(&params, None),
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
            to_query(&params, Some("a b")),
            "limit=5&sort=price&status=archived&currency=EUR&min_price=0&max_price=900&fields=id%2Cname%2Cprice&cursor=a+b"
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
                ("query/limit".into(), "too_large".into()),
                ("query/sort".into(), "unknown_field".into()),
                ("query/fields".into(), "unknown_field".into()),
                ("query/status".into(), "unknown_status".into()),
                ("query/currency".into(), got[4].1.clone()),
                ("query/min_price".into(), "negative".into()),
                ("query/max_price".into(), "not_a_number".into()),
            ]
        );
    }

    #[test]
    fn unknown_repeated_and_compound_parameters_are_refused() {
        assert_eq!(
            codes(parse(Some("page=2"))),
            [("query".into(), "unknown_parameter".into())]
        );
        assert_eq!(
            codes(parse(Some("limit=1&limit=2"))),
            [("query/limit".into(), "repeated".into())]
        );
        assert_eq!(
            codes(parse(Some("sort=-created_at,price"))),
            [("query/sort".into(), "too_many_fields".into())]
        );
        assert_eq!(
            codes(parse(Some("min_price=9&max_price=1"))),
            [("query/min_price".into(), "greater_than_max".into())]
        );
        assert_eq!(
            codes(parse(Some("limit=0"))),
            [("query/limit".into(), "too_small".into())]
        );
    }
}
