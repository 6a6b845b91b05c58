//! # credentials — how Orderly stores and checks secrets
//!
//! - Passwords and client secrets: Argon2id with the OWASP Password Storage Cheat Sheet
//!   parameters (m = 19 MiB, t = 2, p = 1), a fresh 16-byte salt each, PHC strings in the
//!   database ([`hash_secret`], [`verify_secret`]). Verification compares in constant time
//!   (the `argon2` crate's `verify_password`).
//! - Unknown accounts cost the same work: [`dummy_verify`] runs one Argon2id verification
//!   against a fixed hash, so response time does not tell whether an email exists.
//! - Client secrets: generated, 256 bits ([`random_token`]), so a slow hash protects
//!   nothing that their entropy does not already protect (OWASP Password Storage Cheat
//!   Sheet: slow hashing is for low-entropy, user-chosen secrets). They are stored as
//!   `$sha256$<base64url digest>` ([`hash_client_secret`]) and checked in constant time
//!   ([`verify_client_secret`]) — about a microsecond instead of ~30 ms of Argon2id on
//!   every token request. A secret shorter than [`MIN_FAST_CLIENT_SECRET_CHARS`] (someone
//!   chose it) still gets Argon2id, and stored Argon2id hashes keep verifying, so a client
//!   moves to the fast form when its secret is next set or rotated.
//! - High-entropy tokens (authorization codes, refresh tokens, CSRF tokens) are random
//!   ([`random_token`], 256 bits, base64url) and stored only as SHA-256 ([`token_hash`]);
//!   [`constant_time_eq`] compares digests.
#![forbid(unsafe_code)]

use argon2::{Algorithm, Argon2, Params, Version};
use base64ct::{Base64UrlUnpadded, Encoding};
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// OWASP: Argon2id, 19 MiB of memory.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// OWASP: 2 iterations.
pub const ITERATIONS: u32 = 2;
/// OWASP: 1 degree of parallelism.
pub const PARALLELISM: u32 = 1;

/// What went wrong while hashing or checking a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// The platform's random source failed.
    #[error("the random source failed")]
    Randomness,
    /// The stored hash is not a PHC string this crate can check.
    #[error("the stored hash is malformed")]
    MalformedHash,
    /// Argon2 refused the input (e.g. a secret longer than it accepts).
    #[error("the secret could not be hashed")]
    Hashing,
}

fn argon2() -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|_| CredentialError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password or client secret with Argon2id; returns the PHC string to store.
pub fn hash_secret(secret: &str) -> Result<String, CredentialError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| CredentialError::Randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| CredentialError::Hashing)?;
    argon2()?
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| CredentialError::Hashing)
}

/// Checks `secret` against a stored PHC string in constant time. `Ok(false)` on a
/// mismatch; an error only when the stored hash is unusable.
pub fn verify_secret(secret: &str, stored: &str) -> Result<bool, CredentialError> {
    let parsed = PasswordHash::new(stored).map_err(|_| CredentialError::MalformedHash)?;
    match argon2()?.verify_password(secret.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(_) => Err(CredentialError::MalformedHash),
    }
}

/// The PHC-style identifier of a stored SHA-256 client-secret digest.
const SHA256_PREFIX: &str = "$sha256$";

/// Shortest client secret stored with the fast digest: 43 characters, the length of
/// 32 random bytes in base64url ([`random_token`]). Shorter secrets get Argon2id.
pub const MIN_FAST_CLIENT_SECRET_CHARS: usize = 43;

fn sha256_digest_text(secret: &str) -> String {
    Base64UrlUnpadded::encode_string(&token_hash(secret))
}

/// Hashes a client secret for storage: the SHA-256 digest when the secret is long enough
/// to be a generated one, else Argon2id (see the crate docs).
pub fn hash_client_secret(secret: &str) -> Result<String, CredentialError> {
    if secret.chars().count() >= MIN_FAST_CLIENT_SECRET_CHARS {
        Ok(format!("{SHA256_PREFIX}{}", sha256_digest_text(secret)))
    } else {
        hash_secret(secret)
    }
}

/// Checks a client secret against what [`hash_client_secret`] (or, for clients
/// registered before it, [`hash_secret`]) stored. Constant time in the secret.
pub fn verify_client_secret(secret: &str, stored: &str) -> Result<bool, CredentialError> {
    match stored.strip_prefix(SHA256_PREFIX) {
        Some(digest) => {
            if digest.len() != 43 || Base64UrlUnpadded::decode_vec(digest).is_err() {
                return Err(CredentialError::MalformedHash);
            }
            Ok(constant_time_eq(
                sha256_digest_text(secret).as_bytes(),
                digest.as_bytes(),
            ))
        }
        None => verify_secret(secret, stored),
    }
}

/// Whether `stored` is already in the form [`hash_client_secret`] would write for
/// `secret` (and matches it): when not, a seed or rotation should store a new hash.
pub fn client_secret_hash_is_current(secret: &str, stored: &str) -> bool {
    let fast = secret.chars().count() >= MIN_FAST_CLIENT_SECRET_CHARS;
    fast == stored.starts_with(SHA256_PREFIX)
        && verify_client_secret(secret, stored).unwrap_or(false)
}

/// The work of one fast client-secret check, always `false`: for an unknown client.
pub fn dummy_verify_client_secret(secret: &str) -> bool {
    let digest = sha256_digest_text(secret);
    let _ = constant_time_eq(digest.as_bytes(), DUMMY_DIGEST.as_bytes());
    false
}

/// A digest nobody has the preimage of (the SHA-256 of a discarded random token).
const DUMMY_DIGEST: &str = "whypeQvCND6BL21cTiGz0v0vuuOpDG0Fpn3FR2cs6h0";

/// A fixed Argon2id hash with the same parameters (of a random string nobody knows).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Ruk0F3Df6yI9ofPp9XtuXJVN0rT0v4Bpv0PFkl7Edqo";

/// Does the work of one verification and always answers `false`: call it when the
/// account does not exist so that the answer takes as long as for a real one.
pub fn dummy_verify(secret: &str) -> bool {
    let _ = verify_secret(secret, DUMMY_HASH);
    false
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_token() -> Result<String, CredentialError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| CredentialError::Randomness)?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// SHA-256 of a high-entropy token: what the database stores and looks up.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_and_nothing_else() {
        let hash = hash_secret("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_secret("correct horse battery staple", &hash).unwrap());
        assert!(!verify_secret("correct horse battery stapl", &hash).unwrap());
    }

    #[test]
    fn two_hashes_of_one_secret_differ_by_salt() {
        assert_ne!(hash_secret("same").unwrap(), hash_secret("same").unwrap());
    }

    #[test]
    fn the_dummy_hash_is_a_valid_hash_with_the_same_parameters() {
        assert!(!verify_secret("anything", DUMMY_HASH).unwrap());
        assert!(!dummy_verify("anything"));
    }

    #[test]
    fn a_malformed_stored_hash_is_an_error_not_a_match() {
        assert_eq!(
            verify_secret("x", "not-a-phc-string"),
            Err(CredentialError::MalformedHash)
        );
    }

    #[test]
    fn a_generated_client_secret_is_stored_as_a_sha256_digest_and_verifies_only_itself() {
        let secret = random_token().unwrap();
        let stored = hash_client_secret(&secret).unwrap();
        assert!(stored.starts_with("$sha256$"), "{stored}");
        assert_eq!(stored.len(), "$sha256$".len() + 43);
        assert!(!stored.contains(&secret));
        assert_eq!(
            hash_client_secret(&secret).unwrap(),
            stored,
            "no salt: deterministic"
        );
        assert!(verify_client_secret(&secret, &stored).unwrap());
        let mut other = secret.clone();
        other.pop();
        other.push(if secret.ends_with('A') { 'B' } else { 'A' });
        assert!(!verify_client_secret(&other, &stored).unwrap());
        assert!(!verify_client_secret("", &stored).unwrap());
        assert!(client_secret_hash_is_current(&secret, &stored));
        assert!(!dummy_verify_client_secret(&secret));
    }

    #[test]
    fn a_short_client_secret_still_gets_argon2id() {
        let stored = hash_client_secret("a-secret-someone-typed-in").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify_client_secret("a-secret-someone-typed-in", &stored).unwrap());
        assert!(client_secret_hash_is_current(
            "a-secret-someone-typed-in",
            &stored
        ));
    }

    #[test]
    fn an_argon2id_client_hash_from_before_keeps_verifying_and_is_marked_for_rehash() {
        let secret = random_token().unwrap();
        let legacy = hash_secret(&secret).unwrap();
        assert!(verify_client_secret(&secret, &legacy).unwrap());
        assert!(!client_secret_hash_is_current(&secret, &legacy));
    }

    #[test]
    fn a_malformed_sha256_client_hash_is_an_error_not_a_match() {
        for stored in [
            "$sha256$",
            "$sha256$short",
            "$sha256$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(
                verify_client_secret("anything", stored),
                Err(CredentialError::MalformedHash),
                "{stored}"
            );
        }
    }

    #[test]
    fn tokens_are_43_url_safe_characters_and_hash_to_32_bytes() {
        let token = random_token().unwrap();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(token_hash(&token).len(), 32);
        assert!(constant_time_eq(&token_hash(&token), &token_hash(&token)));
        assert!(!constant_time_eq(&token_hash(&token), &token_hash("other")));
    }
}
