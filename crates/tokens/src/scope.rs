//! Scope sets (RFC 6749 §3.3).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Why a scope string was refused. Safe to show to a client (as `invalid_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeError {
    /// The string has no scope token at all (RFC 6749 §3.3 needs at least one).
    Empty,
    /// Two spaces in a row, or a leading or trailing space (tokens are separated by exactly
    /// one `%x20`, RFC 6749 §3.3).
    EmptyToken,
    /// A character outside `%x21 / %x23-5B / %x5D-7E` (no control characters, space, `"`,
    /// `\`, or non-ASCII; RFC 6749 §3.3 `scope-token`).
    InvalidCharacter,
}

impl ScopeError {
    /// A description that can be returned to a client as-is.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Empty => "the scope is empty",
            Self::EmptyToken => "scope tokens must be separated by exactly one space",
            Self::InvalidCharacter => "a scope token contains a character that is not allowed",
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ScopeError {}

/// Whether `b` may appear in a scope token: `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3).
const fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Checks one scope token against RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn check_token(token: &str) -> Result<(), ScopeError> {
    if token.is_empty() {
        return Err(ScopeError::EmptyToken);
    }
    if token.bytes().all(is_scope_char) {
        Ok(())
    } else {
        Err(ScopeError::InvalidCharacter)
    }
}

/// A set of scope tokens (RFC 6749 §3.3): order does not matter and repeats collapse.
///
/// Parsed from and displayed as the space-delimited form used by the `scope` request
/// parameter and the `scope` claim (RFC 9068 §2.2.3, RFC 8693 §4.2). Display is sorted, so
/// equal sets print equally. It (de)serializes as that string; the empty set has no
/// string form under the grammar, so claims omit it instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set (no scope granted).
    pub const fn empty() -> Self {
        Self(BTreeSet::new())
    }

    /// Parses a `scope` value strictly by RFC 6749 §3.3:
    /// `scope = scope-token *( SP scope-token )`, so an empty string, a leading, trailing or
    /// doubled space, tabs, `"`, `\`, control or non-ASCII characters are refused.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        if text.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut set = BTreeSet::new();
        for token in text.split(' ') {
            check_token(token)?;
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a set from individual tokens, each checked against the RFC 6749 §3.3
    /// `scope-token` grammar. An empty iterator gives the empty set.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for token in tokens {
            let token = token.as_ref();
            check_token(token)?;
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `required` is in this set (a route's scopes against a
    /// token's; the empty requirement is always met).
    pub fn contains_all(&self, required: &ScopeSet) -> bool {
        required.0.is_subset(&self.0)
    }

    /// The tokens in both sets (e.g. what was requested ∩ what the client may have).
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The number of distinct tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    /// The RFC 6749 §3.3 form: tokens in sorted order separated by one space (the empty
    /// set displays as the empty string).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(token)?;
        }
        Ok(())
    }
}

impl FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_orderly_scopes_and_displays_sorted() {
        let set = ScopeSet::parse("products:write orders:read products:read admin").unwrap();
        assert_eq!(set.len(), 4);
        assert!(set.contains("orders:read"));
        assert!(!set.contains("orders:write"));
        assert_eq!(
            set.to_string(),
            "admin orders:read products:read products:write"
        );
        assert_eq!("openid".parse::<ScopeSet>().unwrap().to_string(), "openid");
    }

    #[test]
    fn repeated_tokens_collapse() {
        let set = ScopeSet::parse("a b a").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_string(), "a b");
    }

    #[test]
    fn grammar_violations_are_rejected() {
        assert_eq!(ScopeSet::parse(""), Err(ScopeError::Empty));
        for bad in [" a", "a ", "a  b", " "] {
            assert_eq!(ScopeSet::parse(bad), Err(ScopeError::EmptyToken), "{bad:?}");
        }
        for bad in [
            "a\tb",
            "a\"b",
            "a\\b",
            "caf\u{e9}",
            "a\u{7f}",
            "a\nb",
            "a\0",
            "a\rb",
        ] {
            assert_eq!(
                ScopeSet::parse(bad),
                Err(ScopeError::InvalidCharacter),
                "{bad:?}"
            );
        }
        // Every allowed punctuation mark is accepted.
        assert!(ScopeSet::parse("!#$%&'()*+,-./:;<=>?@[]^_`{|}~").is_ok());
    }

    #[test]
    fn contains_all_and_intersection() {
        let held = ScopeSet::parse("products:read products:write").unwrap();
        assert!(held.contains_all(&ScopeSet::parse("products:write").unwrap()));
        assert!(held.contains_all(&ScopeSet::empty()));
        assert!(!held.contains_all(&ScopeSet::parse("products:write admin").unwrap()));
        let allowed = ScopeSet::parse("products:read orders:read").unwrap();
        assert_eq!(held.intersection(&allowed).to_string(), "products:read");
        assert!(ScopeSet::empty().contains_all(&ScopeSet::empty()));
    }

    #[test]
    fn from_tokens_checks_each_token() {
        assert_eq!(
            ScopeSet::from_tokens(["b", "a"]).unwrap().to_string(),
            "a b"
        );
        assert_eq!(
            ScopeSet::from_tokens(["a b"]),
            Err(ScopeError::InvalidCharacter)
        );
        assert_eq!(ScopeSet::from_tokens([""]), Err(ScopeError::EmptyToken));
        assert!(
            ScopeSet::from_tokens(Vec::<String>::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn serde_uses_the_space_delimited_string() {
        let set = ScopeSet::parse("b a").unwrap();
        assert_eq!(serde_json::to_string(&set).unwrap(), r#""a b""#);
        assert_eq!(serde_json::from_str::<ScopeSet>(r#""a b""#).unwrap(), set);
        assert!(serde_json::from_str::<ScopeSet>(r#""a  b""#).is_err());
        assert!(serde_json::from_str::<ScopeSet>(r#"["a"]"#).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_display_round_trips(text in "\\PC{0,40}") {
            if let Ok(set) = ScopeSet::parse(&text) {
                prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
            }
        }

        #[test]
        fn valid_token_lists_always_parse(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 1..6)) {
            let set = ScopeSet::parse(&tokens.join(" ")).unwrap();
            for token in &tokens {
                prop_assert!(set.contains(token));
            }
        }
    }
}
