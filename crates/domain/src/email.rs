//! Email addresses as accounts are keyed by them.
//!
//! We accept the subset of RFC 5321 §4.1.2 that real mailboxes use and that is safe
//! to store, compare and echo:
//!
//! - surrounding whitespace is trimmed; nothing else is repaired;
//! - at most 254 octets in all (RFC 5321 §4.5.3.1.3 path limit minus the brackets,
//!   per RFC 3696 errata 1690), the local part at most 64 (§4.5.3.1.1);
//! - the local part is a `Dot-string` (§4.1.2): `atext` atoms joined by single dots.
//!   Quoted local parts (`"a b"@x.io`) are refused: legal, but practically unused and
//!   a favourite of injection payloads;
//! - the domain is a host name of at least two LDH labels (RFC 1035 §2.3.1, RFC 1123
//!   §2.1), each 1–63 octets, no leading or trailing hyphen, and a top-level label
//!   that is not all digits (the 254-octet total keeps the domain under RFC 1035's
//!   253). Address literals (`[192.0.2.1]`) are
//!   refused;
//! - ASCII only: an internationalised domain is accepted in its A-label (`xn--`)
//!   form; SMTPUTF8 local parts (RFC 6531) are refused, which keeps look-alike
//!   characters out of the accounts table;
//! - the domain is lower-cased (domains are case-insensitive, RFC 4343); the local
//!   part keeps its case (RFC 5321 §2.4), the database compares it case-insensitively.
//!
//! The `email_address` crate was considered: it accepts the whole RFC 5322 grammar
//! (quoted strings, domain literals), which is more than a sign-up form should, and it
//! reports one opaque error where we want the rule that failed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ValidationError;

/// Longest address we accept, in octets (RFC 5321 §4.5.3.1.3 / RFC 3696 errata 1690).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// Longest domain label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// An email address that passed the rules in the [module docs](self): trimmed,
/// ASCII, `local@domain` with a lower-case domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    /// The whole address, domain lower-cased.
    address: String,
    /// Byte index of the `@` in `address`.
    at: usize,
}

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("email must not be empty")]
    Empty,
    /// Longer than [`MAX_EMAIL_LEN`] octets.
    #[error("email must be at most {MAX_EMAIL_LEN} characters")]
    TooLong,
    /// A character outside ASCII.
    #[error(
        "email must contain only ASCII characters (use the xn-- form for international domains)"
    )]
    NonAscii,
    /// No `@`.
    #[error("email must contain an @")]
    MissingAt,
    /// More than one `@` (quoted local parts are not accepted).
    #[error("email must contain exactly one @")]
    MultipleAt,
    /// The local part is empty or longer than [`MAX_LOCAL_PART_LEN`] octets.
    #[error("the part before the @ must be 1 to {MAX_LOCAL_PART_LEN} characters")]
    LocalPartLength,
    /// The local part is not a dot-string of `atext` characters.
    #[error(
        "the part before the @ may contain letters, digits and !#$%&'*+-/=?^_`{{|}}~, with single dots between them"
    )]
    InvalidLocalPart,
    /// The domain is not a host name of two or more valid labels.
    #[error("the domain must be a host name such as example.com")]
    InvalidDomain,
}

impl ValidationError for EmailError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::NonAscii => "non_ascii",
            Self::MissingAt => "missing_at",
            Self::MultipleAt => "multiple_at",
            Self::LocalPartLength => "local_part_length",
            Self::InvalidLocalPart => "invalid_local_part",
            Self::InvalidDomain => "invalid_domain",
        }
    }
}

impl Email {
    /// Parses an address, trimming surrounding whitespace and lower-casing the domain.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        if !trimmed.is_ascii() {
            return Err(EmailError::NonAscii);
        }
        let (local, domain) = trimmed.split_once('@').ok_or(EmailError::MissingAt)?;
        if domain.contains('@') {
            return Err(EmailError::MultipleAt);
        }
        check_local_part(local)?;
        check_domain(domain)?;
        let mut address = String::with_capacity(trimmed.len());
        address.push_str(local);
        address.push('@');
        address.push_str(&domain.to_ascii_lowercase());
        Ok(Self {
            address,
            at: local.len(),
        })
    }

    /// The address as stored and compared.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The part before the `@`, case preserved.
    pub fn local_part(&self) -> &str {
        self.address.get(..self.at).unwrap_or_default()
    }

    /// The domain after the `@`, lower-case.
    pub fn domain(&self) -> &str {
        self.address.get(self.at + 1..).unwrap_or_default()
    }
}

/// RFC 5321 §4.1.2 `Dot-string = Atom *("." Atom)`, `Atom = 1*atext`.
fn check_local_part(local: &str) -> Result<(), EmailError> {
    if local.is_empty() || local.len() > MAX_LOCAL_PART_LEN {
        return Err(EmailError::LocalPartLength);
    }
    let well_formed = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext));
    if well_formed {
        Ok(())
    } else {
        Err(EmailError::InvalidLocalPart)
    }
}

/// RFC 5322 §3.2.3 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A host name: two or more LDH labels, the last not all digits.
fn check_domain(domain: &str) -> Result<(), EmailError> {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld_is_numeric = labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if labels.len() < 2 || tld_is_numeric || !labels.iter().all(|label| is_ldh_label(label)) {
        return Err(EmailError::InvalidDomain);
    }
    Ok(())
}

/// RFC 1123 §2.1 label: letters, digits, hyphens; no hyphen at either end.
fn is_ldh_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.address
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses_and_normalises_them() {
        let cases = [
            ("ada@example.com", "ada@example.com"),
            ("  Ada.Lovelace@Example.COM\t", "Ada.Lovelace@example.com"),
            ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
            ("a_b-c@1.example", "a_b-c@1.example"),
            ("user@example.c0m", "user@example.c0m"),
        ];
        for (input, expected) in cases {
            let email = Email::parse(input).map_err(|e| format!("{input:?}: {e}"));
            assert_eq!(email.as_ref().map(Email::as_str), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn splits_local_part_and_domain() -> Result<(), EmailError> {
        let email = Email::parse("Ada@Example.com")?;
        assert_eq!(email.local_part(), "Ada");
        assert_eq!(email.domain(), "example.com");
        Ok(())
    }

    #[test]
    fn rejects_malformed_addresses_naming_the_rule() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_total = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        let cases: &[(&str, EmailError, &str)] = &[
            ("", EmailError::Empty, "nothing"),
            ("   \t", EmailError::Empty, "only whitespace"),
            ("ada.example.com", EmailError::MissingAt, "no @"),
            ("a@b@example.com", EmailError::MultipleAt, "two @"),
            (
                "\"a@b\"@example.com",
                EmailError::MultipleAt,
                "quoted local part with @",
            ),
            (
                "@example.com",
                EmailError::LocalPartLength,
                "empty local part",
            ),
            (
                &long_local,
                EmailError::LocalPartLength,
                "65-octet local part",
            ),
            (
                ".ada@example.com",
                EmailError::InvalidLocalPart,
                "leading dot",
            ),
            (
                "ada.@example.com",
                EmailError::InvalidLocalPart,
                "trailing dot",
            ),
            (
                "a..da@example.com",
                EmailError::InvalidLocalPart,
                "consecutive dots",
            ),
            (
                "a da@example.com",
                EmailError::InvalidLocalPart,
                "space in local part",
            ),
            (
                "\"ada\"@example.com",
                EmailError::InvalidLocalPart,
                "quoted local part",
            ),
            (
                "a(comment)@example.com",
                EmailError::InvalidLocalPart,
                "comment",
            ),
            (
                "a<b>@example.com",
                EmailError::InvalidLocalPart,
                "angle brackets",
            ),
            (
                "a\n@example.com",
                EmailError::InvalidLocalPart,
                "newline inside",
            ),
            ("ada@", EmailError::InvalidDomain, "empty domain"),
            ("ada@localhost", EmailError::InvalidDomain, "single label"),
            ("ada@example..com", EmailError::InvalidDomain, "empty label"),
            (
                "ada@.example.com",
                EmailError::InvalidDomain,
                "leading dot in domain",
            ),
            (
                "ada@example.com.",
                EmailError::InvalidDomain,
                "trailing root dot",
            ),
            (
                "ada@-example.com",
                EmailError::InvalidDomain,
                "label starts with hyphen",
            ),
            (
                "ada@example-.com",
                EmailError::InvalidDomain,
                "label ends with hyphen",
            ),
            (
                "ada@exa_mple.com",
                EmailError::InvalidDomain,
                "underscore in host name",
            ),
            (
                "ada@[192.0.2.1]",
                EmailError::InvalidDomain,
                "address literal",
            ),
            (
                "ada@192.0.2.1",
                EmailError::InvalidDomain,
                "numeric top-level label",
            ),
            (
                "ada@example.com;drop",
                EmailError::InvalidDomain,
                "semicolon",
            ),
            (&long_label, EmailError::InvalidDomain, "64-octet label"),
            (&long_total, EmailError::TooLong, "255 octets in all"),
            (
                "ädä@example.com",
                EmailError::NonAscii,
                "SMTPUTF8 local part",
            ),
            ("ada@bücher.example", EmailError::NonAscii, "U-label domain"),
            (
                "ada@exаmple.com",
                EmailError::NonAscii,
                "Cyrillic а look-alike",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(Email::parse(input), Err(*expected), "{reason}: {input:?}");
        }
    }

    #[test]
    fn length_limits_are_inclusive() -> Result<(), EmailError> {
        let local = "a".repeat(MAX_LOCAL_PART_LEN);
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        let email = Email::parse(&format!("{local}@{domain}"))?;
        assert_eq!(email.as_str().len(), MAX_EMAIL_LEN);
        Ok(())
    }

    #[test]
    fn serde_goes_through_the_parser() -> Result<(), serde_json::Error> {
        let email: Email = serde_json::from_str(r#"" A@B.IO ""#)?;
        assert_eq!(serde_json::to_string(&email)?, r#""A@b.io""#);
        let err = serde_json::from_str::<Email>(r#""nope""#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("email must contain an @"));
        Ok(())
    }

    #[test]
    fn error_messages_do_not_echo_the_input() {
        let input = "<script>alert(1)</script>@evil";
        let message = Email::parse(input)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!message.contains("script"), "{message}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Email::parse(&input);
        }

        #[test]
        fn display_round_trips(
            input in "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[A-Za-z0-9_-]{1,10}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?\\.){1,3}[A-Za-z]{2,10}"
        ) {
            let email = Email::parse(&input);
            prop_assert!(email.is_ok(), "{input:?}: {email:?}");
            if let Ok(email) = email {
                let shown = email.to_string();
                prop_assert_eq!(Email::parse(&shown), Ok(email.clone()));
                prop_assert_eq!(email.domain(), email.domain().to_ascii_lowercase());
            }
        }
    }
}
