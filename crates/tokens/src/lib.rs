//! # tokens — Orderly's JWTs
//!
//! Shared by the `identity` component (which signs) and the `auth` middleware (which
//! verifies, with no database round trip). No I/O, no clock (the time is always passed
//! in), no `http` types; builds for `wasm32-wasip2`.
//!
//! - [`AccessClaims`], [`issue_access_token`], [`verify_access_token`]: RFC 9068 access
//!   tokens (`typ: at+jwt`, ES256, 15 minutes by default).
//! - [`IdClaims`], [`issue_id_token`], [`verify_id_token`]: OpenID Connect ID tokens
//!   (`typ: JWT`).
//! - [`SigningKey`], [`VerifyingKey`], [`VerifyingKeys`]: keys from configuration only (PKCS#8
//!   or SPKI PEM, or a JWK), current + next + retired by `kid`; [`VerifyingKeys::to_jwks_json`]
//!   is the RFC 7517 JWKS; [`jwk_thumbprint`] is RFC 7638.
//! - [`ScopeSet`]: RFC 6749 §3.3 scopes.
//!
//! Wiring: `identity` loads its keys with [`SigningKey::from_config`] (a PKCS#8 PEM or a
//! private JWK from a secret Spin variable, plus a `kid`), builds [`VerifyingKeys`] from the
//! current, next and retired public keys and serves [`VerifyingKeys::to_jwks_json`]. The
//! `auth` middleware gets public keys only ([`VerifyingKey::from_config`] or
//! [`VerifyingKeys::from_jwks_json`]), calls [`verify_access_token`], then checks the
//! returned `jti` against the revocation list in the key-value store and the route's scopes
//! with [`ScopeSet::contains_all`]; a [`TokenError`] becomes a 401 `invalid_token` with
//! [`TokenError::description`].
//!
//! ```
//! use tokens::*;
//!
//! let key = SigningKey::generate(None)?;
//! let keys = VerifyingKeys::new().with(KeyRole::Current, key.verifying_key())?;
//! let now = 1_700_000_000;
//! let claims = AccessClaims::new(
//!     "https://orderly.example", "user-1", "https://api.orderly.example", "web",
//!     ScopeSet::parse("orders:read")?, random_jti()?, now,
//! );
//! let token = issue_access_token(&key, &claims)?;
//!
//! let expect = Expectations::new("https://orderly.example", "https://api.orderly.example", now + 30);
//! let verified = verify_access_token(&token, &keys, &expect)?;
//! assert!(verified.scope.contains("orders:read"));
//! assert_eq!(verify_access_token(&token, &keys, &Expectations { now: now + 3600, ..expect }),
//!            Err(TokenError::Expired));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod b64;
mod claims;
mod json;
mod keys;
mod scope;
mod token;

#[cfg(test)]
mod tests;

pub use claims::{
    AccessClaims, Audience, DEFAULT_ACCESS_TOKEN_LIFETIME_SECS, DEFAULT_ID_TOKEN_LIFETIME_SECS,
    IdClaims, RandomnessError, random_jti,
};
pub use keys::{
    Jwks, KeyError, KeyRole, Kid, PublicJwk, SigningKey, VerifyingKey, VerifyingKeys,
    jwk_thumbprint,
};
pub use scope::{ScopeError, ScopeSet};
pub use token::{
    ACCESS_TOKEN_TYP, ALG, DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_LEN, Expectations, ID_TOKEN_TYP,
    IssueError, TokenError, issue_access_token, issue_id_token, verify_access_token,
    verify_id_token,
};
