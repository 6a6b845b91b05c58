//! The decision: given the route's policy and the credential, pass (with or without a
//! principal) or refuse. No HTTP types beyond `Method`; the revocation list is behind
//! [`BreakerStore`] so this runs natively against a fake.

use std::cell::RefCell;
use std::collections::HashMap;

use http::Method;
use sha2::{Digest, Sha256};
use store::BreakerStore;
use tokens::{
    AccessClaims, DEFAULT_LEEWAY_SECS, Expectations, KeyError, TokenError, VerifyingKeys,
};

use edge_http::{Principal, SubjectKind};

use crate::bearer::Credential;
use contract::{Access, Route, Scope};
use kit::Now;

/// What the middleware verifies against, from the component's variables (inherited from the
/// route component: `issuer`, `audience`, `token_jwks`, `kv_prefix`).
#[derive(Debug)]
pub struct Config {
    issuer: String,
    audience: String,
    keys: VerifyingKeys,
    kv_prefix: String,
    verified: RefCell<HashMap<[u8; 32], AccessClaims>>,
    /// `jti` → when (Unix ms) the shared store last said it is not revoked.
    unrevoked: RefCell<HashMap<String, u64>>,
}

/// How long an instance trusts a "not revoked" answer for a token id, in milliseconds: a
/// revoked token stops working on every instance of every host within this (docs/standards.md
/// §11), and a client using one token costs one shared-store read per instance per second
/// instead of one per request.
pub const REVOCATION_CHECK_TTL_MILLIS: u64 = 1_000;

/// How many "not revoked" answers an instance remembers.
pub const UNREVOKED_CACHE_CAPACITY: usize = 4096;

/// How many verified tokens an instance remembers (by SHA-256 of the exact token text).
pub const VERIFIED_CACHE_CAPACITY: usize = 512;

/// A variable that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `token_jwks` is not a JWKS of usable public keys.
    Jwks(String),
    /// `token_jwks` holds no key: every token would be refused.
    NoKeys,
    /// `issuer`, `audience` or `kv_prefix` is empty.
    Empty(&'static str),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks(e) => write!(f, "variable token_jwks: {e}"),
            Self::NoKeys => f.write_str("variable token_jwks: no keys"),
            Self::Empty(name) => write!(f, "variable {name} is empty"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The variables as the kit loads them: once per instance (a JWKS parse per request would
/// be wasted work; the variables cannot change while the instance lives).
impl kit::Settings for Config {
    async fn load(variables: &impl kit::Variables) -> Result<Self, kit::SettingsError> {
        let issuer = variables.required("issuer").await?;
        let audience = variables.required("audience").await?;
        let token_jwks = variables.required("token_jwks").await?;
        let kv_prefix = variables.required("kv_prefix").await?;
        Config::new(issuer, audience, &token_jwks, kv_prefix).map_err(|e| {
            let variable = match e {
                ConfigError::Empty(name) => name,
                ConfigError::Jwks(_) | ConfigError::NoKeys => "token_jwks",
            };
            kit::SettingsError::new(variable, e.to_string())
        })
    }

    fn kv_prefix(&self) -> &str {
        &self.kv_prefix
    }
}

impl Config {
    /// Parses the variables once (the entry caches the result per instance).
    pub fn new(
        issuer: String,
        audience: String,
        token_jwks: &str,
        kv_prefix: String,
    ) -> Result<Self, ConfigError> {
        for (name, value) in [
            ("issuer", &issuer),
            ("audience", &audience),
            ("kv_prefix", &kv_prefix),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Empty(name));
            }
        }
        let keys = VerifyingKeys::from_jwks_json(token_jwks)
            .map_err(|e: KeyError| ConfigError::Jwks(e.to_string()))?;
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            issuer,
            audience,
            keys,
            kv_prefix,
            verified: RefCell::new(HashMap::new()),
            unrevoked: RefCell::new(HashMap::new()),
        })
    }

    /// Whether the shared store said `jti` is not revoked within the last
    /// [`REVOCATION_CHECK_TTL_MILLIS`] before `now_ms`.
    fn recently_unrevoked(&self, jti: &str, now_ms: u64) -> bool {
        self.unrevoked.borrow().get(jti).is_some_and(|checked| {
            now_ms >= *checked && now_ms - checked < REVOCATION_CHECK_TTL_MILLIS
        })
    }

    /// Remembers that `jti` was not revoked at `now_ms` (bounded: stale answers are dropped
    /// first, everything if the cache is still full).
    fn remember_unrevoked(&self, jti: &str, now_ms: u64) {
        let mut cache = self.unrevoked.borrow_mut();
        if cache.len() >= UNREVOKED_CACHE_CAPACITY {
            cache
                .retain(|_, checked| now_ms.saturating_sub(*checked) < REVOCATION_CHECK_TTL_MILLIS);
            if cache.len() >= UNREVOKED_CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(jti.to_owned(), now_ms);
    }

    /// The shared-KV key that marks `jti` revoked (written by `identity` on
    /// `/oauth2/revoke`, value = the token's `exp`).
    pub fn revocation_key(&self, jti: &str) -> String {
        contract::keys::revoked_jti(&self.kv_prefix, jti)
    }

    /// Verifies a token's signature and claims (no I/O) with the default leeway and size cap.
    ///
    /// ES256 verification is most of the middleware's cost (`bench/auth.sh`), and a client
    /// sends the same access token for its whole lifetime, so a token that verified is
    /// remembered per instance under the SHA-256 of its exact text (any changed byte is
    /// another key, and a second preimage of SHA-256 is out of reach). A remembered token is
    /// only reused while its `exp`/`nbf`/`iat` still hold with the leeway — the other checks
    /// (signature, `iss`, `aud`, header rules) do not depend on time or on anything that can
    /// change while the instance lives (the keys and expectations are fixed per instance);
    /// otherwise it is verified afresh, which gives the precise error. Revocation is checked
    /// apart from this (a "not revoked" answer is trusted for at most
    /// [`REVOCATION_CHECK_TTL_MILLIS`]).
    pub fn verify(&self, token: &str, now: u64) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.verified.borrow().get(&digest)
            && times_hold(claims, now)
        {
            return Ok(claims.clone());
        }
        let expect = Expectations::new(&self.issuer, &self.audience, now);
        let claims = tokens::verify_access_token(token, &self.keys, &expect)?;
        let mut verified = self.verified.borrow_mut();
        if verified.len() >= VERIFIED_CACHE_CAPACITY {
            verified.retain(|_, c| times_hold(c, now));
            if verified.len() >= VERIFIED_CACHE_CAPACITY {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
        Ok(claims)
    }
}

/// The time checks of `tokens::verify_access_token`, with the same default leeway.
fn times_hold(claims: &AccessClaims, now: u64) -> bool {
    now < claims.exp.saturating_add(DEFAULT_LEEWAY_SECS)
        && now.saturating_add(DEFAULT_LEEWAY_SECS) >= claims.nbf
        && claims.iat <= now.saturating_add(DEFAULT_LEEWAY_SECS)
}

/// Why a request is refused; the entry turns each into its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 401 with a bare challenge (RFC 6750 §3.1: no error code when the request carried no
    /// bearer credentials — none, or another scheme).
    NoCredentials(&'static str),
    /// 400 `invalid_request`: a token outside the header, or two `Authorization` headers.
    InvalidRequest(&'static str),
    /// 401 `invalid_token` with a fixed description (never the token).
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`, naming the scope needed.
    InsufficientScope(Scope),
    /// 403: the route has no policy in the table (deny by default).
    NoPolicy,
    /// 503: the revocation list could not be read; fail closed. The cause is for the log.
    Unavailable(String),
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Call the route component, with the verified caller if a valid token came.
    Pass(Option<Principal>),
    /// Answer without calling it.
    Reject(Rejection),
}

/// Whom a verified token speaks for.
///
/// The rule (agreed with `identity`, see `crates/tokens/src/claims.rs`: "`sub`: the user, or
/// the client itself for client credentials"): a `client_credentials` token has
/// `sub == client_id`; a token issued through the authorization code flow has the user's
/// id (a UUIDv7) as `sub` and the client's id as `client_id`, which never coincide. Should a
/// client ever be registered with a user's id as its client id, its tokens would be read as
/// the client's, which grants less (no `user_id`), never more.
pub fn principal_from(claims: &AccessClaims) -> Principal {
    let kind = if claims.sub == claims.client_id {
        SubjectKind::Client
    } else {
        SubjectKind::User
    };
    Principal {
        subject: claims.sub.clone(),
        kind,
        client_id: claims.client_id.clone(),
        scopes: claims.scope.iter().map(str::to_owned).collect(),
        token_id: claims.jti.clone(),
    }
}

/// Decides a request. `route` is `None` for a path with no policy; `now` is seconds since
/// the Unix epoch. The only I/O is one key-value `get` for a verified token's `jti`.
pub async fn authorize<K: BreakerStore>(
    config: &Config,
    revocations: &K,
    route: Option<Route>,
    method: &Method,
    credential: Credential,
    now: Now,
) -> Decision {
    // A route without the middleware in spin.toml has no policy here: deny by default.
    let access = route
        .map(|r| r.access(method))
        .filter(|access| *access != Access::Public);
    if access == Some(Access::Preflight) {
        return Decision::Pass(None);
    }
    let no_credentials = if credential == Credential::OtherScheme {
        "only Bearer access tokens are accepted"
    } else {
        "this request needs a Bearer access token"
    };
    let principal = match credential {
        Credential::None | Credential::OtherScheme => None,
        Credential::Ambiguous => {
            return Decision::Reject(Rejection::InvalidRequest(
                "send exactly one Authorization header",
            ));
        }
        Credential::Malformed(why) => return Decision::Reject(Rejection::InvalidToken(why)),
        Credential::Bearer(token) => match verified(config, revocations, &token, now).await {
            Ok(principal) => Some(principal),
            Err(rejection) => return Decision::Reject(rejection),
        },
    };
    match (access, principal) {
        (None, None) => Decision::Reject(Rejection::NoCredentials(no_credentials)),
        (None, Some(_)) => Decision::Reject(Rejection::NoPolicy),
        (Some(Access::Preflight | Access::Optional), principal) => Decision::Pass(principal),
        // Filtered out above; kept for exhaustiveness: never pass a public route here.
        (Some(Access::Public), _) => Decision::Reject(Rejection::NoPolicy),
        (Some(Access::Scope(_)), None) => {
            Decision::Reject(Rejection::NoCredentials(no_credentials))
        }
        (Some(Access::Scope(scope)), Some(principal)) => {
            if scope.is_satisfied_by(principal.scopes.iter().map(String::as_str)) {
                Decision::Pass(Some(principal))
            } else {
                Decision::Reject(Rejection::InsufficientScope(scope))
            }
        }
    }
}

/// Verifies the token, then checks its `jti` against the revocation list (fail closed).
async fn verified<K: BreakerStore>(
    config: &Config,
    revocations: &K,
    token: &str,
    now: Now,
) -> Result<Principal, Rejection> {
    let claims = config
        .verify(token, now.secs())
        .map_err(|e| Rejection::InvalidToken(e.description()))?;
    if config.recently_unrevoked(&claims.jti, now.millis()) {
        return Ok(principal_from(&claims));
    }
    match revocations.get(&config.revocation_key(&claims.jti)).await {
        Ok(None) => {
            config.remember_unrevoked(&claims.jti, now.millis());
            Ok(principal_from(&claims))
        }
        Ok(Some(_)) => Err(Rejection::InvalidToken("the token has been revoked")),
        Err(e) => Err(Rejection::Unavailable(format!(
            "revocation list unreachable: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::time::Duration;
    use store::testing::FakeKv;
    use tokens::{KeyRole, Kid, ScopeSet, SigningKey, issue_access_token};

    const ISS: &str = "http://127.0.0.1:3000";
    const AUD: &str = "http://127.0.0.1:3000/api";
    const NOW: u64 = 1_800_000_000;

    struct Fixture {
        key: SigningKey,
        config: Config,
        kv: FakeKv,
    }

    fn fixture() -> Fixture {
        let key = SigningKey::generate(Some(Kid::new("k1").unwrap())).unwrap();
        let jwks = tokens::VerifyingKeys::new()
            .with(KeyRole::Current, key.verifying_key())
            .unwrap()
            .to_jwks_json();
        let config = Config::new(ISS.into(), AUD.into(), &jwks, "p1".into()).unwrap();
        Fixture {
            key,
            config,
            kv: FakeKv::default(),
        }
    }

    fn token(f: &Fixture, sub: &str, client: &str, scope: &str, jti: &str) -> String {
        let claims = AccessClaims::new(
            ISS,
            sub,
            AUD,
            client,
            ScopeSet::parse(scope).unwrap(),
            jti,
            NOW,
        );
        issue_access_token(&f.key, &claims).unwrap()
    }

    fn decide(
        f: &Fixture,
        route: Option<Route>,
        method: Method,
        credential: Credential,
    ) -> Decision {
        block_on(authorize(
            &f.config,
            &f.kv,
            route,
            &method,
            credential,
            Now::from_secs(NOW + 1),
        ))
    }

    const USER: &str = "0190b0c4-0000-7000-8000-000000000001";

    #[test]
    fn a_valid_token_with_the_scope_passes_as_its_user() {
        let f = fixture();
        let t = token(&f, USER, "web", "products:write orders:read", "j1");
        let Decision::Pass(Some(principal)) = decide(
            &f,
            Some(Route::Products),
            Method::POST,
            Credential::Bearer(t),
        ) else {
            panic!("expected a pass");
        };
        assert_eq!(principal.subject, USER);
        assert_eq!(principal.kind, SubjectKind::User);
        assert_eq!(principal.client_id, "web");
        assert_eq!(principal.token_id, "j1");
        assert_eq!(principal.scopes, vec!["orders:read", "products:write"]);
        assert_eq!(f.kv.ops(), vec!["get p1:revoked-jti:j1"]);
    }

    #[test]
    fn a_client_credentials_token_is_a_client() {
        let f = fixture();
        let t = token(&f, "svc-1", "svc-1", "products:write", "j2");
        let Decision::Pass(Some(principal)) = decide(
            &f,
            Some(Route::Product),
            Method::DELETE,
            Credential::Bearer(t),
        ) else {
            panic!("expected a pass");
        };
        assert_eq!(principal.kind, SubjectKind::Client);
        assert_eq!(principal.user_id(), None);
    }

    #[test]
    fn a_token_without_the_scope_is_403_naming_it_and_admin_satisfies_any() {
        let f = fixture();
        let t = token(&f, USER, "web", "orders:read", "j3");
        assert_eq!(
            decide(
                &f,
                Some(Route::Products),
                Method::POST,
                Credential::Bearer(t)
            ),
            Decision::Reject(Rejection::InsufficientScope(Scope::ProductsWrite))
        );
        let admin = token(&f, USER, "web", "admin", "j4");
        assert!(matches!(
            decide(
                &f,
                Some(Route::Order),
                Method::PATCH,
                Credential::Bearer(admin)
            ),
            Decision::Pass(Some(_))
        ));
    }

    #[test]
    fn anonymous_reads_of_the_catalogue_pass_without_a_principal_or_kv_lookup() {
        let f = fixture();
        assert_eq!(
            decide(&f, Some(Route::Products), Method::GET, Credential::None),
            Decision::Pass(None)
        );
        assert!(f.kv.ops().is_empty());
    }

    #[test]
    fn a_bad_token_on_a_public_route_is_still_refused() {
        let f = fixture();
        let other = SigningKey::generate(Some(Kid::new("k1").unwrap())).unwrap();
        let claims = AccessClaims::new(ISS, USER, AUD, "web", ScopeSet::empty(), "j5", NOW);
        let forged = issue_access_token(&other, &claims).unwrap();
        assert_eq!(
            decide(
                &f,
                Some(Route::Products),
                Method::GET,
                Credential::Bearer(forged)
            ),
            Decision::Reject(Rejection::InvalidToken("the token signature is invalid"))
        );
    }

    #[test]
    fn a_missing_token_on_a_protected_route_is_a_bare_401() {
        let f = fixture();
        assert_eq!(
            decide(&f, Some(Route::User), Method::GET, Credential::None),
            Decision::Reject(Rejection::NoCredentials(
                "this request needs a Bearer access token"
            ))
        );
        assert_eq!(
            decide(&f, Some(Route::User), Method::GET, Credential::OtherScheme),
            Decision::Reject(Rejection::NoCredentials(
                "only Bearer access tokens are accepted"
            ))
        );
    }

    #[test]
    fn a_revoked_jti_is_refused() {
        let f = fixture();
        block_on(f.kv.set("p1:revoked-jti:j6", b"1800000900", Duration::from_secs(900))).unwrap();
        let t = token(&f, USER, "web", "users:read", "j6");
        assert_eq!(
            decide(&f, Some(Route::User), Method::GET, Credential::Bearer(t)),
            Decision::Reject(Rejection::InvalidToken("the token has been revoked"))
        );
    }

    #[test]
    fn an_unreachable_revocation_list_fails_closed() {
        let f = fixture();
        f.kv.set_failing(true);
        let t = token(&f, USER, "web", "products:write", "j7");
        assert!(matches!(
            decide(
                &f,
                Some(Route::Products),
                Method::GET,
                Credential::Bearer(t)
            ),
            Decision::Reject(Rejection::Unavailable(_))
        ));
    }

    #[test]
    fn an_unknown_route_is_denied_with_or_without_a_valid_token() {
        let f = fixture();
        assert!(matches!(
            decide(&f, None, Method::GET, Credential::None),
            Decision::Reject(Rejection::NoCredentials(_))
        ));
        let admin = token(&f, USER, "web", "admin", "j8");
        assert_eq!(
            decide(&f, None, Method::GET, Credential::Bearer(admin)),
            Decision::Reject(Rejection::NoPolicy)
        );
    }

    #[test]
    fn preflight_passes_anonymously_even_with_a_bad_token() {
        let f = fixture();
        assert_eq!(
            decide(
                &f,
                Some(Route::Order),
                Method::OPTIONS,
                Credential::Bearer("x.y.z".into())
            ),
            Decision::Pass(None)
        );
    }

    #[test]
    fn malformed_and_ambiguous_credentials_are_refused() {
        let f = fixture();
        assert_eq!(
            decide(
                &f,
                Some(Route::Products),
                Method::GET,
                Credential::Ambiguous
            ),
            Decision::Reject(Rejection::InvalidRequest(
                "send exactly one Authorization header"
            ))
        );
        assert_eq!(
            decide(
                &f,
                Some(Route::Products),
                Method::GET,
                Credential::Malformed("the token is malformed")
            ),
            Decision::Reject(Rejection::InvalidToken("the token is malformed"))
        );
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_byte_is_verified_afresh() {
        let f = fixture();
        let t = token(&f, USER, "web", "orders:read", "j9");
        assert_eq!(f.config.verify(&t, NOW + 1).unwrap().jti, "j9");
        assert_eq!(f.config.verified.borrow().len(), 1);
        assert_eq!(f.config.verify(&t, NOW + 2).unwrap().jti, "j9");
        assert_eq!(
            f.config.verify(&t, NOW + 900 + DEFAULT_LEEWAY_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            f.config.verify(&t, NOW - DEFAULT_LEEWAY_SECS - 1),
            Err(TokenError::NotYetValid)
        );
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(f.config.verify(&tampered, NOW + 1).is_err());
        assert_eq!(f.config.verified.borrow().len(), 1);
    }

    #[test]
    fn the_remembered_set_is_bounded() {
        let f = fixture();
        for i in 0..=VERIFIED_CACHE_CAPACITY {
            let t = token(&f, USER, "web", "orders:read", &format!("j-{i}"));
            f.config.verify(&t, NOW + 1).unwrap();
        }
        assert!(f.config.verified.borrow().len() <= VERIFIED_CACHE_CAPACITY);
    }

    #[test]
    fn the_config_refuses_an_empty_or_unusable_jwks_and_empty_variables() {
        assert!(matches!(
            Config::new(ISS.into(), AUD.into(), "not json", "p".into()),
            Err(ConfigError::Jwks(_))
        ));
        assert!(Config::new(ISS.into(), AUD.into(), r#"{"keys":[]}"#, "p".into()).is_err());
        assert_eq!(
            Config::new(String::new(), AUD.into(), "{}", "p".into()).unwrap_err(),
            ConfigError::Empty("issuer")
        );
    }

    #[test]
    fn every_protected_route_has_a_policy_for_every_method_it_answers() {
        for spec in contract::ROUTES.iter().filter(|s| s.protected) {
            for method in spec.methods {
                let access = spec.route.access(method);
                assert_ne!(access, Access::Public, "{method} {}", spec.pattern);
            }
            assert_eq!(
                Route::resolve(Some(spec.pattern), "/ignored"),
                Some(spec.route)
            );
        }
        // A public route reached through the middleware (a misconfigured spin.toml) is
        // denied, not passed.
        let f = fixture();
        assert!(matches!(
            decide(&f, Some(Route::Health), Method::GET, Credential::None),
            Decision::Reject(_)
        ));
    }

    #[test]
    fn a_revocation_is_seen_within_the_check_ttl_and_costs_one_read_per_ttl() {
        let f = fixture();
        let t = token(&f, USER, "web", "products:write", "j-ttl");
        let at = |millis: u64| {
            block_on(authorize(
                &f.config,
                &f.kv,
                Some(Route::Products),
                &Method::POST,
                Credential::Bearer(t.clone()),
                Now::from_millis((NOW + 1) * 1000 + millis),
            ))
        };
        assert!(matches!(at(0), Decision::Pass(Some(_))));
        assert!(matches!(at(400), Decision::Pass(Some(_))));
        assert_eq!(
            f.kv.ops().len(),
            1,
            "one read for two requests: {:?}",
            f.kv.ops()
        );
        // Revoked by identity (on any host) now...
        block_on(f.kv.set(
            "p1:revoked-jti:j-ttl",
            b"1800000900",
            Duration::from_secs(900),
        ))
        .unwrap();
        // ...still trusted within the ttl of the last check here, refused from then on.
        assert!(matches!(at(999), Decision::Pass(Some(_))));
        assert_eq!(
            at(1000),
            Decision::Reject(Rejection::InvalidToken("the token has been revoked"))
        );
    }
}
