//! The test command's own database, so a test run never touches the database
//! `cargo xtask up` serves (`ORDERLY_DB_NAME`, default `orderly`) nor another run's.
//!
//! - `cargo xtask test` creates `orderly_test_<pid>_<unix seconds>` (migrated, its own
//!   component accounts provisioned: `migrate::user_prefix`), and drops the database,
//!   its accounts and its credentials file when the run ends, passed or failed. A run
//!   that was killed leaves them behind; the next run drops every `orderly_test_*`
//!   whose owner process is gone or that is older than [`STALE_AFTER`].
//! - `cargo xtask env` (for running single tests by hand) uses one lasting database
//!   per checkout, `orderly_testenv_<hash of the checkout path>`, never cleaned.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use migrate::{AccountHost, DatabaseName, blocking};

use crate::database::{self, Credentials, Settings};
use crate::workspace;

/// Names of per-run test databases start with this.
pub const RUN_PREFIX: &str = "orderly_test_";
/// A run's database left this long is dropped even if its pid is alive (pid reuse).
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The database of one test run; dropped (with its accounts) when this is dropped.
pub struct RunDatabase {
    settings: Settings,
}

impl RunDatabase {
    /// Cleans leftovers of dead runs, then creates, migrates and provisions this run's.
    pub fn create(base: &Settings) -> Result<(Self, Credentials)> {
        clean_leftovers(base);
        let name = format!("{RUN_PREFIX}{}_{}", std::process::id(), now());
        let run = Self {
            settings: base.with_database(DatabaseName::parse(&name)?),
        };
        // `run` exists before anything is created: a failure below still drops it.
        let credentials = database::migrate_and_provision(&run.settings)?;
        Ok((run, credentials))
    }

    /// Where it is.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Drop for RunDatabase {
    fn drop(&mut self) {
        remove(&self.settings, &self.settings.database);
    }
}

fn remove(base: &Settings, name: &DatabaseName) {
    match blocking::remove(&base.admin_url, name, &AccountHost::any()) {
        Ok(()) => eprintln!("test: dropped database {name} and its accounts"),
        Err(error) => eprintln!("test: could not drop database {name}: {error}"),
    }
    let _ = std::fs::remove_file(database::credentials_path(name));
}

/// Whether `name` is a run database (`orderly_test_<pid>_<secs>`) whose run is over.
fn is_leftover(name: &str, now: u64, alive: impl Fn(u32) -> bool) -> bool {
    let Some((pid, started)) = name
        .strip_prefix(RUN_PREFIX)
        .and_then(|rest| rest.split_once('_'))
    else {
        return false;
    };
    let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    !alive(pid) || now.saturating_sub(started) > STALE_AFTER.as_secs()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Drops the databases and accounts of test runs that are over (killed runs).
pub fn clean_leftovers(base: &Settings) {
    let names = match blocking::databases_named(&base.admin_url, RUN_PREFIX) {
        Ok(names) => names,
        Err(error) => {
            eprintln!("test: could not list leftover test databases: {error}");
            return;
        }
    };
    let now = now();
    for name in names {
        if is_leftover(name.as_str(), now, pid_alive) {
            remove(base, &name);
        }
    }
}

/// The lasting database `cargo xtask env` gives this checkout.
pub fn env_database() -> Result<DatabaseName> {
    let root = workspace::root();
    // FNV-1a of the checkout path: stable, and distinct per checkout.
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    Ok(DatabaseName::parse(&format!(
        "orderly_testenv_{:012x}",
        hash >> 16
    ))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_databases_of_dead_or_old_runs_are_leftovers() {
        let now = 1_000_000;
        let dead = |_| false;
        let alive = |_| true;
        assert!(is_leftover("orderly_test_4242_999000", now, dead));
        assert!(!is_leftover("orderly_test_4242_999000", now, alive));
        let old = format!("orderly_test_4242_{}", now - STALE_AFTER.as_secs() - 1);
        assert!(is_leftover(&old, now, alive));
        // Never the dev database, a lasting env database, or this very run.
        for name in [
            "orderly",
            "orderly_testenv_0123456789ab",
            "orderly_test_x_1",
            "orderly_test_1",
        ] {
            assert!(!is_leftover(name, now, dead), "{name}");
        }
        let own = format!("orderly_test_{}_1", std::process::id());
        assert!(!is_leftover(&own, now, dead));
    }

    #[test]
    fn the_env_database_is_not_a_run_database() {
        let name = env_database().unwrap();
        assert!(!name.as_str().starts_with(RUN_PREFIX), "{name}");
        assert!(migrate::user_prefix(&name).len() <= 32);
    }
}
