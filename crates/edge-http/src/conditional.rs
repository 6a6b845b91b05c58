//! Conditional requests (RFC 9110 §13) and entity tags (§8.8.3).
//!
//! A GET handler computes its [`ETag`] and asks [`check_if_none_match`] (or
//! [`not_modified_for`], which copies `Cache-Control`/`Vary` from the 200 it would have
//! sent) whether a 304 answers the request. A PUT/PATCH/DELETE handler loads the
//! current version and calls [`require_if_match`]: 428 when the header is missing, 412
//! when it names another version.
//!
//! ```
//! use edge_http::conditional::{ETag, check_if_none_match, require_if_match};
//! use http::HeaderMap;
//!
//! let etag = ETag::from_version("0192f0c4-6d2a-7c3e-9a51-3c1f2b4d5e6f", 3);
//! let mut headers = HeaderMap::new();
//! headers.insert("if-none-match", etag.to_header_value());
//! assert_eq!(check_if_none_match(&headers, &etag).map(|r| r.status().as_u16()), Some(304));
//!
//! headers.insert("if-match", etag.to_header_value());
//! assert!(require_if_match(&headers, &etag).is_ok());
//! ```
//!
//! Entity tags minted here are lowercase hex, so the encoding suffix the edge's
//! compression adds to a strong tag (`"…-gzip"`, `"…-br"`, RFC 9110 §8.8.3.3: each
//! content coding is its own representation) can never be confused with the tag
//! itself; comparisons ignore that suffix, so a client that cached the compressed
//! representation still gets its 304 and its `If-Match` still matches.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::response::EdgeResponse;

/// Content-coding suffixes the edge's compression appends to a strong tag; ignored when
/// comparing.
pub const ENCODING_SUFFIXES: &[&str] = &["-gzip", "-br"];

/// The response headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5).
pub const NOT_MODIFIED_HEADERS: &[header::HeaderName] = &[
    header::ETAG,
    header::CACHE_CONTROL,
    header::VARY,
    header::CONTENT_LOCATION,
    header::EXPIRES,
    header::DATE,
];

/// An entity tag (RFC 9110 §8.8.3): an opaque quoted string, strong unless `W/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag {
    opaque: String,
    weak: bool,
}

/// An entity tag that does not follow the RFC 9110 §8.8.3 grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETagError;

impl fmt::Display for ETagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an entity tag")
    }
}

impl std::error::Error for ETagError {}

/// `etagc = %x21 / %x23-7E / obs-text`; we accept only the ASCII part.
fn is_etagc(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7e).contains(&byte)
}

/// Lowercase hex of the first 16 bytes of SHA-256 over `parts`, each length-prefixed so
/// `("ab","c")` and `("a","bc")` differ.
fn digest_hex<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl ETag {
    /// A strong tag with `opaque` as its content (without quotes).
    ///
    /// # Errors
    /// [`ETagError`] when `opaque` holds a quote, space, control or non-ASCII byte.
    pub fn strong(opaque: &str) -> Result<Self, ETagError> {
        if opaque.bytes().all(is_etagc) {
            Ok(Self {
                opaque: opaque.to_owned(),
                weak: false,
            })
        } else {
            Err(ETagError)
        }
    }

    /// The strong tag of version `version` of resource `id`: a hash of both, so the tag
    /// changes with every version and never exposes the id's form.
    pub fn from_version(id: impl fmt::Display, version: u64) -> Self {
        let id = id.to_string();
        let version = version.to_be_bytes();
        Self {
            opaque: digest_hex([id.as_bytes(), version.as_slice()]),
            weak: false,
        }
    }

    /// The strong tag of a representation: a hash of its exact bytes.
    pub fn from_bytes(representation: &[u8]) -> Self {
        Self {
            opaque: digest_hex([representation]),
            weak: false,
        }
    }

    /// The same tag marked weak (`W/"…"`).
    pub fn into_weak(mut self) -> Self {
        self.weak = true;
        self
    }

    /// Is this a weak tag?
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque content, without quotes or `W/`.
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// Parses one entity tag: `"xyz"` or `W/"xyz"` (surrounding whitespace allowed).
    ///
    /// # Errors
    /// [`ETagError`] on anything else.
    pub fn parse(text: &str) -> Result<Self, ETagError> {
        let text = text.trim_matches([' ', '\t']);
        let (weak, quoted) = match text.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let opaque = quoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or(ETagError)?;
        let mut tag = Self::strong(opaque)?;
        tag.weak = weak;
        Ok(tag)
    }

    /// The header value: `"xyz"` or `W/"xyz"`.
    pub fn to_header_value(&self) -> HeaderValue {
        // Only etagc bytes and quotes: always a valid header value.
        HeaderValue::from_str(&self.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }

    /// The opaque content without a content-coding suffix the edge appended.
    fn base(&self) -> &str {
        ENCODING_SUFFIXES
            .iter()
            .find_map(|suffix| self.opaque.strip_suffix(suffix))
            .unwrap_or(&self.opaque)
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same (ignoring an
    /// edge content-coding suffix).
    pub fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.base() == other.base()
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): the same opaque content, weakness ignored
    /// (and an edge content-coding suffix too).
    pub fn weak_eq(&self, other: &Self) -> bool {
        self.base() == other.base()
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// The value of an `If-Match` / `If-None-Match` header: `*` or a list of tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTagCondition {
    /// `*`: any current representation.
    Any,
    /// One or more entity tags.
    Tags(Vec<ETag>),
}

impl EntityTagCondition {
    /// Parses every occurrence of header `name` in `headers` (field lines combine into
    /// one list, RFC 9110 §5.3). `Ok(None)` when the header is absent.
    ///
    /// # Errors
    /// [`ETagError`] when a value is not `*` or a comma-separated list of entity tags.
    pub fn from_headers(
        headers: &HeaderMap,
        name: header::HeaderName,
    ) -> Result<Option<Self>, ETagError> {
        let mut values = headers.get_all(&name).iter().peekable();
        if values.peek().is_none() {
            return Ok(None);
        }
        let mut tags = Vec::new();
        let mut any = false;
        for value in values {
            let text = value.to_str().map_err(|_| ETagError)?;
            if text.trim() == "*" {
                any = true;
                continue;
            }
            tags.extend(parse_list(text)?);
        }
        match (any, tags.is_empty()) {
            (true, true) => Ok(Some(Self::Any)),
            // `*` mixed with tags is not the grammar (`"*" / #entity-tag`).
            (true, false) => Err(ETagError),
            (false, true) => Err(ETagError),
            (false, false) => Ok(Some(Self::Tags(tags))),
        }
    }

    /// Does `current` match under weak comparison (for `If-None-Match`)?
    pub fn matches_weak(&self, current: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| tag.weak_eq(current)),
        }
    }

    /// Does `current` match under strong comparison (for `If-Match`)?
    pub fn matches_strong(&self, current: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| tag.strong_eq(current)),
        }
    }
}

/// Splits a `#entity-tag` list. Commas may appear inside the quotes (`etagc` allows
/// them), so this walks the quotes rather than splitting on `,`.
fn parse_list(text: &str) -> Result<Vec<ETag>, ETagError> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Ok(tags);
        }
        let (weak, after_prefix) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let inner = after_prefix.strip_prefix('"').ok_or(ETagError)?;
        let end = inner.find('"').ok_or(ETagError)?;
        let mut tag = ETag::strong(&inner[..end])?;
        tag.weak = weak;
        tags.push(tag);
        rest = inner[end + 1..].trim_start_matches([' ', '\t']);
        if !rest.is_empty() && !rest.starts_with(',') {
            return Err(ETagError);
        }
    }
}

/// For a GET/HEAD of a resource whose current tag is `etag`: `Some(304)` when the
/// request's `If-None-Match` matches it (weak comparison, `*` matches), else `None`.
/// The 304 carries the `ETag`; use [`not_modified_for`] to also repeat the 200's
/// `Cache-Control` and `Vary`. A malformed `If-None-Match` is ignored (the full
/// response is sent, which is always safe).
pub fn check_if_none_match(headers: &HeaderMap, etag: &ETag) -> Option<EdgeResponse> {
    match EntityTagCondition::from_headers(headers, header::IF_NONE_MATCH) {
        Ok(Some(condition)) if condition.matches_weak(etag) => {
            let mut response = http::Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
                .headers_mut()
                .insert(header::ETAG, etag.to_header_value());
            Some(response)
        }
        _ => None,
    }
}

/// Like [`check_if_none_match`] for the 200 `response` a handler has built: `Some(304)`
/// repeating its `ETag`, `Cache-Control`, `Vary`, `Content-Location`, `Expires` and
/// `Date` when `If-None-Match` matches its `ETag`; `None` when it does not or when the
/// response has no (valid) `ETag`.
pub fn not_modified_for(headers: &HeaderMap, response: &EdgeResponse) -> Option<EdgeResponse> {
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| ETag::parse(v).ok())?;
    let mut not_modified = check_if_none_match(headers, &etag)?;
    for name in NOT_MODIFIED_HEADERS {
        for value in response.headers().get_all(name) {
            if name == header::ETAG {
                not_modified.headers_mut().insert(name, value.clone());
            } else {
                not_modified.headers_mut().append(name, value.clone());
            }
        }
    }
    Some(not_modified)
}

/// For a state-changing request on a resource whose current tag is `current`: `Ok`
/// when `If-Match` matches (strong comparison; `*` matches an existing resource);
/// [`ApiError::PreconditionRequired`] (428) when the header is missing;
/// [`ApiError::PreconditionFailed`] (412) when it names another version, is weak, or
/// is malformed.
///
/// # Errors
/// 428 or 412 as above.
pub fn require_if_match(headers: &HeaderMap, current: &ETag) -> Result<(), ApiError> {
    match EntityTagCondition::from_headers(headers, header::IF_MATCH) {
        Ok(None) => Err(ApiError::PreconditionRequired {
            detail: "This request requires an If-Match header with the resource's current ETag."
                .to_owned(),
        }),
        Ok(Some(condition)) if condition.matches_strong(current) => Ok(()),
        Ok(Some(_)) => Err(ApiError::PreconditionFailed {
            detail: "If-Match does not match the resource's current ETag.".to_owned(),
        }),
        Err(ETagError) => Err(ApiError::PreconditionFailed {
            detail: "If-Match is not a valid list of entity tags.".to_owned(),
        }),
    }
}

/// Like [`require_if_match`] but a missing `If-Match` is allowed (for routes where the
/// precondition is optional): `Ok` when absent or matching, 412 otherwise.
///
/// # Errors
/// [`ApiError::PreconditionFailed`] when present and not matching or malformed.
pub fn check_if_match(headers: &HeaderMap, current: &ETag) -> Result<(), ApiError> {
    if headers.contains_key(header::IF_MATCH) {
        require_if_match(headers, current)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn tag(opaque: &str) -> ETag {
        ETag::strong(opaque).unwrap()
    }

    #[test]
    fn version_tags_are_strong_quoted_hex_and_change_with_the_version() {
        let v1 = ETag::from_version("order-1", 1);
        let v2 = ETag::from_version("order-1", 2);
        let other = ETag::from_version("order-2", 1);
        assert_ne!(v1, v2);
        assert_ne!(v1, other);
        assert_eq!(v1, ETag::from_version("order-1", 1));
        let text = v1.to_string();
        assert!(text.starts_with('"') && text.ends_with('"'), "{text}");
        assert_eq!(v1.opaque().len(), 32);
        assert!(v1.opaque().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!v1.is_weak());
        assert_eq!(v1.to_header_value(), text.as_str());
    }

    #[test]
    fn representation_tags_hash_the_bytes() {
        assert_eq!(ETag::from_bytes(b"{}"), ETag::from_bytes(b"{}"));
        assert_ne!(ETag::from_bytes(b"{}"), ETag::from_bytes(b"[]"));
    }

    #[test]
    fn parsing_accepts_strong_and_weak_and_rejects_bad_grammar() {
        assert_eq!(ETag::parse("\"abc\""), Ok(tag("abc")));
        assert_eq!(ETag::parse(" W/\"abc\" "), Ok(tag("abc").into_weak()));
        assert_eq!(ETag::parse("\"\""), Ok(tag("")));
        for bad in ["abc", "\"abc", "w/\"abc\"", "\"a\"b\"", "\"a b\"", "W/abc"] {
            assert_eq!(ETag::parse(bad), Err(ETagError), "{bad}");
        }
        assert!(ETag::strong("has\"quote").is_err());
    }

    #[test]
    fn strong_comparison_needs_both_strong_weak_comparison_does_not() {
        let strong = tag("1");
        let weak = tag("1").into_weak();
        assert!(strong.strong_eq(&strong));
        assert!(!strong.strong_eq(&weak));
        assert!(!weak.strong_eq(&weak));
        assert!(weak.weak_eq(&strong));
        assert!(!tag("1").weak_eq(&tag("2")));
    }

    #[test]
    fn an_edge_encoding_suffix_is_ignored_in_comparisons() {
        assert!(tag("abc-gzip").strong_eq(&tag("abc")));
        assert!(tag("abc").weak_eq(&tag("abc-br")));
        assert!(!tag("abc-gzip").strong_eq(&tag("abd")));
    }

    #[test]
    fn if_none_match_lists_across_lines_and_with_commas_inside_tags_parse() {
        let map = headers(&[
            ("if-none-match", "\"a,b\", W/\"c\""),
            ("if-none-match", "\"d\""),
        ]);
        let condition = EntityTagCondition::from_headers(&map, header::IF_NONE_MATCH);
        assert_eq!(
            condition,
            Ok(Some(EntityTagCondition::Tags(vec![
                tag("a,b"),
                tag("c").into_weak(),
                tag("d")
            ])))
        );
        assert_eq!(
            EntityTagCondition::from_headers(
                &headers(&[("if-none-match", "*")]),
                header::IF_NONE_MATCH
            ),
            Ok(Some(EntityTagCondition::Any))
        );
        assert_eq!(
            EntityTagCondition::from_headers(&HeaderMap::new(), header::IF_NONE_MATCH),
            Ok(None)
        );
        for bad in ["\"a\" \"b\"", "abc", "*, \"a\"", ","] {
            assert_eq!(
                EntityTagCondition::from_headers(
                    &headers(&[("if-none-match", bad)]),
                    header::IF_NONE_MATCH
                ),
                Err(ETagError),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_matching_if_none_match_answers_304_with_the_etag() {
        let current = ETag::from_version("p", 7);
        for sent in [
            current.to_string(),
            current.clone().into_weak().to_string(),
            format!("\"other\", {current}"),
            "*".to_owned(),
            format!("\"{}-gzip\"", current.opaque()),
        ] {
            let response = check_if_none_match(&headers(&[("if-none-match", &sent)]), &current);
            let response = response.unwrap_or_else(|| panic!("no 304 for {sent}"));
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
            assert_eq!(
                response.headers()[header::ETAG],
                current.to_string().as_str()
            );
        }
    }

    #[test]
    fn a_different_missing_or_malformed_if_none_match_gives_no_304() {
        let current = ETag::from_version("p", 7);
        let stale = ETag::from_version("p", 6).to_string();
        assert!(check_if_none_match(&headers(&[("if-none-match", &stale)]), &current).is_none());
        assert!(check_if_none_match(&HeaderMap::new(), &current).is_none());
        assert!(check_if_none_match(&headers(&[("if-none-match", "garbage")]), &current).is_none());
    }

    #[test]
    fn not_modified_for_repeats_cache_control_and_vary_of_the_200() {
        let etag = ETag::from_version("p", 1);
        let mut ok = http::Response::new(Full::new(Bytes::from_static(b"{}")));
        ok.headers_mut()
            .insert(header::ETAG, etag.to_header_value());
        ok.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        ok.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        ok.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let request = headers(&[("if-none-match", &etag.to_string())]);
        let response = not_modified_for(&request, &ok).unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag.to_string().as_str());
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=60"
        );
        assert_eq!(response.headers()[header::VARY], "Accept");
        assert!(!response.headers().contains_key(header::CONTENT_TYPE));
        assert!(not_modified_for(&HeaderMap::new(), &ok).is_none());
    }

    #[test]
    fn if_match_missing_is_428_mismatch_412_match_ok() {
        let current = ETag::from_version("o", 2);
        let missing = require_if_match(&HeaderMap::new(), &current);
        assert_eq!(missing.map_err(|e| e.status().as_u16()), Err(428));
        let stale = ETag::from_version("o", 1).to_string();
        let mismatch = require_if_match(&headers(&[("if-match", &stale)]), &current);
        assert_eq!(mismatch.map_err(|e| e.status().as_u16()), Err(412));
        let exact = require_if_match(&headers(&[("if-match", &current.to_string())]), &current);
        assert!(exact.is_ok());
        let listed = format!("{stale}, {current}");
        assert!(require_if_match(&headers(&[("if-match", &listed)]), &current).is_ok());
        assert!(require_if_match(&headers(&[("if-match", "*")]), &current).is_ok());
    }

    #[test]
    fn if_match_uses_strong_comparison_and_refuses_malformed_values() {
        let current = ETag::from_version("o", 2);
        let weak = current.clone().into_weak().to_string();
        let weak_result = require_if_match(&headers(&[("if-match", &weak)]), &current);
        assert_eq!(weak_result.map_err(|e| e.status().as_u16()), Err(412));
        let bad = require_if_match(&headers(&[("if-match", "nope")]), &current);
        assert_eq!(bad.map_err(|e| e.status().as_u16()), Err(412));
    }

    #[test]
    fn optional_if_match_allows_absence_but_not_mismatch() {
        let current = ETag::from_version("o", 2);
        assert!(check_if_match(&HeaderMap::new(), &current).is_ok());
        let stale = ETag::from_version("o", 1).to_string();
        assert_eq!(
            check_if_match(&headers(&[("if-match", &stale)]), &current)
                .map_err(|e| e.status().as_u16()),
            Err(412)
        );
    }

    proptest! {
        #[test]
        fn any_valid_tag_round_trips_through_its_header_text(
            opaque in "[!#-~]{0,40}",
            weak in any::<bool>(),
        ) {
            let mut etag = ETag::strong(&opaque).unwrap();
            if weak {
                etag = etag.into_weak();
            }
            prop_assert_eq!(ETag::parse(&etag.to_string()), Ok(etag.clone()));
            let list = parse_list(&format!("{etag}, \"x\"")).unwrap();
            prop_assert_eq!(&list[0], &etag);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,64}") {
            let _ = ETag::parse(&text);
            let _ = parse_list(&text);
        }
    }
}
