//! The component's configuration, parsed once per instance from Spin variables.

use std::fmt;

use tokens::{KeyRole, SigningKey, VerifyingKeys};

/// The variables, as text (see `spin.toml`).
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    /// `issuer`.
    pub issuer: String,
    /// `audience`.
    pub audience: String,
    /// `signing_key` (PKCS#8 PEM or private JWK).
    pub signing_key: String,
    /// `signing_kid`.
    pub signing_kid: String,
    /// `next_signing_key` (may be empty).
    pub next_signing_key: String,
    /// `next_signing_kid` (may be empty).
    pub next_signing_kid: String,
    /// `retired_jwks` (may be empty).
    pub retired_jwks: String,
    /// `cursor_key` (HMAC key, at least 32 bytes).
    pub cursor_key: String,
    /// `kv_prefix`.
    pub kv_prefix: String,
    /// `rate_limit_per_minute`.
    pub rate_limit_per_minute: String,
    /// `login_attempts_per_minute`.
    pub login_attempts_per_minute: String,
}

/// Which variable is wrong (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "identity configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The variables [`Config`] is made of, to name the one an error is about.
const VARIABLES: &[&str] = &[
    "issuer",
    "audience",
    "signing_key",
    "next_signing_key",
    "retired_jwks",
    "cursor_key",
    "kv_prefix",
    "rate_limit_per_minute",
    "login_attempts_per_minute",
];

impl ConfigError {
    /// The variable the error is about (the longest name its message starts with).
    pub fn variable(&self) -> &'static str {
        VARIABLES
            .iter()
            .copied()
            .filter(|name| self.0.starts_with(name))
            .max_by_key(|name| name.len())
            .unwrap_or("identity configuration")
    }
}

/// The parsed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier, byte-identical everywhere it appears.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// The key that signs.
    pub signing_key: SigningKey,
    /// Current + next + retired public keys (JWKS, and verifying our own tokens).
    pub verifying_keys: VerifyingKeys,
    /// HMAC key for sealed requests and CSRF tokens.
    pub cursor_key: Vec<u8>,
    /// Prefix of every shared key-value key.
    pub kv_prefix: String,
    /// Token requests per minute per client address.
    pub rate_limit_per_minute: u64,
    /// Sign-in attempts per minute per account and per client address.
    pub login_attempts_per_minute: u64,
    /// Cookies get `Secure` when the issuer is https.
    pub secure_cookies: bool,
}

fn positive(name: &str, value: &str) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConfigError(format!("{name} must be a positive integer")))
}

impl Config {
    /// Parses and checks every variable.
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let issuer = raw.issuer.trim().to_owned();
        let parsed =
            url::Url::parse(&issuer).map_err(|_| ConfigError("issuer must be a URL".into()))?;
        // RFC 8414 §2: https (http tolerated for local development), no query or fragment.
        if !matches!(parsed.scheme(), "https" | "http")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(ConfigError(
                "issuer must be an http(s) URL without query or fragment".into(),
            ));
        }
        if raw.audience.trim().is_empty() {
            return Err(ConfigError("audience is empty".into()));
        }
        let signing_key = SigningKey::from_config(&raw.signing_key, Some(raw.signing_kid.trim()))
            .map_err(|e| ConfigError(format!("signing_key: {e}")))?;
        let mut verifying_keys = VerifyingKeys::new();
        verifying_keys
            .insert(KeyRole::Current, signing_key.verifying_key())
            .map_err(|e| ConfigError(format!("signing_key: {e}")))?;
        if !raw.next_signing_key.trim().is_empty() {
            let kid = Some(raw.next_signing_kid.trim()).filter(|k| !k.is_empty());
            let next = SigningKey::from_config(&raw.next_signing_key, kid)
                .map_err(|e| ConfigError(format!("next_signing_key: {e}")))?;
            verifying_keys
                .insert(KeyRole::Next, next.verifying_key())
                .map_err(|e| ConfigError(format!("next_signing_key: {e}")))?;
        }
        if !raw.retired_jwks.trim().is_empty() {
            let retired = VerifyingKeys::from_jwks_json(&raw.retired_jwks)
                .map_err(|e| ConfigError(format!("retired_jwks: {e}")))?;
            for (_, key) in retired.iter() {
                verifying_keys
                    .insert(KeyRole::Retired, key.clone())
                    .map_err(|e| ConfigError(format!("retired_jwks: {e}")))?;
            }
        }
        if raw.cursor_key.len() < 32 {
            return Err(ConfigError("cursor_key must be at least 32 bytes".into()));
        }
        let kv_prefix = raw.kv_prefix.trim().to_owned();
        if kv_prefix.is_empty() {
            return Err(ConfigError("kv_prefix is empty".into()));
        }
        Ok(Self {
            secure_cookies: parsed.scheme() == "https",
            issuer,
            audience: raw.audience.trim().to_owned(),
            signing_key,
            verifying_keys,
            cursor_key: raw.cursor_key.as_bytes().to_vec(),
            kv_prefix,
            rate_limit_per_minute: positive("rate_limit_per_minute", &raw.rate_limit_per_minute)?,
            login_attempts_per_minute: positive(
                "login_attempts_per_minute",
                &raw.login_attempts_per_minute,
            )?,
        })
    }
}

/// The configuration as the kit loads it: once per instance, from the Spin variables.
impl kit::Settings for Config {
    async fn load(variables: &impl kit::Variables) -> Result<Self, kit::SettingsError> {
        let optional = |value: Option<String>| value.unwrap_or_default();
        let raw = RawConfig {
            issuer: variables.required("issuer").await?,
            audience: variables.required("audience").await?,
            signing_key: variables.required("signing_key").await?,
            signing_kid: variables.required("signing_kid").await?,
            next_signing_key: optional(variables.optional("next_signing_key").await?),
            next_signing_kid: optional(variables.optional("next_signing_kid").await?),
            retired_jwks: optional(variables.optional("retired_jwks").await?),
            cursor_key: variables.required("cursor_key").await?,
            kv_prefix: variables.required("kv_prefix").await?,
            rate_limit_per_minute: variables.required("rate_limit_per_minute").await?,
            login_attempts_per_minute: variables.required("login_attempts_per_minute").await?,
        };
        Config::from_raw(&raw).map_err(|e| kit::SettingsError::new(e.variable(), e.0))
    }

    fn kv_prefix(&self) -> &str {
        &self.kv_prefix
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokens::Kid;

    pub(crate) fn raw() -> RawConfig {
        let key = SigningKey::generate(Some(Kid::new("k1").unwrap())).unwrap();
        RawConfig {
            issuer: "http://127.0.0.1:3000".into(),
            audience: "http://127.0.0.1:3000/api".into(),
            signing_key: key.to_pkcs8_pem().unwrap().to_string(),
            signing_kid: "k1".into(),
            cursor_key: "x".repeat(32),
            kv_prefix: "t".into(),
            rate_limit_per_minute: "300".into(),
            login_attempts_per_minute: "10".into(),
            ..RawConfig::default()
        }
    }

    #[test]
    fn current_next_and_retired_keys_are_published() {
        let next = SigningKey::generate(Some(Kid::new("k2").unwrap())).unwrap();
        let retired = SigningKey::generate(Some(Kid::new("k0").unwrap())).unwrap();
        let retired_jwks = VerifyingKeys::new()
            .with(KeyRole::Current, retired.verifying_key())
            .unwrap()
            .to_jwks_json();
        let config = Config::from_raw(&RawConfig {
            next_signing_key: next.to_pkcs8_pem().unwrap().to_string(),
            next_signing_kid: "k2".into(),
            retired_jwks,
            ..raw()
        })
        .unwrap();
        let kids: Vec<_> = config
            .verifying_keys
            .iter()
            .map(|(role, key)| (role, key.kid().as_str().to_owned()))
            .collect();
        assert_eq!(
            kids,
            vec![
                (KeyRole::Current, "k1".to_owned()),
                (KeyRole::Next, "k2".to_owned()),
                (KeyRole::Retired, "k0".to_owned())
            ]
        );
        assert!(!config.secure_cookies);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let short = Config::from_raw(&RawConfig {
            cursor_key: "short".into(),
            ..raw()
        });
        assert!(matches!(short, Err(ConfigError(m)) if m.contains("cursor_key")));
        let zero = Config::from_raw(&RawConfig {
            login_attempts_per_minute: "0".into(),
            ..raw()
        });
        assert!(matches!(zero, Err(ConfigError(m)) if m.contains("login_attempts")));
        let issuer = Config::from_raw(&RawConfig {
            issuer: "https://x.example/?q".into(),
            ..raw()
        });
        assert!(issuer.is_err());
        let https = Config::from_raw(&RawConfig {
            issuer: "https://id.example".into(),
            ..raw()
        })
        .unwrap();
        assert!(https.secure_cookies);
        assert_eq!(https.issuer, "https://id.example");
    }
}
