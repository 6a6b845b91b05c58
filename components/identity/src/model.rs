//! What the identity component reads and writes, and the repository trait over it.

use store::StoreError;
use tokens::ScopeSet;
use uuid::Uuid;

use crate::config::Config;

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// Internal row id.
    pub id: Uuid,
    /// The public `client_id`.
    pub client_id: String,
    /// Shown on the sign-in page.
    pub name: String,
    /// Confidential (has a secret) or public.
    pub confidential: bool,
    /// The stored secret (`credentials::hash_client_secret`; confidential clients).
    pub secret_hash: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// The scopes it may request.
    pub scopes: ScopeSet,
    /// `status = 'active'`.
    pub active: bool,
}

impl ClientRecord {
    /// Whether the client is registered for `grant`.
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// Every registered client is first-party (registered by the operator through the
    /// database, not dynamically): the user is not asked for consent.
    pub fn is_first_party(&self) -> bool {
        true
    }
}

/// A user, as sign-in and userinfo need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The id, published as `sub`.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Has the `admin` role.
    pub is_admin: bool,
    /// `status = 'active'`.
    pub active: bool,
}

impl UserRecord {
    /// `sub`: the hyphenated UUID.
    pub fn subject(&self) -> String {
        self.id.hyphenated().to_string()
    }
}

/// An authorization code to store (by hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the code.
    pub code_hash: [u8; 32],
    /// Client row id.
    pub client: Uuid,
    /// User id.
    pub user: Uuid,
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// When the user authenticated (seconds).
    pub auth_time: u64,
    /// Lifetime (seconds).
    pub lifetime_secs: u64,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// Client row id.
    pub client: Uuid,
    /// User id.
    pub user: Uuid,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Seconds since the epoch.
    pub auth_time: u64,
    /// Already exchanged.
    pub used: bool,
    /// Not yet expired (by the database clock).
    pub live: bool,
}

/// A refresh token to store (by hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefresh {
    /// Row id.
    pub id: Uuid,
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
    /// The family (rotation chain) it belongs to.
    pub family: Uuid,
    /// The token it replaced.
    pub parent: Option<Uuid>,
    /// Client row id.
    pub client: Uuid,
    /// User id.
    pub user: Uuid,
    /// Granted scope.
    pub scope: String,
    /// Lifetime (seconds).
    pub lifetime_secs: u64,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// Row id.
    pub id: Uuid,
    /// Family.
    pub family: Uuid,
    /// Client row id.
    pub client: Uuid,
    /// The client's public id.
    pub client_id: String,
    /// User id.
    pub user: Uuid,
    /// Granted scope.
    pub scope: String,
    /// Seconds since the epoch.
    pub issued_at: u64,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Already rotated.
    pub used: bool,
    /// Revoked.
    pub revoked: bool,
    /// Not yet expired (by the database clock).
    pub live: bool,
}

/// The family of the refresh tokens issued from an authorization code: derived from the
/// code's hash, so a replayed code finds (and revokes) what its first exchange issued
/// without another column.
pub fn family_of_code(code_hash: &[u8; 32]) -> Uuid {
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&code_hash[..16]);
    Uuid::from_bytes(bytes)
}

/// The identity component's SQL (implemented over `store` in `repository`).
#[allow(
    async_fn_in_trait,
    reason = "single-threaded wasm: futures need not be Send"
)]
pub trait Repository {
    /// An active or disabled client by its public id.
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// A user by email (case-insensitive collation).
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError>;
    /// Stores a code.
    async fn insert_code(&self, code: &NewCode) -> Result<(), StoreError>;
    /// A code by hash.
    async fn code(&self, code_hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError>;
    /// Marks a code used if it is unused and live; whether this call did it.
    async fn consume_code(&self, code_hash: &[u8; 32]) -> Result<bool, StoreError>;
    /// Stores a refresh token.
    async fn insert_refresh(&self, token: &NewRefresh) -> Result<(), StoreError>;
    /// A refresh token by hash.
    async fn refresh(&self, token_hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError>;
    /// Marks a refresh token used if it is unused, unrevoked and live; whether this call
    /// did it.
    async fn use_refresh(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError>;
    /// Revokes every token of a family.
    async fn revoke_family(&self, family: Uuid) -> Result<(), StoreError>;
    /// Whether any token of the family is revoked.
    async fn family_revoked(&self, family: Uuid) -> Result<bool, StoreError>;
}

/// A borrowed repository is a repository (tests lend theirs to the component).
impl<T: Repository + ?Sized> Repository for &T {
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        (**self).client(client_id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        (**self).user_by_email(email).await
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        (**self).user_by_id(id).await
    }
    async fn insert_code(&self, code: &NewCode) -> Result<(), StoreError> {
        (**self).insert_code(code).await
    }
    async fn code(&self, code_hash: &[u8; 32]) -> Result<Option<CodeRecord>, StoreError> {
        (**self).code(code_hash).await
    }
    async fn consume_code(&self, code_hash: &[u8; 32]) -> Result<bool, StoreError> {
        (**self).consume_code(code_hash).await
    }
    async fn insert_refresh(&self, token: &NewRefresh) -> Result<(), StoreError> {
        (**self).insert_refresh(token).await
    }
    async fn refresh(&self, token_hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError> {
        (**self).refresh(token_hash).await
    }
    async fn use_refresh(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        (**self).use_refresh(token_hash).await
    }
    async fn revoke_family(&self, family: Uuid) -> Result<(), StoreError> {
        (**self).revoke_family(family).await
    }
    async fn family_revoked(&self, family: Uuid) -> Result<bool, StoreError> {
        (**self).family_revoked(family).await
    }
}

/// Everything a handler needs: repository, shared key-value store, configuration, time.
#[derive(Debug)]
pub struct Env<'a, R, K> {
    /// SQL.
    pub repo: &'a R,
    /// The shared key-value store (rate limits, sessions, revoked token ids).
    pub kv: &'a K,
    /// Configuration.
    pub config: &'a Config,
    /// Seconds since the epoch.
    pub now: u64,
}
