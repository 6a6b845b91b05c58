//! `sort=` and `fields=` query parameters, read against an allow-list.
//!
//! docs/standards.md §4 and §13: sort and filter fields come from allow-lists. The caller
//! names a closed set of fields as an enum that implements [`AllowListed`], and the
//! parsers return values of that enum, never the client's text. A repository then
//! maps each variant to a column with a `match`, so no byte of `sort=` or `fields=`
//! can reach SQL.
//!
//! ```
//! use domain::{AllowListed, SortDirection, SortSpec};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//! enum ProductSort { CreatedAt, Price, Name }
//!
//! impl AllowListed for ProductSort {
//!     const ALL: &'static [Self] = &[Self::CreatedAt, Self::Price, Self::Name];
//!     fn name(self) -> &'static str {
//!         match self {
//!             Self::CreatedAt => "created_at",
//!             Self::Price => "price",
//!             Self::Name => "name",
//!         }
//!     }
//! }
//!
//! let sort = SortSpec::<ProductSort>::parse("-created_at,price")?;
//! let keys: Vec<_> = sort.keys().iter().map(|k| (k.field, k.direction)).collect();
//! assert_eq!(keys, [
//!     (ProductSort::CreatedAt, SortDirection::Descending),
//!     (ProductSort::Price, SortDirection::Ascending),
//! ]);
//! assert!(SortSpec::<ProductSort>::parse("password_hash").is_err());
//! # Ok::<(), domain::SortError>(())
//! ```

use std::fmt;

use thiserror::Error;

use crate::ValidationError;

/// A closed set of names a client may use in `sort=` or `fields=`.
pub trait AllowListed: Copy + Eq + 'static {
    /// Every allowed value; its order is the order of [`FieldSelection::all`].
    const ALL: &'static [Self];

    /// The value's name on the wire (exact, case-sensitive).
    fn name(self) -> &'static str;

    /// The value named `name`, if it is on the list.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.name() == name)
    }

    /// The allowed names joined by `", "`, for error messages.
    fn allowed_names() -> String {
        Self::ALL
            .iter()
            .map(|value| value.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which way a sort key orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    /// Smallest first (`price`).
    Ascending,
    /// Largest first (`-price`).
    Descending,
}

/// One field to sort by and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey<F> {
    /// The field, from the allow-list.
    pub field: F,
    /// Its direction.
    pub direction: SortDirection,
}

/// A non-empty list of sort keys, each field at most once, in the order the client
/// gave them (first key sorts first).
///
/// The syntax is JSON:API's: `sort=-created_at,price`, a leading `-` for descending.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortSpec<F> {
    keys: Vec<SortKey<F>>,
}

/// Why a `sort=` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SortError {
    /// `sort=` with nothing after it.
    #[error("sort must name at least one field")]
    Empty,
    /// An empty entry: `a,,b`, a trailing comma, or a lone `-`.
    #[error("sort must be a comma-separated list of field names, each optionally preceded by -")]
    EmptyField,
    /// A field not on the allow-list (the client's text is not echoed).
    #[error("sort fields must be among: {allowed}")]
    UnknownField {
        /// The allowed names.
        allowed: String,
    },
    /// The same field twice (`price,-price`).
    #[error("sort names {field} more than once")]
    Duplicate {
        /// The repeated field's allow-listed name.
        field: &'static str,
    },
}

impl ValidationError for SortError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::EmptyField => "empty_field",
            Self::UnknownField { .. } => "unknown_field",
            Self::Duplicate { .. } => "duplicate_field",
        }
    }
}

impl<F: AllowListed> SortSpec<F> {
    /// Sorts by one field.
    pub fn by(field: F, direction: SortDirection) -> Self {
        Self {
            keys: vec![SortKey { field, direction }],
        }
    }

    /// Parses `-created_at,price` against `F`'s allow-list.
    pub fn parse(input: &str) -> Result<Self, SortError> {
        if input.is_empty() {
            return Err(SortError::Empty);
        }
        let mut keys: Vec<SortKey<F>> = Vec::new();
        for entry in input.split(',') {
            let (name, direction) = match entry.strip_prefix('-') {
                Some(name) => (name, SortDirection::Descending),
                None => (entry, SortDirection::Ascending),
            };
            if name.is_empty() {
                return Err(SortError::EmptyField);
            }
            let field = F::from_name(name).ok_or_else(|| SortError::UnknownField {
                allowed: F::allowed_names(),
            })?;
            if keys.iter().any(|key| key.field == field) {
                return Err(SortError::Duplicate {
                    field: field.name(),
                });
            }
            keys.push(SortKey { field, direction });
        }
        Ok(Self { keys })
    }

    /// The `sort` query parameter, or `default` when it is absent.
    pub fn from_query(value: Option<&str>, default: Self) -> Result<Self, SortError> {
        value.map_or(Ok(default), Self::parse)
    }

    /// The keys, most significant first; never empty.
    pub fn keys(&self) -> &[SortKey<F>] {
        &self.keys
    }

    /// The most significant key.
    pub fn primary(&self) -> Option<&SortKey<F>> {
        self.keys.first()
    }
}

impl<F: AllowListed> fmt::Display for SortSpec<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if key.direction == SortDirection::Descending {
                f.write_str("-")?;
            }
            f.write_str(key.field.name())?;
        }
        Ok(())
    }
}

/// A non-empty set of fields a client asked for with `fields=id,name,price`, in the
/// order given, each at most once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldSelection<F> {
    fields: Vec<F>,
}

/// Why a `fields=` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldSelectionError {
    /// `fields=` with nothing after it.
    #[error("fields must name at least one field")]
    Empty,
    /// An empty entry: `a,,b` or a trailing comma.
    #[error("fields must be a comma-separated list of field names")]
    EmptyField,
    /// A field not on the allow-list (the client's text is not echoed).
    #[error("fields must be among: {allowed}")]
    UnknownField {
        /// The allowed names.
        allowed: String,
    },
    /// The same field twice.
    #[error("fields names {field} more than once")]
    Duplicate {
        /// The repeated field's allow-listed name.
        field: &'static str,
    },
}

impl ValidationError for FieldSelectionError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::EmptyField => "empty_field",
            Self::UnknownField { .. } => "unknown_field",
            Self::Duplicate { .. } => "duplicate_field",
        }
    }
}

impl<F: AllowListed> FieldSelection<F> {
    /// Every allowed field: what a response holds when `fields=` is absent.
    pub fn all() -> Self {
        Self {
            fields: F::ALL.to_vec(),
        }
    }

    /// Parses `id,name,price` against `F`'s allow-list.
    pub fn parse(input: &str) -> Result<Self, FieldSelectionError> {
        if input.is_empty() {
            return Err(FieldSelectionError::Empty);
        }
        let mut fields: Vec<F> = Vec::new();
        for name in input.split(',') {
            if name.is_empty() {
                return Err(FieldSelectionError::EmptyField);
            }
            let field = F::from_name(name).ok_or_else(|| FieldSelectionError::UnknownField {
                allowed: F::allowed_names(),
            })?;
            if fields.contains(&field) {
                return Err(FieldSelectionError::Duplicate {
                    field: field.name(),
                });
            }
            fields.push(field);
        }
        Ok(Self { fields })
    }

    /// The `fields` query parameter, or [`FieldSelection::all`] when it is absent.
    pub fn from_query(value: Option<&str>) -> Result<Self, FieldSelectionError> {
        value.map_or_else(|| Ok(Self::all()), Self::parse)
    }

    /// Whether `field` was asked for.
    pub fn contains(&self, field: F) -> bool {
        self.fields.contains(&field)
    }

    /// The fields in the order given; never empty.
    pub fn fields(&self) -> &[F] {
        &self.fields
    }
}

impl<F: AllowListed> fmt::Display for FieldSelection<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(field.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Field {
        Id,
        CreatedAt,
        Price,
        Name,
    }

    impl AllowListed for Field {
        const ALL: &'static [Self] = &[Self::Id, Self::CreatedAt, Self::Price, Self::Name];

        fn name(self) -> &'static str {
            match self {
                Self::Id => "id",
                Self::CreatedAt => "created_at",
                Self::Price => "price",
                Self::Name => "name",
            }
        }
    }

    use Field::{CreatedAt, Id, Name, Price};
    use SortDirection::{Ascending, Descending};

    #[test]
    fn parses_sort_keys_in_order() -> Result<(), SortError> {
        let sort = SortSpec::<Field>::parse("-created_at,price")?;
        assert_eq!(
            sort.keys(),
            [
                SortKey {
                    field: CreatedAt,
                    direction: Descending
                },
                SortKey {
                    field: Price,
                    direction: Ascending
                },
            ]
        );
        assert_eq!(sort.primary().map(|k| k.field), Some(CreatedAt));
        assert_eq!(sort.to_string(), "-created_at,price");
        Ok(())
    }

    #[test]
    fn absent_sort_means_the_default() {
        let default = SortSpec::by(CreatedAt, Descending);
        assert_eq!(
            SortSpec::from_query(None, default.clone()),
            Ok(default.clone())
        );
        assert_eq!(
            SortSpec::<Field>::from_query(Some(""), default),
            Err(SortError::Empty)
        );
    }

    #[test]
    fn rejects_bad_sorts_naming_the_rule() {
        let unknown = SortError::UnknownField {
            allowed: "id, created_at, price, name".to_owned(),
        };
        let cases: &[(&str, SortError, &str)] = &[
            ("", SortError::Empty, "sort= with no value"),
            ("-", SortError::EmptyField, "a lone minus"),
            ("price,", SortError::EmptyField, "trailing comma"),
            (",price", SortError::EmptyField, "leading comma"),
            ("price,,name", SortError::EmptyField, "empty entry"),
            ("password_hash", unknown.clone(), "not on the list"),
            ("Price", unknown.clone(), "names are case-sensitive"),
            (" price", unknown.clone(), "leading space (a decoded +)"),
            ("+price", unknown.clone(), "plus is not a direction"),
            ("--price", unknown.clone(), "double minus"),
            ("price desc", unknown.clone(), "SQL direction syntax"),
            (
                "price;DROP TABLE products",
                unknown.clone(),
                "SQL injection",
            ),
            ("(SELECT 1)", unknown, "subquery"),
            (
                "price,-price",
                SortError::Duplicate { field: "price" },
                "same field both ways",
            ),
            (
                "name,id,name",
                SortError::Duplicate { field: "name" },
                "same field twice",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(
                SortSpec::<Field>::parse(input).as_ref(),
                Err(expected),
                "{reason}: {input:?}"
            );
        }
    }

    #[test]
    fn unknown_field_errors_list_the_allowed_names_not_the_input() {
        let message = SortSpec::<Field>::parse("<script>")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("sort fields must be among: id, created_at, price, name")
        );
    }

    #[test]
    fn parses_field_selections() -> Result<(), FieldSelectionError> {
        let selection = FieldSelection::<Field>::parse("name,id")?;
        assert_eq!(selection.fields(), [Name, Id]);
        assert!(selection.contains(Id) && !selection.contains(Price));
        assert_eq!(selection.to_string(), "name,id");
        assert_eq!(
            FieldSelection::<Field>::from_query(None)?.fields(),
            Field::ALL
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_field_selections_naming_the_rule() {
        let unknown = FieldSelectionError::UnknownField {
            allowed: "id, created_at, price, name".to_owned(),
        };
        let cases: &[(&str, FieldSelectionError, &str)] = &[
            ("", FieldSelectionError::Empty, "fields= with no value"),
            ("id,", FieldSelectionError::EmptyField, "trailing comma"),
            ("id,,name", FieldSelectionError::EmptyField, "empty entry"),
            ("password_hash", unknown.clone(), "a secret column"),
            ("*", unknown.clone(), "wildcard"),
            ("-id", unknown.clone(), "a sort direction"),
            ("ID", unknown, "case-sensitive"),
            (
                "id,id",
                FieldSelectionError::Duplicate { field: "id" },
                "twice",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(
                FieldSelection::<Field>::parse(input).as_ref(),
                Err(expected),
                "{reason}: {input:?}"
            );
        }
    }

    fn sort_key() -> impl Strategy<Value = SortKey<Field>> {
        (0..Field::ALL.len(), any::<bool>()).prop_map(|(i, desc)| SortKey {
            field: Field::ALL[i],
            direction: if desc { Descending } else { Ascending },
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in any::<String>()) {
            let _ = SortSpec::<Field>::parse(&input);
            let _ = FieldSelection::<Field>::parse(&input);
        }

        #[test]
        fn parsers_never_panic_on_near_misses(input in "[-,a-z_ ]{0,40}") {
            let _ = SortSpec::<Field>::parse(&input);
            let _ = FieldSelection::<Field>::parse(&input);
        }

        #[test]
        fn sort_display_round_trips(keys in proptest::collection::vec(sort_key(), 1..=4)) {
            let mut unique: Vec<SortKey<Field>> = Vec::new();
            for key in keys {
                if !unique.iter().any(|k| k.field == key.field) {
                    unique.push(key);
                }
            }
            let sort = SortSpec { keys: unique };
            prop_assert_eq!(SortSpec::parse(&sort.to_string()), Ok(sort));
        }

        #[test]
        fn selection_display_round_trips(picks in proptest::collection::vec(0..4usize, 1..=4)) {
            let mut fields: Vec<Field> = Vec::new();
            for i in picks {
                if !fields.contains(&Field::ALL[i]) {
                    fields.push(Field::ALL[i]);
                }
            }
            let selection = FieldSelection { fields };
            prop_assert_eq!(FieldSelection::parse(&selection.to_string()), Ok(selection));
        }
    }
}
