//! A JSON object reader that refuses duplicate member names.
//!
//! RFC 7515 §5.2 step 4 and RFC 7519 §7.2 step 10 let a JOSE parser either reject
//! duplicate member names or keep only the last one; keeping the last one is how parser
//! differentials happen (`{"alg":"none","alg":"ES256"}` reads differently to different
//! libraries), so every object we read from a token or a key is rejected if a member name
//! repeats.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A top-level JSON object whose member names are unique.
#[derive(Debug)]
pub(crate) struct StrictObject(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with unique member names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if map.insert(name, value).is_some() {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

impl StrictObject {
    /// Parses `bytes` as exactly one JSON object (surrounding whitespace allowed, nothing
    /// else) with unique member names.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_and_rejects_duplicates_and_non_objects() {
        assert!(StrictObject::parse(br#"{"a":1,"b":{"a":2}}"#).is_some());
        assert!(StrictObject::parse(br#" {} "#).is_some());
        assert!(StrictObject::parse(br#"{"alg":"none","alg":"ES256"}"#).is_none());
        assert!(StrictObject::parse(br#"[]"#).is_none());
        assert!(StrictObject::parse(br#""x""#).is_none());
        assert!(StrictObject::parse(br#"{} {}"#).is_none());
        assert!(StrictObject::parse(br#"{"a":1,}"#).is_none());
        assert!(StrictObject::parse(b"{\"a\":\"\xff\"}").is_none());
    }
}
