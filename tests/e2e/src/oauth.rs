//! Helpers for the OAuth / OIDC end-to-end tests (`tests/oauth*.rs`): clients and users
//! inserted through the admin URL, PKCE pairs, a driver for the authorize → sign-in →
//! redirect flow that parses the form like a browser would, and token requests.

use anyhow::{Context, Result, bail};
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{TestApp, unique};

pub use crate::AUDIENCE;
pub use crate::ISSUER;
/// A redirect URI nobody listens on (the tests read the `Location` header only).
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub use crate::admin_pool;

/// An admin connection.
pub async fn admin() -> Result<Conn> {
    admin_pool()?.get_conn().await.context("admin connection")
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// Row id.
    pub id: Uuid,
    /// Public `client_id`.
    pub client_id: String,
    /// The secret (confidential clients).
    pub secret: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
}

/// What to register.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Confidential (with a secret, `client_secret_basic`) or public (`none`).
    pub confidential: bool,
    /// Comma-separated grant types.
    pub grant_types: &'static str,
    /// Space-separated scopes.
    pub scopes: &'static str,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
}

impl ClientSpec {
    /// A confidential web client: every grant, the OIDC and shop scopes.
    pub fn confidential() -> Self {
        Self {
            confidential: true,
            grant_types: "authorization_code,refresh_token,client_credentials",
            scopes: "openid profile email orders:read orders:write products:read users:read admin",
            redirect_uris: vec![REDIRECT.to_owned()],
        }
    }

    /// A public client (SPA / native): code + refresh, no secret.
    pub fn public() -> Self {
        Self {
            confidential: false,
            grant_types: "authorization_code,refresh_token",
            scopes: "openid profile email orders:read orders:write",
            redirect_uris: vec![REDIRECT.to_owned()],
        }
    }
}

/// Registers a client with a unique id (a 48-character secret, stored as production
/// stores generated secrets: `credentials::hash_client_secret`).
pub async fn insert_client(spec: ClientSpec) -> Result<TestClient> {
    let id = Uuid::now_v7();
    let client_id = unique("e2e-client-", 32);
    let secret = spec.confidential.then(|| unique("secret-", 48));
    let secret_hash = match &secret {
        Some(secret) => Some(credentials::hash_client_secret(secret)?),
        None => None,
    };
    let (client_type, method) = if spec.confidential {
        ("confidential", "client_secret_basic")
    } else {
        ("public", "none")
    };
    let redirect_json = serde_json::to_string(&spec.redirect_uris)?;
    admin()
        .await?
        .exec_drop(
            "INSERT INTO oauth_clients (id, client_id, client_name, client_type, secret_hash, \
             token_endpoint_auth_method, redirect_uris, grant_types, scopes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id.as_bytes().to_vec(),
                client_id.clone(),
                "E2E Test Client",
                client_type,
                secret_hash,
                method,
                redirect_json,
                spec.grant_types,
                spec.scopes,
            ),
        )
        .await?;
    Ok(TestClient {
        id,
        client_id,
        secret,
        redirect_uris: spec.redirect_uris,
    })
}

/// A user that can sign in.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Id (`sub`).
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Inserts a user with an Argon2id password hash; `roles` like `customer` or
/// `customer,admin`; `status` `active` or `disabled`.
pub async fn insert_user(roles: &str, status: &str) -> Result<TestUser> {
    let id = Uuid::now_v7();
    let email = format!("{}@oauth.example", unique("u", 24));
    let password = unique("pw-", 24);
    let hash = credentials::hash_secret(&password)?;
    admin()
        .await?
        .exec_drop(
            "INSERT INTO users (id, email, password_hash, display_name, roles, status) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (
                id.as_bytes().to_vec(),
                email.clone(),
                hash,
                "OAuth Tester",
                roles,
                status,
            ),
        )
        .await?;
    Ok(TestUser {
        id,
        email,
        password,
    })
}

/// A PKCE pair (RFC 7636, S256).
#[derive(Debug, Clone)]
pub struct Pkce {
    /// `code_verifier`.
    pub verifier: String,
    /// `code_challenge` = BASE64URL(SHA-256(verifier)).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair (64-character verifier).
    pub fn new() -> Self {
        let verifier = unique("v", 64);
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// Percent-encodes a query parameter value.
pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `/oauth2/authorize?…` from parameter pairs.
pub fn authorize_path(params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    format!("/oauth2/authorize?{}", query.join("&"))
}

/// The standard authorization request parameters for `client`.
pub fn code_request<'a>(
    client: &'a TestClient,
    pkce: &'a Pkce,
    scope: &'a str,
    state: &'a str,
    nonce: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", client.redirect_uris[0].as_str()),
        ("scope", scope),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
}

/// The query parameters of a URL (decoded).
pub fn query_params(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// One query parameter of a URL.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    query_params(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The sign-in page as a browser sees it.
#[derive(Debug, Clone)]
pub struct LoginPage {
    /// The page's URL path (`/login?request=…`).
    pub path: String,
    /// The hidden `request` field.
    pub request: String,
    /// The hidden `csrf` field.
    pub csrf: String,
    /// `name=value` of the CSRF cookie the page set.
    pub cookie: String,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The HTML.
    pub html: String,
}

/// The `value` of `<input … name="<name>" … value="…">` (our page writes `name` first).
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

/// `name=value` of every `Set-Cookie` in `headers`.
pub fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|v| v.trim().to_owned())
        .collect()
}

/// Follows `/oauth2/authorize` to the sign-in page and reads its form.
pub async fn open_login(app: &TestApp, authorize: &str) -> Result<LoginPage> {
    let response = app.client.get(app.url(authorize)).send().await?;
    if response.status() != 303 {
        bail!("authorize answered {} instead of 303", response.status());
    }
    let location = response
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?
        .to_owned();
    if !location.starts_with("/login?") {
        bail!("authorize redirected to {location}, not the sign-in page");
    }
    let page = app.client.get(app.url(&location)).send().await?;
    if page.status() != 200 {
        bail!("login page answered {}", page.status());
    }
    let headers = page.headers().clone();
    let cookie = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("orderly_csrf="))
        .context("no CSRF cookie")?;
    let html = page.text().await?;
    Ok(LoginPage {
        path: location,
        request: hidden_field(&html, "request").context("no request field")?,
        csrf: hidden_field(&html, "csrf").context("no csrf field")?,
        cookie,
        headers,
        html,
    })
}

/// Submits the sign-in form (with the page's CSRF cookie and token).
pub async fn submit_login(
    app: &TestApp,
    page: &LoginPage,
    email: &str,
    password: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/login"))
        .header("cookie", &page.cookie)
        .form(&[
            ("request", page.request.as_str()),
            ("csrf", page.csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?)
}

/// The authorization response: the `Location` and its parameters.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// The full redirect.
    pub location: String,
    /// `code`.
    pub code: String,
    /// `state`.
    pub state: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// The session cookie (`name=value`).
    pub session_cookie: Option<String>,
}

/// Runs authorize → sign-in page → sign in, and returns the redirect with the code.
pub async fn authorize_with_login(
    app: &TestApp,
    params: &[(&str, &str)],
    user: &TestUser,
) -> Result<Authorized> {
    let page = open_login(app, &authorize_path(params)).await?;
    let response = submit_login(app, &page, &user.email, &user.password).await?;
    if response.status() != 303 {
        let status = response.status();
        bail!("sign-in answered {status}: {}", response.text().await?);
    }
    let session_cookie = set_cookies(response.headers())
        .into_iter()
        .find(|c| c.starts_with("orderly_session="));
    let location = response
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?
        .to_owned();
    Ok(Authorized {
        code: query_param(&location, "code").context("no code in the redirect")?,
        state: query_param(&location, "state"),
        iss: query_param(&location, "iss"),
        location,
        session_cookie,
    })
}

/// How a token request authenticates the client.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// HTTP Basic with id and secret.
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the body.
    Post(&'a str, &'a str),
    /// `client_id` only.
    Public(&'a str),
    /// Nothing.
    Nothing,
}

impl<'a> Auth<'a> {
    /// The client's usual method: Basic with its secret, or public.
    pub fn of(client: &'a TestClient) -> Self {
        match &client.secret {
            Some(secret) => Self::Basic(&client.client_id, secret),
            None => Self::Public(&client.client_id),
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`.
pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        Base64::encode_string(format!("{}:{}", enc(id), enc(secret)).as_bytes())
    )
}

/// POSTs a form to `path` with client authentication.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    auth: Auth<'_>,
    params: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = app.client.post(app.url(path));
    match auth {
        Auth::Basic(id, secret) => request = request.header("authorization", basic(id, secret)),
        Auth::Post(id, secret) => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
        Auth::Public(id) => form.push(("client_id", id)),
        Auth::Nothing => {}
    }
    Ok(request.form(&form).send().await?)
}

/// Exchanges a code at the token endpoint.
pub async fn exchange_code(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
) -> Result<reqwest::Response> {
    post_form(
        app,
        "/oauth2/token",
        Auth::of(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uris[0].as_str()),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Refreshes at the token endpoint.
pub async fn refresh(
    app: &TestApp,
    client: &TestClient,
    refresh_token: &str,
) -> Result<reqwest::Response> {
    post_form(
        app,
        "/oauth2/token",
        Auth::of(client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// The payload of a JWT, decoded (no verification).
pub fn jwt_claims(token: &str) -> Result<serde_json::Value> {
    let payload = token.split('.').nth(1).context("not a JWT")?;
    let bytes = Base64UrlUnpadded::decode_vec(payload).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The app's public keys (from its signing key), to verify what it issued.
pub fn app_keys(app: &TestApp) -> Result<tokens::VerifyingKeys> {
    let key =
        tokens::SigningKey::from_config(&app.settings.signing_key_pem, Some(crate::TEST_KID))?;
    Ok(tokens::VerifyingKeys::new().with(tokens::KeyRole::Current, key.verifying_key())?)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// SHA-256 of a token (how the database stores it).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// `(used, revoked)` of a stored refresh token.
pub async fn refresh_state(token: &str) -> Result<Option<(bool, bool)>> {
    let row: Option<(i64, i64)> = admin()
        .await?
        .exec_first(
            "SELECT used_at IS NOT NULL, revoked_at IS NOT NULL FROM refresh_tokens WHERE token_hash = ?",
            (token_hash(token),),
        )
        .await?;
    Ok(row.map(|(used, revoked)| (used == 1, revoked == 1)))
}

/// Whether the stored code is marked used.
pub async fn code_used(code: &str) -> Result<Option<bool>> {
    let row: Option<i64> = admin()
        .await?
        .exec_first(
            "SELECT used_at IS NOT NULL FROM authorization_codes WHERE code_hash = ?",
            (token_hash(code),),
        )
        .await?;
    Ok(row.map(|used| used == 1))
}

/// How many codes a client has.
pub async fn code_count(client: &TestClient) -> Result<i64> {
    let row: Option<i64> = admin()
        .await?
        .exec_first(
            "SELECT COUNT(*) FROM authorization_codes WHERE client_id = ?",
            (client.id.as_bytes().to_vec(),),
        )
        .await?;
    Ok(row.unwrap_or(0))
}
