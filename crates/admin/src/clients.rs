//! OAuth clients in `oauth_clients`: register, rotate a secret, disable, enable, list.
//!
//! There is no admin HTTP API yet, so these run SQL through the migration (admin) URL.
//! Secrets are generated here (256 bits), printed once and stored only as a SHA-256 digest
//! (`credentials::hash_client_secret`; the secret's 256 bits are what protect it), the way
//! identity checks them (`credentials::verify_client_secret`).
//!
//! Registration rules (RFC 6749, RFC 9700 "OAuth 2.0 Security Best Current Practice"):
//! - `client_credentials` only for confidential clients (RFC 6749 §4.4);
//! - `authorization_code` needs at least one exact redirect URI: `https`, or `http` on a
//!   loopback address for native apps (RFC 8252 §7.3); no fragment (RFC 6749 §3.1.2); no
//!   wildcard, since identity compares them byte for byte (RFC 9700 §2.1);
//! - `refresh_token` only with `authorization_code` (a machine client asks again instead);
//! - scopes from the contract's catalogue for the client's grants ([`crate::scopes`]),
//!   and `admin` for a machine client only when asked for explicitly.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};
use zeroize::Zeroizing;

use crate::error::{AdminError, Result};
use crate::scopes::{self, Flow};

/// How a confidential client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic (RFC 6749 §2.3.1), the default.
    ClientSecretBasic,
    /// Credentials in the form body.
    ClientSecretPost,
    /// A public client: no secret (PKCE protects the code).
    None,
}

impl AuthMethod {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// A grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// `authorization_code` (PKCE S256 required by identity).
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials`.
    ClientCredentials,
}

impl Grant {
    /// Parses `authorization_code`, `refresh_token` or `client_credentials`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            other => Err(AdminError::invalid(
                "--grant",
                format!(
                    "{other:?} is not offered (authorization_code, refresh_token, client_credentials; \
                     password and implicit are not supported, RFC 9700 §2.4 and §2.1.2)"
                ),
            )),
        }
    }

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// A client to register, as the operator asked for it.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The public `client_id`.
    pub client_id: String,
    /// A human-readable name (shown on the login page).
    pub name: String,
    /// Confidential (has a secret) or public.
    pub confidential: bool,
    /// For confidential clients: Basic (default) or form-body credentials.
    pub auth_method: AuthMethod,
    /// Grant types.
    pub grants: Vec<Grant>,
    /// Space-separated scopes.
    pub scope: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Whether a `client_credentials` client may hold `admin`.
    pub allow_admin_scope: bool,
}

/// A client as listed (no secret, no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    /// `client_id`.
    pub client_id: String,
    /// `client_name`.
    pub name: String,
    /// `public` or `confidential`.
    pub client_type: String,
    /// Grant types, comma-separated.
    pub grants: String,
    /// Scopes.
    pub scopes: String,
    /// `active` or `disabled`.
    pub status: String,
}

/// A registered client and, for a confidential one, its secret (shown once).
#[derive(Debug)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The secret; `None` for a public client. Zeroized on drop.
    pub secret: Option<Zeroizing<String>>,
}

fn check_client_id(client_id: &str) -> Result<()> {
    // RFC 6749 §2.2 allows any VSCHAR; a narrower URL- and log-safe set is asked for here
    // (the column is VARCHAR(64) ascii).
    let ok = (1..=64).contains(&client_id.len())
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::invalid(
            "--id",
            "must be 1-64 characters of A-Z a-z 0-9 - . _ ~",
        ))
    }
}

fn check_redirect_uri(uri: &str) -> Result<()> {
    let what = format!("--redirect-uri {uri:?}");
    let parsed = url::Url::parse(uri).map_err(|e| AdminError::invalid(&what, e.to_string()))?;
    if parsed.fragment().is_some() {
        return Err(AdminError::invalid(
            what,
            "must not have a fragment (RFC 6749 §3.1.2)",
        ));
    }
    if uri.contains('*') {
        return Err(AdminError::invalid(
            what,
            "wildcards are not matched; register each exact URI (RFC 9700 §2.1)",
        ));
    }
    let loopback = matches!(
        parsed.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || parsed.host_str() == Some("localhost");
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(AdminError::invalid(
            what,
            "must be https (http only on a loopback address, RFC 8252 §7.3)",
        )),
    }
}

/// Checks every rule of the module documentation; returns the normalised scope text.
fn check(client: &NewClient) -> Result<String> {
    check_client_id(&client.client_id)?;
    let name = client.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "--name",
            "must be 1-100 printable characters",
        ));
    }
    if client.grants.is_empty() {
        return Err(AdminError::invalid("--grant", "give at least one"));
    }
    let has = |grant| client.grants.contains(&grant);
    if has(Grant::ClientCredentials) && !client.confidential {
        return Err(AdminError::invalid(
            "--grant client_credentials",
            "only for confidential clients (RFC 6749 §4.4)",
        ));
    }
    if has(Grant::RefreshToken) && !has(Grant::AuthorizationCode) {
        return Err(AdminError::invalid(
            "--grant refresh_token",
            "only together with authorization_code",
        ));
    }
    if has(Grant::AuthorizationCode) && client.redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "--redirect-uri",
            "authorization_code needs at least one",
        ));
    }
    if !has(Grant::AuthorizationCode) && !client.redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "--redirect-uri",
            "only for authorization_code clients",
        ));
    }
    for uri in &client.redirect_uris {
        check_redirect_uri(uri)?;
    }
    if client.confidential == (client.auth_method == AuthMethod::None) {
        return Err(AdminError::invalid(
            "auth method",
            "confidential clients authenticate with a secret, public ones with none",
        ));
    }
    let scope = tokens::ScopeSet::parse(client.scope.trim())
        .map_err(|e| AdminError::invalid("--scope", e.to_string()))?;
    let mut offered = Vec::new();
    if has(Grant::AuthorizationCode) {
        offered.extend(scopes::offered(Flow::AuthorizationCode));
    }
    if has(Grant::ClientCredentials) {
        offered.extend(scopes::offered(Flow::ClientCredentials));
    }
    for s in scope.iter() {
        if !offered.contains(&s) {
            return Err(AdminError::invalid(
                "--scope",
                format!(
                    "{s:?} is not offered for these grants (offered: {})",
                    offered.join(" ")
                ),
            ));
        }
    }
    if has(Grant::ClientCredentials) && scope.contains(scopes::ADMIN) && !client.allow_admin_scope {
        return Err(AdminError::invalid(
            "--scope admin",
            "a machine client with `admin` can do everything to every user; add --allow-admin-scope if that is meant",
        ));
    }
    Ok(scope.to_string())
}

fn new_secret() -> Result<Zeroizing<String>> {
    credentials::random_token()
        .map(Zeroizing::new)
        .map_err(|e| AdminError::Crypto(format!("no randomness: {e}")))
}

fn hash(secret: &str) -> Result<String> {
    credentials::hash_client_secret(secret).map_err(|e| AdminError::Crypto(format!("hashing: {e}")))
}

fn json_array(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Registers a client. A confidential client's secret is generated and returned once.
pub async fn create(conn: &mut Conn, client: &NewClient) -> Result<Registered> {
    let scope = check(client)?;
    let secret = if client.confidential {
        Some(new_secret()?)
    } else {
        None
    };
    let secret_hash = secret.as_deref().map(|s| hash(s)).transpose()?;
    let mut grants: Vec<Grant> = client.grants.clone();
    grants.sort();
    grants.dedup();
    let grants: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
    let result = conn
        .exec_drop(
            "INSERT INTO oauth_clients (id, client_id, client_name, client_type, secret_hash, \
             token_endpoint_auth_method, redirect_uris, grant_types, scopes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            Params::Positional(vec![
                Value::from(uuid::Uuid::now_v7().as_bytes().to_vec()),
                Value::from(client.client_id.as_str()),
                Value::from(client.name.trim()),
                Value::from(if client.confidential {
                    "confidential"
                } else {
                    "public"
                }),
                Value::from(secret_hash),
                Value::from(client.auth_method.as_str()),
                Value::from(json_array(&client.redirect_uris)),
                Value::from(grants.join(",")),
                Value::from(scope),
            ]),
        )
        .await;
    match result {
        Ok(()) => Ok(Registered {
            client_id: client.client_id.clone(),
            secret,
        }),
        // ER_DUP_ENTRY on uq_oauth_clients_client_id.
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => Err(AdminError::Conflict(format!(
            "client {:?}",
            client.client_id
        ))),
        Err(e) => Err(AdminError::db(format!(
            "inserting client {:?}",
            client.client_id
        ))(e)),
    }
}

/// Replaces a confidential client's secret; the old one stops working at once. Returns
/// the new secret (shown once).
pub async fn rotate_secret(conn: &mut Conn, client_id: &str) -> Result<Zeroizing<String>> {
    check_client_id(client_id)?;
    let kind: Option<String> = conn
        .exec_first(
            "SELECT client_type FROM oauth_clients WHERE client_id = ?",
            (client_id,),
        )
        .await
        .map_err(AdminError::db(format!("reading client {client_id:?}")))?;
    match kind.as_deref() {
        None => return Err(AdminError::NotFound(format!("client {client_id:?}"))),
        Some("confidential") => {}
        Some(_) => {
            return Err(AdminError::State(format!(
                "client {client_id:?} is public: it has no secret to rotate"
            )));
        }
    }
    let secret = new_secret()?;
    conn.exec_drop(
        "UPDATE oauth_clients SET secret_hash = ?, version = version + 1 WHERE client_id = ?",
        (hash(&secret)?, client_id),
    )
    .await
    .map_err(AdminError::db(format!("updating client {client_id:?}")))?;
    Ok(secret)
}

/// What [`set_status`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// Whether the status changed (false: it already was so).
    pub changed: bool,
    /// Refresh tokens revoked with it (disabling only).
    pub refresh_tokens_revoked: u64,
}

/// Disables (`active = false`) or re-enables a client. Disabling also revokes the
/// client's live refresh tokens, so nothing it holds can mint new access tokens; access
/// tokens already issued stay valid until they expire (at most 15 minutes) unless revoked
/// one by one at `/oauth2/revoke`. Identity refuses a disabled client at every endpoint.
pub async fn set_status(conn: &mut Conn, client_id: &str, active: bool) -> Result<StatusChange> {
    check_client_id(client_id)?;
    let status = if active { "active" } else { "disabled" };
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .map_err(AdminError::db("starting a transaction"))?;
    let row: Option<(Vec<u8>, String)> = tx
        .exec_first(
            "SELECT id, status FROM oauth_clients WHERE client_id = ? FOR UPDATE",
            (client_id,),
        )
        .await
        .map_err(AdminError::db(format!("reading client {client_id:?}")))?;
    let Some((id, current)) = row else {
        return Err(AdminError::NotFound(format!("client {client_id:?}")));
    };
    let changed = current != status;
    if changed {
        tx.exec_drop(
            "UPDATE oauth_clients SET status = ?, version = version + 1 WHERE id = ?",
            (status, id.clone()),
        )
        .await
        .map_err(AdminError::db(format!("updating client {client_id:?}")))?;
    }
    let mut revoked = 0;
    if !active {
        tx.exec_drop(
            "UPDATE refresh_tokens SET revoked_at = CURRENT_TIMESTAMP(6) \
             WHERE client_id = ? AND revoked_at IS NULL AND expires_at > CURRENT_TIMESTAMP(6)",
            (id,),
        )
        .await
        .map_err(AdminError::db(format!(
            "revoking refresh tokens of {client_id:?}"
        )))?;
        revoked = tx.affected_rows();
    }
    tx.commit()
        .await
        .map_err(AdminError::db("committing the status change"))?;
    Ok(StatusChange {
        changed,
        refresh_tokens_revoked: revoked,
    })
}

/// Every client, oldest first (no secrets, no hashes).
pub async fn list(conn: &mut Conn) -> Result<Vec<ClientSummary>> {
    let rows: Vec<(String, String, String, String, String, String)> = conn
        .query(
            "SELECT client_id, client_name, client_type, grant_types, scopes, status \
             FROM oauth_clients ORDER BY created_at, id",
        )
        .await
        .map_err(AdminError::db("listing clients"))?;
    Ok(rows
        .into_iter()
        .map(
            |(client_id, name, client_type, grants, scopes, status)| ClientSummary {
                client_id,
                name,
                client_type,
                grants,
                scopes,
                status,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn machine() -> NewClient {
        NewClient {
            client_id: "billing".into(),
            name: "Billing".into(),
            confidential: true,
            auth_method: AuthMethod::ClientSecretBasic,
            grants: vec![Grant::ClientCredentials],
            scope: "orders:read".into(),
            redirect_uris: vec![],
            allow_admin_scope: false,
        }
    }

    fn web() -> NewClient {
        NewClient {
            client_id: "shop-web".into(),
            name: "Shop".into(),
            confidential: false,
            auth_method: AuthMethod::None,
            grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
            scope: "openid email orders:read orders:write".into(),
            redirect_uris: vec!["https://shop.example/callback".into()],
            allow_admin_scope: false,
        }
    }

    #[test]
    fn valid_machine_and_browser_clients_pass() {
        assert_eq!(check(&machine()).unwrap(), "orders:read");
        assert!(check(&web()).is_ok());
        let native = NewClient {
            redirect_uris: vec!["http://127.0.0.1:8400/cb".into(), "http://[::1]/cb".into()],
            ..web()
        };
        assert!(check(&native).is_ok());
    }

    #[test]
    fn registrations_that_break_the_oauth_rules_are_refused() {
        // (change, why it must fail)
        let cases: Vec<(NewClient, &str)> = vec![
            (
                NewClient {
                    client_id: "a b".into(),
                    ..machine()
                },
                "--id",
            ),
            (
                NewClient {
                    client_id: "x".repeat(65),
                    ..machine()
                },
                "--id",
            ),
            (
                NewClient {
                    name: " ".into(),
                    ..machine()
                },
                "--name",
            ),
            (
                NewClient {
                    grants: vec![],
                    ..machine()
                },
                "--grant",
            ),
            (
                NewClient {
                    confidential: false,
                    auth_method: AuthMethod::None,
                    ..machine()
                },
                "client_credentials",
            ),
            (
                NewClient {
                    grants: vec![Grant::RefreshToken],
                    ..web()
                },
                "refresh_token",
            ),
            (
                NewClient {
                    redirect_uris: vec![],
                    ..web()
                },
                "--redirect-uri",
            ),
            (
                NewClient {
                    redirect_uris: vec!["https://x.example/cb".into()],
                    ..machine()
                },
                "--redirect-uri",
            ),
            (
                NewClient {
                    redirect_uris: vec!["http://shop.example/cb".into()],
                    ..web()
                },
                "loopback",
            ),
            (
                NewClient {
                    redirect_uris: vec!["https://shop.example/cb#x".into()],
                    ..web()
                },
                "fragment",
            ),
            (
                NewClient {
                    redirect_uris: vec!["https://*.shop.example/cb".into()],
                    ..web()
                },
                "wildcard",
            ),
            (
                NewClient {
                    scope: "openid".into(),
                    ..machine()
                },
                "not offered",
            ),
            (
                NewClient {
                    scope: "orders:delete".into(),
                    ..machine()
                },
                "not offered",
            ),
            (
                NewClient {
                    scope: "admin".into(),
                    ..machine()
                },
                "--allow-admin-scope",
            ),
            (
                NewClient {
                    auth_method: AuthMethod::None,
                    ..machine()
                },
                "auth method",
            ),
            (
                NewClient {
                    auth_method: AuthMethod::ClientSecretPost,
                    ..web()
                },
                "auth method",
            ),
        ];
        for (client, expected) in cases {
            let err = check(&client).unwrap_err().to_string();
            assert!(err.contains(expected), "{client:?}: {err}");
        }
        assert!(
            check(&NewClient {
                scope: "admin".into(),
                allow_admin_scope: true,
                ..machine()
            })
            .is_ok()
        );
    }
}
