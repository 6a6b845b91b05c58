//! Query-string parsing that validates (docs/standards.md §4): every parameter is known,
//! appears once, is valid percent-encoded UTF-8 and is not oversized. Every problem is
//! reported at once as a [`FieldError`] at `/query/<name>` in one 400.
//!
//! ```
//! use edge_http::query::{QueryParams, QueryRules};
//!
//! const RULES: QueryRules = QueryRules::new(&["limit", "cursor", "sort"]);
//! let params = QueryParams::parse(Some("limit=20&sort=-created_at"), &RULES).unwrap();
//! assert_eq!(params.get("sort"), Some("-created_at"));
//! let limit: Option<u32> = params.parse_with("limit", |v| v.parse().ok(), "an integer").unwrap();
//! assert_eq!(limit, Some(20));
//!
//! let error = QueryParams::parse(Some("limit=1&limit=2&evil=1"), &RULES).unwrap_err();
//! assert_eq!(error.status().as_u16(), 400);
//! ```

use std::collections::BTreeMap;

use crate::api_error::ApiError;
use crate::problem::FieldError;

/// Default cap on one decoded value, in bytes.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024;

/// Cap on a decoded parameter name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Default cap on the number of parameters.
pub const DEFAULT_MAX_PARAMS: usize = 32;

/// What a route accepts in its query string.
#[derive(Debug, Clone, Copy)]
pub struct QueryRules {
    allowed: &'static [&'static str],
    max_value_bytes: usize,
    max_params: usize,
}

impl QueryRules {
    /// Only the parameters in `allowed` (an empty list: no query parameters at all),
    /// values up to [`DEFAULT_MAX_VALUE_BYTES`], at most [`DEFAULT_MAX_PARAMS`].
    pub const fn new(allowed: &'static [&'static str]) -> Self {
        Self {
            allowed,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            max_params: DEFAULT_MAX_PARAMS,
        }
    }

    /// Another cap on each decoded value.
    pub const fn with_max_value_bytes(mut self, max: usize) -> Self {
        self.max_value_bytes = max;
        self
    }

    /// Another cap on the number of parameters.
    pub const fn with_max_params(mut self, max: usize) -> Self {
        self.max_params = max;
        self
    }
}

/// The pointer of query parameter `name`: `/query/<name>` (`~` and `/` escaped as in
/// RFC 6901).
pub fn query_pointer(name: &str) -> String {
    format!("/query/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// The validated parameters of one request, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(BTreeMap<String, String>);

impl QueryParams {
    /// Parses `query` (the part after `?`, `None` when there is none) under `rules`.
    /// `+` decodes to a space, as in HTML forms. Empty segments (`a=1&&b=2`) are
    /// ignored; `flag` without `=` has the empty value.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] listing, per parameter: `unknown_parameter`,
    /// `duplicate_parameter`, `too_long`, `invalid_encoding`; or a single
    /// `too_many_parameters` at `/query`.
    pub fn parse(query: Option<&str>, rules: &QueryRules) -> Result<Self, ApiError> {
        let mut map = BTreeMap::new();
        let mut errors: Vec<FieldError> = Vec::new();
        let segments: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .collect();
        if segments.len() > rules.max_params {
            return Err(ApiError::validation(vec![FieldError::new(
                "/query",
                "too_many_parameters",
                format!(
                    "At most {} query parameters are accepted.",
                    rules.max_params
                ),
            )]));
        }
        let report = |error: FieldError, errors: &mut Vec<FieldError>| {
            if !errors.iter().any(|e| e.pointer == error.pointer) {
                errors.push(error);
            }
        };
        for segment in segments {
            let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
            let Some(name) = decode_component(raw_name).filter(|n| n.len() <= MAX_NAME_BYTES)
            else {
                report(
                    FieldError::new(
                        "/query",
                        "invalid_parameter_name",
                        "A query parameter name is not valid percent-encoded UTF-8 of at most 64 bytes.",
                    ),
                    &mut errors,
                );
                continue;
            };
            let pointer = query_pointer(&name);
            if !rules.allowed.contains(&name.as_str()) {
                let message = if rules.allowed.is_empty() {
                    "This resource accepts no query parameters.".to_owned()
                } else {
                    format!("Unknown parameter; accepted: {}.", rules.allowed.join(", "))
                };
                report(
                    FieldError::new(pointer, "unknown_parameter", message),
                    &mut errors,
                );
                continue;
            }
            if map.contains_key(&name) {
                report(
                    FieldError::new(
                        pointer,
                        "duplicate_parameter",
                        "The parameter appears more than once.",
                    ),
                    &mut errors,
                );
                continue;
            }
            let Some(value) = decode_component(raw_value) else {
                report(
                    FieldError::new(
                        pointer,
                        "invalid_encoding",
                        "The value is not valid percent-encoded UTF-8.",
                    ),
                    &mut errors,
                );
                continue;
            };
            if value.len() > rules.max_value_bytes {
                report(
                    FieldError::new(
                        pointer,
                        "too_long",
                        format!("The value may be at most {} bytes.", rules.max_value_bytes),
                    ),
                    &mut errors,
                );
                continue;
            }
            map.insert(name, value);
        }
        if errors.is_empty() {
            Ok(Self(map))
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// Parses the query of `uri`.
    ///
    /// # Errors
    /// As [`QueryParams::parse`].
    pub fn from_uri(uri: &http::Uri, rules: &QueryRules) -> Result<Self, ApiError> {
        Self::parse(uri.query(), rules)
    }

    /// The decoded value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Converts parameter `name` with `convert` (e.g. `|v| v.parse().ok()`): `Ok(None)`
    /// when absent, a field error (`invalid_value`, "must be {expected}") when
    /// `convert` refuses it. Collect several of these and answer
    /// [`ApiError::validation`] with all the errors.
    ///
    /// # Errors
    /// The field error at `/query/<name>`.
    pub fn parse_with<T>(
        &self,
        name: &str,
        convert: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => convert(value).map(Some).ok_or_else(|| {
                FieldError::new(
                    query_pointer(name),
                    "invalid_value",
                    format!("Must be {expected}."),
                )
            }),
        }
    }

    /// The parameters as `(name, value)` pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Is there no parameter?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a
/// byte; `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let high = hex_value(*bytes.get(i + 1)?)?;
                let low = hex_value(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::percent_encode;
    use proptest::prelude::*;

    const RULES: QueryRules = QueryRules::new(&["limit", "cursor", "sort", "q"]);

    fn errors(result: Result<QueryParams, ApiError>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::BadRequest { errors, .. }) => {
                errors.into_iter().map(|e| (e.pointer, e.code)).collect()
            }
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn known_parameters_are_decoded() {
        let params = QueryParams::parse(Some("q=red+shoes%21&limit=5&&cursor="), &RULES).unwrap();
        assert_eq!(params.get("q"), Some("red shoes!"));
        assert_eq!(params.get("limit"), Some("5"));
        assert_eq!(params.get("cursor"), Some(""));
        assert_eq!(params.get("sort"), None);
        assert_eq!(params.iter().count(), 3);
        assert!(QueryParams::parse(None, &RULES).unwrap().is_empty());
    }

    #[test]
    fn every_problem_is_reported_per_parameter() {
        let long = "x".repeat(DEFAULT_MAX_VALUE_BYTES + 1);
        let query = format!("limit=1&limit=2&admin=true&q={long}&sort=%ZZ&sort=a");
        assert_eq!(
            errors(QueryParams::parse(Some(&query), &RULES)),
            vec![
                ("/query/limit".to_owned(), "duplicate_parameter".to_owned()),
                ("/query/admin".to_owned(), "unknown_parameter".to_owned()),
                ("/query/q".to_owned(), "too_long".to_owned()),
                ("/query/sort".to_owned(), "invalid_encoding".to_owned()),
            ]
        );
    }

    #[test]
    fn duplicates_are_refused_even_when_encoded_differently() {
        assert_eq!(
            errors(QueryParams::parse(Some("sort=a&%73ort=b"), &RULES)),
            vec![("/query/sort".to_owned(), "duplicate_parameter".to_owned())]
        );
    }

    #[test]
    fn a_route_without_parameters_refuses_any() {
        const NONE: QueryRules = QueryRules::new(&[]);
        assert_eq!(
            errors(QueryParams::parse(Some("x=1"), &NONE)),
            vec![("/query/x".to_owned(), "unknown_parameter".to_owned())]
        );
    }

    #[test]
    fn too_many_parameters_or_a_bad_name_are_refused() {
        let rules = RULES.with_max_params(2);
        assert_eq!(
            errors(QueryParams::parse(Some("a&b&c"), &rules)),
            vec![("/query".to_owned(), "too_many_parameters".to_owned())]
        );
        assert_eq!(
            errors(QueryParams::parse(Some("%FF=1"), &RULES)),
            vec![("/query".to_owned(), "invalid_parameter_name".to_owned())]
        );
    }

    #[test]
    fn a_smaller_value_cap_applies() {
        let rules = RULES.with_max_value_bytes(3);
        assert!(QueryParams::parse(Some("q=abc"), &rules).is_ok());
        assert_eq!(
            errors(QueryParams::parse(Some("q=abcd"), &rules)),
            vec![("/query/q".to_owned(), "too_long".to_owned())]
        );
    }

    #[test]
    fn typed_values_give_field_errors() {
        let params = QueryParams::parse(Some("limit=ten"), &RULES).unwrap();
        let error = params
            .parse_with(
                "limit",
                |v| v.parse::<u32>().ok(),
                "an integer from 1 to 100",
            )
            .unwrap_err();
        assert_eq!(error.pointer, "/query/limit");
        assert_eq!(error.code, "invalid_value");
        assert_eq!(
            params.parse_with("sort", |v| Some(v.to_owned()), "x"),
            Ok(None)
        );
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        assert_eq!(query_pointer("a/b~c"), "/query/a~1b~0c");
    }

    proptest! {
        #[test]
        fn encoded_values_round_trip(value in "\\PC{0,100}") {
            let query = format!("q={}", percent_encode(&value));
            let params = QueryParams::parse(Some(&query), &RULES).unwrap();
            prop_assert_eq!(params.get("q"), Some(value.as_str()));
        }

        #[test]
        fn arbitrary_queries_never_panic(query in "[ -~]{0,200}") {
            let _ = QueryParams::parse(Some(&query), &RULES);
        }
    }
}
