//! The one error type of this crate; every message names what it refers to.

use std::path::PathBuf;

/// Why a migration or provisioning run failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// An applied migration's file no longer matches what was applied.
    #[error(
        "migration {name} was changed after it was applied (recorded sha256 {recorded}, file sha256 {actual}); \
         restore it and add a new migration instead"
    )]
    ChecksumMismatch {
        /// The migration file name.
        name: String,
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The checksum of the file now.
        actual: String,
    },
    /// `schema_migrations` names a migration whose file is gone.
    #[error("migration {name} is recorded as applied but its file is missing")]
    MissingFile {
        /// The recorded migration name.
        name: String,
    },
    /// A file in the migrations directory is not named `NNNN_description.sql`.
    #[error(
        "migration file {name:?} must be named NNNN_description.sql (digits, underscore, [a-z0-9_])"
    )]
    BadFileName {
        /// The offending file name.
        name: String,
    },
    /// Two files share a version number.
    #[error("migrations {first} and {second} share version {version}")]
    DuplicateVersion {
        /// The shared version.
        version: u32,
        /// One file.
        first: String,
        /// The other file.
        second: String,
    },
    /// Reading a migration file or directory failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What we tried to read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A migration's SQL failed. Earlier statements of the file may have been applied
    /// (MariaDB commits DDL implicitly); the file is not recorded.
    #[error("migration {name} failed: {source}")]
    Apply {
        /// The migration file name.
        name: String,
        /// The server's error.
        #[source]
        source: mysql_async::Error,
    },
    /// Any other database operation failed.
    #[error("{context}: {source}")]
    Database {
        /// What we were doing.
        context: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// An input (URL, database name, password) is not acceptable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// Why (never the secret itself).
        reason: String,
    },
    /// A component account was requested without a password.
    #[error("no password supplied for component {component}")]
    MissingPassword {
        /// The component.
        component: String,
    },
    /// Another run holds the migration lock.
    #[error("another migration run holds the lock on database {database}")]
    Locked {
        /// The database.
        database: String,
    },
}

impl MigrateError {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Self {
        let context = context.into();
        move |source| Self::Database { context, source }
    }
}

/// This crate's result type.
pub type Result<T, E = MigrateError> = std::result::Result<T, E>;
