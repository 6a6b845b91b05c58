//! `spin.toml` (manifest version 2), parsed the way Spin parses it.
//!
//! Spin: `crates/manifest/src/schema/v2.rs` and `schema/common.rs`. Unknown fields in
//! `[application]`, `[component.*]` and `[variables.*]` are errors there
//! (`deny_unknown_fields`), so they are errors here. Fields Spin accepts but this host has
//! no use for (`build`, `description`, `tool`, …) are accepted and ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppManifest {
    /// Must be `2`.
    pub spin_manifest_version: u32,
    /// `[application]`.
    pub application: AppDetails,
    /// `[variables]`: application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    /// `[[trigger.<type>]]` tables, kept raw and parsed per trigger type.
    #[serde(rename = "trigger", default)]
    pub triggers: BTreeMap<String, Vec<toml::Table>>,
    /// `[component.<id>]`.
    #[serde(rename = "component", default)]
    pub components: BTreeMap<String, Component>,
}

/// `[application]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetails {
    /// Application name.
    pub name: String,
    /// Version string.
    #[serde(default)]
    pub version: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Deployment targets (ignored).
    #[serde(default)]
    pub targets: Vec<toml::Value>,
    /// `[application.trigger.<type>]` global trigger config.
    #[serde(rename = "trigger", default)]
    pub trigger_global_configs: BTreeMap<String, toml::Table>,
    /// Tool-specific tables (ignored).
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
}

/// An application variable (`[variables.<name>]`). Spin: `schema/common.rs` `Variable`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Free text.
    pub description: Option<String>,
    /// Start-up fails when no provider resolves a required variable.
    #[serde(default)]
    pub required: bool,
    /// Value when no provider has one.
    pub default: Option<String>,
    /// Secret values are never logged.
    #[serde(default)]
    pub secret: bool,
}

/// `[component.<id>]`. Spin: `schema/v2.rs` `Component`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Path to the `.wasm` (relative to the manifest). Remote sources are not supported here.
    pub source: toml::Value,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Component variables: name → template over application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Environment variables for the guest.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Files to mount (not supported by this host; must be empty).
    #[serde(default)]
    pub files: Vec<toml::Value>,
    /// Ignored.
    #[serde(default)]
    pub exclude_files: Vec<String>,
    /// Deprecated by Spin; must be empty.
    #[serde(default)]
    pub allowed_http_hosts: Vec<String>,
    /// Outbound network allow-list (`mysql://…`, `redis://…`, `http://…`).
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels the component may open.
    #[serde(default, alias = "key-value-stores")]
    pub key_value_stores: Vec<String>,
    /// SQLite databases (not supported by this host; must be empty).
    #[serde(default, alias = "sqlite-databases")]
    pub sqlite_databases: Vec<String>,
    /// AI models (not supported by this host; must be empty).
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Ignored.
    pub targets: Option<Vec<toml::Value>>,
    /// Build command (used by `spin build` / `cargo xtask`; ignored by the host).
    pub build: Option<toml::Table>,
    /// Ignored.
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
    /// Component dependencies (not supported by this host; must be absent).
    pub dependencies_inherit_configuration: Option<bool>,
    /// Component dependencies (not supported by this host; must be empty).
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
    /// Build profiles (ignored).
    #[serde(default)]
    pub profile: BTreeMap<String, toml::Table>,
}

/// Which capability sets a middleware inherits from the route component.
/// Spin: `schema/v2.rs` `InheritConfiguration` (untagged bool or list).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum InheritConfiguration {
    /// `true` = everything, `false` = nothing.
    All(bool),
    /// Named sets: `key_value_stores`, `variables`, `allowed_outbound_hosts`, …
    Some(Vec<String>),
}

impl Default for InheritConfiguration {
    fn default() -> Self {
        Self::All(false)
    }
}

/// A route in an HTTP trigger: a pattern, or `{ private = true }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRoute {
    /// `/path`, `/path/:param`, `/path/...`.
    Pattern(String),
    /// Reachable only through `http://<component>.spin.internal`.
    Private,
}

/// One middleware in `dependencies.middleware`.
#[derive(Debug, Clone)]
pub struct Middleware {
    /// Component id of the middleware.
    pub component: String,
    /// What it inherits from the route component.
    pub inherit: InheritConfiguration,
}

/// A parsed `[[trigger.http]]`.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    /// The trigger id (given, or synthesised like Spin: `<component>-http-trigger<N>`? see
    /// [`AppManifest::http_triggers`]).
    pub id: String,
    /// Route.
    pub route: HttpRoute,
    /// Component id.
    pub component: String,
    /// Middleware chain, outermost first.
    pub middleware: Vec<Middleware>,
}

impl AppManifest {
    /// Reads and validates a manifest file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read manifest {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Self> {
        let manifest: AppManifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        if self.spin_manifest_version != 2 {
            bail!(
                "spin_manifest_version: expected 2, found {}",
                self.spin_manifest_version
            );
        }
        for name in self.variables.keys() {
            check_lower_snake(name).with_context(|| format!("variable {name:?}"))?;
        }
        for (id, component) in &self.components {
            check_kebab(id).with_context(|| format!("component id {id:?}"))?;
            for name in component.variables.keys() {
                check_lower_snake(name)
                    .with_context(|| format!("component {id:?} variable {name:?}"))?;
            }
            if !component.files.is_empty()
                || !component.sqlite_databases.is_empty()
                || !component.ai_models.is_empty()
                || !component.dependencies.is_empty()
                || !component.allowed_http_hosts.is_empty()
            {
                bail!(
                    "component {id:?} uses files, sqlite_databases, ai_models, dependencies or allowed_http_hosts, which this host does not implement"
                );
            }
            for label in &component.key_value_stores {
                if label.is_empty() {
                    bail!("component {id:?}: empty key_value_stores label");
                }
            }
        }
        for name in self.triggers.keys() {
            if name != "http" {
                bail!("trigger type {name:?} is not supported by this host (only http)");
            }
        }
        self.http_triggers()?;
        Ok(())
    }

    /// The HTTP triggers, in manifest order, with ids as Spin assigns them
    /// (`crates/manifest/src/normalize.rs`: `<component>-http-trigger<N>`-style ids are only
    /// used for logs here).
    pub fn http_triggers(&self) -> Result<Vec<HttpTrigger>> {
        let Some(tables) = self.triggers.get("http") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(tables.len());
        for (index, table) in tables.iter().enumerate() {
            let trigger = parse_http_trigger(table, index)
                .with_context(|| format!("[[trigger.http]] number {}", index + 1))?;
            if !self.components.contains_key(&trigger.component) {
                bail!(
                    "trigger {:?} references unknown component {:?}",
                    trigger.id,
                    trigger.component
                );
            }
            for mw in &trigger.middleware {
                if !self.components.contains_key(&mw.component) {
                    bail!(
                        "trigger {:?} middleware references unknown component {:?}",
                        trigger.id,
                        mw.component
                    );
                }
            }
            out.push(trigger);
        }
        Ok(out)
    }

    /// Resolves a component's `source` to a file path.
    pub fn component_source(&self, manifest_dir: &Path, id: &str) -> Result<PathBuf> {
        let component = self
            .components
            .get(id)
            .ok_or_else(|| anyhow!("unknown component {id:?}"))?;
        match &component.source {
            toml::Value::String(path) => Ok(manifest_dir.join(path)),
            other => bail!(
                "component {id:?}: source {other} is not a local file; this host loads local files only"
            ),
        }
    }
}

fn parse_http_trigger(table: &toml::Table, index: usize) -> Result<HttpTrigger> {
    const KNOWN: &[&str] = &[
        "id",
        "route",
        "component",
        "executor",
        "dependencies",
        "static_response",
    ];
    for key in table.keys() {
        if !KNOWN.contains(&key.as_str()) {
            bail!("unknown field {key:?} in an http trigger");
        }
    }
    let route = match table.get("route") {
        Some(toml::Value::String(route)) => HttpRoute::Pattern(route.clone()),
        Some(toml::Value::Table(t)) => match t.get("private") {
            Some(toml::Value::Boolean(true)) if t.len() == 1 => HttpRoute::Private,
            _ => bail!("route must be a string pattern or '{{ private = true }}'"),
        },
        _ => bail!("missing or invalid `route`"),
    };
    let component = match table.get("component") {
        Some(toml::Value::String(id)) => id.clone(),
        Some(_) => {
            bail!("inline components are not supported by this host; name a [component.<id>]")
        }
        None => bail!("missing `component`"),
    };
    if let Some(executor) = table.get("executor") {
        let ok = executor
            .as_table()
            .and_then(|t| t.get("type"))
            .and_then(toml::Value::as_str)
            .is_some_and(|t| t == "spin" || t == "http");
        if !ok {
            bail!("only the default (spin) executor is supported by this host");
        }
    }
    let mut middleware = Vec::new();
    if let Some(deps) = table.get("dependencies") {
        let deps = deps
            .as_table()
            .ok_or_else(|| anyhow!("`dependencies` must be a table"))?;
        for (kind, list) in deps {
            if kind != "middleware" {
                bail!("the HTTP trigger's only allowed trigger dependency is `middleware`");
            }
            let list = list
                .as_array()
                .ok_or_else(|| anyhow!("`dependencies.middleware` must be an array"))?;
            for item in list {
                middleware.push(parse_middleware(item)?);
            }
        }
    }
    let id = match table.get("id") {
        Some(toml::Value::String(id)) => id.clone(),
        _ => format!("{component}-http-trigger{index}"),
    };
    Ok(HttpTrigger {
        id,
        route,
        component,
        middleware,
    })
}

fn parse_middleware(item: &toml::Value) -> Result<Middleware> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AppComponentDep {
        component: String,
        inherit_configuration: Option<InheritConfiguration>,
    }
    let dep: AppComponentDep = item.clone().try_into().context(
        "middleware entries must be `{ component = \"<id>\", inherit_configuration = ... }` (registry, path and URL sources are not supported by this host)",
    )?;
    Ok(Middleware {
        component: dep.component,
        inherit: dep.inherit_configuration.unwrap_or_default(),
    })
}

/// Spin's `LowerSnakeId`: lower-case ASCII letters, digits and single `_`, starting with a letter.
fn check_lower_snake(name: &str) -> Result<()> {
    check_id(name, '_', "underscores")
}

/// Spin's `KebabId`: lower-case ASCII letters, digits and single `-`, starting with a letter.
fn check_kebab(name: &str) -> Result<()> {
    check_id(name, '-', "hyphens")
}

fn check_id(name: &str, separator: char, separators: &str) -> Result<()> {
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("must start with a lower-case letter");
    }
    let doubled: String = [separator, separator].iter().collect();
    if name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator)
        && !name.contains(&doubled)
        && !name.ends_with(separator)
    {
        Ok(())
    } else {
        bail!("may contain only lower-case letters, digits and single {separators}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
greeting = { default = "hi" }
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = { private = true }
component = "internal"
[[trigger.http]]
route = "/guarded"
component = "hello"
dependencies.middleware = [{ component = "mw", inherit_configuration = ["variables"] }]
[component.hello]
source = "hello.wasm"
key_value_stores = ["default"]
[component.internal]
source = "internal.wasm"
[component.mw]
source = "mw.wasm"
"#;

    #[test]
    fn parses_routes_private_routes_and_middleware() -> Result<()> {
        let m = AppManifest::parse(BASE)?;
        let triggers = m.http_triggers()?;
        assert_eq!(triggers.len(), 3);
        assert_eq!(triggers[0].route, HttpRoute::Pattern("/hello/...".into()));
        assert_eq!(triggers[1].route, HttpRoute::Private);
        assert_eq!(triggers[2].middleware.len(), 1);
        assert_eq!(
            triggers[2].middleware[0].inherit,
            InheritConfiguration::Some(vec!["variables".into()])
        );
        Ok(())
    }

    #[test]
    fn unknown_component_field_is_rejected_as_spin_does() {
        let text = BASE.replace("source = \"mw.wasm\"", "source = \"mw.wasm\"\nnonsense = 1");
        assert!(AppManifest::parse(&text).is_err());
    }

    #[test]
    fn manifest_version_other_than_two_is_rejected() {
        let text = BASE.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(AppManifest::parse(&text).is_err());
    }

    #[test]
    fn variable_names_with_capitals_are_rejected() {
        let text = BASE.replace("greeting = ", "Greeting = ");
        assert!(AppManifest::parse(&text).is_err());
    }

    #[test]
    fn trigger_naming_an_unknown_component_is_rejected() {
        let text = BASE.replace("component = \"internal\"", "component = \"nope\"");
        assert!(AppManifest::parse(&text).is_err());
    }
}
