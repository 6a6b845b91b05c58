//! The router natively, over an in-memory repository and key-value store: the rules
//! that need no database semantics beyond "one update wins".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::cell::RefCell;

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use edge_http::Handled;
use futures::executor::block_on;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use sha2::{Digest, Sha256};
use store::StoreError;
use store::testing::FakeKv;
use tokens::ScopeSet;
use uuid::Uuid;

use crate::component::Identity;
use crate::config::{Config, tests::raw};
use crate::model::*;
use std::rc::Rc;

#[derive(Default)]
struct FakeRepo {
    clients: Vec<ClientRecord>,
    users: Vec<UserRecord>,
    codes: RefCell<Vec<(NewCode, bool)>>,
    refresh: RefCell<Vec<(NewRefresh, bool, bool)>>,
}

impl Repository for FakeRepo {
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned())
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .cloned())
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.users.iter().find(|u| u.id == id).cloned())
    }
    async fn insert_code(&self, code: &NewCode) -> Result<(), StoreError> {
        self.codes.borrow_mut().push((code.clone(), false));
        Ok(())
    }
    async fn code(&self, hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self
            .codes
            .borrow()
            .iter()
            .find(|(c, _)| c.code_hash == *hash)
            .map(|(c, used)| CodeRecord {
                client: c.client,
                user: c.user,
                redirect_uri: c.redirect_uri.clone(),
                scope: c.scope.clone(),
                code_challenge: c.code_challenge.clone(),
                nonce: c.nonce.clone(),
                auth_time: c.auth_time,
                used: *used,
                live: true,
            }))
    }
    async fn consume_code(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        let mut codes = self.codes.borrow_mut();
        match codes
            .iter_mut()
            .find(|(c, used)| c.code_hash == *hash && !*used)
        {
            Some(entry) => {
                entry.1 = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn insert_refresh(&self, token: &NewRefresh) -> Result<(), StoreError> {
        self.refresh
            .borrow_mut()
            .push((token.clone(), false, false));
        Ok(())
    }
    async fn refresh(&self, hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError> {
        let client_id = |id: Uuid| {
            self.clients
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.client_id.clone())
                .unwrap_or_default()
        };
        Ok(self
            .refresh
            .borrow()
            .iter()
            .find(|(t, ..)| t.token_hash == *hash)
            .map(|(t, used, revoked)| RefreshRecord {
                id: t.id,
                family: t.family,
                client: t.client,
                client_id: client_id(t.client),
                user: t.user,
                scope: t.scope.clone(),
                issued_at: 1,
                expires_at: 2,
                used: *used,
                revoked: *revoked,
                live: true,
            }))
    }
    async fn use_refresh(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        let mut tokens = self.refresh.borrow_mut();
        match tokens
            .iter_mut()
            .find(|(t, used, revoked)| t.token_hash == *hash && !*used && !*revoked)
        {
            Some(entry) => {
                entry.1 = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn revoke_family(&self, family: Uuid) -> Result<(), StoreError> {
        for entry in self
            .refresh
            .borrow_mut()
            .iter_mut()
            .filter(|(t, ..)| t.family == family)
        {
            entry.2 = true;
        }
        Ok(())
    }
    async fn family_revoked(&self, family: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .refresh
            .borrow()
            .iter()
            .any(|(t, _, revoked)| t.family == family && *revoked))
    }
}

const REDIRECT: &str = "https://app.example/cb";
const NOW: u64 = 1_800_000_000;
/// The tests' wall clock: always `NOW`.
struct Fixed;
impl store::Clock for Fixed {
    fn now_millis(&self) -> u64 {
        NOW * 1000
    }
}

/// The `spin.toml` pattern Spin would name for `path`.
fn matched_route(path: &str) -> &'static str {
    if path.starts_with("/oauth2/") {
        "/oauth2/..."
    } else if path.starts_with("/login") {
        "/login"
    } else if path.contains("openid-configuration") {
        "/.well-known/openid-configuration"
    } else {
        "/.well-known/oauth-authorization-server"
    }
}

fn public_client() -> ClientRecord {
    ClientRecord {
        id: Uuid::now_v7(),
        client_id: "spa".into(),
        name: "SPA".into(),
        confidential: false,
        secret_hash: None,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ScopeSet::parse("openid orders:read admin").unwrap(),
        active: true,
    }
}

fn fixture() -> (FakeRepo, FakeKv, Config) {
    let repo = FakeRepo {
        clients: vec![public_client()],
        users: vec![UserRecord {
            id: Uuid::now_v7(),
            email: "ann@example.com".into(),
            password_hash: "unused".into(),
            display_name: None,
            is_admin: false,
            active: true,
        }],
        ..FakeRepo::default()
    };
    (repo, FakeKv::default(), Config::from_raw(&raw()).unwrap())
}

fn call(
    repo: &FakeRepo,
    kv: &FakeKv,
    config: &Config,
    method: Method,
    uri: &str,
    body: &str,
) -> Handled {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("spin-client-addr", "10.0.0.7:5555")
        .header(
            "spin-matched-route",
            matched_route(uri.split('?').next().unwrap_or(uri)),
        )
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let identity = Identity::new(Rc::new(config.clone()), repo, kv);
    block_on(kit::serve(Ok(&identity), kv, &Fixed, request))
}

fn json(handled: Handled) -> Value {
    let bytes = block_on(handled.response.into_body().collect())
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Stores a code for the user as `/login` would, returning the code.
fn stored_code(repo: &FakeRepo, verifier: &str, scope: &str) -> String {
    let code = credentials::random_token().unwrap();
    repo.codes.borrow_mut().push((
        NewCode {
            code_hash: credentials::token_hash(&code),
            client: repo.clients[0].id,
            user: repo.users[0].id,
            redirect_uri: REDIRECT.into(),
            scope: scope.into(),
            code_challenge: Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes())),
            nonce: None,
            auth_time: NOW,
            lifetime_secs: 60,
        },
        false,
    ));
    code
}

fn exchange(repo: &FakeRepo, kv: &FakeKv, config: &Config, code: &str, verifier: &str) -> Handled {
    let body = format!(
        "grant_type=authorization_code&client_id=spa&code={code}&redirect_uri={}&code_verifier={verifier}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    call(repo, kv, config, Method::POST, "/oauth2/token", &body)
}

#[test]
fn a_code_is_exchanged_once_and_a_replay_revokes_its_refresh_family() {
    let (repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "openid orders:read");
    let first = exchange(&repo, &kv, &config, &code, &verifier);
    assert_eq!(first.response.status(), StatusCode::OK);
    assert_eq!(first.response.headers()["cache-control"], "no-store");
    let body = json(first);
    assert!(body["id_token"].is_string());
    assert_eq!(repo.refresh.borrow().len(), 1);
    assert!(!repo.refresh.borrow()[0].2);

    let replay = exchange(&repo, &kv, &config, &code, &verifier);
    assert_eq!(replay.response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(replay)["error"], "invalid_grant");
    assert!(repo.refresh.borrow()[0].2, "refresh family not revoked");
    assert!(
        kv.keys().iter().any(|k| k.starts_with("t:revoked-jti:")),
        "the access token from the first exchange was not revoked: {:?}",
        kv.keys()
    );
}

#[test]
fn a_wrong_verifier_does_not_consume_the_code() {
    let (repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "orders:read");
    let wrong = exchange(&repo, &kv, &config, &code, &"b".repeat(43));
    assert_eq!(json(wrong)["error"], "invalid_grant");
    assert!(!repo.codes.borrow()[0].1);
    let right = exchange(&repo, &kv, &config, &code, &verifier);
    assert_eq!(right.response.status(), StatusCode::OK);
}

#[test]
fn refresh_reuse_revokes_the_family_including_the_newest() {
    let (repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "orders:read");
    let r1 = json(exchange(&repo, &kv, &config, &code, &verifier))["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = |token: &str| {
        call(
            &repo,
            &kv,
            &config,
            Method::POST,
            "/oauth2/token",
            &format!("grant_type=refresh_token&client_id=spa&refresh_token={token}"),
        )
    };
    let second = refresh(&r1);
    assert_eq!(second.response.status(), StatusCode::OK);
    let r2 = json(second)["refresh_token"].as_str().unwrap().to_owned();
    let reuse = refresh(&r1);
    assert_eq!(json(reuse)["error"], "invalid_grant");
    assert!(repo.refresh.borrow().iter().all(|(_, _, revoked)| *revoked));
    assert_eq!(json(refresh(&r2))["error"], "invalid_grant");
}

#[test]
fn the_token_endpoint_answers_429_with_ratelimit_headers_past_its_limit() {
    let (repo, kv, mut config) = fixture();
    config.rate_limit_per_minute = 1;
    let body = "grant_type=password&client_id=spa";
    let first = call(&repo, &kv, &config, Method::POST, "/oauth2/token", body);
    assert_eq!(json(first)["error"], "unsupported_grant_type");
    let second = call(&repo, &kv, &config, Method::POST, "/oauth2/token", body);
    assert_eq!(second.response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = second.response.headers();
    assert_eq!(headers["ratelimit-policy"], "\"token\";q=1;w=60");
    assert_eq!(headers["ratelimit"], "\"token\";r=0;t=60");
    assert_eq!(headers["retry-after"], "60");
    assert!(
        kv.keys()
            .iter()
            .any(|k| k.starts_with("t:rl:token:a:10.0.0.7:"))
    );
}

#[test]
fn jwks_and_introspection_share_the_oauth_address_limit_and_answer_429_past_it() {
    let (repo, kv, mut config) = fixture();
    config.rate_limit_per_minute = 2;
    let first = call(&repo, &kv, &config, Method::GET, "/oauth2/jwks", "");
    assert_eq!(first.response.status(), StatusCode::OK);
    let headers = first.response.headers();
    assert_eq!(headers["ratelimit-policy"], "\"oauth\";q=2;w=60");
    assert_eq!(headers["ratelimit"], "\"oauth\";r=1;t=60");
    let second = call(
        &repo,
        &kv,
        &config,
        Method::POST,
        "/oauth2/introspect",
        "token=x",
    );
    assert_eq!(second.response.headers()["ratelimit"], "\"oauth\";r=0;t=60");
    let third = call(&repo, &kv, &config, Method::GET, "/oauth2/jwks", "");
    assert_eq!(third.response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = third.response.headers();
    assert_eq!(headers["retry-after"], "60");
    assert_eq!(headers["ratelimit"], "\"oauth\";r=0;t=60");
    assert!(
        kv.keys()
            .iter()
            .any(|k| k.starts_with("t:rl:oauth:a:10.0.0.7:"))
    );
    // The token endpoint keeps its own policy and counter.
    let token = call(
        &repo,
        &kv,
        &config,
        Method::POST,
        "/oauth2/token",
        "grant_type=password&client_id=spa",
    );
    assert_eq!(
        token.response.headers()["ratelimit-policy"],
        "\"token\";q=2;w=60"
    );
}

#[test]
fn authorize_shows_a_page_for_an_unregistered_redirect_and_redirects_later_errors() {
    let (repo, kv, config) = fixture();
    let untrusted = call(
        &repo,
        &kv,
        &config,
        Method::GET,
        "/oauth2/authorize?client_id=spa&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        "",
    );
    assert_eq!(untrusted.response.status(), StatusCode::BAD_REQUEST);
    assert!(untrusted.response.headers().get("location").is_none());

    let plain = call(
        &repo,
        &kv,
        &config,
        Method::GET,
        "/oauth2/authorize?client_id=spa&response_type=code&state=s1&code_challenge=x&code_challenge_method=plain",
        "",
    );
    assert_eq!(plain.response.status(), StatusCode::SEE_OTHER);
    let location = plain.response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://app.example/cb?error=invalid_request"),
        "{location}"
    );
    assert!(
        location.contains("&state=s1&iss=http%3A%2F%2F127.0.0.1%3A3000"),
        "{location}"
    );
}

#[test]
fn login_without_csrf_is_forbidden_and_counts_nothing() {
    let (repo, kv, config) = fixture();
    let handled = call(
        &repo,
        &kv,
        &config,
        Method::POST,
        "/login",
        "request=x.y&email=ann%40example.com&password=pw",
    );
    assert_eq!(handled.response.status(), StatusCode::FORBIDDEN);
    assert!(kv.ops().iter().all(|op| !op.contains(":rl:login:")));
    assert!(repo.codes.borrow().is_empty());
}

#[test]
fn revoking_a_refresh_token_revokes_its_family_and_latest_access_token() {
    let (repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "orders:read");
    let body = json(exchange(&repo, &kv, &config, &code, &verifier));
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let jti = tokens::verify_access_token(
        access,
        &config.verifying_keys,
        &tokens::Expectations::new(&config.issuer, &config.audience, NOW),
    )
    .unwrap()
    .jti;
    let revoked = call(
        &repo,
        &kv,
        &config,
        Method::POST,
        "/oauth2/revoke",
        &format!("client_id=spa&token={refresh}"),
    );
    assert_eq!(revoked.response.status(), StatusCode::OK);
    assert!(repo.refresh.borrow()[0].2);
    assert!(
        kv.get_text(&format!("t:revoked-jti:{jti}")).is_some(),
        "{:?}",
        kv.keys()
    );
}

#[test]
fn every_shared_store_key_identity_writes_expires_with_its_purpose() {
    let (repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "orders:read");
    let body = json(exchange(&repo, &kv, &config, &code, &verifier));
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let claims = tokens::verify_access_token(
        access,
        &config.verifying_keys,
        &tokens::Expectations::new(&config.issuer, &config.audience, NOW),
    )
    .unwrap();
    // The family's pointer to its newest access token: as long as that token is usable.
    let family = kv
        .keys()
        .into_iter()
        .find(|k| k.starts_with("t:family-jti:"))
        .unwrap();
    let usable_for = std::time::Duration::from_secs(claims.exp - NOW + tokens::DEFAULT_LEEWAY_SECS);
    assert_eq!(kv.ttl(&family), Some(usable_for));
    assert_eq!(
        contract::expiry::TOKEN_LEEWAY_SECS,
        tokens::DEFAULT_LEEWAY_SECS
    );
    call(
        &repo,
        &kv,
        &config,
        Method::POST,
        "/oauth2/revoke",
        &format!("client_id=spa&token={refresh}"),
    );
    // The revocation marker: until no verifier would accept the token anyway.
    let marker = format!("t:revoked-jti:{}", claims.jti);
    assert_eq!(kv.ttl(&marker), Some(usable_for));
    // Rate-limit counters: until their window ends (plus the clock margin).
    for key in kv.keys().iter().filter(|k| k.starts_with("t:rl:")) {
        let ttl = kv.ttl(key).unwrap();
        assert!(ttl <= std::time::Duration::from_secs(61), "{key}: {ttl:?}");
    }
    // Once the token could no longer be used, nothing identity wrote is left.
    kv.advance(usable_for);
    assert_eq!(kv.keys(), Vec::<String>::new());
}

#[test]
fn redirect_uri_may_be_omitted_at_the_token_endpoint_only_for_a_single_registered_uri() {
    let (mut repo, kv, config) = fixture();
    let verifier = "a".repeat(43);
    let code = stored_code(&repo, &verifier, "orders:read");
    let body =
        format!("grant_type=authorization_code&client_id=spa&code={code}&code_verifier={verifier}");
    let single = call(&repo, &kv, &config, Method::POST, "/oauth2/token", &body);
    assert_eq!(single.response.status(), StatusCode::OK);

    repo.clients[0]
        .redirect_uris
        .push("https://app.example/other".into());
    let code = stored_code(&repo, &verifier, "orders:read");
    let body =
        format!("grant_type=authorization_code&client_id=spa&code={code}&code_verifier={verifier}");
    let several = call(&repo, &kv, &config, Method::POST, "/oauth2/token", &body);
    assert_eq!(json(several)["error"], "invalid_request");
    assert!(!repo.codes.borrow()[1].1, "the code was consumed");
}
