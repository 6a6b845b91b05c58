//! Strict JSON: a body parsed into a [`serde_json::Value`] that refuses duplicate object
//! members (`serde_json` keeps the last one by default, so `{"price":…,"price":…}`
//! would let two parsers of one document disagree).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (or trailing data).
    Syntax,
    /// An object names a member twice; the member's name is not echoed.
    DuplicateMember,
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

    #[test]
    fn parses_ordinary_documents() {
        assert_eq!(
            parse_strict(br#"{"a":[1,-2,1.5,"x",null,true,{"b":{}}]}"#),
            Ok(json!({"a": [1, -2, 1.5, "x", null, true, {"b": {}}]}))
        );
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth() {
        assert_eq!(
            parse_strict(br#"{"price":1,"price":2}"#),
            Err(JsonError::DuplicateMember)
        );
        assert_eq!(
            parse_strict(br#"{"p":{"a":1,"a":1}}"#),
            Err(JsonError::DuplicateMember)
        );
        // Escapes that spell the same name are the same member.
        assert_eq!(
            parse_strict(br#"{"a":1,"\u0061":2}"#),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn refuses_syntax_errors_and_trailing_data() {
        assert_eq!(parse_strict(b"{"), Err(JsonError::Syntax));
        assert_eq!(parse_strict(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(parse_strict(b""), Err(JsonError::Syntax));
    }
}
