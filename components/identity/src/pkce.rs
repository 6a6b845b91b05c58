//! PKCE (RFC 7636): S256 only (plain is refused, RFC 9700 §2.1.1).

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// The only `code_challenge_method` we accept.
pub const S256: &str = "S256";

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`,
/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge is BASE64URL(SHA-256(verifier)) without padding: exactly 43
/// characters of the base64url alphabet (RFC 7636 §4.2).
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge` (RFC 7636 §4.6),
/// compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && credentials::constant_time_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_matches() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
    }

    #[test]
    fn verifier_abnf() {
        let ok_43 = "a".repeat(43);
        let ok_128 = "Z9-._~".repeat(21) + "ab";
        assert!(is_valid_verifier(&ok_43));
        assert_eq!(ok_128.len(), 128);
        assert!(is_valid_verifier(&ok_128));
        for (bad, why) in [
            ("a".repeat(42), "too short"),
            ("a".repeat(129), "too long"),
            ("a".repeat(42) + "+", "plus is not unreserved"),
            ("a".repeat(42) + "/", "slash is not unreserved"),
            ("a".repeat(42) + "=", "padding is not unreserved"),
            ("a".repeat(42) + " ", "space"),
            ("a".repeat(41) + "é", "non-ASCII"),
        ] {
            assert!(!is_valid_verifier(&bad), "{why}");
        }
    }

    #[test]
    fn challenge_shape() {
        assert!(is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"
        ));
        assert!(!is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
        assert!(!is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM="
        ));
    }
}
