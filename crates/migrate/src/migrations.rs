//! Loading migration files and applying the pending ones, in order, exactly once.

use std::path::Path;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};

use crate::error::{MigrateError, Result};

/// The bookkeeping table: one row per applied file.
pub const SCHEMA_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    name        VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    checksum    CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    applied_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (name)
) ENGINE = InnoDB";

/// Seconds to wait for another run's lock before giving up.
const LOCK_TIMEOUT_SECS: u32 = 30;

/// One migration file: `NNNN_description.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    version: u32,
    name: String,
    sql: String,
    checksum: String,
}

impl Migration {
    /// A migration from its file name and contents; the name must be
    /// `NNNN_description.sql` with `description` in `[a-z0-9_]`.
    pub fn new(name: &str, sql: impl Into<String>) -> Result<Self> {
        let bad_name = || MigrateError::BadFileName {
            name: name.to_owned(),
        };
        let stem = name.strip_suffix(".sql").ok_or_else(bad_name)?;
        let (digits, description) = stem.split_once('_').ok_or_else(bad_name)?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !description.is_empty()
            && description
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(bad_name());
        }
        let version = digits.parse().map_err(|_| bad_name())?;
        let sql = sql.into();
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        Ok(Self {
            version,
            name: name.to_owned(),
            sql,
            checksum,
        })
    }

    /// The version number (the `NNNN` prefix).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The file name, recorded in `schema_migrations.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the file, lowercase hex.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// Reads every `*.sql` file of `dir`, sorted by version. Other files are ignored;
/// a badly named `.sql` file or a repeated version is an error.
pub fn load_dir(dir: &Path) -> Result<Vec<Migration>> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MigrateError::Io { path, source }
    };
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| MigrateError::BadFileName {
                name: path.display().to_string(),
            })?
            .to_owned();
        let sql = std::fs::read_to_string(&path).map_err(io(&path))?;
        migrations.push(Migration::new(&name, sql)?);
    }
    sort_and_check(migrations)
}

/// Sorts by version and refuses duplicate versions.
pub fn sort_and_check(mut migrations: Vec<Migration>) -> Result<Vec<Migration>> {
    migrations.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.name.cmp(&b.name)));
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(MigrateError::DuplicateVersion {
                version: pair[0].version,
                first: pair[0].name.clone(),
                second: pair[1].name.clone(),
            });
        }
    }
    Ok(migrations)
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Files applied by this run, in order.
    pub applied: Vec<String>,
    /// Files that were already applied (checksums verified).
    pub already_applied: Vec<String>,
}

/// Applies the pending `migrations` on `conn` (whose default database is the target).
///
/// Holds a named lock so two runs cannot interleave; verifies every applied file's
/// checksum before applying anything, so a changed file stops the run before it
/// changes the schema further.
pub async fn apply(
    conn: &mut Conn,
    database: &str,
    migrations: &[Migration],
) -> Result<MigrationReport> {
    conn.query_drop(SCHEMA_MIGRATIONS_DDL)
        .await
        .map_err(MigrateError::db("creating schema_migrations"))?;

    let lock_name = format!("orderly_migrate:{database}");
    let locked: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, ?)", (&lock_name, LOCK_TIMEOUT_SECS))
        .await
        .map_err(MigrateError::db("taking the migration lock"))?;
    if locked.flatten() != Some(1) {
        return Err(MigrateError::Locked {
            database: database.to_owned(),
        });
    }
    let result = apply_locked(conn, migrations).await;
    // The lock also ends with the connection; releasing early is a courtesy.
    let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (&lock_name,)).await;
    result
}

async fn apply_locked(conn: &mut Conn, migrations: &[Migration]) -> Result<MigrationReport> {
    let recorded: Vec<(String, String)> = conn
        .query("SELECT name, checksum FROM schema_migrations ORDER BY name")
        .await
        .map_err(MigrateError::db("reading schema_migrations"))?;

    for (name, checksum) in &recorded {
        let file = migrations.iter().find(|m| &m.name == name);
        match file {
            None => return Err(MigrateError::MissingFile { name: name.clone() }),
            Some(file) if &file.checksum != checksum => {
                return Err(MigrateError::ChecksumMismatch {
                    name: name.clone(),
                    recorded: checksum.clone(),
                    actual: file.checksum.clone(),
                });
            }
            Some(_) => {}
        }
    }

    let mut report = MigrationReport::default();
    for migration in migrations {
        if recorded.iter().any(|(name, _)| name == &migration.name) {
            report.already_applied.push(migration.name.clone());
            continue;
        }
        conn.query_drop(migration.sql.as_str())
            .await
            .map_err(|source| MigrateError::Apply {
                name: migration.name.clone(),
                source,
            })?;
        conn.exec_drop(
            "INSERT INTO schema_migrations (name, checksum) VALUES (?, ?)",
            (&migration.name, &migration.checksum),
        )
        .await
        .map_err(MigrateError::db(format!("recording {}", migration.name)))?;
        report.applied.push(migration.name.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_must_be_numbered_and_described() {
        let good = Migration::new("0001_initial_schema.sql", "SELECT 1");
        assert_eq!(good.as_ref().map(Migration::version).ok(), Some(1));
        for bad in [
            "initial.sql",
            "0001.sql",
            "0001_.sql",
            "0001_Init.sql",
            "01a_x.sql",
            "0001_x.txt",
            "_x.sql",
        ] {
            assert!(
                matches!(
                    Migration::new(bad, ""),
                    Err(MigrateError::BadFileName { .. })
                ),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn the_checksum_is_the_sha256_of_the_contents() {
        let migration = Migration::new("0001_a.sql", "abc").unwrap();
        assert_eq!(
            migration.checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn migrations_sort_by_version_not_by_text() {
        let sorted = sort_and_check(vec![
            Migration::new("10_b.sql", "").unwrap(),
            Migration::new("9_a.sql", "").unwrap(),
        ])
        .unwrap();
        let names: Vec<_> = sorted.iter().map(Migration::name).collect();
        assert_eq!(names, ["9_a.sql", "10_b.sql"]);
    }

    #[test]
    fn two_files_with_one_version_are_refused() {
        let result = sort_and_check(vec![
            Migration::new("0002_a.sql", "").unwrap(),
            Migration::new("0002_b.sql", "").unwrap(),
        ]);
        assert!(matches!(
            result,
            Err(MigrateError::DuplicateVersion { version: 2, .. })
        ));
    }

    #[test]
    fn load_dir_reads_sql_files_only_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0002_second.sql"), "SELECT 2").unwrap();
        std::fs::write(dir.path().join("0001_first.sql"), "SELECT 1").unwrap();
        std::fs::write(dir.path().join("README.md"), "notes").unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        let names: Vec<_> = loaded.iter().map(Migration::name).collect();
        assert_eq!(names, ["0001_first.sql", "0002_second.sql"]);
    }

    #[test]
    fn the_repository_migrations_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let loaded = load_dir(&dir).unwrap();
        assert!(loaded.first().is_some_and(|m| m.version() == 1));
    }
}
