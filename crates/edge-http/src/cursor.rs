//! Opaque signed cursors for keyset pagination (docs/standards.md §13).
//!
//! A cursor is `base64url(JSON payload) "." base64url(HMAC-SHA256 tag)`. The tag covers
//! a version byte, a hash of the query the cursor was made for (sort, filters, field
//! selection: whatever [`CursorKey::bound_to`] was given) and the payload, so a client
//! can neither forge or edit a cursor nor replay one made for `sort=name` on a
//! `sort=-created_at` listing: both come back as [`CursorError::Invalid`], a 400 with a
//! field error at `/query/cursor`.
//!
//! ```
//! use edge_http::cursor::{Cursor, CursorKey};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct After { created_at: i64, id: String }
//!
//! let key = CursorKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
//!     .bound_to(&[("sort", "-created_at"), ("status", "active")]);
//! let after = After { created_at: 1_764_000_000, id: "p-9".into() };
//! let text = Cursor::encode(&after, &key).unwrap();
//! assert_eq!(Cursor::decode::<After>(&text, &key).unwrap(), after);
//!
//! let other_sort = CursorKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
//!     .bound_to(&[("sort", "name")]);
//! assert!(Cursor::decode::<After>(&text, &other_sort).is_err());
//! ```

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::problem::FieldError;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key, in bytes (the HMAC-SHA256 output size).
pub const MIN_KEY_BYTES: usize = 32;

/// Longest cursor accepted or produced, in characters: bounds the work an attacker can
/// ask of us and keeps URLs short.
pub const MAX_CURSOR_CHARS: usize = 1024;

/// Mixed into every tag so a future format can never verify as this one.
const FORMAT_VERSION: u8 = 1;

/// The query parameter a cursor travels in, for field errors.
pub const CURSOR_PARAMETER: &str = "cursor";

/// The secret that signs cursors (the `cursor_key` variable), optionally bound to one
/// query shape. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct CursorKey {
    secret: Vec<u8>,
    binding: [u8; 32],
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

/// A cursor key shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorKeyTooShort;

impl fmt::Display for CursorKeyTooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the cursor key must be at least {MIN_KEY_BYTES} bytes")
    }
}

impl std::error::Error for CursorKeyTooShort {}

impl CursorKey {
    /// A key from the secret's bytes (e.g. the `cursor_key` variable's text), bound to
    /// no query yet.
    ///
    /// # Errors
    /// [`CursorKeyTooShort`] when `secret` is under [`MIN_KEY_BYTES`].
    pub fn new(secret: &[u8]) -> Result<Self, CursorKeyTooShort> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(CursorKeyTooShort);
        }
        Ok(Self {
            secret: secret.to_vec(),
            binding: binding_hash(&[]),
        })
    }

    /// The same key bound to a query: a cursor made with it only decodes with a key
    /// bound to the same `(name, value)` pairs (order matters; pass them in a fixed
    /// order, e.g. the sort, then each filter by name). Include every parameter that
    /// changes which rows or which order a page holds; leave out `limit` and `cursor`.
    pub fn bound_to(mut self, query: &[(&str, &str)]) -> Self {
        self.binding = binding_hash(query);
        self
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        mac.update(&[FORMAT_VERSION]);
        mac.update(&self.binding);
        mac
    }
}

/// SHA-256 over length-prefixed names and values, so `("a","bc")` ≠ `("ab","c")`.
fn binding_hash(query: &[(&str, &str)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((query.len() as u64).to_be_bytes());
    for (name, value) in query {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorError {
    /// Longer than [`MAX_CURSOR_CHARS`].
    TooLong,
    /// Not ours: garbage, edited, signed with another key or made for another query.
    /// One variant on purpose: the client learns nothing about which check failed.
    Invalid,
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "the cursor is longer than {MAX_CURSOR_CHARS} characters"),
            Self::Invalid => f.write_str(
                "the cursor is not valid for this listing; start again without a cursor",
            ),
        }
    }
}

impl CursorError {
    /// The field error for the `cursor` query parameter (`/query/cursor`).
    pub fn field_error(&self) -> FieldError {
        let code = match self {
            Self::TooLong => "too_long",
            Self::Invalid => "invalid_cursor",
        };
        FieldError::new(format!("/query/{CURSOR_PARAMETER}"), code, self.to_string())
    }
}

impl From<CursorError> for ApiError {
    /// 400 with one field error at `/query/cursor` (never a 500: `?` on a
    /// [`CursorError`] in a handler does the right thing).
    fn from(error: CursorError) -> Self {
        ApiError::validation(vec![error.field_error()])
    }
}

/// Encoding and decoding of cursors.
#[derive(Debug, Clone, Copy)]
pub struct Cursor;

/// A payload that could not be made into a cursor (serialisation failed or the result
/// is longer than [`MAX_CURSOR_CHARS`]): our bug, a 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorEncodeError(String);

impl fmt::Display for CursorEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode cursor: {}", self.0)
    }
}

impl std::error::Error for CursorEncodeError {}

impl Cursor {
    /// Signs `payload` (e.g. the sort key and id of the page's last row) with `key`.
    ///
    /// # Errors
    /// [`CursorEncodeError`] when the payload does not serialise or the cursor would be
    /// longer than [`MAX_CURSOR_CHARS`]; `?` turns it into a 500.
    pub fn encode<T: Serialize + ?Sized>(
        payload: &T,
        key: &CursorKey,
    ) -> Result<String, CursorEncodeError> {
        let json = serde_json::to_vec(payload).map_err(|e| CursorEncodeError(e.to_string()))?;
        let mut mac = key.mac();
        mac.update(&json);
        let tag = mac.finalize().into_bytes();
        let text = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(&json),
            Base64UrlUnpadded::encode_string(&tag)
        );
        if text.len() > MAX_CURSOR_CHARS {
            return Err(CursorEncodeError(format!(
                "{} characters, over {MAX_CURSOR_CHARS}",
                text.len()
            )));
        }
        Ok(text)
    }

    /// Verifies `text` with `key` (constant-time tag comparison) and deserialises its
    /// payload.
    ///
    /// # Errors
    /// [`CursorError::TooLong`] over [`MAX_CURSOR_CHARS`]; [`CursorError::Invalid`] for
    /// anything not made by [`Cursor::encode`] with this key and query binding, or whose
    /// payload is not a `T`.
    pub fn decode<T: DeserializeOwned>(text: &str, key: &CursorKey) -> Result<T, CursorError> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(CursorError::TooLong);
        }
        let (payload_b64, tag_b64) = text.split_once('.').ok_or(CursorError::Invalid)?;
        let json = Base64UrlUnpadded::decode_vec(payload_b64).map_err(|_| CursorError::Invalid)?;
        let tag = Base64UrlUnpadded::decode_vec(tag_b64).map_err(|_| CursorError::Invalid)?;
        let mut mac = key.mac();
        mac.update(&json);
        let expected = mac.finalize().into_bytes();
        if tag.len() != expected.len() || !bool::from(expected.as_slice().ct_eq(&tag)) {
            return Err(CursorError::Invalid);
        }
        serde_json::from_slice(&json).map_err(|_| CursorError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    const SECRET: &[u8] = b"test-cursor-key-0123456789abcdef-xyz";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct After {
        created_at: i64,
        id: String,
    }

    fn key() -> CursorKey {
        CursorKey::new(SECRET)
            .unwrap()
            .bound_to(&[("sort", "-created_at")])
    }

    fn after() -> After {
        After {
            created_at: 1_764_072_000_123_456,
            id: "0192f0c4-6d2a-7c3e-9a51-3c1f2b4d5e6f".into(),
        }
    }

    #[test]
    fn a_cursor_round_trips_and_is_url_safe() {
        let text = Cursor::encode(&after(), &key()).unwrap();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'),
            "{text}"
        );
        assert_eq!(Cursor::decode::<After>(&text, &key()), Ok(after()));
    }

    #[test]
    fn a_short_key_is_refused() {
        assert_eq!(CursorKey::new(b"short").map(|_| ()), Err(CursorKeyTooShort));
        assert!(CursorKey::new(&[7; MIN_KEY_BYTES]).is_ok());
    }

    #[test]
    fn the_key_debug_never_shows_the_secret() {
        assert_eq!(format!("{:?}", key()), "CursorKey(***)");
    }

    #[test]
    fn an_edited_payload_is_invalid() {
        let text = Cursor::encode(&after(), &key()).unwrap();
        let (_, tag) = text.split_once('.').unwrap();
        let mut forged = after();
        forged.created_at += 1;
        let forged_payload =
            Base64UrlUnpadded::encode_string(&serde_json::to_vec(&forged).unwrap());
        let forged_text = format!("{forged_payload}.{tag}");
        assert_eq!(
            Cursor::decode::<After>(&forged_text, &key()),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn another_key_or_another_query_cannot_decode_it() {
        let text = Cursor::encode(&after(), &key()).unwrap();
        let other_secret = CursorKey::new(b"another-secret-0123456789abcdef-xyz")
            .unwrap()
            .bound_to(&[("sort", "-created_at")]);
        assert_eq!(
            Cursor::decode::<After>(&text, &other_secret),
            Err(CursorError::Invalid)
        );
        let other_sort = CursorKey::new(SECRET)
            .unwrap()
            .bound_to(&[("sort", "created_at")]);
        assert_eq!(
            Cursor::decode::<After>(&text, &other_sort),
            Err(CursorError::Invalid)
        );
        let unbound = CursorKey::new(SECRET).unwrap();
        assert_eq!(
            Cursor::decode::<After>(&text, &unbound),
            Err(CursorError::Invalid)
        );
        let split_differently = CursorKey::new(SECRET)
            .unwrap()
            .bound_to(&[("sort-", "created_at")]);
        assert_eq!(
            Cursor::decode::<After>(&text, &split_differently),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn garbage_is_invalid_and_oversized_is_too_long() {
        for garbage in ["", ".", "abc", "abc.def", "!!!.???", "e30.", ".AAAA"] {
            assert_eq!(
                Cursor::decode::<After>(garbage, &key()),
                Err(CursorError::Invalid),
                "{garbage}"
            );
        }
        let huge = "A".repeat(MAX_CURSOR_CHARS + 1);
        assert_eq!(
            Cursor::decode::<After>(&huge, &key()),
            Err(CursorError::TooLong)
        );
    }

    #[test]
    fn a_valid_cursor_with_the_wrong_payload_shape_is_invalid() {
        let text = Cursor::encode(&serde_json::json!({"x": 1}), &key()).unwrap();
        assert_eq!(
            Cursor::decode::<After>(&text, &key()),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn an_oversized_payload_cannot_be_encoded() {
        let big = "x".repeat(MAX_CURSOR_CHARS);
        assert!(Cursor::encode(&big, &key()).is_err());
    }

    #[test]
    fn a_cursor_error_is_a_400_with_a_field_error_on_cursor() {
        let error: ApiError = CursorError::Invalid.into();
        assert_eq!(error.status().as_u16(), 400);
        let problem = error.to_problem(&crate::RequestId::generate());
        assert_eq!(problem.errors.len(), 1);
        assert_eq!(problem.errors[0].pointer, "/query/cursor");
        assert_eq!(problem.errors[0].code, "invalid_cursor");
        assert_eq!(CursorError::TooLong.field_error().code, "too_long");
    }

    proptest! {
        #[test]
        fn any_payload_round_trips(created_at in any::<i64>(), id in "\\PC{0,80}") {
            let payload = After { created_at, id };
            let text = Cursor::encode(&payload, &key()).unwrap();
            prop_assert_eq!(Cursor::decode::<After>(&text, &key()), Ok(payload));
        }

        #[test]
        fn arbitrary_text_never_decodes_or_panics(text in "[A-Za-z0-9_.=+/-]{0,200}") {
            prop_assert!(Cursor::decode::<After>(&text, &key()).is_err());
        }

        #[test]
        fn flipping_any_character_invalidates_the_cursor(index in any::<prop::sample::Index>()) {
            let text = Cursor::encode(&after(), &key()).unwrap();
            let mut bytes = text.into_bytes();
            let i = index.index(bytes.len());
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(Cursor::decode::<After>(&tampered, &key()).is_err());
        }
    }
}
