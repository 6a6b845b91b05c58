//! Minting valid and hostile access tokens for end-to-end tests.
//!
//! [`Forge::for_app`] takes the app's signing key (`Settings::signing_key_pem`, kid
//! [`TEST_KID`](crate::TEST_KID)) and its issuer/audience (the `spin.toml` defaults unless
//! the settings override them). Valid tokens go through the real issuer
//! ([`tokens::issue_access_token`]); hostile ones are assembled here byte by byte: any header
//! and payload signed with the app's key ([`Forge::sign`]), another key, HMAC keyed with the
//! public key ([`Forge::hs256`]), or nothing at all ([`unsigned`]).

use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::Sha256;
use tokens::{AccessClaims, ScopeSet, SigningKey};

use crate::{Settings, TEST_KID};

/// `issuer` in `spin.toml` (`[variables]` default).
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:3000";
/// `audience` in `spin.toml` (`[variables]` default).
pub const DEFAULT_AUDIENCE: &str = "http://127.0.0.1:3000/api";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding; `None` if it is not.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// `header.payload.` — an unsecured JWS (RFC 7515 Appendix A.5), e.g. with `alg: none`.
pub fn unsigned(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

/// Mints tokens for one test app.
pub struct Forge {
    key: p256::ecdsa::SigningKey,
    issuing_key: SigningKey,
    /// The app's issuer.
    pub issuer: String,
    /// The app's access-token audience.
    pub audience: String,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forge")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Forge {
    /// A forge holding the app's signing key.
    pub fn for_app(settings: &Settings) -> anyhow::Result<Self> {
        Self::with_key_pem(settings, &settings.signing_key_pem)
    }

    /// A forge signing with another PKCS#8 PEM key, but the app's kid, issuer and audience
    /// (a "right kid, wrong key" attacker).
    pub fn with_key_pem(settings: &Settings, pem: &str) -> anyhow::Result<Self> {
        let var = |name: &str, default: &str| {
            settings
                .variables
                .get(&format!("SPIN_VARIABLE_{name}"))
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };
        Ok(Self {
            key: p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
                .map_err(|e| anyhow::anyhow!("signing key: {e}"))?,
            issuing_key: SigningKey::from_config(pem, Some(TEST_KID))
                .map_err(|e| anyhow::anyhow!("signing key: {e}"))?,
            issuer: var("ISSUER", DEFAULT_ISSUER),
            audience: var("AUDIENCE", DEFAULT_AUDIENCE),
        })
    }

    /// A fresh ES256 key (PKCS#8 PEM) the app does not know.
    pub fn stranger_key_pem() -> anyhow::Result<String> {
        let key = SigningKey::generate(None).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(key
            .to_pkcs8_pem()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string())
    }

    /// A valid access token from the real issuer code: `sub`, `client_id`, `scope`, a
    /// random `jti`, issued now for 15 minutes.
    pub fn access_token(&self, sub: &str, client_id: &str, scope: &str) -> anyhow::Result<String> {
        let jti = tokens::random_jti().map_err(|e| anyhow::anyhow!("{e}"))?;
        self.access_token_with_jti(sub, client_id, scope, &jti)
    }

    /// As [`Forge::access_token`] with a chosen `jti`.
    pub fn access_token_with_jti(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        jti: &str,
    ) -> anyhow::Result<String> {
        let scope = ScopeSet::parse(scope).map_err(|e| anyhow::anyhow!("{e}"))?;
        let claims = AccessClaims::new(
            &self.issuer,
            sub,
            &self.audience,
            client_id,
            scope,
            jti,
            now(),
        );
        tokens::issue_access_token(&self.issuing_key, &claims).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The header our issuer sends: `{"alg":"ES256","typ":"at+jwt","kid":TEST_KID}`.
    pub fn header(&self) -> Value {
        json!({"alg": "ES256", "typ": "at+jwt", "kid": TEST_KID})
    }

    /// Valid access-token claims issued now (15 minutes) for `sub` with `scope`.
    pub fn claims(&self, sub: &str, scope: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "exp": now + 900,
            "iat": now,
            "nbf": now,
            "jti": format!("forged-{}", crate::unique("", 16)),
            "scope": scope,
            "client_id": "e2e-web",
        })
    }

    /// `header.payload` signed with this forge's key (ES256, 64-byte `R || S`, low S).
    pub fn sign(&self, header: &Value, payload: &Value) -> String {
        self.sign_segments(
            &b64(header.to_string().as_bytes()),
            &b64(payload.to_string().as_bytes()),
        )
    }

    /// `header.payload` signed with this forge's key, the signature in its high-S form
    /// (`s' = n - s`): valid, as an external signer (KMS/HSM) may make it; our issuer
    /// makes only low S.
    pub fn sign_high_s(&self, header: &Value, payload: &Value) -> anyhow::Result<String> {
        let token = self.sign(header, payload);
        let (input, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| anyhow::anyhow!("no signature"))?;
        let bytes = b64_decode(signature).ok_or_else(|| anyhow::anyhow!("bad signature"))?;
        let low = p256::ecdsa::Signature::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (r, s) = low.split_scalars();
        let high =
            p256::ecdsa::Signature::from_scalars(r, -*s).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(format!("{input}.{}", b64(&high.to_bytes())))
    }

    /// Already-encoded segments signed with this forge's key.
    pub fn sign_segments(&self, header: &str, payload: &str) -> String {
        let input = format!("{header}.{payload}");
        let signature: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        // Low S, as our issuer makes (the verifier accepts both forms).
        let signature = signature.normalize_s().unwrap_or(signature);
        format!("{input}.{}", b64(&signature.to_bytes()))
    }

    /// HS256 over `header.payload` keyed with `secret` (the algorithm-confusion attack when
    /// the secret is the public key).
    pub fn hs256(header: &Value, payload: &Value, secret: &[u8]) -> anyhow::Result<String> {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret)?;
        mac.update(input.as_bytes());
        Ok(format!("{input}.{}", b64(&mac.finalize().into_bytes())))
    }

    /// The app's public key as SPKI PEM.
    pub fn public_key_pem(&self) -> anyhow::Result<String> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The app's public key as the JWK published in its JWKS.
    pub fn public_jwk_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(
            &self.issuing_key.verifying_key().to_jwk(),
        )?)
    }
}
