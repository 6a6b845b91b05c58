//! Hypermedia links (docs/standards.md §9-10, HAL style) and query-string building.
//!
//! Every resource carries `_links` with `self` and the actions the caller may take;
//! collections carry `self`, `next` and `prev` where they exist:
//!
//! ```
//! use edge_http::links::{Links, QueryString};
//!
//! let query = QueryString::new().with("sort", "-created_at").with("status", "in stock");
//! let links = Links::new()
//!     .with("self", query.href("/api/v1/products"))
//!     .with("next", query.clone().with("cursor", "abc.def").href("/api/v1/products"));
//! assert_eq!(
//!     serde_json::to_value(&links).unwrap(),
//!     serde_json::json!({
//!         "self": {"href": "/api/v1/products?sort=-created_at&status=in%20stock"},
//!         "next": {"href": "/api/v1/products?sort=-created_at&status=in%20stock&cursor=abc.def"}
//!     })
//! );
//! ```
//!
//! Embed it in a DTO as `#[serde(rename = "_links")] links: Links`.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// One link object: `{"href": "...", "method": "PATCH", "title": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The target URI (usually a path, absolute from the API root).
    pub href: String,
    /// The method to use when it is not GET (an action link), e.g. `"DELETE"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// A human-readable label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Link {
    /// A plain link to `href`.
    pub fn new(href: impl Into<String>) -> Self {
        Self {
            href: href.into(),
            method: None,
            title: None,
        }
    }

    /// The same link naming the method of the action it stands for.
    pub fn with_method(mut self, method: &'static str) -> Self {
        self.method = Some(method);
        self
    }

    /// The same link with a title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

/// A `_links` object: relation name → [`Link`], serialised in insertion order. Adding
/// a relation twice replaces the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links(Vec<(String, Link)>);

impl Links {
    /// No links yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) relation `rel` as a plain link to `href`.
    pub fn with(self, rel: impl Into<String>, href: impl Into<String>) -> Self {
        self.with_link(rel, Link::new(href))
    }

    /// Adds (or replaces) relation `rel` as `link`.
    pub fn with_link(mut self, rel: impl Into<String>, link: Link) -> Self {
        self.insert(rel, link);
        self
    }

    /// Adds relation `rel` only when `href` is `Some` (e.g. `next` on a page that has one).
    pub fn with_optional(self, rel: impl Into<String>, href: Option<String>) -> Self {
        match href {
            Some(href) => self.with(rel, href),
            None => self,
        }
    }

    /// Adds (or replaces) relation `rel` in place.
    pub fn insert(&mut self, rel: impl Into<String>, link: Link) {
        let rel = rel.into();
        match self.0.iter_mut().find(|(name, _)| *name == rel) {
            Some(entry) => entry.1 = link,
            None => self.0.push((rel, link)),
        }
    }

    /// The link for relation `rel`, if present.
    pub fn get(&self, rel: &str) -> Option<&Link> {
        self.0
            .iter()
            .find(|(name, _)| name == rel)
            .map(|(_, link)| link)
    }

    /// The `_links` of one page of a collection at `path`: `self` (the page as
    /// requested: `query` plus `cursor` when there was one), `next` and `prev` when the
    /// page has those cursors. `query` holds the listing's other parameters (sort,
    /// filters, limit), never `cursor`.
    pub fn page(
        path: &str,
        query: &QueryString,
        current: Option<&str>,
        next: Option<&str>,
        prev: Option<&str>,
    ) -> Self {
        let at = |cursor: Option<&str>| {
            let mut q = query.clone();
            if let Some(cursor) = cursor {
                q = q.with("cursor", cursor);
            }
            q.href(path)
        };
        Self::new()
            .with("self", at(current))
            .with_optional("next", next.map(|c| at(Some(c))))
            .with_optional("prev", prev.map(|c| at(Some(c))))
    }
}

impl Serialize for Links {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (rel, link) in &self.0 {
            map.serialize_entry(rel, link)?;
        }
        map.end()
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`): safe in a query name or value and in a path segment.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// An ordered list of query parameters rendered with [`percent_encode`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryString(Vec<(String, String)>);

impl QueryString {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name=value`.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    /// Appends `name=value` only when `value` is `Some`.
    pub fn with_optional(self, name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }

    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `a=1&b=x%20y` (no leading `?`; empty when there are no parameters).
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `path?a=1&b=2`, or just `path` when there are no parameters.
    pub fn href(&self, path: &str) -> String {
        if self.0.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", self.encode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn links_serialise_in_order_with_optional_members() {
        let links = Links::new()
            .with("self", "/api/v1/orders/1")
            .with_link(
                "cancel",
                Link::new("/api/v1/orders/1/cancel").with_method("POST"),
            )
            .with_link("owner", Link::new("/api/v1/users/9").with_title("Owner"));
        let text = serde_json::to_string(&links).unwrap();
        assert_eq!(
            text,
            r#"{"self":{"href":"/api/v1/orders/1"},"cancel":{"href":"/api/v1/orders/1/cancel","method":"POST"},"owner":{"href":"/api/v1/users/9","title":"Owner"}}"#
        );
    }

    #[test]
    fn adding_a_relation_twice_replaces_it() {
        let links = Links::new().with("self", "/a").with("self", "/b");
        assert_eq!(
            serde_json::to_value(&links).unwrap(),
            json!({"self": {"href": "/b"}})
        );
        assert_eq!(links.get("self").map(|l| l.href.as_str()), Some("/b"));
        assert_eq!(links.get("next"), None);
    }

    #[test]
    fn links_embed_as_underscore_links_in_a_resource() {
        #[derive(Serialize)]
        struct Product {
            id: u32,
            #[serde(rename = "_links")]
            links: Links,
        }
        let product = Product {
            id: 1,
            links: Links::new().with("self", "/api/v1/products/1"),
        };
        assert_eq!(
            serde_json::to_value(&product).unwrap(),
            json!({"id": 1, "_links": {"self": {"href": "/api/v1/products/1"}}})
        );
    }

    #[test]
    fn a_page_links_self_next_and_prev_only_when_they_exist() {
        let query = QueryString::new()
            .with("sort", "-price")
            .with("limit", "20");
        let first = Links::page("/api/v1/products", &query, None, Some("n1"), None);
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!({
                "self": {"href": "/api/v1/products?sort=-price&limit=20"},
                "next": {"href": "/api/v1/products?sort=-price&limit=20&cursor=n1"}
            })
        );
        let middle = Links::page("/p", &QueryString::new(), Some("c"), Some("n"), Some("p"));
        assert_eq!(middle.get("self").unwrap().href, "/p?cursor=c");
        assert_eq!(middle.get("prev").unwrap().href, "/p?cursor=p");
        let last = Links::page("/p", &QueryString::new(), Some("c"), None, Some("p"));
        assert_eq!(last.get("next"), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let query = QueryString::new()
            .with("q", "a b&c=d/é?#+%")
            .with("na me", "")
            .with_optional("absent", None::<String>)
            .with_optional("present", Some("1"));
        assert_eq!(
            query.encode(),
            "q=a%20b%26c%3Dd%2F%C3%A9%3F%23%2B%25&na%20me=&present=1"
        );
        assert_eq!(QueryString::new().href("/x"), "/x");
        assert!(QueryString::new().is_empty());
    }

    proptest! {
        #[test]
        fn percent_encoding_round_trips_and_leaves_only_safe_characters(text in "\\PC{0,60}") {
            let encoded = percent_encode(&text);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            let decoded: Vec<(String, String)> =
                decode_pairs(&format!("k={encoded}"));
            prop_assert_eq!(&decoded[0].1, &text);
        }
    }

    /// A minimal percent-decoder for the round-trip property (no `+` handling needed:
    /// we never emit `+`).
    fn decode_pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }

    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
