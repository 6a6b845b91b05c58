//! # identity — Orderly's OAuth 2.0 / OpenID Connect authorization server
//!
//! Routes (all public; no middleware in front):
//! - `GET /.well-known/openid-configuration`, `GET /.well-known/oauth-authorization-server`:
//!   RFC 8414 / OIDC discovery ([`discovery`]).
//! - `GET /oauth2/jwks`: current, next and retired public keys.
//! - `GET /oauth2/authorize`: authorization code + PKCE S256 ([`authorize`]); errors
//!   before the redirect URI is trusted are an HTML page, later ones go back with
//!   `error`, `state` and `iss` (RFC 9207).
//! - `GET|POST /login`: the sign-in page (CSRF double submit bound by HMAC to the sealed
//!   request, strict CSP, throttled per account and per address).
//! - `POST /oauth2/token`: `authorization_code`, `refresh_token` (rotation, reuse revokes
//!   the family), `client_credentials` ([`token`] → [`grants`]); RFC 6749 §5.2 errors.
//! - `POST /oauth2/revoke` (RFC 7009), `POST /oauth2/introspect` (RFC 7662) ([`token`]),
//!   `GET|POST /oauth2/userinfo` (OIDC Core §5.3, [`userinfo`]).
//!
//! Layers: `entry` (wasm only) → [`component`] (the kit `Service`) → [`router`] →
//! handlers ([`discovery`], [`token`], [`userinfo`], [`authorize`], [`login`]: parse, call, answer;
//! failures through [`failure`]) → rules ([`grants`] for the token endpoint,
//! [`authorization_request`] for the authorization request, parsed into a type before
//! anything else happens) over the [`model::Repository`] trait → [`repository`] (SQL via
//! `store`). The parsers ([`form`], [`pkce`], [`client_auth`],
//! [`redirect`], [`signed`], [`scopes`]) are plain functions, unit-tested natively;
//! [`rate_limit`] holds the policies (`oauth`, `token`, `login`) on edge-http's limiter.
//!
//! Every registered client is first-party: the operator registers clients in the
//! database, so users are not asked for consent.
#![forbid(unsafe_code)]

pub mod authorization_request;
pub mod authorize;
pub mod client_auth;
pub mod component;
pub mod config;
pub mod discovery;
pub mod failure;
pub mod form;
pub mod grants;
pub mod html;
pub mod login;
pub mod model;
pub mod oauth_error;
pub mod pkce;
pub mod rate_limit;
pub mod redirect;
pub mod repository;
pub mod router;
pub mod scopes;
pub mod session;
pub mod signed;
pub mod token;
pub mod userinfo;

#[cfg(target_arch = "wasm32")]
mod entry;

#[cfg(test)]
mod tests;
