//! `X-Request-Id`: accepted from the caller when well-formed, generated otherwise.
//!
//! A caller (a load balancer, another service, a test) may name the request so its own
//! logs and ours can be joined. We only accept ids that are safe to echo in a header,
//! a JSON log line and a problem document's `instance` URI: 1–128 characters of
//! `[A-Za-z0-9._-]`. Anything else is replaced, never repaired, so a hostile value can
//! neither forge log lines nor smuggle header syntax.

use std::fmt;

use http::HeaderValue;

/// The header that carries the request id in both directions.
pub const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The longest request id we accept from a caller, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request id that is known to be 1–128 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Parses a caller-supplied id; `None` when it is empty, too long or holds any
    /// character outside `[A-Za-z0-9._-]`.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = !value.is_empty()
            && value.len() <= MAX_REQUEST_ID_LEN
            && value.bytes().all(is_request_id_byte);
        well_formed.then(|| Self(value.to_owned()))
    }

    /// Parses the value of an `X-Request-Id` header (see [`RequestId::parse`]).
    pub fn from_header(value: &HeaderValue) -> Option<Self> {
        value.to_str().ok().and_then(Self::parse)
    }

    /// Generates a fresh id: a UUIDv7, so ids sort by creation time in logs.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        // Always succeeds: the charset is a subset of visible ASCII.
        HeaderValue::from_str(&self.0).ok()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_request_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_formed_ids_are_accepted_unchanged() {
        for id in [
            "a",
            "req-1",
            "A.b_c-D",
            "0190b8e2-5f1c-7abc-8def-0123456789ab",
        ] {
            assert_eq!(
                RequestId::parse(id).map(|r| r.0),
                Some(id.to_owned()),
                "{id}"
            );
        }
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert!(RequestId::parse(&longest).is_some());
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let too_long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        let cases: [(&str, &str); 8] = [
            ("", "empty"),
            (&too_long, "longer than 128"),
            ("a b", "space"),
            ("a\nb", "newline could forge a log line"),
            ("a\"b", "quote could break JSON or a URI"),
            ("a/b", "slash is outside the charset"),
            ("ü", "non-ASCII"),
            ("a:b", "colon is outside the charset"),
        ];
        for (input, reason) in cases {
            assert!(RequestId::parse(input).is_none(), "{reason}: {input:?}");
        }
    }

    #[test]
    fn generated_ids_are_valid_uuid_v7_and_distinct() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert!(RequestId::parse(a.as_str()).is_some());
        let parsed = uuid::Uuid::parse_str(a.as_str());
        assert_eq!(parsed.map(|u| u.get_version_num()).ok(), Some(7));
    }

    #[test]
    fn header_values_that_are_not_text_are_rejected() {
        let value = HeaderValue::from_bytes(&[0xff, 0xfe]);
        assert!(value.is_ok());
        if let Ok(value) = value {
            assert!(RequestId::from_header(&value).is_none());
        }
    }

    proptest! {
        #[test]
        fn accepted_ids_always_make_a_header_value(input in "\\PC{0,140}") {
            if let Some(id) = RequestId::parse(&input) {
                prop_assert!(id.to_header_value().is_some());
                prop_assert!(id.as_str().len() <= MAX_REQUEST_ID_LEN);
            }
        }

        #[test]
        fn charset_ids_up_to_the_limit_are_accepted(input in "[A-Za-z0-9._-]{1,128}") {
            prop_assert!(RequestId::parse(&input).is_some());
        }
    }
}
