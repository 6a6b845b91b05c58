//! HMAC-SHA256 (key: the `cursor_key` variable) over values the browser carries for us:
//! the pending authorization request on the login page and its CSRF token.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], purpose: &str, parts: &[&[u8]]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    // Domain separation: a value signed for one purpose never verifies for another.
    mac.update(purpose.as_bytes());
    for part in parts {
        mac.update(&[0]);
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    Some(mac)
}

/// `base64url(payload) "." base64url(HMAC(key, purpose, payload))`.
pub fn seal(key: &[u8], purpose: &str, payload: &[u8]) -> Option<String> {
    let tag = mac(key, purpose, &[payload])?.finalize().into_bytes();
    Some(format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(payload),
        Base64UrlUnpadded::encode_string(&tag)
    ))
}

/// The payload of a [`seal`]ed value if its tag verifies (constant time).
pub fn open(key: &[u8], purpose: &str, sealed: &str) -> Option<Vec<u8>> {
    let (payload, tag) = sealed.split_once('.')?;
    let payload = Base64UrlUnpadded::decode_vec(payload).ok()?;
    let tag = Base64UrlUnpadded::decode_vec(tag).ok()?;
    mac(key, purpose, &[&payload])?.verify_slice(&tag).ok()?;
    Some(payload)
}

/// A tag binding several values together (the CSRF token: cookie nonce + request).
pub fn tag(key: &[u8], purpose: &str, parts: &[&[u8]]) -> Option<String> {
    let tag = mac(key, purpose, parts)?.finalize().into_bytes();
    Some(Base64UrlUnpadded::encode_string(&tag))
}

/// Whether `candidate` is the [`tag`] of `parts` (constant time).
pub fn tag_matches(key: &[u8], purpose: &str, parts: &[&[u8]], candidate: &str) -> bool {
    let Ok(candidate) = Base64UrlUnpadded::decode_vec(candidate) else {
        return false;
    };
    mac(key, purpose, parts).is_some_and(|mac| mac.verify_slice(&candidate).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_value_opens_with_its_key_and_purpose_only() {
        let sealed = seal(KEY, "authz", b"{\"a\":1}").unwrap();
        assert_eq!(
            open(KEY, "authz", &sealed).as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(
            open(b"another key another key another!", "authz", &sealed),
            None
        );
        assert_eq!(open(KEY, "csrf", &sealed), None);
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let sealed = seal(KEY, "authz", b"{\"a\":1}").unwrap();
        let (_, tag) = sealed.split_once('.').unwrap();
        let forged = format!("{}.{tag}", Base64UrlUnpadded::encode_string(b"{\"a\":2}"));
        assert_eq!(open(KEY, "authz", &forged), None);
        assert_eq!(open(KEY, "authz", "garbage"), None);
    }

    #[test]
    fn tags_bind_every_part_and_their_boundaries() {
        let t = tag(KEY, "csrf", &[b"ab", b"c"]).unwrap();
        assert!(tag_matches(KEY, "csrf", &[b"ab", b"c"], &t));
        assert!(!tag_matches(KEY, "csrf", &[b"a", b"bc"], &t));
        assert!(!tag_matches(KEY, "csrf", &[b"ab", b"d"], &t));
        assert!(!tag_matches(KEY, "csrf", &[b"ab", b"c"], "not-base64!"));
    }
}
