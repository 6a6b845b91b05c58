//! Application and component variables: `spin:variables/variables@3.0.0` and
//! `wasi:config/store@0.2.0-draft-2024-09-27`.
//!
//! Spin: `crates/factor-variables/src/host.rs` (guest calls), `crates/expressions` (templates,
//! providers, error texts) and the `env` provider (`SPIN_VARIABLE_<NAME>`). Texts a guest can
//! see are the ones recorded in `docs/spin-fidelity.md`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Result, bail};
use wasmtime::component::{Accessor, HasData};

use crate::bindings::spin::variables::variables as v3;
use crate::bindings::wasi::config::store as wasi_config;
use crate::manifest::{AppManifest, Variable};

/// A parsed template such as `mysql://{{ db_host }}/x`: literal and variable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `{{ name }}`.
    Var(String),
}

/// Parses `{{ name }}` expressions (Spin: `crates/expressions/src/template.rs`).
pub fn parse_template(text: &str) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Lit(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unterminated template expression in {text:?}");
        };
        let name = after[..end].trim();
        validate_name(name).map_err(anyhow::Error::msg)?;
        parts.push(Part::Var(name.to_string()));
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!("unbalanced `}}}}` in {text:?}");
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    Ok(parts)
}

/// Checks a variable name; the error text is Spin's (`docs/spin-fidelity.md`).
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err(format!("{name:?}: must be non-empty"));
    }
    for c in name.chars() {
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!(
                "{name:?}: invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
            ));
        }
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("{name:?}: must start with a letter"));
    }
    Ok(())
}

/// Resolves application variables (manifest defaults + the env provider) and component
/// variable templates.
#[derive(Debug)]
pub struct Resolver {
    /// Resolved application variable values (absent = no value anywhere).
    app_values: HashMap<String, String>,
    /// Which application variables are secret (never logged).
    secret: BTreeMap<String, bool>,
    /// component id → variable name → template.
    components: HashMap<String, BTreeMap<String, Vec<Part>>>,
}

impl Resolver {
    /// Builds the resolver. `env` is the process environment (the `env` provider reads
    /// `SPIN_VARIABLE_<UPPER_NAME>`). Fails like `spin up` when a required variable has no
    /// value: `no provider resolved required variable(s): [Key("secret_key")]`.
    pub fn new(
        manifest: &AppManifest,
        env: &HashMap<String, String>,
        prefix: &str,
    ) -> Result<Self> {
        let mut app_values = HashMap::new();
        let mut secret = BTreeMap::new();
        let mut missing = Vec::new();
        for (
            name,
            Variable {
                required,
                default,
                secret: is_secret,
                ..
            },
        ) in &manifest.variables
        {
            secret.insert(name.clone(), *is_secret);
            let env_key = format!("{prefix}_{}", name.to_ascii_uppercase());
            if let Some(value) = env.get(&env_key) {
                app_values.insert(name.clone(), value.clone());
            } else if *required {
                missing.push(format!("Key({name:?})"));
            } else if let Some(default) = default {
                app_values.insert(name.clone(), default.clone());
            }
        }
        if !missing.is_empty() {
            bail!(
                "no provider resolved required variable(s): [{}]",
                missing.join(", ")
            );
        }
        let mut components = HashMap::new();
        for (id, component) in &manifest.components {
            let mut vars = BTreeMap::new();
            for (name, template) in &component.variables {
                let parts = parse_template(template)?;
                for part in &parts {
                    if let Part::Var(var) = part
                        && !manifest.variables.contains_key(var)
                    {
                        bail!(
                            "component {id:?} variable {name:?} refers to undeclared application variable {var:?}"
                        );
                    }
                }
                vars.insert(name.clone(), parts);
            }
            components.insert(id.clone(), vars);
        }
        Ok(Self {
            app_values,
            secret,
            components,
        })
    }

    /// Expands a template over application variables (used for `allowed_outbound_hosts`).
    pub fn expand_app_template(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        for part in parse_template(template)? {
            match part {
                Part::Lit(s) => out.push_str(&s),
                Part::Var(v) => match self.app_values.get(&v) {
                    Some(value) => out.push_str(value),
                    None => bail!("no value for application variable {v:?}"),
                },
            }
        }
        Ok(out)
    }

    /// Whether an application variable is secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.get(name).copied().unwrap_or(false)
    }

    /// Resolves a component variable, with Spin's errors.
    pub fn resolve(
        &self,
        component_id: &str,
        name: &str,
    ) -> std::result::Result<String, v3::Error> {
        validate_name(name).map_err(v3::Error::InvalidName)?;
        let undefined =
            || v3::Error::Undefined(format!("no variable for {component_id:?}.{name:?}"));
        let parts = self
            .components
            .get(component_id)
            .and_then(|vars| vars.get(name))
            .ok_or_else(undefined)?;
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => match self.app_values.get(v) {
                    Some(value) => out.push_str(value),
                    None => return Err(undefined()),
                },
            }
        }
        Ok(out)
    }

    /// Every variable the component declares, resolved (for `wasi:config/store#get-all`).
    pub fn resolve_all(&self, component_id: &str) -> Vec<(String, String)> {
        self.components
            .get(component_id)
            .map(|vars| {
                vars.keys()
                    .filter_map(|k| self.resolve(component_id, k).ok().map(|v| (k.clone(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Per-instance state for the variables interfaces.
#[derive(Debug, Clone)]
pub struct VariablesState {
    /// Shared resolver.
    pub resolver: Arc<Resolver>,
    /// The component whose variables this instance sees.
    pub component_id: Arc<str>,
}

/// `HasData` marker for the variables interfaces.
pub struct VariablesData;

impl HasData for VariablesData {
    type Data<'a> = &'a mut VariablesState;
}

impl<T: Send> v3::HostWithStore<T> for VariablesData {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, v3::Error> {
        accessor.with(|mut access| {
            let state = access.get();
            state.resolver.resolve(&state.component_id, &name)
        })
    }
}

impl v3::Host for VariablesState {
    fn convert_error(&mut self, err: v3::Error) -> wasmtime::Result<v3::Error> {
        Ok(err)
    }
}

impl wasi_config::Host for VariablesState {
    async fn get(&mut self, key: String) -> Result<Option<String>, wasi_config::Error> {
        // Spin maps Undefined and InvalidName to `none` (factor-variables/src/host.rs).
        match self.resolver.resolve(&self.component_id, &key) {
            Ok(v) => Ok(Some(v)),
            Err(v3::Error::Undefined(_)) | Err(v3::Error::InvalidName(_)) => Ok(None),
            Err(v3::Error::Provider(m)) => Err(wasi_config::Error::Upstream(m)),
            Err(v3::Error::Other(m)) => Err(wasi_config::Error::Io(m)),
        }
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, wasi_config::Error> {
        Ok(self.resolver.resolve_all(&self.component_id))
    }

    fn convert_error(&mut self, err: wasi_config::Error) -> wasmtime::Result<wasi_config::Error> {
        Ok(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Result<AppManifest> {
        AppManifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
greeting = { default = "hello" }
secret_key = { required = true, secret = true }
[[trigger.http]]
route = "/"
component = "probe"
[component.probe]
source = "p.wasm"
[component.probe.variables]
message = "{{ greeting }}, world"
key = "{{secret_key}}"
"#,
        )
    }

    #[test]
    fn required_variable_without_a_value_refuses_start_up_with_spins_text() -> Result<()> {
        let err = Resolver::new(&manifest()?, &HashMap::new(), "SPIN_VARIABLE")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "no provider resolved required variable(s): [Key(\"secret_key\")]"
        );
        Ok(())
    }

    #[test]
    fn env_provider_and_templates_resolve() -> Result<()> {
        let env = HashMap::from([("SPIN_VARIABLE_SECRET_KEY".to_string(), "s3".to_string())]);
        let r = Resolver::new(&manifest()?, &env, "SPIN_VARIABLE")?;
        assert_eq!(
            r.resolve("probe", "message").ok().as_deref(),
            Some("hello, world")
        );
        assert_eq!(r.resolve("probe", "key").ok().as_deref(), Some("s3"));
        Ok(())
    }

    #[test]
    fn undeclared_and_invalid_names_get_spins_errors() -> Result<()> {
        let env = HashMap::from([("SPIN_VARIABLE_SECRET_KEY".to_string(), "s3".to_string())]);
        let r = Resolver::new(&manifest()?, &env, "SPIN_VARIABLE")?;
        match r.resolve("probe", "nope") {
            Err(v3::Error::Undefined(m)) => assert_eq!(m, "no variable for \"probe\".\"nope\""),
            other => panic!("unexpected {other:?}"),
        }
        match r.resolve("probe", "Bad-Name") {
            Err(v3::Error::InvalidName(m)) => assert_eq!(
                m,
                "\"Bad-Name\": invalid character 'B'. Variable names may contain only lower-case letters, numbers, and underscores."
            ),
            other => panic!("unexpected {other:?}"),
        }
        Ok(())
    }
}
