//! The one error type of `orderly-admin`. Messages name what is wrong, never a secret.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// An argument or input file is not acceptable (the value itself is never echoed
    /// when it may be a secret).
    #[error("{what}: {reason}")]
    Invalid {
        /// What was given (`--scope`, `keys file line 3`, …).
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// The command would break an invariant of the current state (a second `stage`
    /// while a next key is pending, …).
    #[error("{0}")]
    State(String),
    /// The row to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The row to create exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// A signing key or JWKS could not be used.
    #[error("{what}: {source}")]
    Key {
        /// Which variable.
        what: &'static str,
        /// The key error (never carries key material).
        #[source]
        source: tokens::KeyError,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A database statement failed.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// Connecting or migrating through the `migrate` crate failed.
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    /// The platform's random number generator or the hasher failed.
    #[error("{0}")]
    Crypto(String),
}

impl AdminError {
    /// An [`AdminError::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// A closure mapping a driver error to [`AdminError::Database`].
    pub fn db(context: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Self {
        let context = context.into();
        move |source| Self::Database { context, source }
    }
}

/// `Result` with [`AdminError`].
pub type Result<T> = std::result::Result<T, AdminError>;
