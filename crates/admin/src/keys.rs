//! The token signing keys as Spin variables, and their rotation.
//!
//! A [`KeySet`] is the whole signing state of a deployment: the key that signs now
//! (`signing_key` and `signing_kid`), the key published ahead of signing
//! (`next_signing_key` and `next_signing_kid`), the public keys that no longer sign but
//! whose tokens may still be live (`retired_jwks`), and the public JWKS every verifier gets
//! (`token_jwks`: current, next and retired). It is kept as a *keys file*: one `name=value` line per variable, the
//! private keys as single-line JWKs, which `kubectl create secret generic
//! --from-env-file` takes as it is.
//!
//! Rotation goes next → current → retired, one rollout per step (docs/standards.md §11:
//! "the next key is published in JWKS before it signs; a retired key stays published until
//! every token it signed has expired"):
//!
//! 1. [`KeySet::stage`]: a new key becomes `next`. It signs nothing yet, but identity
//!    publishes it in `/oauth2/jwks` and every verifier's `token_jwks` holds it. Roll out.
//! 2. [`KeySet::promote`], at least [`JWKS_MAX_AGE_SECS`] after step 1 so that clients'
//!    cached JWKS know the new key: `next` signs, the old current key moves to
//!    `retired_jwks`. Roll out. During the rollout old pods still sign with the old key and
//!    new pods with the new one; every pod verifies both.
//! 3. [`KeySet::retire`], once every token the old key signed has expired
//!    ([`RETIRE_AFTER_SECS`] after step 2): the retired key leaves the JWKS. Roll out.
//!
//! The file records when steps 1 and 2 happened (`staged_at`, `promoted_at`, Unix
//! seconds); steps 2 and 3 refuse to run early unless forced.

use std::fmt;

use tokens::{KeyRole, Kid, SigningKey, VerifyingKey, VerifyingKeys};
use zeroize::Zeroizing;

use crate::error::{AdminError, Result};

/// How long `/oauth2/jwks` may be cached (identity's `METADATA_MAX_AGE_SECS`, the
/// `Cache-Control: public, max-age` it sends): a staged key is promoted no sooner.
pub const JWKS_MAX_AGE_SECS: u64 = 300;

/// How long after a promotion the retired key must stay published: the longest token
/// lifetime (access and ID tokens) plus the verifiers' clock leeway.
pub const RETIRE_AFTER_SECS: u64 = max(
    tokens::DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
    tokens::DEFAULT_ID_TOKEN_LIFETIME_SECS,
) + tokens::DEFAULT_LEEWAY_SECS;

const fn max(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

/// The Spin variables a keys file holds, in the order it writes them.
pub const VARIABLES: [&str; 6] = [
    "signing_key",
    "signing_kid",
    "next_signing_key",
    "next_signing_kid",
    "retired_jwks",
    "token_jwks",
];

const STAGED_AT: &str = "staged_at";
const PROMOTED_AT: &str = "promoted_at";

/// The signing state of a deployment. `Debug` shows key ids only.
#[derive(Clone)]
pub struct KeySet {
    current: SigningKey,
    next: Option<SigningKey>,
    retired: Vec<VerifyingKey>,
    staged_at: Option<u64>,
    promoted_at: Option<u64>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("current", self.current.kid())
            .field("next", &self.next.as_ref().map(SigningKey::kid))
            .field(
                "retired",
                &self
                    .retired
                    .iter()
                    .map(VerifyingKey::kid)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A fresh key id: `orderly-<yyyymmdd>-<8 random characters>`, so that an operator can
/// tell keys apart and see how old one is.
pub fn new_kid(now: u64) -> Result<Kid> {
    let random = credentials::random_token()
        .map_err(|e| AdminError::Crypto(format!("no randomness: {e}")))?;
    let suffix: String = random
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let (y, m, d) = civil_date(now);
    Kid::new(format!("orderly-{y:04}{m:02}{d:02}-{suffix}")).map_err(|source| AdminError::Key {
        what: "kid",
        source,
    })
}

/// Unix seconds → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_date(unix_secs: u64) -> (i64, u32, u32) {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn generate(kid: Option<Kid>, now: u64) -> Result<SigningKey> {
    let kid = match kid {
        Some(kid) => kid,
        None => new_kid(now)?,
    };
    SigningKey::generate(Some(kid)).map_err(|source| AdminError::Key {
        what: "new signing key",
        source,
    })
}

fn kid_arg(kid: Option<&str>) -> Result<Option<Kid>> {
    kid.map(|k| {
        Kid::new(k).map_err(|source| AdminError::Key {
            what: "--kid",
            source,
        })
    })
    .transpose()
}

impl KeySet {
    /// A first key set: a fresh current key, nothing next or retired.
    pub fn init(kid: Option<&str>, now: u64) -> Result<Self> {
        Ok(Self {
            current: generate(kid_arg(kid)?, now)?,
            next: None,
            retired: Vec::new(),
            staged_at: None,
            promoted_at: None,
        })
    }

    /// Step 1: a fresh key becomes `next` (published, not signing). Refused while a next
    /// key is already staged.
    pub fn stage(&self, kid: Option<&str>, now: u64) -> Result<Self> {
        if let Some(next) = &self.next {
            return Err(AdminError::State(format!(
                "key {} is already staged as next; promote it first",
                next.kid()
            )));
        }
        let next = generate(kid_arg(kid)?, now)?;
        if self.kids().iter().any(|k| k == next.kid().as_str()) {
            return Err(AdminError::invalid(
                "--kid",
                "already used by a key in this set",
            ));
        }
        Ok(Self {
            next: Some(next),
            staged_at: Some(now),
            ..self.clone()
        })
    }

    /// Step 2: `next` signs from now on; the old current key is retired (still
    /// published, so the tokens it signed keep verifying). Refused without a staged key,
    /// and sooner than [`JWKS_MAX_AGE_SECS`] after staging unless `force`.
    pub fn promote(&self, now: u64, force: bool) -> Result<Self> {
        let Some(next) = &self.next else {
            return Err(AdminError::State(
                "no next key is staged; run `orderly-admin keys stage` and roll it out first"
                    .to_owned(),
            ));
        };
        if let Some(staged_at) = self.staged_at {
            let ready = staged_at.saturating_add(JWKS_MAX_AGE_SECS);
            if now < ready && !force {
                return Err(AdminError::State(format!(
                    "key {} was staged {}s ago; clients may cache the JWKS for {JWKS_MAX_AGE_SECS}s. \
                     Promote after the stage rollout has finished and {}s more have passed (or --force)",
                    next.kid(),
                    now.saturating_sub(staged_at),
                    ready - now
                )));
            }
        }
        let mut retired = vec![self.current.verifying_key()];
        retired.extend(self.retired.iter().cloned());
        Ok(Self {
            current: next.clone(),
            next: None,
            retired,
            staged_at: None,
            promoted_at: Some(now),
        })
    }

    /// Step 3: drops retired keys (those named in `kids`, or all when `kids` is empty).
    /// Refused sooner than [`RETIRE_AFTER_SECS`] after the last promotion unless `force`:
    /// tokens the retired key signed may still be live.
    pub fn retire(&self, kids: &[String], now: u64, force: bool) -> Result<Self> {
        if self.retired.is_empty() {
            return Err(AdminError::State("no retired key to remove".to_owned()));
        }
        for kid in kids {
            if !self.retired.iter().any(|k| k.kid().as_str() == kid) {
                return Err(AdminError::NotFound(format!("retired key {kid:?}")));
            }
        }
        if let Some(promoted_at) = self.promoted_at {
            let ready = promoted_at.saturating_add(RETIRE_AFTER_SECS);
            if now < ready && !force {
                return Err(AdminError::State(format!(
                    "the last promotion was {}s ago; tokens signed by a retired key may live \
                     {RETIRE_AFTER_SECS}s after it. Retire in {}s (or --force)",
                    now.saturating_sub(promoted_at),
                    ready - now
                )));
            }
        }
        let retired = self
            .retired
            .iter()
            .filter(|k| !kids.is_empty() && !kids.iter().any(|kid| kid == k.kid().as_str()))
            .cloned()
            .collect();
        Ok(Self {
            retired,
            ..self.clone()
        })
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The staged key, if any.
    pub fn next(&self) -> Option<&SigningKey> {
        self.next.as_ref()
    }

    /// The retired public keys.
    pub fn retired(&self) -> &[VerifyingKey] {
        &self.retired
    }

    /// Every `kid` in the set: current, next, retired.
    pub fn kids(&self) -> Vec<String> {
        std::iter::once(self.current.kid().as_str().to_owned())
            .chain(self.next.iter().map(|k| k.kid().as_str().to_owned()))
            .chain(self.retired.iter().map(|k| k.kid().as_str().to_owned()))
            .collect()
    }

    fn retired_set(&self) -> Result<VerifyingKeys> {
        let mut set = VerifyingKeys::new();
        for key in &self.retired {
            set.insert(KeyRole::Retired, key.clone())
                .map_err(|source| AdminError::Key {
                    what: "retired_jwks",
                    source,
                })?;
        }
        Ok(set)
    }

    /// What verifiers get (`token_jwks`): current, next and retired public keys.
    pub fn verifying_keys(&self) -> Result<VerifyingKeys> {
        let what = "token_jwks";
        let mut set = VerifyingKeys::new();
        set.insert(KeyRole::Current, self.current.verifying_key())
            .map_err(|source| AdminError::Key { what, source })?;
        if let Some(next) = &self.next {
            set.insert(KeyRole::Next, next.verifying_key())
                .map_err(|source| AdminError::Key { what, source })?;
        }
        for key in &self.retired {
            set.insert(KeyRole::Retired, key.clone())
                .map_err(|source| AdminError::Key { what, source })?;
        }
        Ok(set)
    }

    /// The six Spin variables (lower-case names, as in `spin.toml`), private keys as
    /// single-line JWKs. The values are secrets: zeroized when dropped.
    pub fn variables(&self) -> Result<Vec<(&'static str, Zeroizing<String>)>> {
        let retired = if self.retired.is_empty() {
            String::new()
        } else {
            self.retired_set()?.to_jwks_json()
        };
        let (next_key, next_kid) = match &self.next {
            Some(next) => (next.to_private_jwk(), next.kid().as_str().to_owned()),
            None => (Zeroizing::new(String::new()), String::new()),
        };
        Ok(vec![
            ("signing_key", self.current.to_private_jwk()),
            (
                "signing_kid",
                Zeroizing::new(self.current.kid().as_str().to_owned()),
            ),
            ("next_signing_key", next_key),
            ("next_signing_kid", Zeroizing::new(next_kid)),
            ("retired_jwks", Zeroizing::new(retired)),
            (
                "token_jwks",
                Zeroizing::new(self.verifying_keys()?.to_jwks_json()),
            ),
        ])
    }

    /// The keys file: a comment with the public state, the six variables, and the
    /// rotation timestamps.
    pub fn to_file(&self) -> Result<Zeroizing<String>> {
        let mut text = Zeroizing::new(String::new());
        text.push_str(
            "# Orderly token signing keys (orderly-admin keys). SECRET: private keys.\n\
             # Load as a Kubernetes Secret: kubectl create secret generic orderly-signing-keys --from-env-file=<this file>\n",
        );
        text.push_str(&format!("# {}\n", self.summary()));
        for (name, value) in self.variables()? {
            text.push_str(name);
            text.push('=');
            text.push_str(&value);
            text.push('\n');
        }
        if let Some(at) = self.staged_at {
            text.push_str(&format!("{STAGED_AT}={at}\n"));
        }
        if let Some(at) = self.promoted_at {
            text.push_str(&format!("{PROMOTED_AT}={at}\n"));
        }
        Ok(text)
    }

    /// `current=… next=… retired=…` (key ids only).
    pub fn summary(&self) -> String {
        let retired: Vec<&str> = self.retired.iter().map(|k| k.kid().as_str()).collect();
        format!(
            "current={} next={} retired={}",
            self.current.kid(),
            self.next.as_ref().map_or("-", |k| k.kid().as_str()),
            if retired.is_empty() {
                "-".to_owned()
            } else {
                retired.join(",")
            }
        )
    }

    /// Reads a keys file. Every variable must be present; `token_jwks` must list exactly
    /// the keys the other variables hold (a hand-edited mismatch would let a verifier
    /// refuse live tokens); unknown names are refused.
    pub fn from_file(text: &str) -> Result<Self> {
        let mut values: Vec<(String, String)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let what = format!("keys file line {}", index + 1);
            let Some((name, value)) = line.split_once('=') else {
                return Err(AdminError::invalid(what, "expected name=value"));
            };
            let name = name.trim();
            if !VARIABLES.contains(&name) && name != STAGED_AT && name != PROMOTED_AT {
                return Err(AdminError::invalid(what, format!("unknown name {name:?}")));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(AdminError::invalid(what, format!("{name} given twice")));
            }
            values.push((name.to_owned(), value.to_owned()));
        }
        let get = |name: &str| -> Result<&str> {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| AdminError::invalid("keys file", format!("{name} is missing")))
        };
        let current = SigningKey::from_config(get("signing_key")?, Some(get("signing_kid")?))
            .map_err(|source| AdminError::Key {
                what: "signing_key",
                source,
            })?;
        let next = match get("next_signing_key")? {
            "" => None,
            key => {
                let kid = Some(get("next_signing_kid")?).filter(|k| !k.is_empty());
                Some(
                    SigningKey::from_config(key, kid).map_err(|source| AdminError::Key {
                        what: "next_signing_key",
                        source,
                    })?,
                )
            }
        };
        let retired = match get("retired_jwks")? {
            "" => Vec::new(),
            jwks => VerifyingKeys::from_jwks_json(jwks)
                .map_err(|source| AdminError::Key {
                    what: "retired_jwks",
                    source,
                })?
                .iter()
                .map(|(_, key)| key.clone())
                .collect(),
        };
        let time = |name: &str| -> Result<Option<u64>> {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| AdminError::invalid(name, "not Unix seconds"))
                })
                .transpose()
        };
        let set = Self {
            current,
            next,
            retired,
            staged_at: time(STAGED_AT)?,
            promoted_at: time(PROMOTED_AT)?,
        };
        let published = VerifyingKeys::from_jwks_json(get("token_jwks")?).map_err(|source| {
            AdminError::Key {
                what: "token_jwks",
                source,
            }
        })?;
        let expected = set.verifying_keys()?;
        let same = published.iter().count() == expected.iter().count()
            && expected
                .iter()
                .all(|(_, key)| published.get(key.kid().as_str()) == Some(key));
        if !same {
            return Err(AdminError::invalid(
                "token_jwks",
                "does not hold exactly the current, next and retired public keys of this file",
            ));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use tokens::{
        AccessClaims, Expectations, ScopeSet, TokenError, issue_access_token, random_jti,
        verify_access_token,
    };

    const NOW: u64 = 1_764_892_800; // 2025-12-05T00:00:00Z

    fn token(key: &SigningKey, at: u64) -> String {
        let claims = AccessClaims::new(
            "https://id.example",
            "client",
            "https://api.example",
            "client",
            ScopeSet::parse("products:read").unwrap(),
            random_jti().unwrap(),
            at,
        );
        issue_access_token(key, &claims).unwrap()
    }

    fn verifies(set: &KeySet, token: &str, at: u64) -> std::result::Result<(), TokenError> {
        let published =
            VerifyingKeys::from_jwks_json(&set.verifying_keys().unwrap().to_jwks_json()).unwrap();
        verify_access_token(
            token,
            &published,
            &Expectations::new("https://id.example", "https://api.example", at),
        )
        .map(|_| ())
    }

    #[test]
    fn kids_carry_the_date_and_differ() {
        let a = new_kid(NOW).unwrap();
        let b = new_kid(NOW).unwrap();
        assert!(a.as_str().starts_with("orderly-20251205-"), "{a}");
        assert_eq!(a.as_str().len(), "orderly-20251205-".len() + 8);
        assert_ne!(a, b);
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
    }

    #[test]
    fn a_keys_file_round_trips_and_is_one_line_per_variable() {
        let set = KeySet::init(Some("k1"), NOW)
            .unwrap()
            .stage(Some("k2"), NOW)
            .unwrap();
        let text = set.to_file().unwrap();
        for name in VARIABLES {
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with(&format!("{name}=")))
                    .count(),
                1,
                "{name}"
            );
        }
        assert!(text.contains(&format!("staged_at={NOW}\n")));
        let back = KeySet::from_file(&text).unwrap();
        assert_eq!(back.kids(), ["k1", "k2"]);
        assert_eq!(back.to_file().unwrap(), text);
    }

    #[test]
    fn rotation_moves_keys_next_then_current_then_retired() {
        let s0 = KeySet::init(Some("k1"), NOW).unwrap();
        assert_eq!(s0.summary(), "current=k1 next=- retired=-");
        let s1 = s0.stage(Some("k2"), NOW).unwrap();
        assert_eq!(s1.summary(), "current=k1 next=k2 retired=-");
        let s2 = s1.promote(NOW + JWKS_MAX_AGE_SECS, false).unwrap();
        assert_eq!(s2.summary(), "current=k2 next=- retired=k1");
        let s3 = s2
            .retire(&[], NOW + JWKS_MAX_AGE_SECS + RETIRE_AFTER_SECS, false)
            .unwrap();
        assert_eq!(s3.summary(), "current=k2 next=- retired=-");
        // The promoted key is the staged key itself, not a new one.
        assert_eq!(
            s2.current().verifying_key(),
            s1.next().unwrap().verifying_key()
        );
    }

    #[test]
    fn tokens_of_every_step_verify_with_the_next_steps_jwks_until_retired() {
        let s0 = KeySet::init(Some("k1"), NOW).unwrap();
        let old = token(s0.current(), NOW);
        let s1 = s0.stage(Some("k2"), NOW).unwrap();
        // A pod already on step 1 verifies tokens from step-0 pods, and a step-0 pod
        // never sees a k2 token because nothing signs with k2 before step 2.
        assert_eq!(verifies(&s1, &old, NOW + 1), Ok(()));
        let s2 = s1.promote(NOW + 400, false).unwrap();
        let new = token(s2.current(), NOW + 400);
        assert_eq!(verifies(&s2, &old, NOW + 400), Ok(()));
        // Mixed rollout of step 2: step-1 pods verify the new key's tokens.
        assert_eq!(verifies(&s1, &new, NOW + 401), Ok(()));
        assert_eq!(verifies(&s2, &new, NOW + 401), Ok(()));
        let s3 = s2
            .retire(&[], NOW + 400 + RETIRE_AFTER_SECS, false)
            .unwrap();
        assert_eq!(
            verifies(&s3, &old, NOW + 400),
            Err(TokenError::UnknownKey),
            "after retirement the old key is gone"
        );
        assert_eq!(verifies(&s3, &new, NOW + 402), Ok(()));
    }

    #[test]
    fn steps_out_of_order_or_too_early_are_refused() {
        let s0 = KeySet::init(None, NOW).unwrap();
        assert!(matches!(s0.promote(NOW, true), Err(AdminError::State(_))));
        assert!(matches!(
            s0.retire(&[], NOW, true),
            Err(AdminError::State(_))
        ));
        let s1 = s0.stage(None, NOW).unwrap();
        assert!(matches!(s1.stage(None, NOW), Err(AdminError::State(_))));
        let early = s1.promote(NOW + JWKS_MAX_AGE_SECS - 1, false).unwrap_err();
        assert!(early.to_string().contains("--force"), "{early}");
        let s2 = s1.promote(NOW + 10, true).unwrap();
        let early = s2.retire(&[], NOW + 10 + RETIRE_AFTER_SECS - 1, false);
        assert!(matches!(early, Err(AdminError::State(_))));
        assert!(matches!(
            s2.retire(&["nope".to_owned()], NOW + 10_000, false),
            Err(AdminError::NotFound(_))
        ));
    }

    #[test]
    fn retiring_by_kid_keeps_the_other_retired_keys() {
        let s = KeySet::init(Some("a"), NOW).unwrap();
        let s = s.stage(Some("b"), NOW).unwrap().promote(NOW, true).unwrap();
        let s = s.stage(Some("c"), NOW).unwrap().promote(NOW, true).unwrap();
        assert_eq!(s.summary(), "current=c next=- retired=b,a");
        let s = s.retire(&["a".to_owned()], NOW, true).unwrap();
        assert_eq!(s.summary(), "current=c next=- retired=b");
    }

    #[test]
    fn a_hand_edited_or_incomplete_file_is_refused_without_echoing_keys() {
        let set = KeySet::init(Some("k1"), NOW).unwrap();
        let text = set.to_file().unwrap();
        let other = KeySet::init(Some("k9"), NOW).unwrap();
        let other_jwks = other.verifying_keys().unwrap().to_jwks_json();
        let tampered: String = text
            .lines()
            .map(|l| {
                if l.starts_with("token_jwks=") {
                    format!("token_jwks={other_jwks}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let err = KeySet::from_file(&tampered).unwrap_err().to_string();
        assert!(err.starts_with("token_jwks:"), "{err}");
        let missing: String = text
            .lines()
            .filter(|l| !l.starts_with("retired_jwks="))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            KeySet::from_file(&missing)
                .unwrap_err()
                .to_string()
                .contains("retired_jwks is missing")
        );
        let unknown = format!("{}{}", text.as_str(), "signing_key_2=x\n");
        let err = KeySet::from_file(&unknown).unwrap_err().to_string();
        assert!(err.contains("unknown name"), "{err}");
        let private = set.current().to_private_jwk();
        let d = private
            .split("\"d\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let broken = text.replace("signing_kid=k1", "signing_kid=k 1");
        let err = KeySet::from_file(&broken).unwrap_err().to_string();
        assert!(!err.contains(d), "{err}");
    }

    #[test]
    fn public_variables_never_hold_a_private_key() {
        let set = KeySet::init(None, NOW)
            .unwrap()
            .stage(None, NOW)
            .unwrap()
            .promote(NOW, true)
            .unwrap()
            .stage(None, NOW)
            .unwrap();
        for (name, value) in set.variables().unwrap() {
            if name == "token_jwks" || name == "retired_jwks" {
                assert!(!value.contains("\"d\""), "{name}");
                assert!(VerifyingKeys::from_jwks_json(&value).is_ok(), "{name}");
            }
        }
    }
}
