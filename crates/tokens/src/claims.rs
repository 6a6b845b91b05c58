//! The claims of the two token kinds Orderly issues.

use crate::b64;
use crate::scope::ScopeSet;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Default access-token lifetime: 15 minutes (docs/standards.md §11).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECS: u64 = 15 * 60;

/// Default ID-token lifetime: 15 minutes (OpenID Connect Core §2 leaves it to the issuer;
/// an ID token is consumed once, right after the code exchange).
pub const DEFAULT_ID_TOKEN_LIFETIME_SECS: u64 = 15 * 60;

/// The `aud` claim (RFC 7519 §4.1.3): one audience or several. Serialized as a single
/// string when there is one (the form strict clients expect from an ID token,
/// OpenID Connect Core §2), as an array otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// One audience.
    pub fn single(audience: impl Into<String>) -> Self {
        Self(vec![audience.into()])
    }

    /// Several audiences (RFC 7519 §4.1.3 array form).
    pub fn many<I, S>(audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(audiences.into_iter().map(Into::into).collect())
    }

    /// Whether `audience` is one of the values, compared byte for byte (RFC 7519 §4.1.3:
    /// case-sensitive strings).
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    /// The values.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no values (never true of a verified token).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

/// Claims of an RFC 9068 JWT access token (header `typ: at+jwt`).
///
/// Build one with [`AccessClaims::new`] and sign it with
/// [`issue_access_token`](crate::issue_access_token); [`verify_access_token`](crate::verify_access_token)
/// gives one back. Times are NumericDate, seconds since the Unix epoch (RFC 7519 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessClaims {
    /// `iss` (RFC 9068 §2.2, RFC 7519 §4.1.1): our issuer identifier, byte-identical to the
    /// discovery document's `issuer`.
    pub iss: String,
    /// `sub` (RFC 9068 §2.2): the user, or the client itself for client credentials.
    pub sub: String,
    /// `aud` (RFC 9068 §2.2, RFC 7519 §4.1.3): the resource server(s).
    pub aud: Audience,
    /// `exp` (RFC 7519 §4.1.4).
    pub exp: u64,
    /// `iat` (RFC 7519 §4.1.6).
    pub iat: u64,
    /// `nbf` (RFC 7519 §4.1.5).
    pub nbf: u64,
    /// `jti` (RFC 9068 §2.2, RFC 7519 §4.1.7): unique per token; revocation lists use it.
    pub jti: String,
    /// `scope` (RFC 9068 §2.2.3): the granted scopes; omitted from the token when empty.
    pub scope: ScopeSet,
    /// `client_id` (RFC 9068 §2.2, RFC 8693 §4.3): the client the token was issued to.
    pub client_id: String,
}

impl AccessClaims {
    /// Claims for a token issued at `now` (seconds since the Unix epoch): `iat = nbf = now`,
    /// `exp = now + 15 min` ([`DEFAULT_ACCESS_TOKEN_LIFETIME_SECS`]). `jti` should come from
    /// [`random_jti`](crate::random_jti).
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
        client_id: impl Into<String>,
        scope: ScopeSet,
        jti: impl Into<String>,
        now: u64,
    ) -> Self {
        Self {
            iss: issuer.into(),
            sub: subject.into(),
            aud: Audience::single(audience),
            exp: now.saturating_add(DEFAULT_ACCESS_TOKEN_LIFETIME_SECS),
            iat: now,
            nbf: now,
            jti: jti.into(),
            scope,
            client_id: client_id.into(),
        }
    }

    /// Sets the lifetime: `exp = iat + seconds`.
    #[must_use]
    pub fn with_lifetime(mut self, seconds: u64) -> Self {
        self.exp = self.iat.saturating_add(seconds);
        self
    }

    /// Replaces the audience (e.g. several resource servers).
    #[must_use]
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.aud = audience;
        self
    }

    /// The lifetime in seconds (`exp - iat`), for the token response's `expires_in`
    /// (RFC 6749 §5.1).
    pub fn expires_in(&self) -> u64 {
        self.exp.saturating_sub(self.iat)
    }
}

impl Serialize for AccessClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("sub", &self.sub)?;
        map.serialize_entry("aud", &self.aud)?;
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("iat", &self.iat)?;
        map.serialize_entry("nbf", &self.nbf)?;
        map.serialize_entry("jti", &self.jti)?;
        if !self.scope.is_empty() {
            map.serialize_entry("scope", &self.scope)?;
        }
        map.serialize_entry("client_id", &self.client_id)?;
        map.end()
    }
}

/// Claims of an OpenID Connect ID token (OpenID Connect Core §2; header `typ: JWT`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdClaims {
    /// `iss`: our issuer identifier, byte-identical to the discovery `issuer`.
    pub iss: String,
    /// `sub`: the end-user's stable identifier.
    pub sub: String,
    /// `aud`: the client's `client_id`.
    pub aud: Audience,
    /// `exp`.
    pub exp: u64,
    /// `iat`.
    pub iat: u64,
    /// `nonce`: copied from the authentication request when one was sent (Core §3.1.2.1).
    pub nonce: Option<String>,
    /// `auth_time`: when the end-user authenticated (Core §2).
    pub auth_time: Option<u64>,
    /// `azp`: the authorized party (Core §2), when present.
    pub azp: Option<String>,
}

impl IdClaims {
    /// Claims for an ID token issued at `now` to `client_id`: `aud = client_id`,
    /// `iat = now`, `exp = now + 15 min` ([`DEFAULT_ID_TOKEN_LIFETIME_SECS`]).
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        client_id: impl Into<String>,
        now: u64,
    ) -> Self {
        Self {
            iss: issuer.into(),
            sub: subject.into(),
            aud: Audience::single(client_id),
            exp: now.saturating_add(DEFAULT_ID_TOKEN_LIFETIME_SECS),
            iat: now,
            nonce: None,
            auth_time: None,
            azp: None,
        }
    }

    /// Sets `nonce`.
    #[must_use]
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets `auth_time`.
    #[must_use]
    pub fn with_auth_time(mut self, auth_time: u64) -> Self {
        self.auth_time = Some(auth_time);
        self
    }

    /// Sets `azp`.
    #[must_use]
    pub fn with_azp(mut self, azp: impl Into<String>) -> Self {
        self.azp = Some(azp.into());
        self
    }

    /// Sets the lifetime: `exp = iat + seconds`.
    #[must_use]
    pub fn with_lifetime(mut self, seconds: u64) -> Self {
        self.exp = self.iat.saturating_add(seconds);
        self
    }
}

impl Serialize for IdClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("sub", &self.sub)?;
        map.serialize_entry("aud", &self.aud)?;
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("iat", &self.iat)?;
        if let Some(nonce) = &self.nonce {
            map.serialize_entry("nonce", nonce)?;
        }
        if let Some(auth_time) = &self.auth_time {
            map.serialize_entry("auth_time", auth_time)?;
        }
        if let Some(azp) = &self.azp {
            map.serialize_entry("azp", azp)?;
        }
        map.end()
    }
}

/// The platform's random number generator failed (so no unique `jti` could be made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomnessError;

impl std::fmt::Display for RandomnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("random number generator failed")
    }
}

impl std::error::Error for RandomnessError {}

/// A fresh `jti` (RFC 7519 §4.1.7: "assigned in a manner that ensures that there is a
/// negligible probability that the same value will be accidentally assigned"): 128 random
/// bits from the platform CSPRNG (`getrandom`; `wasi:random` on `wasm32-wasip2`),
/// base64url, 22 characters.
pub fn random_jti() -> Result<String, RandomnessError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| RandomnessError)?;
    Ok(b64::encode(&bytes))
}
