//! Readiness: probe each dependency concurrently, each with a timeout and a timing.
//!
//! No HTTP here (docs/standards.md §3): the handler maps a [`Readiness`] to a response. The
//! dependencies are a trait so the rules are tested natively with fakes; the Spin
//! implementation lives in `probes.rs`.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures::future::{Either, select};

/// How long one probe may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The name of the MariaDB check.
pub const DATABASE_CHECK: &str = "mariadb";
/// The key-value stores probed, with the check name each is reported under.
pub const KEY_VALUE_CHECKS: [(&str, &str); 2] =
    [("default", "kv:default"), ("shared", "kv:shared")];

/// What kind of failure a probe met. The kind is logged; the response only says
/// which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFailure {
    /// The component's configuration (a Spin variable) is missing.
    NotConfigured,
    /// The dependency refused or failed the connection or the operation.
    Unreachable,
    /// The dependency answered, but not what it should have.
    WrongAnswer,
    /// The probe did not finish within [`PROBE_TIMEOUT`].
    Timeout,
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotConfigured => "not configured",
            Self::Unreachable => "unreachable",
            Self::WrongAnswer => "wrong answer",
            Self::Timeout => "timed out",
        })
    }
}

/// A failed probe: its kind and the internal cause (for the log line only; it may
/// contain a connection URL, which the edge redacts before writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// What kind of failure.
    pub kind: ProbeFailure,
    /// The underlying error text.
    pub cause: String,
}

impl ProbeError {
    /// A probe error of `kind` caused by `cause`.
    pub fn new(kind: ProbeFailure, cause: impl Into<String>) -> Self {
        Self {
            kind,
            cause: cause.into(),
        }
    }
}

/// The part of a platform error worth logging: the text before the first blank line
/// (real or escaped, as the WIT error's Display quotes it) or `Stack backtrace:`
/// (Spin's MySQL errors append a host backtrace).
pub fn summarise_error(text: &str) -> &str {
    let end = [
        text.find("\n\n"),
        text.find("\\n\\n"),
        text.find("Stack backtrace:"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(text.len());
    text[..end].trim_end()
}

/// The dependencies `/ready` checks.
#[allow(
    async_fn_in_trait,
    reason = "a wasm component is single-threaded; callers never need Send futures"
)]
pub trait Dependencies {
    /// Connects to MariaDB and runs a trivial query.
    async fn database(&self) -> Result<(), ProbeError>;
    /// Writes `key` in store `label`, reads it back and deletes it.
    async fn key_value(&self, label: &str, key: &str) -> Result<(), ProbeError>;
    /// Waits `duration` (the probe timeout's clock).
    async fn sleep(&self, duration: Duration);
}

/// A borrowed set of dependencies is one (tests lend theirs to the component).
impl<T: Dependencies + ?Sized> Dependencies for &T {
    async fn database(&self) -> Result<(), ProbeError> {
        (**self).database().await
    }
    async fn key_value(&self, label: &str, key: &str) -> Result<(), ProbeError> {
        (**self).key_value(label, key).await
    }
    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The check's public name (`mariadb`, `kv:default`, `kv:shared`).
    pub name: &'static str,
    /// `Ok` when the dependency is usable.
    pub outcome: Result<(), ProbeError>,
    /// How long the probe took.
    pub duration: Duration,
}

/// The result of all checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// One entry per check, in a fixed order.
    pub checks: Vec<CheckResult>,
}

impl Readiness {
    /// Ready when every check passed.
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.outcome.is_ok())
    }

    /// The names of the checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.outcome.is_err())
            .map(|c| c.name)
            .collect()
    }

    /// Every failure with its kind and cause, for the log line.
    pub fn failure_causes(&self) -> String {
        self.checks
            .iter()
            .filter_map(|c| {
                let error = c.outcome.as_ref().err()?;
                Some(format!("{}: {}: {}", c.name, error.kind, error.cause))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs every check concurrently. `probe_key` names the key-value probe entry; it
/// must be unique per request so concurrent probes cannot read each other's value.
pub async fn check_readiness<D: Dependencies>(deps: &D, probe_key: &str) -> Readiness {
    let [(default_label, default_name), (shared_label, shared_name)] = KEY_VALUE_CHECKS;
    let (database, kv_default, kv_shared) = futures::join!(
        timed(deps, DATABASE_CHECK, deps.database()),
        timed(deps, default_name, deps.key_value(default_label, probe_key)),
        timed(deps, shared_name, deps.key_value(shared_label, probe_key)),
    );
    Readiness {
        checks: vec![database, kv_default, kv_shared],
    }
}

async fn timed<D: Dependencies>(
    deps: &D,
    name: &'static str,
    probe: impl Future<Output = Result<(), ProbeError>>,
) -> CheckResult {
    let started = Instant::now();
    let outcome = match select(pin!(probe), pin!(deps.sleep(PROBE_TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(ProbeError::new(
            ProbeFailure::Timeout,
            format!("no answer within {} ms", PROBE_TIMEOUT.as_millis()),
        )),
    };
    CheckResult {
        name,
        outcome,
        duration: started.elapsed(),
    }
}

#[cfg(test)]
pub(crate) mod fakes {
    use super::*;

    /// A configurable fake: which probes fail and how.
    #[derive(Default)]
    pub struct FakeDependencies {
        pub database: Option<ProbeError>,
        pub hang_database: bool,
        pub failing_store: Option<&'static str>,
    }

    impl Dependencies for FakeDependencies {
        async fn database(&self) -> Result<(), ProbeError> {
            if self.hang_database {
                futures::future::pending::<()>().await;
            }
            self.database.clone().map_or(Ok(()), Err)
        }

        async fn key_value(&self, label: &str, _key: &str) -> Result<(), ProbeError> {
            if self.failing_store == Some(label) {
                Err(ProbeError::new(
                    ProbeFailure::Unreachable,
                    "redis://:pw@cache refused",
                ))
            } else {
                Ok(())
            }
        }

        async fn sleep(&self, _duration: Duration) {
            // The timeout fires at once, but only after every ready probe has had its
            // turn: `select` polls the probe first.
            futures::future::ready(()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fakes::FakeDependencies;
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn platform_errors_lose_their_backtrace() {
        let text = "Input/output error: Connection refused (os error 111)\n\nCaused by:\n    0: x\n\nStack backtrace:\n   0: from<mysql_async>";
        assert_eq!(
            summarise_error(text),
            "Input/output error: Connection refused (os error 111)"
        );
        assert_eq!(summarise_error("plain"), "plain");
        assert_eq!(summarise_error("a Stack backtrace: b"), "a");
        assert_eq!(
            summarise_error(r#"Failed("refused\n\nCaused by")"#),
            r#"Failed("refused"#
        );
    }

    #[test]
    fn all_dependencies_up_is_ready_with_a_timing_per_check() {
        let readiness = block_on(check_readiness(&FakeDependencies::default(), "k"));
        assert!(readiness.is_ready());
        let names: Vec<_> = readiness.checks.iter().map(|c| c.name).collect();
        assert_eq!(names, ["mariadb", "kv:default", "kv:shared"]);
        assert!(readiness.failed().is_empty());
    }

    #[test]
    fn a_failing_database_makes_it_unready_and_is_named() {
        let deps = FakeDependencies {
            database: Some(ProbeError::new(
                ProbeFailure::Unreachable,
                "address mysql://u:pw@db/orderly is not permitted",
            )),
            ..Default::default()
        };
        let readiness = block_on(check_readiness(&deps, "k"));
        assert!(!readiness.is_ready());
        assert_eq!(readiness.failed(), ["mariadb"]);
        assert!(
            readiness
                .failure_causes()
                .starts_with("mariadb: unreachable: address")
        );
    }

    #[test]
    fn a_failing_shared_store_is_named_alone() {
        let deps = FakeDependencies {
            failing_store: Some("shared"),
            ..Default::default()
        };
        let readiness = block_on(check_readiness(&deps, "k"));
        assert_eq!(readiness.failed(), ["kv:shared"]);
    }

    #[test]
    fn a_hanging_probe_times_out_instead_of_hanging_the_request() {
        let deps = FakeDependencies {
            hang_database: true,
            ..Default::default()
        };
        let readiness = block_on(check_readiness(&deps, "k"));
        assert_eq!(readiness.failed(), ["mariadb"]);
        assert_eq!(
            readiness.checks[0].outcome.as_ref().err().map(|e| e.kind),
            Some(ProbeFailure::Timeout)
        );
    }
}
