//! Support for the deployment tests: what `spin.toml` asks of an operator, and what the
//! manifests in `deploy/` give it.
//!
//! A variable is *needed in production* when `spin.toml` declares it `required = true`, or
//! when its default points at the developer's own machine (`127.0.0.1`, `localhost`): such a
//! default (`issuer`, `audience`, `db_host`) works in a checkout and is wrong in every
//! cluster, so the manifests must set it as surely as a required one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use yaml_rust2::{Yaml, YamlLoader};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository as text.
pub fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(repo_root().join(path)).with_context(|| format!("reading {path}"))
}

/// One `[variables]` entry of `spin.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// `required = true`.
    pub required: bool,
    /// `default = "…"`, if any.
    pub default: Option<String>,
    /// `secret = true`.
    pub secret: bool,
}

/// The application manifest: its variables, and which of them each component maps.
#[derive(Debug, Clone)]
pub struct SpinManifest {
    /// `[variables]` by name.
    pub variables: BTreeMap<String, Variable>,
    /// `[component.<id>.variables]`: component id → (its variable → the application
    /// variables its template names).
    pub components: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// The `{{ name }}` references of a Spin template.
pub fn template_references(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    names
}

impl SpinManifest {
    /// Parses `spin.toml` text.
    pub fn parse(text: &str) -> Result<Self> {
        let doc: toml::Value = toml::from_str(text).context("spin.toml is not TOML")?;
        let mut variables = BTreeMap::new();
        if let Some(table) = doc.get("variables").and_then(toml::Value::as_table) {
            for (name, spec) in table {
                let flag = |key: &str| spec.get(key).and_then(toml::Value::as_bool) == Some(true);
                variables.insert(
                    name.clone(),
                    Variable {
                        required: flag("required"),
                        default: spec
                            .get("default")
                            .and_then(toml::Value::as_str)
                            .map(str::to_owned),
                        secret: flag("secret"),
                    },
                );
            }
        }
        let mut components = BTreeMap::new();
        if let Some(table) = doc.get("component").and_then(toml::Value::as_table) {
            for (id, component) in table {
                let mut mapped = BTreeMap::new();
                if let Some(vars) = component.get("variables").and_then(toml::Value::as_table) {
                    for (name, template) in vars {
                        let template = template
                            .as_str()
                            .ok_or_else(|| anyhow!("component {id} variable {name} is not text"))?;
                        mapped.insert(name.clone(), template_references(template));
                    }
                }
                components.insert(id.clone(), mapped);
            }
        }
        Ok(Self {
            variables,
            components,
        })
    }

    /// The repository's `spin.toml`.
    pub fn load() -> Result<Self> {
        Self::parse(&read("spin.toml")?)
    }

    /// The variables production needs (module documentation).
    pub fn needed_in_production(&self) -> BTreeSet<String> {
        self.variables
            .iter()
            .filter(|(_, v)| {
                v.required
                    || v.default
                        .as_deref()
                        .is_some_and(|d| d.contains("127.0.0.1") || d.contains("localhost"))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Every YAML document of a file.
pub fn yaml_documents(path: &str) -> Result<Vec<Yaml>> {
    YamlLoader::load_from_str(&read(path)?).with_context(|| format!("{path} is not YAML"))
}

/// The one document of `kind` in `path`.
pub fn document(path: &str, kind: &str) -> Result<Yaml> {
    let mut found: Vec<Yaml> = yaml_documents(path)?
        .into_iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        n => bail!("{path}: {n} documents of kind {kind}, expected one"),
    }
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `value:` (may use `$(OTHER)` references).
    Literal(String),
    /// `valueFrom.configMapKeyRef`.
    ConfigMap {
        /// The ConfigMap.
        name: String,
        /// The key.
        key: String,
    },
    /// `valueFrom.secretKeyRef`.
    Secret {
        /// The Secret.
        name: String,
        /// The key.
        key: String,
    },
}

fn key_ref(value: &Yaml) -> Result<(String, String)> {
    let name = value["name"]
        .as_str()
        .ok_or_else(|| anyhow!("key reference without name"))?;
    let key = value["key"]
        .as_str()
        .ok_or_else(|| anyhow!("key reference without key"))?;
    Ok((name.to_owned(), key.to_owned()))
}

/// `env:` of a container or a SpinApp's `variables:` (same shape: `name`, `value` or
/// `valueFrom`), in order.
pub fn env_list(entries: &Yaml) -> Result<Vec<(String, Source)>> {
    let Some(entries) = entries.as_vec() else {
        bail!("env is not a list");
    };
    entries
        .iter()
        .map(|entry| {
            let name = entry["name"]
                .as_str()
                .ok_or_else(|| anyhow!("env entry without a name"))?
                .to_owned();
            let source = if let Some(value) = entry["value"].as_str() {
                Source::Literal(value.to_owned())
            } else if !entry["valueFrom"]["configMapKeyRef"].is_badvalue() {
                let (name, key) = key_ref(&entry["valueFrom"]["configMapKeyRef"])?;
                Source::ConfigMap { name, key }
            } else if !entry["valueFrom"]["secretKeyRef"].is_badvalue() {
                let (name, key) = key_ref(&entry["valueFrom"]["secretKeyRef"])?;
                Source::Secret { name, key }
            } else {
                bail!("env {name}: neither value nor a ConfigMap/Secret key");
            };
            Ok((name, source))
        })
        .collect()
}

/// The container named `name` of a pod template (`spec.template.spec`).
pub fn container<'a>(workload: &'a Yaml, name: &str) -> Result<&'a Yaml> {
    workload["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .and_then(|c| c.iter().find(|c| c["name"].as_str() == Some(name)))
        .ok_or_else(|| anyhow!("no container {name}"))
}

/// The `$(NAME)` references of a Kubernetes env value.
pub fn dependent_references(value: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("$(") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        names.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    names
}

/// The Spin variables (lower case) a container's `SPIN_VARIABLE_*` environment sets.
pub fn spin_variables(env: &[(String, Source)]) -> BTreeSet<String> {
    env.iter()
        .filter_map(|(name, _)| name.strip_prefix("SPIN_VARIABLE_"))
        .map(str::to_ascii_lowercase)
        .collect()
}
