//! Passwords, per NIST SP 800-63B §5.1.1 (memorized secrets).
//!
//! Two types, because signing in and choosing a password are different questions:
//!
//! - [`PasswordInput`] is what someone typed. It is NFKC-normalised (800-63B
//!   §5.1.1.2: "SHOULD apply the Normalization Process for Stabilization"), so the
//!   same password typed on two keyboards hashes the same, and it is capped at
//!   [`MAX_PASSWORD_CHARS`] so a sign-in cannot make us hash a megabyte. Sign-in
//!   verifies this against the stored hash; it applies no other policy, so tightening
//!   the policy never locks anyone out.
//! - [`Password`] is a new password that meets the policy, for registration and
//!   password changes. It can only be made from a `PasswordInput` and the account's
//!   [`Email`], because one rule needs both.
//!
//! The policy, each rule with its error:
//! - at least [`MIN_PASSWORD_CHARS`] and at most [`MAX_PASSWORD_CHARS`] characters,
//!   counted as Unicode scalar values after NFKC (800-63B: "each Unicode code point
//!   SHALL be counted as a single character"; minimum 8, maximum at least 64);
//! - any printable character, spaces included, no composition rules (800-63B: "SHOULD
//!   NOT impose other composition rules"); control characters are refused, as they
//!   are never typed on purpose;
//! - not on the deny list of common passwords (800-63B: "compare the prospective
//!   secrets against a list that contains values known to be commonly-used"). The
//!   list (`common_passwords.txt`, over 2,000 entries) is compared case-insensitively
//!   against the password, against the password without a short run (up to six) of
//!   trailing digits and symbols (`Dragon2024!`), and against that with the usual
//!   character swaps undone (`P@ssw0rd1` → `password`);
//! - not one character repeated and not a straight run (`aaaaaaaa`, `12345678`,
//!   `hgfedcba`; 800-63B lists "repetitive or sequential characters");
//! - not containing the email's local part, case-insensitively (800-63B:
//!   "context-specific words, such as the name of the service, the username");
//!   local parts shorter than three characters are only refused when equal.
//!
//! Secrets are handled as such: neither type implements `Display`, `Serialize`,
//! `Clone` or `PartialEq`; `Debug` prints `<redacted>`; the text and the copies made
//! while checking it are zeroed when dropped ([`zeroize`]). Copies made before the
//! value reaches us (the request body buffer, serde's `String`) are outside that
//! guarantee; `TryFrom<String>` zeroes the `String` it is given.
//!
//! Note: SP 800-63B-4 (2025) raises the minimum to 15 characters where the password
//! is the only factor; [`MIN_PASSWORD_CHARS`] is the single place to change.

use std::fmt;

use serde::Deserialize;
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::{Email, ValidationError};

/// Fewest characters in a new password (NIST SP 800-63B §5.1.1.2).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters in any password, new or typed at sign-in (800-63B asks for at
/// least 64).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest run of trailing digits and symbols stripped before the deny-list check.
const MAX_STRIPPED_SUFFIX: usize = 6;
/// Shortest email local part refused as a substring (shorter ones: only if equal).
const MIN_LOCAL_PART_FOR_CONTAINS: usize = 3;

/// The deny list: one lower-case password per line, sorted, unique.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Why a password is refused. Messages never include the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// No characters at all.
    #[error("password must not be empty")]
    Empty,
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// A control character (tab, newline, NUL, …).
    #[error("password must not contain control characters")]
    ControlCharacter,
    /// On the common-password deny list, or a variant of an entry.
    #[error("password is too common; choose one that is harder to guess")]
    Common,
    /// One character repeated, or a run like `12345678` or `abcdefgh`.
    #[error("password must not be a repeated character or a simple sequence")]
    RepetitiveOrSequential,
    /// Contains the local part of the account's email.
    #[error("password must not contain your email address")]
    ContainsEmail,
}

impl ValidationError for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::ControlCharacter => "control_character",
            Self::Common => "common_password",
            Self::RepetitiveOrSequential => "repetitive_or_sequential",
            Self::ContainsEmail => "contains_email",
        }
    }
}

/// A password as typed: NFKC-normalised, 1 to [`MAX_PASSWORD_CHARS`] characters, no
/// control characters. What sign-in verifies; see the [module docs](self).
#[derive(Deserialize)]
#[serde(try_from = "String")]
pub struct PasswordInput(Zeroizing<String>);

impl PasswordInput {
    /// Normalises `raw` (NFKC) and checks the length cap and control characters.
    /// Takes the `String` so it can be zeroed; the input is not trimmed.
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        let raw = Zeroizing::new(raw);
        if raw.is_empty() {
            return Err(PasswordError::Empty);
        }
        // Normalising is work: refuse input far beyond any password that could come
        // out of it at MAX_PASSWORD_CHARS (4 bytes a character, with room for
        // composing sequences) before doing it.
        if raw.len() > MAX_PASSWORD_CHARS * 4 * 4 {
            return Err(PasswordError::TooLong);
        }
        let normalised = if raw.is_ascii() {
            // ASCII is unchanged by NFKC; keep the one copy.
            raw
        } else {
            Zeroizing::new(raw.nfkc().collect::<String>())
        };
        if normalised.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        if normalised.chars().count() > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(normalised))
    }

    /// The normalised password, to hash or verify. Do not log or store it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PasswordInput {
    type Error = PasswordError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(<redacted>)")
    }
}

/// A new password that meets the policy in the [module docs](self) for the account
/// with a given email.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Checks a typed password against the policy for the account `email`.
    pub fn new(input: PasswordInput, email: &Email) -> Result<Self, PasswordError> {
        let password = input.0;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        let lower = Zeroizing::new(password.to_lowercase());
        if is_repetitive_or_sequential(&lower) {
            return Err(PasswordError::RepetitiveOrSequential);
        }
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        let local = email.local_part().to_ascii_lowercase();
        let contains_local = if local.len() >= MIN_LOCAL_PART_FOR_CONTAINS {
            lower.contains(&local)
        } else {
            *lower == local
        };
        if contains_local {
            return Err(PasswordError::ContainsEmail);
        }
        Ok(Self(password))
    }

    /// Parses and checks in one step: [`PasswordInput::parse`] then [`Password::new`].
    pub fn parse(raw: String, email: &Email) -> Result<Self, PasswordError> {
        PasswordInput::parse(raw).and_then(|input| Self::new(input, email))
    }

    /// The normalised password, to hash. Do not log or store it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Whether `lower` (lower-cased) or a simple variant of it is on the deny list.
fn is_common(lower: &str) -> bool {
    if on_deny_list(lower) {
        return true;
    }
    let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stripped = lower.len() - base.len(); // ASCII only, so bytes = characters
    if base.is_empty() || stripped > MAX_STRIPPED_SUFFIX {
        return false;
    }
    if on_deny_list(base) {
        return true;
    }
    let unswapped = Zeroizing::new(base.chars().map(undo_swap).collect::<String>());
    on_deny_list(&unswapped)
}

/// The usual look-alike swaps (`@`→`a`, `0`→`o`, …), undone.
fn undo_swap(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '3' => 'e',
        '1' | '!' => 'i',
        '0' => 'o',
        '$' | '5' => 's',
        '7' => 't',
        other => other,
    }
}

fn on_deny_list(candidate: &str) -> bool {
    COMMON_PASSWORDS.lines().any(|entry| entry == candidate)
}

/// One character repeated, or every step between neighbours +1 or every step -1.
fn is_repetitive_or_sequential(lower: &str) -> bool {
    let codes: Vec<u32> = lower.chars().map(u32::from).collect();
    let steps: Vec<i64> = codes
        .windows(2)
        .map(|pair| match pair {
            [a, b] => i64::from(*b) - i64::from(*a),
            _ => 0,
        })
        .collect();
    match steps.first() {
        Some(&first) => matches!(first, -1..=1) && steps.iter().all(|step| *step == first),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn email() -> Email {
        Email::parse("ada.lovelace@example.com").expect("a valid email")
    }

    fn new_password(raw: &str) -> Result<Password, PasswordError> {
        Password::parse(raw.to_owned(), &email())
    }

    #[test]
    fn accepts_long_uncommon_passwords_of_any_composition() {
        let accepted = [
            "correct horse battery staple",
            "tr0ub4dor&3x",
            "zebra-kumquat-74",
            "ALLUPPERCASEBUTLONG",
            "schöne grüße aus köln",
            "пароль-надёжный-42",
            "🔐🐢🌵🎻🧭🪐🍩🦉",
            "        x       ",
            "tea83920174",
        ];
        for raw in accepted {
            let result = new_password(raw);
            assert!(result.is_ok(), "{raw:?}: {result:?}");
        }
    }

    #[test]
    fn rejects_weak_passwords_naming_the_rule() {
        let too_long = "x1y2".repeat(33);
        let cases: &[(&str, PasswordError, &str)] = &[
            ("", PasswordError::Empty, "empty"),
            ("k7#Qz", PasswordError::TooShort, "5 characters"),
            ("k7#Qz!m", PasswordError::TooShort, "7 characters"),
            (
                "ｋ７＃Ｑｚ",
                PasswordError::TooShort,
                "full-width letters are 5 after NFKC",
            ),
            (&too_long, PasswordError::TooLong, "132 characters"),
            ("correct\thorse", PasswordError::ControlCharacter, "tab"),
            ("correct\nhorse", PasswordError::ControlCharacter, "newline"),
            ("correct\u{0}horse", PasswordError::ControlCharacter, "NUL"),
            ("password", PasswordError::Common, "the classic"),
            ("PASSWORD", PasswordError::Common, "case does not help"),
            ("qwertyuiop", PasswordError::Common, "keyboard walk"),
            ("iloveyou", PasswordError::Common, "on every list"),
            ("1q2w3e4r", PasswordError::Common, "interleaved walk"),
            ("trustno1", PasswordError::Common, "film password"),
            (
                "Password1!",
                PasswordError::Common,
                "decorated with a digit and a symbol",
            ),
            ("Dragon2024!", PasswordError::Common, "a year and a symbol"),
            ("P@ssw0rd", PasswordError::Common, "look-alike swaps"),
            ("P@55w0rd123", PasswordError::Common, "swaps and digits"),
            ("football!!", PasswordError::Common, "trailing symbols"),
            (
                "ｐａｓｓｗｏｒｄ",
                PasswordError::Common,
                "full-width letters normalise to ASCII",
            ),
            (
                "aaaaaaaa",
                PasswordError::RepetitiveOrSequential,
                "one letter repeated",
            ),
            (
                "ZZZZZZZZZZZZZZZ",
                PasswordError::RepetitiveOrSequential,
                "repeated, upper case",
            ),
            (
                "12345678",
                PasswordError::RepetitiveOrSequential,
                "ascending digits",
            ),
            (
                "hgfedcba",
                PasswordError::RepetitiveOrSequential,
                "descending letters",
            ),
            (
                "lmnopqrstu",
                PasswordError::RepetitiveOrSequential,
                "ascending letters",
            ),
            (
                "ada.lovelace",
                PasswordError::ContainsEmail,
                "the local part itself",
            ),
            (
                "xx-Ada.Lovelace-99",
                PasswordError::ContainsEmail,
                "local part inside",
            ),
        ];
        for (raw, expected, reason) in cases {
            assert_eq!(
                new_password(raw).err(),
                Some(*expected),
                "{reason}: {raw:?}"
            );
        }
    }

    #[test]
    fn short_local_parts_only_match_exactly() -> Result<(), Box<dyn std::error::Error>> {
        let short = Email::parse("jo@example.com")?;
        assert!(Password::parse("majolica-vase-7".to_owned(), &short).is_ok());
        let long = Email::parse("kumquat@example.com")?;
        let refused = Password::parse("my-kumquat-tree".to_owned(), &long).err();
        assert_eq!(refused, Some(PasswordError::ContainsEmail));
        Ok(())
    }

    #[test]
    fn a_long_digit_run_is_not_stripped_before_the_deny_list() {
        // "tea" is on the list, but eight trailing digits are not decoration.
        assert!(new_password("tea83920174").is_ok());
        assert_eq!(new_password("tea2024!").err(), Some(PasswordError::Common));
    }

    #[test]
    fn input_is_normalised_but_not_policed() -> Result<(), PasswordError> {
        // Sign-in accepts what the policy would refuse: old passwords keep working.
        assert_eq!(
            PasswordInput::parse("abc".to_owned())?.expose_secret(),
            "abc"
        );
        // NFKC: the "ﬁ" ligature is "fi"; "Å" as A + ring becomes one character.
        let input = PasswordInput::parse("ﬁle A\u{30A}".to_owned())?;
        assert_eq!(input.expose_secret(), "file \u{C5}");
        assert_eq!(
            PasswordInput::parse(String::new()).err(),
            Some(PasswordError::Empty)
        );
        let huge = "x".repeat(MAX_PASSWORD_CHARS * 100);
        assert_eq!(
            PasswordInput::parse(huge).err(),
            Some(PasswordError::TooLong)
        );
        Ok(())
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(new_password("k7#Qz!mW").is_ok());
        assert!(new_password(&"k7#Q".repeat(32)).is_ok());
        assert_eq!(
            new_password(&"k7#Q".repeat(32).replacen('k', "kk", 1)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn debug_never_prints_the_secret() -> Result<(), PasswordError> {
        let input = PasswordInput::parse("correct horse battery staple".to_owned())?;
        assert_eq!(format!("{input:?}"), "PasswordInput(<redacted>)");
        let password = Password::new(input, &email())?;
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        assert_eq!(
            format!("{:?}", Some(&password)),
            "Some(Password(<redacted>))"
        );
        Ok(())
    }

    #[test]
    fn deserialises_through_the_parser() -> Result<(), serde_json::Error> {
        let input: PasswordInput = serde_json::from_str(r#""correct horse""#)?;
        assert_eq!(input.expose_secret(), "correct horse");
        let err = serde_json::from_str::<PasswordInput>(r#""a\u0000b""#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("password must not contain control characters")
        );
        Ok(())
    }

    #[test]
    fn the_deny_list_is_large_lower_case_sorted_and_unique() {
        let entries: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(entries.len() >= 1_000, "{} entries", entries.len());
        for pair in entries.windows(2) {
            assert!(pair[0] < pair[1], "{:?} then {:?}", pair[0], pair[1]);
        }
        for entry in &entries {
            assert!(
                !entry.is_empty() && !entry.contains(char::is_whitespace),
                "{entry:?}"
            );
            assert_eq!(entry.to_lowercase(), *entry);
        }
        let long_enough = entries
            .iter()
            .filter(|e| e.chars().count() >= MIN_PASSWORD_CHARS)
            .count();
        assert!(
            long_enough >= 500,
            "only {long_enough} entries could pass the length rule"
        );
    }

    #[test]
    fn errors_have_stable_codes_and_never_echo_input() {
        let raw = "Password1!";
        let err = new_password(raw).err();
        assert_eq!(err.map(|e| e.code()), Some("common_password"));
        assert!(!err.map(|e| e.to_string()).unwrap_or_default().contains(raw));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(raw in any::<String>()) {
            let _ = new_password(&raw);
        }

        #[test]
        fn policy_holds_for_whatever_it_accepts(raw in "\\PC{0,140}") {
            if let Ok(password) = new_password(&raw) {
                let chars = password.expose_secret().chars().count();
                prop_assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars));
                prop_assert!(!on_deny_list(&password.expose_secret().to_lowercase()));
                // Normalisation is idempotent: verifying the stored form gives the same text.
                let again = PasswordInput::parse(password.expose_secret().to_owned())
                    .map(|p| p.expose_secret().to_owned());
                prop_assert_eq!(again.as_deref(), Ok(password.expose_secret()));
            }
        }
    }
}
