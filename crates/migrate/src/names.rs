//! Values that go into SQL text where placeholders are not allowed (identifiers in
//! `CREATE DATABASE`/`GRANT`, passwords in `CREATE USER`), so they are parsed into
//! types whose charset cannot break out of a quoted identifier or string.

use std::fmt;

use rand::Rng;

use crate::error::{MigrateError, Result};

/// A database (schema) name: 1–64 characters of `[A-Za-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatabaseName(String);

impl DatabaseName {
    /// Parses a database name.
    pub fn parse(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(MigrateError::Invalid {
                what: "database name",
                reason: format!("{name:?} must be 1-64 characters of [A-Za-z0-9_]"),
            })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier.
    pub(crate) fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters allowed in account passwords: URL-safe, so a password also goes into a
/// `mysql://user:password@host/db` URL without percent-encoding.
const PASSWORD_CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A component account password: 16–128 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountPassword(String);

impl AccountPassword {
    /// Parses a caller-supplied password (the error never echoes it).
    pub fn parse(password: &str) -> Result<Self> {
        let ok = (16..=128).contains(&password.len())
            && password.bytes().all(|b| PASSWORD_CHARSET.contains(&b));
        if ok {
            Ok(Self(password.to_owned()))
        } else {
            Err(MigrateError::Invalid {
                what: "account password",
                reason: "must be 16-128 characters of [A-Za-z0-9_-]".to_owned(),
            })
        }
    }

    /// A fresh random password: 32 characters from a 64-symbol alphabet (192 bits).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let password = (0..32)
            .map(|_| char::from(PASSWORD_CHARSET[rng.random_range(0..PASSWORD_CHARSET.len())]))
            .collect();
        Self(password)
    }

    /// The password, for building the component's connection URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountPassword(***)")
    }
}

/// The host part of an account (`'user'@'host'`): `%`, an address or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHost(String);

impl AccountHost {
    /// Parses an account host: 1–255 characters of `[A-Za-z0-9.%_:-]`.
    pub fn parse(host: &str) -> Result<Self> {
        let ok = !host.is_empty()
            && host.len() <= 255
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'%' | b'_' | b':' | b'-')
            });
        if ok {
            Ok(Self(host.to_owned()))
        } else {
            Err(MigrateError::Invalid {
                what: "account host",
                reason: format!("{host:?} must be 1-255 characters of [A-Za-z0-9.%_:-]"),
            })
        }
    }

    /// Any host (`%`).
    pub fn any() -> Self {
        Self("%".to_owned())
    }

    /// The host as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_outside_the_charset_are_refused() {
        assert!(DatabaseName::parse("orderly").is_ok());
        assert!(DatabaseName::parse("orderly_test_01").is_ok());
        for bad in ["", "a-b", "a`b", "a b", "a;drop", &"x".repeat(65)] {
            assert!(DatabaseName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_must_be_long_and_url_safe_and_are_never_printed() {
        assert!(AccountPassword::parse("abcdefghijklmnop").is_ok());
        for bad in [
            "short",
            "abcdefghijklmno'",
            "abcdefghijklmno\\",
            "abcdefghijklmno@",
            "abcdefghijklmno:",
        ] {
            let error = AccountPassword::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.is_empty(), "{bad:?} accepted");
            assert!(!error.contains(bad), "error echoes the password: {error}");
        }
        let generated = AccountPassword::generate();
        assert!(AccountPassword::parse(generated.expose()).is_ok());
        assert_ne!(generated, AccountPassword::generate());
        assert_eq!(format!("{generated:?}"), "AccountPassword(***)");
    }

    #[test]
    fn account_hosts_cannot_break_out_of_quotes() {
        assert!(AccountHost::parse("%").is_ok());
        assert!(AccountHost::parse("10.0.%").is_ok());
        assert!(AccountHost::parse("a'b").is_err());
    }
}
