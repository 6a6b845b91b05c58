//! Issuing and verifying: JWS compact serialization (RFC 7515 §7.1) with ES256
//! (RFC 7518 §3.4), the RFC 9068 access-token profile and OpenID Connect ID tokens.
//!
//! `jwt-compact` supplies the ES256 algorithm (SHA-256 + P-256 ECDSA with the fixed
//! 64-byte `R || S` JOSE signature form, RFC 7518 §3.4). The compact form is parsed here,
//! once, strictly, because the checks below go beyond what its `UntrustedToken` offers
//! (duplicate members, a header allow-list, `crit`, canonical base64url), and parsing once
//! means the bytes whose signature is checked are exactly the bytes whose claims are read.

use crate::b64;
use crate::claims::{AccessClaims, Audience, IdClaims};
use crate::json::StrictObject;
use crate::keys::{SigningKey, VerifyingKeys};
use crate::scope::ScopeSet;
use jwt_compact::Algorithm;
use jwt_compact::alg::Es256;
use p256::ecdsa::Signature;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`: 60 seconds (RFC 7519 §4.1.4
/// "some small leeway, usually no more than a few minutes").
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// Default size cap for a token: 8 KiB (ours are well under 1 KiB); checked before any
/// parsing (RFC 8725 §3.x: bound work done on unauthenticated input).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// The only `alg` accepted (RFC 7518 §3.4; RFC 8725 §3.1 "perform algorithm verification"
/// and §2.1: never `none`, never a MAC keyed with a public key).
pub const ALG: &str = "ES256";

/// The `typ` Orderly puts in access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The `typ` Orderly puts in ID tokens (RFC 7519 §5.1).
pub const ID_TOKEN_TYP: &str = "JWT";

/// Why a token was refused.
///
/// Every variant's [`description`](TokenError::description) is fixed text, safe to return
/// to the client as the `error_description` of an RFC 6750 §3.1 `invalid_token` error:
/// nothing from the token, the keys or a library error is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the size cap; refused before any parsing.
    TooLarge,
    /// Not three strict base64url segments (RFC 7515 §7.1, §2), or a header or claims set
    /// that is not one JSON object with unique member names (RFC 7515 §5.2, RFC 7519 §7.2).
    Malformed,
    /// `alg` missing or anything but exactly `ES256` (RFC 8725 §3.1): `none` in any casing,
    /// `HS256` (a MAC keyed with our public key), `RS256`, `es256`….
    UnsupportedAlgorithm,
    /// `typ` missing or not the kind asked for: an access token must say `at+jwt`
    /// (RFC 9068 §4; RFC 8725 §3.11 explicit typing), so an ID token is not an access token.
    WrongType,
    /// No `kid` header, or not a string (RFC 7515 §4.1.4; we always send one).
    MissingKeyId,
    /// The `kid` names no configured key.
    UnknownKey,
    /// A `jwk`, `jku`, `x5u`, `x5c`, `x5t` or `x5t#S256` header (RFC 7515 §4.1.2–4.1.8):
    /// keys come only from configuration; these are refused and never followed.
    KeyReferenceHeader,
    /// A `crit` header (RFC 7515 §4.1.11): we understand no extensions, so it must be
    /// refused.
    CriticalHeader,
    /// Any other header parameter (e.g. `cty`, `zip`, `b64`): we only send `alg`, `typ`
    /// and `kid`.
    UnsupportedHeader,
    /// The ES256 signature does not verify (or is not 64 bytes `R || S`).
    InvalidSignature,
    /// `iss` is not byte-for-byte our issuer (RFC 9068 §4, RFC 8414 §3.3).
    WrongIssuer,
    /// `aud` does not contain the expected audience (RFC 9068 §4, RFC 7519 §4.1.3).
    WrongAudience,
    /// `exp` has passed, beyond the leeway (RFC 7519 §4.1.4).
    Expired,
    /// `nbf` is in the future, beyond the leeway (RFC 7519 §4.1.5).
    NotYetValid,
    /// `iat` is in the future, beyond the leeway (RFC 7519 §4.1.6).
    IssuedInFuture,
    /// A required claim is absent (RFC 9068 §2.2; OpenID Connect Core §2).
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unacceptable value (e.g. empty `jti`).
    InvalidClaim(&'static str),
    /// The ID token's `nonce` is not the one sent (OpenID Connect Core §3.1.3.7 step 11).
    NonceMismatch,
}

impl TokenError {
    /// Fixed text for an RFC 6750 `error_description`.
    pub const fn description(self) -> &'static str {
        match self {
            Self::TooLarge => "the token is too large",
            Self::Malformed => "the token is malformed",
            Self::UnsupportedAlgorithm => "the token's signing algorithm is not accepted",
            Self::WrongType => "the token is not of the expected type",
            Self::MissingKeyId => "the token does not name its signing key",
            Self::UnknownKey => "the token's signing key is not known",
            Self::KeyReferenceHeader => "keys referenced or embedded in the token are not accepted",
            Self::CriticalHeader => "the token requires an extension that is not supported",
            Self::UnsupportedHeader => "the token has a header parameter that is not accepted",
            Self::InvalidSignature => "the token signature is invalid",
            Self::WrongIssuer => "the token was not issued by this issuer",
            Self::WrongAudience => "the token is not intended for this audience",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::IssuedInFuture => "the token was issued in the future",
            Self::MissingClaim(_) => "the token lacks a required claim",
            Self::InvalidClaim(_) => "the token has an invalid claim",
            Self::NonceMismatch => "the token's nonce does not match",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingClaim(name) => write!(f, "the token lacks the `{name}` claim"),
            Self::InvalidClaim(name) => write!(f, "the token's `{name}` claim is invalid"),
            other => f.write_str(other.description()),
        }
    }
}

impl std::error::Error for TokenError {}

/// Why a token could not be issued: the claims given are unusable. Names the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// A claim is empty or inconsistent (e.g. `exp` not after `iat`).
    InvalidClaim(&'static str),
    /// The claims could not be serialized.
    Serialization,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidClaim(name) => write!(f, "cannot issue a token: invalid `{name}`"),
            Self::Serialization => f.write_str("cannot issue a token: serialization failed"),
        }
    }
}

impl std::error::Error for IssueError {}

/// What a verified token must satisfy. `now` is passed in (seconds since the Unix epoch);
/// nothing here reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectations<'a> {
    /// Our issuer identifier; `iss` must equal it byte for byte (no trailing-slash or case
    /// folding, RFC 8414 §3.3).
    pub issuer: &'a str,
    /// The audience `aud` must contain: this resource server's identifier for an access
    /// token, the client's `client_id` for an ID token.
    pub audience: &'a str,
    /// The current time, seconds since the Unix epoch.
    pub now: u64,
    /// Clock-skew allowance in seconds for `exp`, `nbf`, `iat`
    /// ([`DEFAULT_LEEWAY_SECS`] by default).
    pub leeway: u64,
    /// Size cap in bytes, checked first ([`DEFAULT_MAX_TOKEN_LEN`] by default).
    pub max_len: usize,
}

impl<'a> Expectations<'a> {
    /// Expectations with the default leeway (60 s) and size cap (8 KiB).
    pub const fn new(issuer: &'a str, audience: &'a str, now: u64) -> Self {
        Self {
            issuer,
            audience,
            now,
            leeway: DEFAULT_LEEWAY_SECS,
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Sets the leeway.
    #[must_use]
    pub const fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Sets the size cap.
    #[must_use]
    pub const fn with_max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Issuing
// ---------------------------------------------------------------------------------------

/// The protected header we send: `alg`, `typ`, `kid` and nothing else.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs `claims` as a compact JWS (RFC 7515 §7.1) with ES256. ECDSA signing is
/// deterministic (RFC 6979, as `p256` does it) and the signature is normalised to low-S, so
/// the same key and claims always give the same token and a token has exactly one valid
/// spelling.
fn sign<C: Serialize>(
    key: &SigningKey,
    typ: &'static str,
    claims: &C,
) -> Result<String, IssueError> {
    let header = Header {
        alg: ALG,
        typ,
        kid: key.kid().as_str(),
    };
    let header = serde_json::to_vec(&header).map_err(|_| IssueError::Serialization)?;
    let payload = serde_json::to_vec(claims).map_err(|_| IssueError::Serialization)?;
    let mut token = b64::encode(&header);
    token.push('.');
    token.push_str(&b64::encode(&payload));
    let signature = Es256.sign(key.inner(), token.as_bytes());
    let signature = signature.normalize_s().unwrap_or(signature);
    token.push('.');
    token.push_str(&b64::encode(&signature.to_bytes()));
    Ok(token)
}

/// Refuses empty strings where a value is required.
fn require_text(value: &str, name: &'static str) -> Result<(), IssueError> {
    if value.is_empty() {
        Err(IssueError::InvalidClaim(name))
    } else {
        Ok(())
    }
}

/// Refuses an empty audience or an empty audience value.
fn require_audience(aud: &Audience) -> Result<(), IssueError> {
    if aud.is_empty() || aud.iter().any(str::is_empty) {
        Err(IssueError::InvalidClaim("aud"))
    } else {
        Ok(())
    }
}

/// Issues an RFC 9068 access token: header `{"alg":"ES256","typ":"at+jwt","kid":…}`, claims
/// `iss sub aud exp iat nbf jti scope client_id` (`scope` omitted when empty).
///
/// Refuses claims our own verifier would refuse: empty `iss`/`sub`/`aud`/`jti`/`client_id`
/// (RFC 9068 §2.2), `exp` not after `iat`, `nbf` after `exp`.
pub fn issue_access_token(key: &SigningKey, claims: &AccessClaims) -> Result<String, IssueError> {
    require_text(&claims.iss, "iss")?;
    require_text(&claims.sub, "sub")?;
    require_audience(&claims.aud)?;
    require_text(&claims.jti, "jti")?;
    require_text(&claims.client_id, "client_id")?;
    if claims.exp <= claims.iat {
        return Err(IssueError::InvalidClaim("exp"));
    }
    if claims.nbf > claims.exp {
        return Err(IssueError::InvalidClaim("nbf"));
    }
    sign(key, ACCESS_TOKEN_TYP, claims)
}

/// Issues an OpenID Connect ID token (Core §2): header `{"alg":"ES256","typ":"JWT","kid":…}`,
/// claims `iss sub aud exp iat` and `nonce`, `auth_time`, `azp` when set.
///
/// Refuses empty `iss`/`sub`/`aud`, and `exp` not after `iat`.
pub fn issue_id_token(key: &SigningKey, claims: &IdClaims) -> Result<String, IssueError> {
    require_text(&claims.iss, "iss")?;
    require_text(&claims.sub, "sub")?;
    require_audience(&claims.aud)?;
    if claims.exp <= claims.iat {
        return Err(IssueError::InvalidClaim("exp"));
    }
    sign(key, ID_TOKEN_TYP, claims)
}

// ---------------------------------------------------------------------------------------
// Verifying
// ---------------------------------------------------------------------------------------

/// Whether a `typ` value names the media type `application/<expected>`: RFC 7515 §4.1.9
/// says media types compare case-insensitively and a value without `/` means
/// `application/` + value; RFC 9068 §4 names `at+jwt` and `application/at+jwt`.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let subtype = match typ.split_once('/') {
        Some((kind, subtype)) if kind.eq_ignore_ascii_case("application") => subtype,
        Some(_) => return false,
        None => typ,
    };
    subtype.eq_ignore_ascii_case(expected)
}

/// Checks the compact JWS and returns its verified claims object. In order:
/// size cap; three segments of strict base64url; the header (one JSON object, unique
/// members); `alg` exactly `ES256`; no `crit`; no key reference; no other header; `typ`;
/// `kid` present and known; the signature; the claims (one JSON object, unique members).
fn verify_jws(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations<'_>,
    typ: &str,
) -> Result<Map<String, Value>, TokenError> {
    // RFC 8725 §3.x: bound the work an unauthenticated caller can cause — before parsing.
    if token.len() > expect.max_len {
        return Err(TokenError::TooLarge);
    }
    // RFC 7515 §7.1 / §5.2 step 1: exactly three segments (a JWE has five; neither a bare
    // two-segment "unsecured" form nor trailing data is accepted).
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(TokenError::Malformed);
    };

    // RFC 7515 §5.2 steps 2–4: strict base64url, a UTF-8 JSON object, no duplicate names.
    let header = b64::decode(header_b64)
        .and_then(|bytes| StrictObject::parse(&bytes))
        .ok_or(TokenError::Malformed)?
        .0;

    // RFC 8725 §3.1 / RFC 7518 §3.1: the algorithm is ours to choose, not the token's.
    // Exact, case-sensitive match: `none`, `None`, `HS256`, `RS256`, `es256` all fail here.
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    // RFC 7515 §4.1.11: a recipient that does not understand every extension listed in
    // `crit` MUST reject the JWS; we understand none.
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    // RFC 7515 §4.1.2–4.1.8, RFC 8725 §3.10: keys come only from configuration; embedded
    // keys, key URLs and certificate references are refused and never dereferenced.
    const KEY_REFERENCES: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];
    if KEY_REFERENCES.iter().any(|name| header.contains_key(*name)) {
        return Err(TokenError::KeyReferenceHeader);
    }
    // Anything but what we send (`cty` nesting, `zip`, `b64`…) is not ours.
    if header
        .keys()
        .any(|name| !matches!(name.as_str(), "alg" | "typ" | "kid"))
    {
        return Err(TokenError::UnsupportedHeader);
    }
    // RFC 8725 §3.11 explicit typing; RFC 9068 §4 for access tokens.
    match header.get("typ") {
        Some(Value::String(found)) if typ_matches(found, typ) => {}
        _ => return Err(TokenError::WrongType),
    }
    // RFC 7515 §4.1.4: the key is chosen by `kid` among configured keys only; the text is
    // compared, never interpreted, so a hostile value simply matches nothing.
    let Some(Value::String(kid)) = header.get("kid") else {
        return Err(TokenError::MissingKeyId);
    };
    let key = keys.get(kid).ok_or(TokenError::UnknownKey)?;

    let payload = b64::decode(payload_b64).ok_or(TokenError::Malformed)?;
    let signature = b64::decode(signature_b64).ok_or(TokenError::Malformed)?;

    // RFC 7518 §3.4: the signature is `R || S`, 64 bytes (not DER), and any valid ECDSA
    // signature is accepted: high S too. RFC 7518 does not ask for low S, and an external
    // signer (a KMS or HSM) produces high S for half of all tokens. We issue low S only.
    // The high-S twin of a token is a second spelling of the same claims; nothing here
    // keys on the token's text (revocation and introspection key on `jti`), so the twin
    // can do nothing the original cannot.
    let signature = <[u8; 64]>::try_from(signature.as_slice())
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(TokenError::InvalidSignature)?;
    // RFC 7515 §5.2 step 8: the signing input is the ASCII of the first two segments as sent.
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = token
        .as_bytes()
        .get(..signing_input_len)
        .ok_or(TokenError::Malformed)?;
    if !Es256.verify_signature(&signature, key.inner(), signing_input) {
        return Err(TokenError::InvalidSignature);
    }

    // RFC 7519 §7.2 steps 9–10: the claims set is one JSON object, unique member names.
    StrictObject::parse(&payload)
        .map(|object| object.0)
        .ok_or(TokenError::Malformed)
}

/// A required string claim.
fn text<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(TokenError::MissingClaim(name)),
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// A required string claim that must not be empty.
fn non_empty_text<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, TokenError> {
    let value = text(claims, name)?;
    if value.is_empty() {
        Err(TokenError::InvalidClaim(name))
    } else {
        Ok(value)
    }
}

/// An optional string claim.
fn optional_text(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// A NumericDate (RFC 7519 §2). We issue whole seconds; fractions, negatives and
/// strings are refused.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or(TokenError::InvalidClaim(name)),
    }
}

/// A required NumericDate.
fn required_date(claims: &Map<String, Value>, name: &'static str) -> Result<u64, TokenError> {
    numeric_date(claims, name)?.ok_or(TokenError::MissingClaim(name))
}

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3).
fn audience(claims: &Map<String, Value>) -> Result<Audience, TokenError> {
    match claims.get("aud") {
        None | Some(Value::Null) => Err(TokenError::MissingClaim("aud")),
        Some(Value::String(one)) => Ok(Audience::single(one.clone())),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Audience::many)
            .ok_or(TokenError::InvalidClaim("aud")),
        Some(_) => Err(TokenError::InvalidClaim("aud")),
    }
}

/// The checks shared by both token kinds: `iss` byte-exact, `aud` contains the expected
/// value, `exp`/`nbf`/`iat` against `now` with the leeway.
fn check_common(
    expect: &Expectations<'_>,
    iss: &str,
    aud: &Audience,
    exp: u64,
    nbf: Option<u64>,
    iat: u64,
) -> Result<(), TokenError> {
    // RFC 9068 §4 / OpenID Connect Core §3.1.3.7 step 2: exact match. RFC 8414 §3.3 makes
    // the issuer string identical everywhere, so `https://x/` is not `https://x`.
    if iss.as_bytes() != expect.issuer.as_bytes() {
        return Err(TokenError::WrongIssuer);
    }
    // RFC 9068 §4 / RFC 7519 §4.1.3: we must be among the audiences.
    if !aud.contains(expect.audience) {
        return Err(TokenError::WrongAudience);
    }
    // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time".
    if expect.now >= exp.saturating_add(expect.leeway) {
        return Err(TokenError::Expired);
    }
    // RFC 7519 §4.1.5: "the current date/time MUST be after or equal to the not-before".
    if nbf.is_some_and(|nbf| expect.now.saturating_add(expect.leeway) < nbf) {
        return Err(TokenError::NotYetValid);
    }
    // RFC 7519 §4.1.6: a token issued in the future was not issued by a sane clock.
    if iat > expect.now.saturating_add(expect.leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

/// Verifies an RFC 9068 access token and returns its claims.
///
/// Checks, in order (each one a [`TokenError`] variant): the size cap before any parsing;
/// exactly three strict base64url segments; a header that is one JSON object with unique
/// members; `alg` exactly `ES256`; no `crit`; no `jwk`/`jku`/`x5u`/`x5c`/`x5t` (never
/// followed); no other header than `alg`/`typ`/`kid`; `typ` `at+jwt` or
/// `application/at+jwt` (any case, RFC 9068 §4); `kid` present and configured; the ES256
/// signature; then the claims: `iss sub aud exp iat nbf jti client_id` present (RFC 9068
/// §2.2, plus `nbf` which we always send), `iss` byte-exact, `aud` contains the expected
/// audience, `exp`/`nbf`/`iat` with the leeway, `jti`/`sub`/`client_id` non-empty, `scope`
/// (if present) valid RFC 6749 §3.3 syntax.
///
/// Revocation (a revoked `jti`) is the caller's check: it needs the key-value store.
pub fn verify_access_token(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations<'_>,
) -> Result<AccessClaims, TokenError> {
    let claims = verify_jws(token, keys, expect, ACCESS_TOKEN_TYP)?;
    let iss = text(&claims, "iss")?;
    let sub = non_empty_text(&claims, "sub")?;
    let aud = audience(&claims)?;
    let exp = required_date(&claims, "exp")?;
    let iat = required_date(&claims, "iat")?;
    let nbf = required_date(&claims, "nbf")?;
    let jti = non_empty_text(&claims, "jti")?;
    let client_id = non_empty_text(&claims, "client_id")?;
    let scope = match claims.get("scope") {
        None => ScopeSet::empty(),
        Some(Value::String(scope)) => {
            ScopeSet::parse(scope).map_err(|_| TokenError::InvalidClaim("scope"))?
        }
        Some(_) => return Err(TokenError::InvalidClaim("scope")),
    };
    check_common(expect, iss, &aud, exp, Some(nbf), iat)?;
    Ok(AccessClaims {
        iss: iss.to_owned(),
        sub: sub.to_owned(),
        aud,
        exp,
        iat,
        nbf,
        jti: jti.to_owned(),
        scope,
        client_id: client_id.to_owned(),
    })
}

/// Verifies an ID token we issued (for `id_token_hint`, and for tests playing the client):
/// the same header rules as [`verify_access_token`] but `typ` must be `JWT` (so an access
/// token is not an ID token), then OpenID Connect Core §3.1.3.7: `iss` exact, `aud` contains
/// the client's `client_id` (`expect.audience`), `azp` if present equals it, `exp`/`iat`
/// (and `nbf` if present) with the leeway, and `nonce` equal to `nonce` when one was sent.
pub fn verify_id_token(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations<'_>,
    nonce: Option<&str>,
) -> Result<IdClaims, TokenError> {
    let claims = verify_jws(token, keys, expect, ID_TOKEN_TYP)?;
    let iss = text(&claims, "iss")?;
    let sub = non_empty_text(&claims, "sub")?;
    let aud = audience(&claims)?;
    let exp = required_date(&claims, "exp")?;
    let iat = required_date(&claims, "iat")?;
    let nbf = numeric_date(&claims, "nbf")?;
    let token_nonce = optional_text(&claims, "nonce")?;
    let auth_time = numeric_date(&claims, "auth_time")?;
    let azp = optional_text(&claims, "azp")?;
    check_common(expect, iss, &aud, exp, nbf, iat)?;
    // Core §3.1.3.7 steps 4–5: an `azp` must be this client.
    if azp.as_deref().is_some_and(|azp| azp != expect.audience) {
        return Err(TokenError::WrongAudience);
    }
    // Core §3.1.3.7 step 11: the nonce sent must come back exactly.
    if nonce.is_some_and(|sent| token_nonce.as_deref() != Some(sent)) {
        return Err(TokenError::NonceMismatch);
    }
    Ok(IdClaims {
        iss: iss.to_owned(),
        sub: sub.to_owned(),
        aud,
        exp,
        iat,
        nonce: token_nonce,
        auth_time,
        azp,
    })
}
