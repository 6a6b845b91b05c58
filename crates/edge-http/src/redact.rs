//! Redaction of secrets before text reaches a log line.
//!
//! Error texts from the platform are not safe to log as they are: Spin's MySQL errors
//! repeat the connection URL with its password (`docs/spin-fidelity.md`), a failed upstream
//! call may echo an `Authorization` header, a form may carry `password=`. Everything
//! the edge logs that did not come from our own constants passes through [`redact`].
//! Over-redaction is acceptable; a leaked secret is not.

use std::borrow::Cow;

/// What a redacted secret is replaced with.
pub const MASK: &str = "***";

/// Header names whose values are always secret (compared case-insensitively).
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "dpop",
];

/// Words that mark a key (header name, query or form field, JSON member) as secret when
/// they occur anywhere in it: `access_token`, `client_secret`, `db_password`, ….
const SENSITIVE_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "code_verifier",
    "assertion",
    "private_key",
];

/// Authorization schemes whose following word is a credential.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "dpop", "digest"];

/// Whether a header's value must never be logged.
pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_HEADERS.contains(&lower.as_str())
        || SENSITIVE_KEY_WORDS.iter().any(|w| lower.contains(w))
}

/// A header value fit for a log: masked entirely for sensitive headers, otherwise
/// passed through [`redact`].
pub fn redact_header<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_sensitive_header(name) {
        Cow::Borrowed(MASK)
    } else {
        match redact(value) {
            redacted if redacted == value => Cow::Borrowed(value),
            redacted => Cow::Owned(redacted),
        }
    }
}

/// Masks the secrets this crate knows how to recognise in free text:
/// - the password of any `scheme://user:password@host` URL (`mysql://`, `redis://`, …),
/// - the credential after `Bearer`/`Basic`/`DPoP`/`Digest`,
/// - the value after `key=`, `key: ` or `"key": ` when the key names a secret,
/// - anything shaped like a JWT (`eyJ….….…`).
pub fn redact(text: &str) -> String {
    let text = redact_url_passwords(text);
    let text = redact_auth_schemes(&text);
    let text = redact_key_values(&text);
    redact_jwts(&text)
}

fn ends_authority(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\'
    ) || b.is_ascii_whitespace()
}

/// `scheme://user:pass@host` → `scheme://user:***@host`. The userinfo ends at the
/// last `@` of the authority, so a password containing `@` is still covered.
fn redact_url_passwords(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let authority_start = search + found + 3;
        let authority_end = bytes[authority_start..]
            .iter()
            .position(|&b| ends_authority(b))
            .map_or(bytes.len(), |p| authority_start + p);
        let authority = &text[authority_start..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                let password_start = authority_start + colon + 1;
                let password_end = authority_start + at;
                out.push_str(&text[copied..password_start]);
                out.push_str(MASK);
                copied = password_end;
            }
        }
        search = authority_end.max(authority_start);
    }
    out.push_str(&text[copied..]);
    out
}

/// `Bearer abc.def` → `Bearer ***` (case-insensitive scheme, word boundary before it).
fn redact_auth_schemes(text: &str) -> String {
    // Byte-wise: `i` walks bytes and may sit inside a multi-byte character.
    let lower = text.as_bytes().to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let scheme = AUTH_SCHEMES.iter().find(|s| {
            lower[i..].starts_with(s.as_bytes())
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        });
        if let Some(scheme) = scheme {
            let after = i + scheme.len();
            let spaces = bytes[after..]
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            let cred_start = after + spaces;
            let cred_len = bytes[cred_start..]
                .iter()
                .take_while(|&&b| is_credential_byte(b))
                .count();
            if spaces > 0 && cred_len > 0 {
                out.push_str(&text[copied..cred_start]);
                out.push_str(MASK);
                copied = cred_start + cred_len;
                i = copied;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_credential_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

fn ends_value(b: u8) -> bool {
    matches!(
        b,
        b'&' | b';' | b',' | b'"' | b'\'' | b')' | b'}' | b']' | b'>'
    ) || b.is_ascii_whitespace()
}

/// `password=hunter2`, `"client_secret": "x"`, `token: abc` → the value masked.
fn redact_key_values(text: &str) -> String {
    // Byte-wise: `i` walks bytes and may sit inside a multi-byte character.
    let lower = text.as_bytes().to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(word) = SENSITIVE_KEY_WORDS
            .iter()
            .find(|w| lower[i..].starts_with(w.as_bytes()))
        else {
            i += 1;
            continue;
        };
        // Finish the key (`token` inside `access_token_hint`), then an optional closing
        // quote, optional spaces, the separator and optional spaces and opening quote.
        let mut j = i + word.len();
        while j < bytes.len() && is_key_byte(bytes[j]) {
            j += 1;
        }
        if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || !matches!(bytes[j], b'=' | b':') {
            i += word.len();
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let quote = (j < bytes.len() && matches!(bytes[j], b'"' | b'\'')).then(|| bytes[j]);
        if quote.is_some() {
            j += 1;
        }
        let value_start = j;
        let value_end = match quote {
            Some(q) => bytes[value_start..]
                .iter()
                .position(|&b| b == q)
                .map_or(bytes.len(), |p| value_start + p),
            None => bytes[value_start..]
                .iter()
                .position(|&b| ends_value(b))
                .map_or(bytes.len(), |p| value_start + p),
        };
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_end;
        }
        i = value_end.max(i + word.len());
    }
    out.push_str(&text[copied..]);
    out
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// Three base64url segments starting `eyJ` (a JSON header) → `***`.
fn redact_jwts(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("eyJ") {
        let start = search + found;
        let mut end = start;
        let mut dots = 0;
        while end < bytes.len() && (is_base64url_byte(bytes[end]) || bytes[end] == b'.') {
            if bytes[end] == b'.' {
                dots += 1;
            }
            end += 1;
        }
        let at_boundary = start == 0 || !is_base64url_byte(bytes[start - 1]);
        if dots >= 2 && at_boundary {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
        }
        search = end.max(start + 3);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connection_url_passwords_are_masked() {
        let cases = [
            (
                "address mysql://probe:probe@127.0.0.1/probe is not permitted",
                "address mysql://probe:***@127.0.0.1/probe is not permitted",
            ),
            ("redis://:s3cret@cache:6379", "redis://:***@cache:6379"),
            ("mysql://u:p@ss@host/db", "mysql://u:***@host/db"),
            ("\"mysql://a:b@h\"", "\"mysql://a:***@h\""),
            ("mysql://user@host/db", "mysql://user@host/db"),
            ("https://example.com/a?b=c", "https://example.com/a?b=c"),
            (
                "two: mysql://a:b@h and redis://c:d@i",
                "two: mysql://a:***@h and redis://c:***@i",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn authorization_credentials_are_masked() {
        assert_eq!(
            redact("Authorization: Bearer abc.def-ghi"),
            "Authorization: *** ***"
        );
        assert_eq!(
            redact("sent bearer abc123 upstream"),
            "sent bearer *** upstream"
        );
        assert_eq!(redact("Basic dXNlcjpwYXNz"), "Basic ***");
        assert_eq!(redact("the Bearer scheme"), "the Bearer ***");
    }

    #[test]
    fn secret_fields_are_masked_in_forms_queries_and_json() {
        let cases = [
            (
                "grant_type=x&client_secret=abc&scope=y",
                "grant_type=x&client_secret=***&scope=y",
            ),
            ("/cb?code=1&access_token=xyz", "/cb?code=1&access_token=***"),
            (
                r#"{"email":"a@b.c","password":"hunter2"}"#,
                r#"{"email":"a@b.c","password":"***"}"#,
            ),
            (
                r#"{"refresh_token" : "r1", "n": 1}"#,
                r#"{"refresh_token" : "***", "n": 1}"#,
            ),
            ("Cookie: sid=abc", "Cookie: ***"),
            ("DB_PASSWORD=pw ok", "DB_PASSWORD=*** ok"),
            (
                "Access denied (using password: YES)",
                "Access denied (using password: ***)",
            ),
            ("no secrets here", "no secrets here"),
            ("tokens issued", "tokens issued"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn jwts_are_masked() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
        assert_eq!(redact(&format!("got {jwt} back")), "got *** back");
        assert_eq!(redact("eyJ only"), "eyJ only");
    }

    #[test]
    fn sensitive_headers_are_masked_whole() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("COOKIE"));
        assert!(is_sensitive_header("X-Refresh-Token"));
        assert!(!is_sensitive_header("accept"));
        assert_eq!(redact_header("Authorization", "Bearer x"), MASK);
        assert_eq!(redact_header("user-agent", "curl/8"), "curl/8");
    }

    #[test]
    fn non_ascii_text_survives_redaction() {
        assert_eq!(
            redact("héllo wörld password=ü😀 ok"),
            "héllo wörld password=*** ok"
        );
    }

    proptest! {
        #[test]
        fn a_secret_in_a_known_position_never_survives(secret in "Zq[A-Za-z0-9]{6,24}") {
            let texts = [
                format!("mysql://orderly_health:{secret}@127.0.0.1:3306/orderly"),
                format!("Authorization: Bearer {secret}"),
                format!("password={secret}&x=1"),
                format!(r#"{{"client_secret":"{secret}"}}"#),
                format!("connection failed: address mysql://u:{secret}@db/orderly is not permitted"),
            ];
            for text in texts {
                let redacted = redact(&text);
                prop_assert!(!redacted.contains(&secret), "{} -> {}", text, redacted);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = redact(&text);
        }
    }
}
