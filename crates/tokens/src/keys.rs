//! ES256 keys from configuration, the published key set (RFC 7517) and key thumbprints
//! (RFC 7638).
//!
//! Keys come only from configuration (docs/standards.md §11): the `identity` component loads its
//! [`SigningKey`]s from secret Spin variables, and the `auth` middleware loads the public
//! [`VerifyingKey`]s (or the JWKS document) — it never needs a private key, and no key is
//! ever taken from a token.

use crate::b64;
use crate::json::StrictObject;
use crate::token::ALG;
use p256::ecdsa;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// Why a key or key set could not be loaded. Describes configuration mistakes for the
/// operator; it never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is neither a PEM document nor a JSON object.
    UnrecognisedFormat,
    /// Not a PKCS#8 `PRIVATE KEY` (RFC 5958) / SPKI `PUBLIC KEY` (RFC 5280) PEM for a P-256 key.
    InvalidPem,
    /// The JWK is malformed (RFC 7517 §4, RFC 7518 §6.2); names the offending member.
    InvalidJwk(&'static str),
    /// The JWK's `x`/`y` do not belong to its private `d` (RFC 7518 §6.2.2.1).
    KeyMismatch,
    /// A private key (`d`) was given where only a public key belongs (a verifier must not
    /// hold signing keys; RFC 7517 §9.2 keeps private members out of public sets).
    UnexpectedPrivateKey,
    /// A `kid` is empty, longer than [`Kid::MAX_LEN`], or uses characters outside
    /// `A-Z a-z 0-9 - . _ ~`.
    InvalidKid,
    /// The configured `kid` and the JWK's own `kid` differ.
    KidMismatch,
    /// Two keys in one set share a `kid` (RFC 7517 §4.5 requires distinct ids in a set).
    DuplicateKid,
    /// A second key was given the [`KeyRole::Current`] role.
    SecondCurrentKey,
    /// The platform's random number generator failed.
    Randomness,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnrecognisedFormat => f.write_str("key is neither PEM nor a JSON Web Key"),
            Self::InvalidPem => f.write_str("not a PKCS#8/SPKI PEM for a P-256 key"),
            Self::InvalidJwk(member) => write!(f, "invalid JSON Web Key: `{member}`"),
            Self::KeyMismatch => f.write_str("JWK public coordinates do not match `d`"),
            Self::UnexpectedPrivateKey => {
                f.write_str("a private key was given where a public key was expected")
            }
            Self::InvalidKid => f.write_str("invalid `kid`"),
            Self::KidMismatch => f.write_str("configured `kid` differs from the JWK's `kid`"),
            Self::DuplicateKid => f.write_str("two keys share a `kid`"),
            Self::SecondCurrentKey => f.write_str("more than one current key"),
            Self::Randomness => f.write_str("random number generator failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A key id (`kid`, RFC 7515 §4.1.4 / RFC 7517 §4.5) for one of our keys.
///
/// Restricted to 1..=[`Kid::MAX_LEN`] characters from `A-Z a-z 0-9 - . _ ~` (URL-safe and
/// log-safe; an RFC 7638 thumbprint fits). This restriction applies to our own keys only:
/// a token's `kid` header is never parsed into a `Kid`, it is just looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(String);

impl Kid {
    /// The longest `kid` accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks and wraps a key id.
    pub fn new(kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        let ok = !kid.is_empty()
            && kid.len() <= Self::MAX_LEN
            && kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok {
            Ok(Self(kid))
        } else {
            Err(KeyError::InvalidKid)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The RFC 7638 §3.2 JWK thumbprint of an EC public key: SHA-256 over the required
/// members only, in lexicographic order, with no whitespace —
/// `{"crv":…,"kty":…,"x":…,"y":…}` — base64url-encoded (43 characters). `kid`, `use` and
/// `alg` do not take part (RFC 7638 §3.2), so the thumbprint names the key itself; it is
/// the `kid` the loaders pick when none is configured.
pub fn jwk_thumbprint(jwk: &PublicJwk) -> String {
    /// The RFC 7638 §3.2 members for `kty: EC`, declared in lexicographic order so that
    /// compact serialization is the canonical form (JSON string escaping per §3.3).
    #[derive(Serialize)]
    struct Required<'a> {
        crv: &'a str,
        kty: &'a str,
        x: &'a str,
        y: &'a str,
    }
    let required = Required {
        crv: &jwk.crv,
        kty: &jwk.kty,
        x: &jwk.x,
        y: &jwk.y,
    };
    // Serializing four strings cannot fail; an empty input would only give a thumbprint
    // that matches nothing.
    let canonical = serde_json::to_vec(&required).unwrap_or_default();
    b64::encode(&Sha256::digest(&canonical))
}

/// The thumbprint of a `p256` key (through its public JWK members).
fn thumbprint_of(key: &ecdsa::VerifyingKey) -> String {
    let (x, y) = coordinates(key);
    jwk_thumbprint(&PublicJwk {
        kty: "EC".to_owned(),
        crv: "P-256".to_owned(),
        x,
        y,
        kid: String::new(),
        key_use: "sig".to_owned(),
        alg: ALG.to_owned(),
    })
}

/// The base64url `x` and `y` coordinates of a public key (RFC 7518 §6.2.1.2/6.2.1.3: the
/// full 32-byte big-endian coordinates).
fn coordinates(key: &ecdsa::VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    // An uncompressed point of a valid public key always has both coordinates.
    let x = point.x().map(|x| b64::encode(x)).unwrap_or_default();
    let y = point.y().map(|y| b64::encode(y)).unwrap_or_default();
    (x, y)
}

/// How a key takes part in rotation (docs/standards.md §11: "the next key is published in JWKS
/// before it signs; a retired key stays published until every token it signed has
/// expired"). Every role verifies; only the current key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRole {
    /// Signs new tokens now.
    Current,
    /// Published ahead of the switch so verifiers (and clients' JWKS caches) know it before
    /// the first token it signs.
    Next,
    /// No longer signs; published until the last token it signed has expired.
    Retired,
    /// Read from a published JWKS, which does not say which role a key has.
    Published,
}

/// An ES256 private key with its `kid`. Debug output shows only the `kid`; the scalar is
/// zeroized on drop (by `p256`).
#[derive(Clone)]
pub struct SigningKey {
    kid: Kid,
    inner: ecdsa::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Picks the `kid`: the configured one, else the JWK's own, else the RFC 7638 thumbprint.
/// A configured `kid` that differs from the JWK's own is a mistake, not a choice.
fn choose_kid(
    configured: Option<Kid>,
    in_jwk: Option<&str>,
    key: &ecdsa::VerifyingKey,
) -> Result<Kid, KeyError> {
    let in_jwk = in_jwk.map(Kid::new).transpose()?;
    match (configured, in_jwk) {
        (Some(c), Some(j)) if c != j => Err(KeyError::KidMismatch),
        (Some(kid), _) | (None, Some(kid)) => Ok(kid),
        (None, None) => Kid::new(thumbprint_of(key)),
    }
}

/// The members of an EC JWK we read, checked per RFC 7517 §4 and RFC 7518 §6.2.
struct EcJwk {
    public: ecdsa::VerifyingKey,
    d: Option<Zeroizing<Vec<u8>>>,
    kid: Option<String>,
}

/// Reads one JWK object (duplicate member names refused): `kty` must be `EC` and `crv`
/// `P-256` (RFC 7518 §6.2.1.1); `alg`, if present, `ES256` (RFC 7517 §4.4); `use`, if
/// present, `sig` (§4.2); `key_ops`, if present, must not be something other than
/// signing/verifying (§4.3); `x`, `y` (and `d`) 32 bytes of strict base64url (RFC 7518
/// §6.2.1.2, §6.2.2.1) forming a point on the curve.
fn parse_ec_jwk(object: &serde_json::Map<String, Value>) -> Result<EcJwk, KeyError> {
    fn text<'a>(
        object: &'a serde_json::Map<String, Value>,
        member: &'static str,
    ) -> Result<Option<&'a str>, KeyError> {
        match object.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(KeyError::InvalidJwk(member)),
        }
    }
    fn coordinate(
        object: &serde_json::Map<String, Value>,
        member: &'static str,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let value = text(object, member)?.ok_or(KeyError::InvalidJwk(member))?;
        let bytes = Zeroizing::new(b64::decode(value).ok_or(KeyError::InvalidJwk(member))?);
        if bytes.len() == 32 {
            Ok(bytes)
        } else {
            Err(KeyError::InvalidJwk(member))
        }
    }

    if text(object, "kty")? != Some("EC") {
        return Err(KeyError::InvalidJwk("kty"));
    }
    if text(object, "crv")? != Some("P-256") {
        return Err(KeyError::InvalidJwk("crv"));
    }
    if !matches!(text(object, "alg")?, None | Some("ES256")) {
        return Err(KeyError::InvalidJwk("alg"));
    }
    if !matches!(text(object, "use")?, None | Some("sig")) {
        return Err(KeyError::InvalidJwk("use"));
    }
    if let Some(ops) = object.get("key_ops") {
        let ok = ops.as_array().is_some_and(|ops| {
            ops.iter()
                .all(|op| matches!(op.as_str(), Some("sign" | "verify")))
        });
        if !ok {
            return Err(KeyError::InvalidJwk("key_ops"));
        }
    }
    let x = coordinate(object, "x")?;
    let y = coordinate(object, "y")?;
    let mut sec1 = [0_u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(&x);
    sec1[33..].copy_from_slice(&y);
    let public =
        ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| KeyError::InvalidJwk("x"))?;
    let d = if object.contains_key("d") {
        Some(coordinate(object, "d")?)
    } else {
        None
    };
    let kid = text(object, "kid")?.map(str::to_owned);
    Ok(EcJwk { public, d, kid })
}

impl SigningKey {
    /// Loads a key from a configuration value: a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`)
    /// or a private JWK (a JSON object with `d`). `kid` is the configured key id; without
    /// one the JWK's `kid` is used, else the key's RFC 7638 thumbprint.
    pub fn from_config(value: &str, kid: Option<&str>) -> Result<Self, KeyError> {
        let kid = kid.map(Kid::new).transpose()?;
        let trimmed = value.trim_start();
        if trimmed.starts_with("-----BEGIN") {
            Self::from_pkcs8_pem(value, kid)
        } else if trimmed.starts_with('{') {
            Self::from_jwk(value, kid)
        } else {
            Err(KeyError::UnrecognisedFormat)
        }
    }

    /// Loads a PKCS#8 (RFC 5958) PEM private key for P-256. Without a `kid` the RFC 7638
    /// thumbprint is used.
    pub fn from_pkcs8_pem(pem: &str, kid: Option<Kid>) -> Result<Self, KeyError> {
        let inner =
            ecdsa::SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| KeyError::InvalidPem)?;
        let kid = choose_kid(kid, None, inner.verifying_key())?;
        Ok(Self { kid, inner })
    }

    /// Loads a private JWK (RFC 7517, RFC 7518 §6.2.2): `kty: EC`, `crv: P-256`, `x`, `y`,
    /// `d`, optional `kid`/`alg: ES256`/`use: sig`. `x`/`y` must match `d`.
    pub fn from_jwk(json: &str, kid: Option<Kid>) -> Result<Self, KeyError> {
        let object = StrictObject::parse(json.as_bytes()).ok_or(KeyError::InvalidJwk("{}"))?;
        let jwk = parse_ec_jwk(&object.0)?;
        let d = jwk.d.ok_or(KeyError::InvalidJwk("d"))?;
        let inner = ecdsa::SigningKey::from_slice(&d).map_err(|_| KeyError::InvalidJwk("d"))?;
        if *inner.verifying_key() != jwk.public {
            return Err(KeyError::KeyMismatch);
        }
        let kid = choose_kid(kid, jwk.kid.as_deref(), &jwk.public)?;
        Ok(Self { kid, inner })
    }

    /// Makes a new random key (for tooling that provisions keys, and tests), using the
    /// platform's cryptographic RNG (`getrandom`: `getrandom(2)` natively, `wasi:random` on
    /// `wasm32-wasip2`). Without a `kid` the RFC 7638 thumbprint is used.
    pub fn generate(kid: Option<Kid>) -> Result<Self, KeyError> {
        // A uniformly random 32-byte string is a valid scalar (0 < d < n) except with
        // probability ~2^-32; try again in that case.
        for _ in 0..16 {
            let mut bytes = Zeroizing::new([0_u8; 32]);
            getrandom::fill(bytes.as_mut()).map_err(|_| KeyError::Randomness)?;
            if let Ok(inner) = ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                let kid = choose_kid(kid, None, inner.verifying_key())?;
                return Ok(Self { kid, inner });
            }
        }
        Err(KeyError::Randomness)
    }

    /// The key id put in the `kid` header of every token this key signs.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The public half, with the same `kid`.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            kid: self.kid.clone(),
            inner: *self.inner.verifying_key(),
        }
    }

    /// The private key as a JWK (with `d`, `kid`, `use: sig`, `alg: ES256`), for tooling
    /// that provisions secret variables. Handle it as a secret.
    pub fn to_private_jwk(&self) -> Zeroizing<String> {
        let (x, y) = coordinates(self.inner.verifying_key());
        let d = Zeroizing::new(b64::encode(&self.inner.to_bytes()));
        Zeroizing::new(format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{}","kid":"{}","use":"sig","alg":"ES256"}}"#,
            d.as_str(),
            self.kid
        ))
    }

    /// The private key as a PKCS#8 PEM, for tooling. Handle it as a secret.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::InvalidPem)
    }

    /// The underlying `p256` key, for signing.
    pub(crate) fn inner(&self) -> &ecdsa::SigningKey {
        &self.inner
    }

    /// A fixed key for deterministic tests.
    #[cfg(test)]
    pub(crate) fn from_scalar_for_tests(scalar: [u8; 32], kid: &str) -> Self {
        Self {
            kid: Kid::new(kid).unwrap(),
            inner: ecdsa::SigningKey::from_slice(&scalar).unwrap(),
        }
    }
}

/// An ES256 public key with its `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    kid: Kid,
    inner: ecdsa::VerifyingKey,
}

impl VerifyingKey {
    /// Loads a public key from a configuration value: an SPKI PEM
    /// (`-----BEGIN PUBLIC KEY-----`) or a public JWK. A private key is refused
    /// ([`KeyError::UnexpectedPrivateKey`]): verifiers must not hold signing keys.
    pub fn from_config(value: &str, kid: Option<&str>) -> Result<Self, KeyError> {
        let kid = kid.map(Kid::new).transpose()?;
        let trimmed = value.trim_start();
        if trimmed.starts_with("-----BEGIN PUBLIC KEY-----") {
            Self::from_public_key_pem(value, kid)
        } else if trimmed.starts_with("-----BEGIN") {
            if trimmed.contains("PRIVATE KEY-----") {
                Err(KeyError::UnexpectedPrivateKey)
            } else {
                Err(KeyError::InvalidPem)
            }
        } else if trimmed.starts_with('{') {
            Self::from_jwk(value, kid)
        } else {
            Err(KeyError::UnrecognisedFormat)
        }
    }

    /// Loads an SPKI (RFC 5280 `SubjectPublicKeyInfo`) PEM public key for P-256.
    pub fn from_public_key_pem(pem: &str, kid: Option<Kid>) -> Result<Self, KeyError> {
        let inner = ecdsa::VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|_| KeyError::InvalidPem)?;
        let kid = choose_kid(kid, None, &inner)?;
        Ok(Self { kid, inner })
    }

    /// Loads a public JWK (RFC 7517; `kty: EC`, `crv: P-256`, `x`, `y`). A JWK carrying `d`
    /// is refused.
    pub fn from_jwk(json: &str, kid: Option<Kid>) -> Result<Self, KeyError> {
        let object = StrictObject::parse(json.as_bytes()).ok_or(KeyError::InvalidJwk("{}"))?;
        Self::from_jwk_object(&object.0, kid)
    }

    fn from_jwk_object(
        object: &serde_json::Map<String, Value>,
        kid: Option<Kid>,
    ) -> Result<Self, KeyError> {
        let jwk = parse_ec_jwk(object)?;
        if jwk.d.is_some() {
            return Err(KeyError::UnexpectedPrivateKey);
        }
        let kid = choose_kid(kid, jwk.kid.as_deref(), &jwk.public)?;
        Ok(Self {
            kid,
            inner: jwk.public,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The RFC 7638 thumbprint of this key.
    pub fn thumbprint(&self) -> String {
        thumbprint_of(&self.inner)
    }

    /// This key as a public JWK (RFC 7517 §4, RFC 7518 §6.2.1).
    pub fn to_jwk(&self) -> PublicJwk {
        let (x, y) = coordinates(&self.inner);
        PublicJwk {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x,
            y,
            kid: self.kid.0.clone(),
            key_use: "sig".to_owned(),
            alg: ALG.to_owned(),
        }
    }

    /// The underlying `p256` key, for verifying.
    pub(crate) fn inner(&self) -> &ecdsa::VerifyingKey {
        &self.inner
    }
}

/// One entry of the published JWKS: an EC public key (RFC 7517 §4, RFC 7518 §6.2.1) with
/// `kid`, `use: sig` and `alg: ES256`. Never carries private members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type, always `EC` (RFC 7518 §6.1).
    pub kty: String,
    /// Curve, always `P-256` (RFC 7518 §6.2.1.1).
    pub crv: String,
    /// The x coordinate, base64url (RFC 7518 §6.2.1.2).
    pub x: String,
    /// The y coordinate, base64url (RFC 7518 §6.2.1.3).
    pub y: String,
    /// Key id (RFC 7517 §4.5).
    pub kid: String,
    /// Public key use, always `sig` (RFC 7517 §4.2).
    #[serde(rename = "use")]
    pub key_use: String,
    /// Algorithm, always `ES256` (RFC 7517 §4.4).
    pub alg: String,
}

impl PublicJwk {
    /// The RFC 7638 thumbprint of this key ([`jwk_thumbprint`]).
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(self)
    }
}

/// A JWK Set (RFC 7517 §5): the body of `/oauth2/jwks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys: current first, then next, then retired.
    pub keys: Vec<PublicJwk>,
}

/// The keys tokens may be verified with, by `kid`: the current key, the next key
/// (published before it signs) and retired keys (published until their tokens expire).
/// Every key in the set verifies; which one signs is the [`SigningKey`] the issuer holds.
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeys {
    entries: Vec<(KeyRole, VerifyingKey)>,
}

impl VerifyingKeys {
    /// An empty set (verifies nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key with a role. Refuses a `kid` already present (RFC 7517 §4.5) and a second
    /// [`KeyRole::Current`].
    pub fn insert(&mut self, role: KeyRole, key: VerifyingKey) -> Result<&mut Self, KeyError> {
        if self.entries.iter().any(|(_, k)| k.kid == key.kid) {
            return Err(KeyError::DuplicateKid);
        }
        if role == KeyRole::Current && self.entries.iter().any(|(r, _)| *r == KeyRole::Current) {
            return Err(KeyError::SecondCurrentKey);
        }
        self.entries.push((role, key));
        // Current, next, retired, published: the order JWKS lists them in.
        self.entries.sort_by_key(|(role, _)| match role {
            KeyRole::Current => 0,
            KeyRole::Next => 1,
            KeyRole::Retired => 2,
            KeyRole::Published => 3,
        });
        Ok(self)
    }

    /// [`insert`](Self::insert) by value, for chaining.
    pub fn with(mut self, role: KeyRole, key: VerifyingKey) -> Result<Self, KeyError> {
        self.insert(role, key)?;
        Ok(self)
    }

    /// Reads a published JWK Set (RFC 7517 §5), e.g. a copy of `/oauth2/jwks` given to the
    /// `auth` middleware as configuration. Every key must be a public P-256 key with a
    /// `kid`; keys take the role [`KeyRole::Published`].
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        let object = StrictObject::parse(json.as_bytes()).ok_or(KeyError::InvalidJwk("keys"))?;
        let Some(Value::Array(keys)) = object.0.get("keys") else {
            return Err(KeyError::InvalidJwk("keys"));
        };
        let mut set = Self::new();
        for key in keys {
            let Value::Object(key) = key else {
                return Err(KeyError::InvalidJwk("keys"));
            };
            if !key.contains_key("kid") {
                return Err(KeyError::InvalidJwk("kid"));
            }
            set.insert(
                KeyRole::Published,
                VerifyingKey::from_jwk_object(key, None)?,
            )?;
        }
        Ok(set)
    }

    /// The key with exactly this `kid` (byte comparison; nothing is done with the text but
    /// compare it).
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.entries
            .iter()
            .find(|(_, key)| key.kid.as_str() == kid)
            .map(|(_, key)| key)
    }

    /// The role of the key with this `kid`.
    pub fn role(&self, kid: &str) -> Option<KeyRole> {
        self.entries
            .iter()
            .find(|(_, key)| key.kid.as_str() == kid)
            .map(|(role, _)| *role)
    }

    /// The keys with their roles, current first.
    pub fn iter(&self) -> impl Iterator<Item = (KeyRole, &VerifyingKey)> {
        self.entries.iter().map(|(role, key)| (*role, key))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The JWK Set to publish (RFC 7517 §5), current key first.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.entries.iter().map(|(_, key)| key.to_jwk()).collect(),
        }
    }

    /// [`jwks`](Self::jwks) as JSON, ready to serve as `application/json`
    /// (`application/jwk-set+json` is also registered, RFC 7517 §8.5).
    pub fn to_jwks_json(&self) -> String {
        serde_json::to_string(&self.jwks()).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }
}
