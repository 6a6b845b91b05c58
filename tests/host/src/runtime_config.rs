//! `runtime-config.toml`, read as Spin reads it.
//!
//! Spin: `crates/factors/src/runtime_config/toml.rs` (every top-level key must be consumed by
//! some factor, else `unused runtime config key(s): …`), `crates/factor-key-value/src/
//! runtime_config/spin.rs` (store `type`s), `crates/factor-outbound-mysql/src/runtime_config/
//! spin.rs` (`[outbound_mysql] max_connections`, unknown fields rejected).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// A key-value store backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvStoreConfig {
    /// `type = "spin"`: a SQLite file.
    Spin {
        /// Database file; `None` = `<state dir>/sqlite_key_value.db`.
        path: Option<PathBuf>,
    },
    /// `type = "redis"`.
    Redis {
        /// `redis://host:port[/db]`.
        url: String,
    },
}

/// The parsed runtime config.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Stores by label (`default` is added if absent).
    pub key_value_stores: BTreeMap<String, KvStoreConfig>,
    /// `[outbound_mysql] max_connections` (per component instance).
    pub mysql_max_connections: Option<usize>,
    /// `[outbound_redis] max_connections` (app-wide; Spin: `crates/factor-outbound-redis/src/
    /// runtime_config/spin.rs`).
    pub redis_max_connections: Option<usize>,
    /// Whether an `env` variables provider is configured (it always is, implicitly).
    pub env_prefix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundMysqlToml {
    max_connections: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundRedisToml {
    max_connections: Option<usize>,
}

impl RuntimeConfig {
    /// Reads a runtime config file; relative store paths resolve against its directory.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read runtime config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
            .with_context(|| format!("invalid runtime config {}", path.display()))
    }

    /// Parses runtime config text.
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        let table: toml::Table = toml::from_str(text)?;
        let mut config = RuntimeConfig {
            env_prefix: "SPIN_VARIABLE".to_string(),
            ..Default::default()
        };
        let mut unused: Vec<&str> = Vec::new();
        for (key, value) in &table {
            match key.as_str() {
                "key_value_store" => {
                    let stores = value
                        .as_table()
                        .ok_or_else(|| anyhow!("`key_value_store` must be a table of labels"))?;
                    for (label, store) in stores {
                        let parsed = parse_store(store, base).with_context(|| {
                            format!("could not configure key-value store with label '{label}'")
                        })?;
                        config.key_value_stores.insert(label.clone(), parsed);
                    }
                }
                "outbound_mysql" => {
                    let m: OutboundMysqlToml = value.clone().try_into()?;
                    config.mysql_max_connections = m.max_connections;
                }
                "outbound_redis" => {
                    let r: OutboundRedisToml = value.clone().try_into()?;
                    config.redis_max_connections = r.max_connections;
                }
                "variables_provider" | "config_provider" => {
                    let providers = value
                        .as_array()
                        .ok_or_else(|| anyhow!("`{key}` must be an array of tables"))?;
                    for p in providers {
                        let ty = p.get("type").and_then(toml::Value::as_str).unwrap_or("");
                        match ty {
                            "env" => {
                                if let Some(prefix) = p.get("prefix").and_then(toml::Value::as_str)
                                {
                                    config.env_prefix = prefix.to_string();
                                }
                            }
                            other => bail!(
                                "variables provider type {other:?} is not supported by this host (only \"env\")"
                            ),
                        }
                    }
                }
                other => unused.push(other),
            }
        }
        if !unused.is_empty() {
            bail!("unused runtime config key(s): {}", unused.join(", "));
        }
        config
            .key_value_stores
            .entry("default".to_string())
            .or_insert(KvStoreConfig::Spin { path: None });
        Ok(config)
    }

    /// The config Spin uses with no file: only the `default` SQLite store.
    pub fn defaults() -> Self {
        let mut config = RuntimeConfig {
            env_prefix: "SPIN_VARIABLE".to_string(),
            ..Default::default()
        };
        config
            .key_value_stores
            .insert("default".to_string(), KvStoreConfig::Spin { path: None });
        config
    }
}

fn parse_store(value: &toml::Value, base: &Path) -> Result<KvStoreConfig> {
    let ty = value
        .get("type")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| anyhow!("missing `type`"))?;
    match ty {
        "spin" => Ok(KvStoreConfig::Spin {
            path: value
                .get("path")
                .and_then(toml::Value::as_str)
                .map(|p| base.join(p)),
        }),
        "redis" => Ok(KvStoreConfig::Redis {
            url: value
                .get("url")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| anyhow!("a redis store needs `url`"))?
                .to_string(),
        }),
        other => bail!("the store type '{other}' was not registered with the config resolver"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_key_is_refused_with_spins_text() {
        let err = RuntimeConfig::parse("[nonsense]\na = 1\n", Path::new("."))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, "unused runtime config key(s): nonsense");
    }

    #[test]
    fn redis_and_spin_stores_parse_and_default_is_added() -> Result<()> {
        let c = RuntimeConfig::parse(
            "[key_value_store.shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n[outbound_mysql]\nmax_connections = 4\n",
            Path::new("/x"),
        )?;
        assert_eq!(
            c.key_value_stores.get("shared"),
            Some(&KvStoreConfig::Redis {
                url: "redis://127.0.0.1:6379".into()
            })
        );
        assert_eq!(
            c.key_value_stores.get("default"),
            Some(&KvStoreConfig::Spin { path: None })
        );
        assert_eq!(c.mysql_max_connections, Some(4));
        Ok(())
    }

    #[test]
    fn unknown_store_type_is_refused() {
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"cosmos?\"\n", Path::new("."))
                .is_err()
        );
    }

    #[test]
    fn unknown_outbound_mysql_field_is_refused() {
        assert!(RuntimeConfig::parse("[outbound_mysql]\nnope = 1\n", Path::new(".")).is_err());
    }
}
