//! Settings from Spin variables, read once per instance.
//!
//! Spin variables cannot change while an instance lives, so reading and parsing them on
//! every request (a host call each, plus key set-up) is wasted work. A component declares
//! its settings as a struct implementing [`Settings`]; the Spin glue ([`crate::spin`])
//! loads it on the instance's first request, keeps it in instance state, and reuses it
//! until the instance is recycled. A load that fails is not cached: the request answers
//! a generic 500 (the variable's name, never its value, in the log line) and the next
//! request tries again.
//!
//! The readers below give every component the same typed errors and the same rules
//! (`rate_limit_per_minute = "abc"` is a configuration error, not silently 300).

use std::fmt;

use edge_http::{ApiError, CorsPolicy};

use crate::cursor::PageCursors;

/// What went wrong with one variable. Names the variable; never echoes its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The variable's name (as in `spin.toml`).
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl SettingsError {
    /// `variable` is wrong because of `problem`.
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "variable {}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for SettingsError {}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> Self {
        ApiError::internal(error)
    }
}

/// Where variables come from: Spin's `spin:variables` in a component
/// ([`crate::spin::SpinVariables`]), a map in tests.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Variables {
    /// The value of `name`, or `None` when the component has no such variable.
    ///
    /// # Errors
    /// A [`SettingsError`] when the provider fails.
    async fn get(&self, name: &'static str) -> Result<Option<String>, SettingsError>;

    /// The value of `name`, which must be set and not blank.
    ///
    /// # Errors
    /// When it is undefined or blank.
    async fn required(&self, name: &'static str) -> Result<String, SettingsError> {
        match self.get(name).await? {
            Some(value) if !value.trim().is_empty() => Ok(value),
            Some(_) => Err(SettingsError::new(name, "is empty")),
            None => Err(SettingsError::new(
                name,
                "is not defined for this component",
            )),
        }
    }

    /// The value of `name`, `None` when undefined or blank.
    ///
    /// # Errors
    /// When the provider fails.
    async fn optional(&self, name: &'static str) -> Result<Option<String>, SettingsError> {
        Ok(self
            .get(name)
            .await?
            .filter(|value| !value.trim().is_empty()))
    }

    /// A positive integer (`rate_limit_per_minute`, quotas).
    ///
    /// # Errors
    /// When undefined, blank, not a number, or zero.
    async fn positive(&self, name: &'static str) -> Result<u64, SettingsError> {
        self.required(name)
            .await?
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| SettingsError::new(name, "must be a positive integer"))
    }
}

/// A component's settings: parsed once per instance from its variables.
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Settings: Sized + 'static {
    /// Reads and checks every variable the component needs.
    ///
    /// # Errors
    /// The first variable that is missing or malformed.
    async fn load(variables: &impl Variables) -> Result<Self, SettingsError>;

    /// The prefix of every shared-store key (`kv_prefix`): rate limits use it.
    fn kv_prefix(&self) -> &str;

    /// The CORS allow-list, when the component serves browsers cross-origin.
    fn cors(&self) -> Option<&CorsPolicy> {
        None
    }
}

/// Components without variables (the docs, liveness) have no settings.
impl Settings for () {
    async fn load(_variables: &impl Variables) -> Result<Self, SettingsError> {
        Ok(())
    }

    /// Unused: such a component declares no rate limit.
    fn kv_prefix(&self) -> &str {
        ""
    }
}

/// What every API component behind `auth` reads: the shared-store prefix, the cursor key,
/// the per-caller quota and the CORS allow-list.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `kv_prefix`.
    pub kv_prefix: String,
    /// Signs list cursors (`cursor_key`, at least 32 bytes).
    pub cursors: PageCursors,
    /// Requests per minute per caller (`rate_limit_per_minute`).
    pub rate_limit_per_minute: u64,
    /// Origins allowed cross-origin (`cors_origins`, comma-separated; empty: none).
    pub cors: CorsPolicy,
}

impl Settings for ApiSettings {
    async fn load(variables: &impl Variables) -> Result<Self, SettingsError> {
        let kv_prefix = variables.required("kv_prefix").await?.trim().to_owned();
        let cursors = PageCursors::new(variables.required("cursor_key").await?.as_bytes())
            .map_err(|_| SettingsError::new("cursor_key", "must be at least 32 bytes"))?;
        let rate_limit_per_minute = variables.positive("rate_limit_per_minute").await?;
        let origins = variables
            .optional("cors_origins")
            .await?
            .unwrap_or_default();
        let cors = CorsPolicy::from_config(&origins)
            .map_err(|e| SettingsError::new("cors_origins", e.to_string()))?;
        Ok(Self {
            kv_prefix,
            cursors,
            rate_limit_per_minute,
            cors,
        })
    }

    fn kv_prefix(&self) -> &str {
        &self.kv_prefix
    }

    fn cors(&self) -> Option<&CorsPolicy> {
        Some(&self.cors)
    }
}

/// Variables from a list of pairs (tests and tools).
#[derive(Debug, Clone, Default)]
pub struct MapVariables(pub Vec<(&'static str, String)>);

impl MapVariables {
    /// Adds or replaces `name`.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value.into()));
        self
    }
}

impl Variables for MapVariables {
    async fn get(&self, name: &'static str) -> Result<Option<String>, SettingsError> {
        Ok(self
            .0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn api_vars() -> MapVariables {
        MapVariables::default()
            .with("kv_prefix", "orderly")
            .with("cursor_key", "k".repeat(32))
            .with("rate_limit_per_minute", "300")
            .with("cors_origins", "")
    }

    #[test]
    fn api_settings_load_from_their_variables() {
        let settings = block_on(ApiSettings::load(&api_vars())).unwrap();
        assert_eq!(settings.kv_prefix(), "orderly");
        assert_eq!(settings.rate_limit_per_minute, 300);
    }

    #[test]
    fn each_bad_variable_is_named_and_its_value_never_echoed() {
        let cases = [
            (
                api_vars().with("rate_limit_per_minute", "abc"),
                "rate_limit_per_minute",
            ),
            (
                api_vars().with("rate_limit_per_minute", "0"),
                "rate_limit_per_minute",
            ),
            (api_vars().with("cursor_key", "short-secret"), "cursor_key"),
            (api_vars().with("kv_prefix", " "), "kv_prefix"),
            (api_vars().with("cors_origins", "*"), "cors_origins"),
        ];
        for (variables, name) in cases {
            let error = block_on(ApiSettings::load(&variables)).unwrap_err();
            assert_eq!(error.variable, name);
            assert!(!error.to_string().contains("short-secret"));
        }
        let missing = MapVariables::default();
        let error = block_on(ApiSettings::load(&missing)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "variable kv_prefix: is not defined for this component"
        );
    }

    #[test]
    fn a_settings_error_is_a_generic_500_with_the_variable_in_the_log_cause() {
        let error = ApiError::from(SettingsError::new(
            "cursor_key",
            "must be at least 32 bytes",
        ));
        assert_eq!(error.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(error.log_cause().is_some_and(|c| c.contains("cursor_key")));
    }
}
