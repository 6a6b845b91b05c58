//! `allowed_outbound_hosts`: which outbound addresses a component may reach.
//!
//! Spin: `crates/factor-outbound-networking/src/config/allowed_hosts.rs`. Entries are
//! `scheme://host[:port]`; `*` is allowed for scheme, host (also `*.suffix`) and port; a port
//! may be a range `a..b`; without a port the scheme's default port applies. An entry without
//! a scheme makes start-up fail with Spin's text (`docs/spin-fidelity.md`). `http://self` and
//! `http://*.spin.internal` / `http://<id>.spin.internal` allow local service chaining.

use anyhow::{Result, bail};

/// One parsed allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
    Default,
}

/// A component's allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// The well-known default port of a scheme, as Spin resolves it.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "mysql" => Some(3306),
        "postgres" => Some(5432),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

impl AllowedHost {
    /// Parses one entry (after template expansion).
    pub fn parse(text: &str) -> Result<Self> {
        let Some((scheme, rest)) = text.split_once("://") else {
            bail!(
                "`allowed_outbound_hosts` is malformed: {text:?} does not contain a scheme (e.g., 'http://' or '*://')"
            );
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            bail!("`allowed_outbound_hosts` is malformed: {text:?} has a path");
        }
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.') =>
            {
                Some(s.to_ascii_lowercase())
            }
            _ => bail!("`allowed_outbound_hosts` is malformed: {text:?} has an invalid scheme"),
        };
        let (host, port) = split_host_port(rest);
        let host = match host {
            "" => bail!("`allowed_outbound_hosts` is malformed: {text:?} has no host"),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Suffix(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => {
                bail!(
                    "`allowed_outbound_hosts` is malformed: {text:?} has a wildcard in the middle of the host"
                )
            }
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        let port = match port {
            None => {
                // `http://self` and `*.spin.internal` need no port.
                PortPattern::Default
            }
            Some("*") => PortPattern::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => {
                    PortPattern::Range(parse_port(text, a)?, parse_port(text, b)?.saturating_sub(1))
                }
                None => {
                    let p = parse_port(text, p)?;
                    PortPattern::Range(p, p)
                }
            },
        };
        if port == PortPattern::Default
            && let Some(s) = &scheme
            && default_port(s).is_none()
            && !matches!(&host, HostPattern::Exact(h) if h == "self")
            && !is_spin_internal_pattern(&host)
        {
            bail!(
                "`allowed_outbound_hosts` is malformed: {text:?} has no port and {s:?} has no default port"
            );
        }
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if let Some(s) = &self.scheme
            && s != scheme
        {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Suffix(sfx) => host.ends_with(sfx.as_str()) && host.len() > sfx.len(),
            HostPattern::Exact(h) => *h == host,
        };
        if !host_ok {
            return false;
        }
        match &self.port {
            PortPattern::Any => true,
            PortPattern::Range(a, b) => (*a..=*b).contains(&port),
            PortPattern::Default => {
                default_port(scheme) == Some(port) || host.ends_with(".spin.internal")
            }
        }
    }
}

fn is_spin_internal_pattern(host: &HostPattern) -> bool {
    match host {
        HostPattern::Suffix(s) => s == ".spin.internal",
        HostPattern::Exact(h) => h.ends_with(".spin.internal"),
        HostPattern::Any => false,
    }
}

fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':'));
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    }
}

fn parse_port(text: &str, p: &str) -> Result<u16> {
    p.parse::<u16>().map_err(|_| {
        anyhow::anyhow!("`allowed_outbound_hosts` is malformed: {text:?} has an invalid port {p:?}")
    })
}

impl AllowedHosts {
    /// Parses a whole list.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        Ok(Self {
            entries: entries
                .iter()
                .map(|e| AllowedHost::parse(e.as_ref()))
                .collect::<Result<_>>()?,
        })
    }

    /// Whether a URL (e.g. `mysql://u:p@127.0.0.1/db`) may be reached.
    pub fn allows_url(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        let scheme = parsed.scheme().to_ascii_lowercase();
        let Some(host) = parsed.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let Some(port) = parsed.port().or_else(|| default_port(&scheme)) else {
            return false;
        };
        self.allows(&scheme, host, port)
    }

    /// Whether `scheme://host:port` may be reached.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.entries.iter().any(|e| e.allows(scheme, host, port))
    }

    /// Whether the exact service-chaining host `<id>.spin.internal` is allowed.
    pub fn allows_chaining_to(&self, component_id: &str) -> bool {
        let host = format!("{component_id}.spin.internal");
        self.entries.iter().any(|e| {
            matches!(e.scheme.as_deref(), None | Some("http"))
                && match &e.host {
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::Suffix(s) => s == ".spin.internal",
                    HostPattern::Any => false,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_without_scheme_is_malformed_with_spins_text() {
        let err = AllowedHost::parse("127.0.0.1:3306")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("`allowed_outbound_hosts` is malformed"),
            "{err}"
        );
        assert!(
            err.contains(
                "\"127.0.0.1:3306\" does not contain a scheme (e.g., 'http://' or '*://')"
            ),
            "{err}"
        );
    }

    #[test]
    fn mysql_url_with_credentials_matches_host_and_default_port() -> Result<()> {
        let a = AllowedHosts::parse(&["mysql://127.0.0.1:3306"])?;
        assert!(a.allows_url("mysql://u:p@127.0.0.1/db"));
        assert!(a.allows_url("mysql://u:p@127.0.0.1:3306/db"));
        assert!(!a.allows_url("mysql://u:p@127.0.0.2/db"));
        assert!(!a.allows_url("mysql://u:p@127.0.0.1:3307/db"));
        assert!(!a.allows_url("redis://127.0.0.1:3306"));
        Ok(())
    }

    #[test]
    fn wildcards_and_ranges() -> Result<()> {
        let a = AllowedHosts::parse(&["*://*.example.com:*", "http://localhost:8000..8002"])?;
        assert!(a.allows_url("https://api.example.com/x"));
        assert!(!a.allows_url("https://example.com/x"));
        assert!(a.allows_url("http://localhost:8001/"));
        assert!(!a.allows_url("http://localhost:8002/"));
        Ok(())
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!AllowedHosts::default().allows_url("http://127.0.0.1/"));
    }

    #[test]
    fn chaining_needs_the_exact_internal_host_or_the_wildcard() -> Result<()> {
        let a = AllowedHosts::parse(&["http://backend.spin.internal"])?;
        assert!(a.allows_chaining_to("backend"));
        assert!(!a.allows_chaining_to("other"));
        let b = AllowedHosts::parse(&["http://*.spin.internal"])?;
        assert!(b.allows_chaining_to("other"));
        Ok(())
    }
}
