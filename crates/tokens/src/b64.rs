//! Strict base64url (RFC 4648 §5, no padding) as JWS compact serialization requires
//! (RFC 7515 §2 "Base64url Encoding", §7.1).

use base64ct::{Base64UrlUnpadded, Encoding};

/// Encodes bytes as unpadded base64url (RFC 7515 §2).
pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded base64url strictly: only `A-Z a-z 0-9 - _`, no `=` padding, no
/// whitespace or line breaks (RFC 7515 §2 forbids them), and the canonical form only (unused
/// trailing bits must be zero — checked by `base64ct` and again by re-encoding), so exactly
/// one string encodes a given byte sequence and a token cannot be re-spelled.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let bytes = Base64UrlUnpadded::decode_vec(text).ok()?;
    // Belt and braces: the canonical re-encoding must give back the input.
    (Base64UrlUnpadded::encode_string(&bytes) == text).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_canonical_forms() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"\xfb\xff\xfe"] {
            assert_eq!(decode(&encode(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        assert_eq!(decode("-_8").as_deref(), Some(&b"\xfb\xff"[..]));
        assert_eq!(decode("Zm8").as_deref(), Some(&b"fo"[..]));
        assert!(decode("Zm8=").is_none(), "padding");
        assert!(decode("Zm9v").is_some());
        assert!(decode("Zm+v").is_none(), "standard alphabet");
        assert!(decode("Zm/v").is_none(), "standard alphabet");
        assert!(decode("Zm9 v").is_none(), "whitespace");
        assert!(decode("Zm9v\n").is_none(), "line break");
        assert!(decode("Z").is_none(), "impossible length");
        // Lenient decoders read "Zm9", "Zm-" and "Zm_" as "fo" too (non-zero unused bits);
        // only "Zm8" is canonical. Likewise "Zh" next to "Zg" for "f".
        for twin in ["Zm9", "Zm-", "Zm_", "Zh", "Zi"] {
            assert!(decode(twin).is_none(), "{twin}");
        }
        assert_eq!(decode("Zg").as_deref(), Some(&b"f"[..]));
        assert!(decode("é").is_none(), "non-ascii");
    }
}
