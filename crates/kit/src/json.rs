//! Strict JSON request bodies (docs/standards.md §4, §5-7): one parser for every component.
//!
//! [`parse_body`] reads a body into a [`serde_json::Value`] and checks it against a
//! [`Schema`] before any domain parsing runs:
//!
//! - not JSON, or trailing data → 400 "The body is not valid JSON.";
//! - an object naming a member twice, at any depth → 400 with a `duplicate_member` error
//!   (`serde_json` keeps the last one silently, so two parsers of one document could
//!   disagree about what it says);
//! - a member the schema does not list → `unknown_field` at its JSON pointer (OWASP API3:
//!   `roles`, `id`, `version` cannot be smuggled in);
//! - a missing required member, or `null` for one → `required`;
//! - a value of the wrong JSON type (`null` for an optional member that is not nullable
//!   included) → `invalid_type`; an array longer than allowed →
//!   `too_many_items`.
//!
//! Every problem is reported at once, each with its RFC 6901 pointer, so a client fixes
//! its body in one round trip. The checked [`Value`] then deserialises into the
//! component's input struct without surprises, and the domain parsers add their own
//! per-field errors.

use std::fmt;

use edge_http::{ApiError, FieldError};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The JSON type a member must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// A whole number within 64-bit range (`1`, never `1.0`).
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An object with these members.
    Object(&'static Schema),
    /// An array of at most `max_items` items of one kind.
    Array {
        /// What every item must be.
        items: &'static Kind,
        /// The longest array accepted.
        max_items: usize,
    },
    /// Any JSON value (the component checks it).
    Any,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Boolean => "a boolean",
            Self::Object(_) => "an object",
            Self::Array { .. } => "an array",
            Self::Any => "a JSON value",
        }
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Object(_) => value.is_object(),
            Self::Array { .. } => value.is_array(),
            Self::Any => true,
        }
    }
}

/// One member of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The member's name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Must it be present?
    pub required: bool,
    /// May it be `null` (meaning "none" or, in a merge patch, "remove")?
    pub nullable: bool,
}

impl Member {
    /// A member that must be present and not `null`.
    pub const fn required(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            required: true,
            nullable: false,
        }
    }

    /// A member that may be absent but not `null`.
    pub const fn optional(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            required: false,
            nullable: false,
        }
    }

    /// A member that may be absent or `null`.
    pub const fn nullable(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            required: false,
            nullable: true,
        }
    }
}

/// The members an object may have; nothing else is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// Every member the object may carry.
    pub members: &'static [Member],
}

impl Schema {
    /// A schema of `members`.
    pub const fn new(members: &'static [Member]) -> Self {
        Self { members }
    }

    /// Checks a JSON merge patch (RFC 7396) against the schema: any subset of the members,
    /// at every depth (a nested object is itself a patch), `null` only where allowed (it
    /// removes the member); arrays are replaced whole, so their items are checked whole.
    ///
    /// # Errors
    /// Every problem found.
    pub fn check_patch(&self, value: &Value) -> Result<(), Vec<FieldError>> {
        check_root(value, self, false)
    }

    /// Checks `value` against the schema, every problem with its pointer.
    ///
    /// # Errors
    /// Every problem found.
    pub fn check(&self, value: &Value) -> Result<(), Vec<FieldError>> {
        check_root(value, self, true)
    }
}

fn check_root(
    value: &Value,
    schema: &Schema,
    enforce_required: bool,
) -> Result<(), Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "the body must be a JSON object",
        )]);
    };
    let mut errors = Vec::new();
    check_object(object, schema, "", enforce_required, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The longest member name echoed in a pointer (a huge name does not travel back whole).
const MAX_ECHOED_NAME: usize = 64;

/// RFC 6901 escaping of one reference token.
fn pointer_token(name: &str) -> String {
    name.chars()
        .take(MAX_ECHOED_NAME)
        .collect::<String>()
        .replace('~', "~0")
        .replace('/', "~1")
}

fn check_object(
    object: &Map<String, Value>,
    schema: &Schema,
    prefix: &str,
    enforce_required: bool,
    errors: &mut Vec<FieldError>,
) {
    for name in object.keys() {
        if !schema.members.iter().any(|m| m.name == name) {
            let allowed: Vec<&str> = schema.members.iter().map(|m| m.name).collect();
            errors.push(FieldError::new(
                format!("{prefix}/{}", pointer_token(name)),
                "unknown_field",
                format!("unknown member; allowed: {}", allowed.join(", ")),
            ));
        }
    }
    for member in schema.members {
        let pointer = format!("{prefix}/{}", pointer_token(member.name));
        match object.get(member.name) {
            None if member.required && enforce_required => errors.push(FieldError::new(
                pointer,
                "required",
                "this member is required",
            )),
            None => {}
            Some(Value::Null) if member.nullable => {}
            Some(Value::Null) if member.required => errors.push(FieldError::new(
                pointer,
                "required",
                "this member is required and may not be null",
            )),
            Some(value) => check_value(value, member.kind, &pointer, enforce_required, errors),
        }
    }
}

fn check_value(
    value: &Value,
    kind: Kind,
    pointer: &str,
    enforce_required: bool,
    errors: &mut Vec<FieldError>,
) {
    if !kind.admits(value) {
        let message = if value.is_number() && kind == Kind::Integer {
            "must be a whole number within 64-bit range".to_owned()
        } else {
            format!("must be {}", kind.name())
        };
        errors.push(FieldError::new(pointer, "invalid_type", message));
        return;
    }
    match (kind, value) {
        (Kind::Object(schema), Value::Object(object)) => {
            check_object(object, schema, pointer, enforce_required, errors);
        }
        (Kind::Array { items, max_items }, Value::Array(values)) => {
            if values.len() > max_items {
                errors.push(FieldError::new(
                    pointer,
                    "too_many_items",
                    format!("at most {max_items} items"),
                ));
                return;
            }
            for (index, item) in values.iter().enumerate() {
                // An array is replaced whole, even by a merge patch: its items are complete.
                check_value(item, *items, &format!("{pointer}/{index}"), true, errors);
            }
        }
        _ => {}
    }
}

/// Why a body is not acceptable JSON, before any schema is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (or trailing data).
    Syntax,
    /// An object names a member twice; the member's name is not echoed.
    DuplicateMember,
}

impl From<JsonError> for ApiError {
    fn from(error: JsonError) -> Self {
        match error {
            JsonError::Syntax => ApiError::bad_request("The body is not valid JSON."),
            JsonError::DuplicateMember => ApiError::validation(vec![FieldError::new(
                "",
                "duplicate_member",
                "an object in the body names a member more than once",
            )]),
        }
    }
}

/// Parses `bytes` as one JSON value, refusing duplicate members at any depth.
///
/// # Errors
/// [`JsonError`] as above.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict::deserialize(&mut deserializer).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            JsonError::DuplicateMember
        } else {
            JsonError::Syntax
        }
    })?;
    deserializer.end().map_err(|_| JsonError::Syntax)?;
    Ok(value.0)
}

/// Parses a request body strictly and checks it against `schema` (every member of the
/// schema that is `required` must be present).
///
/// # Errors
/// 400 as described in the module documentation.
pub fn parse_body(bytes: &[u8], schema: &Schema) -> Result<Value, ApiError> {
    let value = parse_strict(bytes)?;
    schema.check(&value).map_err(ApiError::validation)?;
    Ok(value)
}

/// A body that is well-formed JSON without duplicate members, with the schema's findings
/// kept aside so that the component can add its domain errors and report every bad field
/// in one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The document.
    pub value: Value,
    /// Shape problems (unknown members, missing members, wrong types), each at its pointer.
    pub errors: Vec<FieldError>,
}

impl Checked {
    /// Whether the member at the top level has no shape problem (so its value may be parsed
    /// into its domain type).
    pub fn is_sound(&self, member: &str) -> bool {
        let pointer = format!("/{}", pointer_token(member));
        !self
            .errors
            .iter()
            .any(|e| e.pointer == pointer || e.pointer.starts_with(&format!("{pointer}/")))
    }

    /// `Ok(value)` when neither the schema nor the component found a problem, else 400
    /// with every problem (shape first, then `more`).
    ///
    /// # Errors
    /// 400 with the collected field errors.
    pub fn finish(mut self, more: Vec<FieldError>) -> Result<Value, ApiError> {
        self.errors.extend(more);
        if self.errors.is_empty() {
            Ok(self.value)
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// Parses a request body strictly and checks it against `schema` like [`parse_body`], but
/// returns the shape problems with the document instead of failing on them; syntax errors
/// and duplicate members still fail at once (there is no trustworthy document then).
///
/// # Errors
/// 400 for a body that is not JSON or names a member twice.
pub fn parse_body_collecting(bytes: &[u8], schema: &Schema) -> Result<Checked, ApiError> {
    let value = parse_strict(bytes)?;
    let errors = schema.check(&value).err().unwrap_or_default();
    Ok(Checked { value, errors })
}

/// [`parse_body_collecting`] for a JSON merge patch (RFC 7396): any subset of the members.
///
/// # Errors
/// 400 for a body that is not JSON or names a member twice.
pub fn parse_patch_collecting(bytes: &[u8], schema: &Schema) -> Result<Checked, ApiError> {
    let value = parse_strict(bytes)?;
    let errors = schema.check_patch(&value).err().unwrap_or_default();
    Ok(Checked { value, errors })
}

/// Parses a JSON merge-patch body (RFC 7396) strictly: any subset of the schema's members,
/// `null` only where the member is nullable, nested objects checked whole.
///
/// # Errors
/// 400 as described in the module documentation.
pub fn parse_patch(bytes: &[u8], schema: &Schema) -> Result<Value, ApiError> {
    let value = parse_strict(bytes)?;
    schema.check_patch(&value).map_err(ApiError::validation)?;
    Ok(value)
}

/// Deserialises a checked value into the component's input type. After [`parse_body`]
/// this cannot fail on shape; a failure is reported as one body-level error rather than
/// a 500.
///
/// # Errors
/// 400 `invalid_document`.
pub fn into_input<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|_| {
        ApiError::validation(vec![FieldError::new(
            "",
            "invalid_document",
            "the body does not match the expected schema",
        )])
    })
}

const DUPLICATE: &str = "duplicate member";

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if members.insert(key, value).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static PRICE: Schema = Schema::new(&[
        Member::required("amount_minor", Kind::Integer),
        Member::required("currency", Kind::String),
    ]);
    static LINE: Schema = Schema::new(&[
        Member::required("product_id", Kind::String),
        Member::required("quantity", Kind::Integer),
    ]);
    static LINE_KIND: Kind = Kind::Object(&LINE);
    static BODY: Schema = Schema::new(&[
        Member::required("name", Kind::String),
        Member::nullable("description", Kind::String),
        Member::optional("price", Kind::Object(&PRICE)),
        Member::optional(
            "items",
            Kind::Array {
                items: &LINE_KIND,
                max_items: 2,
            },
        ),
        Member::optional("flag", Kind::Boolean),
    ]);

    fn pointers(error: ApiError) -> Vec<(String, String)> {
        let ApiError::BadRequest { errors, .. } = error else {
            panic!("not a 400: {error:?}")
        };
        errors.into_iter().map(|e| (e.pointer, e.code)).collect()
    }

    #[test]
    fn parses_ordinary_documents() {
        assert_eq!(
            parse_strict(br#"{"a":[1,-2,1.5,"x",null,true,{"b":{}}]}"#),
            Ok(json!({"a": [1, -2, 1.5, "x", null, true, {"b": {}}]}))
        );
        let body = br#"{"name":"n","description":null,"price":{"amount_minor":1,"currency":"EUR"},"items":[{"product_id":"p","quantity":2}],"flag":true}"#;
        assert!(parse_body(body, &BODY).is_ok());
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth_even_when_spelled_with_escapes() {
        for body in [
            &br#"{"price":1,"price":2}"#[..],
            br#"{"p":{"a":1,"a":1}}"#,
            br#"[{"a":1,"a":2}]"#,
            br#"{"a":1,"\u0061":2}"#,
        ] {
            assert_eq!(parse_strict(body), Err(JsonError::DuplicateMember));
            assert_eq!(
                pointers(parse_body(body, &BODY).unwrap_err()),
                vec![("".to_owned(), "duplicate_member".to_owned())]
            );
        }
    }

    #[test]
    fn refuses_syntax_errors_and_trailing_data() {
        for body in [&b"{"[..], b"{} {}", b"", b"nul"] {
            assert_eq!(parse_strict(body), Err(JsonError::Syntax));
            let error = parse_body(body, &BODY).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn reports_every_shape_problem_at_its_pointer() {
        let body = br#"{"description":null,"price":{"amount_minor":1.5,"extra":1},"items":[{"product_id":3}],"flag":"yes","role":"admin"}"#;
        let mut found = pointers(parse_body(body, &BODY).unwrap_err());
        found.sort();
        let mut expected: Vec<(String, String)> = [
            ("/role", "unknown_field"),
            ("/name", "required"),
            ("/price/extra", "unknown_field"),
            ("/price/amount_minor", "invalid_type"),
            ("/price/currency", "required"),
            ("/items/0/product_id", "invalid_type"),
            ("/items/0/quantity", "required"),
            ("/flag", "invalid_type"),
        ]
        .iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect();
        expected.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn null_is_refused_where_not_nullable_and_arrays_are_bounded() {
        let found =
            pointers(parse_body(br#"{"name":null,"items":[{},{},{}]}"#, &BODY).unwrap_err());
        assert_eq!(
            found,
            vec![
                ("/name".to_owned(), "required".to_owned()),
                ("/items".to_owned(), "too_many_items".to_owned()),
            ]
        );
    }

    #[test]
    fn a_non_object_body_is_refused() {
        for body in [&b"[]"[..], b"1", b"\"x\"", b"null"] {
            assert_eq!(
                pointers(parse_body(body, &BODY).unwrap_err()),
                vec![("".to_owned(), "invalid_type".to_owned())]
            );
        }
    }

    #[test]
    fn a_patch_may_name_any_subset_but_nothing_unknown() {
        assert!(parse_patch(br#"{"description":null}"#, &BODY).is_ok());
        assert!(parse_patch(br#"{}"#, &BODY).is_ok());
        assert_eq!(
            pointers(parse_patch(br#"{"name":null,"x":1}"#, &BODY).unwrap_err()),
            vec![
                ("/x".to_owned(), "unknown_field".to_owned()),
                ("/name".to_owned(), "required".to_owned()),
            ]
        );
        // A nested object in a patch is itself a patch; array items are whole.
        assert!(parse_patch(br#"{"price":{"currency":"EUR"}}"#, &BODY).is_ok());
        assert_eq!(
            pointers(parse_patch(br#"{"items":[{"quantity":1}]}"#, &BODY).unwrap_err()),
            vec![("/items/0/product_id".to_owned(), "required".to_owned())]
        );
    }

    #[test]
    fn long_member_names_are_cut_in_pointers_and_escaped() {
        let name = "a/b~".to_owned() + &"x".repeat(200);
        let body = format!(r#"{{"name":"n","{name}":1}}"#);
        let found = pointers(parse_body(body.as_bytes(), &BODY).unwrap_err());
        assert_eq!(found.len(), 1);
        assert!(found[0].0.starts_with("/a~1b~0"));
        assert!(found[0].0.len() < 80);
    }

    #[test]
    fn collecting_keeps_the_document_and_its_shape_problems_for_domain_checks() {
        let checked =
            parse_body_collecting(br#"{"name":"n","flag":"x","price":{"currency":1}}"#, &BODY)
                .unwrap();
        assert!(checked.is_sound("name"));
        assert!(!checked.is_sound("flag"));
        assert!(!checked.is_sound("price"));
        let more = vec![FieldError::new("/name", "too_short", "short")];
        let found = pointers(checked.finish(more).unwrap_err());
        assert_eq!(
            found.last(),
            Some(&("/name".to_owned(), "too_short".to_owned()))
        );
        assert!(parse_body_collecting(br#"{"a":1,"a":2}"#, &BODY).is_err());
        let clean = parse_body_collecting(br#"{"name":"n"}"#, &BODY).unwrap();
        assert_eq!(clean.finish(Vec::new()).unwrap(), json!({"name": "n"}));
    }
}
