//! The users rules: who may read, change or delete which account, registration and the
//! list. No HTTP here (docs/standards.md §3): handlers map these results to responses. The
//! storage is the [`UserRepository`] trait, so the rules are tested natively with an
//! in-memory fake; the SQL implementation is `repository.rs`.

use std::fmt;

use domain::{AccountStatus, DisplayName, Email, Password, Roles, UserId};
use store::StoreError;

/// An account as the service sees it. Never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account id (UUIDv7).
    pub id: UserId,
    /// The address as stored.
    pub email: String,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Roles (`customer`, `admin`).
    pub roles: Roles,
    /// Whether the account may sign in.
    pub status: AccountStatus,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: u32,
    /// Creation time, microseconds since the Unix epoch (UTC).
    pub created_at_micros: i64,
    /// Last change, microseconds since the Unix epoch (UTC).
    pub updated_at_micros: i64,
}

/// A validated registration, password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Fresh id.
    pub id: UserId,
    /// Parsed address.
    pub email: Email,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Optional display name.
    pub display_name: Option<DisplayName>,
}

/// What a change writes: the complete new values of the patchable fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChanges {
    /// New display name (`None` clears it).
    pub display_name: Option<String>,
    /// New roles.
    pub roles: Roles,
    /// New status.
    pub status: AccountStatus,
}

/// Sort order of the admin list (the allow-list: both backed by `ix_users_created` /
/// `ix_users_status_created`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `created_at`: oldest first.
    CreatedAsc,
    /// `-created_at`: newest first (default).
    CreatedDesc,
}

impl SortOrder {
    /// Parses the `sort` query value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "created_at" => Some(Self::CreatedAsc),
            "-created_at" => Some(Self::CreatedDesc),
            _ => None,
        }
    }

    /// The `sort` query value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAsc => "created_at",
            Self::CreatedDesc => "-created_at",
        }
    }
}

/// Which way a page is read from its keyset position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Items after the position in the sort order.
    After,
    /// Items before the position (a `prev` link).
    Before,
}

/// A keyset position: the sort key of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// `created_at` in epoch microseconds.
    pub created_at_micros: i64,
    /// Tie-breaker.
    pub id: UserId,
}

/// One page request as the repository executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// Filter on status.
    pub status: Option<AccountStatus>,
    /// Sort order.
    pub sort: SortOrder,
    /// Where to start, and which way; `None` is the first page.
    pub from: Option<(Direction, Position)>,
    /// Rows to fetch (the service asks for one more than it returns).
    pub fetch: u32,
}

/// A page of users in sort order, with whether more exist on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The users, in the requested sort order.
    pub items: Vec<User>,
    /// Position to continue after (next page), if there is one.
    pub next: Option<Position>,
    /// Position to go back from (previous page), if there is one.
    pub prev: Option<Position>,
}

/// Storage of users: the only way the service reaches the database.
#[allow(
    async_fn_in_trait,
    reason = "used from a single-threaded wasm component; no Send bound wanted"
)]
pub trait UserRepository {
    /// Inserts a user; a taken email is `StoreError::Conflict`.
    async fn insert(&self, user: &NewUser) -> Result<User, StoreError>;
    /// The user with `id`.
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Writes `changes` when the stored version is `expected_version`; `false` otherwise.
    async fn update(
        &self,
        id: UserId,
        expected_version: u32,
        changes: &UserChanges,
    ) -> Result<bool, StoreError>;
    /// Deletes when the stored version is `expected_version`; `false` otherwise.
    async fn delete(&self, id: UserId, expected_version: u32) -> Result<bool, StoreError>;
    /// Up to `query.fetch` users from the position, in the sort order of the direction
    /// read (for `Before`, the reverse of `query.sort`).
    async fn page(&self, query: &PageQuery) -> Result<Vec<User>, StoreError>;
}

/// Who is asking, as the service needs it (built by the handler from the principal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The signed-in user, if the token is a user's.
    pub user_id: Option<UserId>,
    /// Whether the token carries the `admin` scope.
    pub admin: bool,
}

impl Caller {
    /// Whether this caller may see and change `id`.
    pub fn may_access(&self, id: UserId) -> bool {
        self.admin || self.user_id == Some(id)
    }
}

/// The precondition a write carries (`If-Match`), as a test of the current version
/// (the handler knows how versions map to entity tags).
pub enum Precondition<'a> {
    /// No `If-Match`: refused (428).
    Missing,
    /// `If-Match: *`: any current version.
    Any,
    /// Whether the client's tags name this version.
    Matching(Box<dyn Fn(u32) -> bool + 'a>),
}

impl fmt::Debug for Precondition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "Missing",
            Self::Any => "Any",
            Self::Matching(_) => "Matching(..)",
        })
    }
}

impl Precondition<'_> {
    fn is_missing(&self) -> bool {
        matches!(self, Self::Missing)
    }

    fn holds_for(&self, version: u32) -> bool {
        match self {
            Self::Missing => false,
            Self::Any => true,
            Self::Matching(test) => test(version),
        }
    }
}

/// What a patch asks for; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<DisplayName>>,
    /// New roles (admin only).
    pub roles: Option<Roles>,
    /// New status (admin only).
    pub status: Option<AccountStatus>,
}

/// Why a call failed.
#[derive(Debug)]
pub enum UsersError {
    /// The email is taken (or otherwise unusable); say nothing more.
    EmailUnavailable,
    /// No such user, or one the caller may not see (OWASP API1: same answer).
    NotFound,
    /// The caller may not do this (e.g. set roles without `admin`).
    Forbidden(&'static str),
    /// The write carried no `If-Match`.
    PreconditionRequired,
    /// `If-Match` names another version.
    PreconditionFailed,
    /// The user is still referenced (orders) and cannot be deleted.
    StillReferenced,
    /// Hashing failed (no randomness).
    Hashing,
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmailUnavailable => f.write_str("email unavailable"),
            Self::NotFound => f.write_str("not found"),
            Self::Forbidden(why) => write!(f, "forbidden: {why}"),
            Self::PreconditionRequired => f.write_str("precondition required"),
            Self::PreconditionFailed => f.write_str("precondition failed"),
            Self::StillReferenced => f.write_str("still referenced"),
            Self::Hashing => f.write_str("password hashing failed"),
            Self::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for UsersError {}

impl From<StoreError> for UsersError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Registers an account: hashes the password (Argon2id) and inserts it as an active
/// customer. Roles and status are not inputs: a caller cannot set them (OWASP API3).
pub async fn register<R: UserRepository>(
    repo: &R,
    email: Email,
    password: Password,
    display_name: Option<DisplayName>,
) -> Result<User, UsersError> {
    let password_hash =
        credentials::hash_secret(password.expose_secret()).map_err(|_| UsersError::Hashing)?;
    let new = NewUser {
        id: UserId::generate(),
        email,
        password_hash,
        display_name,
    };
    match repo.insert(&new).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict { .. }) => Err(UsersError::EmailUnavailable),
        Err(e) => Err(e.into()),
    }
}

/// Reads `id` for `caller`: their own account, or any with `admin`. Anything else is
/// indistinguishable from a missing user.
pub async fn get<R: UserRepository>(
    repo: &R,
    caller: &Caller,
    id: UserId,
) -> Result<User, UsersError> {
    if !caller.may_access(id) {
        return Err(UsersError::NotFound);
    }
    repo.find(id).await?.ok_or(UsersError::NotFound)
}

/// Applies a merge patch under `If-Match`. Display name: self or admin; roles and
/// status: admin only.
pub async fn update<R: UserRepository>(
    repo: &R,
    caller: &Caller,
    id: UserId,
    precondition: &Precondition<'_>,
    patch: Patch,
) -> Result<User, UsersError> {
    if !caller.may_access(id) {
        return Err(UsersError::NotFound);
    }
    if (patch.roles.is_some() || patch.status.is_some()) && !caller.admin {
        return Err(UsersError::Forbidden(
            "Only an administrator may change roles or status.",
        ));
    }
    if precondition.is_missing() {
        return Err(UsersError::PreconditionRequired);
    }
    let current = repo.find(id).await?.ok_or(UsersError::NotFound)?;
    if !precondition.holds_for(current.version) {
        return Err(UsersError::PreconditionFailed);
    }
    let changes = UserChanges {
        display_name: match patch.display_name {
            Some(name) => name.map(String::from),
            None => current.display_name.clone(),
        },
        roles: patch.roles.unwrap_or(current.roles),
        status: patch.status.unwrap_or(current.status),
    };
    if !repo.update(id, current.version, &changes).await? {
        // Changed (or deleted) between our read and our write.
        return Err(match repo.find(id).await? {
            Some(_) => UsersError::PreconditionFailed,
            None => UsersError::NotFound,
        });
    }
    repo.find(id).await?.ok_or(UsersError::NotFound)
}

/// Deletes `id` under `If-Match` (self or admin). A user with orders cannot be deleted
/// (the foreign key restricts it): [`UsersError::StillReferenced`]; disable the account
/// with a patch of `status` instead.
pub async fn delete<R: UserRepository>(
    repo: &R,
    caller: &Caller,
    id: UserId,
    precondition: &Precondition<'_>,
) -> Result<(), UsersError> {
    if !caller.may_access(id) {
        return Err(UsersError::NotFound);
    }
    if precondition.is_missing() {
        return Err(UsersError::PreconditionRequired);
    }
    let current = repo.find(id).await?.ok_or(UsersError::NotFound)?;
    if !precondition.holds_for(current.version) {
        return Err(UsersError::PreconditionFailed);
    }
    match repo.delete(id, current.version).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(match repo.find(id).await? {
            Some(_) => UsersError::PreconditionFailed,
            None => UsersError::NotFound,
        }),
        Err(StoreError::ForeignKey { .. }) => Err(UsersError::StillReferenced),
        Err(e) => Err(e.into()),
    }
}

/// One page of the admin list. `limit` is already capped by the handler.
pub async fn list<R: UserRepository>(
    repo: &R,
    caller: &Caller,
    status: Option<AccountStatus>,
    sort: SortOrder,
    from: Option<(Direction, Position)>,
    limit: u32,
) -> Result<Page, UsersError> {
    if !caller.admin {
        return Err(UsersError::Forbidden(
            "Listing users needs the admin scope.",
        ));
    }
    let query = PageQuery {
        status,
        sort,
        from,
        fetch: limit.saturating_add(1),
    };
    let mut items = repo.page(&query).await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let backwards = matches!(from, Some((Direction::Before, _)));
    if backwards {
        items.reverse();
    }
    let first = items.first().map(position_of);
    let last = items.last().map(position_of);
    let (next, prev) = match from {
        None => (if more { last } else { None }, None),
        Some((Direction::After, _)) => (if more { last } else { None }, first),
        Some((Direction::Before, _)) => (last, if more { first } else { None }),
    };
    Ok(Page { items, next, prev })
}

fn position_of(user: &User) -> Position {
    Position {
        created_at_micros: user.created_at_micros,
        id: user.id,
    }
}

#[cfg(test)]
pub mod fakes {
    //! An in-memory [`UserRepository`] with the schema's rules (case-insensitive unique
    //! email, versions, restricted deletes).

    use std::cell::{Cell, RefCell};

    use super::*;
    use domain::Role;

    /// Users in memory.
    #[derive(Debug, Default)]
    pub struct FakeUsers {
        /// The rows, with their password hashes.
        pub rows: RefCell<Vec<(User, String)>>,
        /// Ids that have orders (deletes fail with a foreign-key error).
        pub referenced: RefCell<Vec<UserId>>,
        clock: Cell<i64>,
    }

    impl FakeUsers {
        /// Adds a user directly (fixtures).
        pub fn seed(&self, email: &str, roles: Roles) -> User {
            let now = self.tick();
            let user = User {
                id: UserId::generate(),
                email: email.to_owned(),
                display_name: None,
                roles,
                status: AccountStatus::Active,
                version: 1,
                created_at_micros: now,
                updated_at_micros: now,
            };
            self.rows
                .borrow_mut()
                .push((user.clone(), "seeded".to_owned()));
            user
        }

        /// The stored hash of `id`.
        pub fn hash_of(&self, id: UserId) -> Option<String> {
            self.rows
                .borrow()
                .iter()
                .find(|(u, _)| u.id == id)
                .map(|(_, h)| h.clone())
        }

        fn tick(&self) -> i64 {
            let next = self.clock.get() + 1_000;
            self.clock.set(next);
            1_700_000_000_000_000 + next
        }
    }

    impl UserRepository for FakeUsers {
        async fn insert(&self, new: &NewUser) -> Result<User, StoreError> {
            let taken = self
                .rows
                .borrow()
                .iter()
                .any(|(u, _)| u.email.eq_ignore_ascii_case(new.email.as_str()));
            if taken {
                return Err(StoreError::Conflict {
                    constraint: Some("uq_users_email".into()),
                });
            }
            let now = self.tick();
            let user = User {
                id: new.id,
                email: new.email.as_str().to_owned(),
                display_name: new.display_name.clone().map(String::from),
                roles: Roles::only(Role::Customer),
                status: AccountStatus::Active,
                version: 1,
                created_at_micros: now,
                updated_at_micros: now,
            };
            self.rows
                .borrow_mut()
                .push((user.clone(), new.password_hash.clone()));
            Ok(user)
        }

        async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
            Ok(self
                .rows
                .borrow()
                .iter()
                .find(|(u, _)| u.id == id)
                .map(|(u, _)| u.clone()))
        }

        async fn update(
            &self,
            id: UserId,
            expected_version: u32,
            changes: &UserChanges,
        ) -> Result<bool, StoreError> {
            let now = self.tick();
            let mut rows = self.rows.borrow_mut();
            let Some((user, _)) = rows
                .iter_mut()
                .find(|(u, _)| u.id == id && u.version == expected_version)
            else {
                return Ok(false);
            };
            user.display_name = changes.display_name.clone();
            user.roles = changes.roles;
            user.status = changes.status;
            user.version += 1;
            user.updated_at_micros = now;
            Ok(true)
        }

        async fn delete(&self, id: UserId, expected_version: u32) -> Result<bool, StoreError> {
            if self.referenced.borrow().contains(&id) {
                return Err(StoreError::ForeignKey {
                    kind: store::ForeignKeyKind::StillReferenced,
                    constraint: Some("fk_orders_user".into()),
                });
            }
            let mut rows = self.rows.borrow_mut();
            let before = rows.len();
            rows.retain(|(u, _)| !(u.id == id && u.version == expected_version));
            Ok(rows.len() != before)
        }

        async fn page(&self, query: &PageQuery) -> Result<Vec<User>, StoreError> {
            let key = |u: &User| (u.created_at_micros, u.id.to_bytes());
            let ascending = matches!(
                (query.sort, query.from.map(|(d, _)| d)),
                (SortOrder::CreatedAsc, None | Some(Direction::After))
                    | (SortOrder::CreatedDesc, Some(Direction::Before))
            );
            let mut users: Vec<User> = self
                .rows
                .borrow()
                .iter()
                .map(|(u, _)| u.clone())
                .filter(|u| query.status.is_none_or(|s| u.status == s))
                .filter(|u| match query.from {
                    None => true,
                    Some((_, p)) => {
                        let at = (p.created_at_micros, p.id.to_bytes());
                        if ascending { key(u) > at } else { key(u) < at }
                    }
                })
                .collect();
            users.sort_by_key(key);
            if !ascending {
                users.reverse();
            }
            users.truncate(usize::try_from(query.fetch).unwrap_or(usize::MAX));
            Ok(users)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fakes::FakeUsers;
    use super::*;
    use domain::Role;
    use futures::executor::block_on;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn admin() -> Caller {
        Caller {
            user_id: None,
            admin: true,
        }
    }

    fn me(id: UserId) -> Caller {
        Caller {
            user_id: Some(id),
            admin: false,
        }
    }

    #[test]
    fn registration_stores_an_argon2id_hash_and_makes_a_customer() {
        let repo = FakeUsers::default();
        let address = email("ada@example.com");
        let password = Password::parse("correct horse battery".into(), &address).unwrap();
        let user = block_on(register(&repo, address, password, None)).unwrap();
        assert_eq!(user.roles, Roles::only(Role::Customer));
        assert_eq!(user.status, AccountStatus::Active);
        let hash = repo.hash_of(user.id).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(credentials::verify_secret("correct horse battery", &hash).unwrap());
    }

    #[test]
    fn a_taken_email_in_another_case_is_unavailable_and_adds_nothing() {
        let repo = FakeUsers::default();
        repo.seed("ada@example.com", Roles::only(Role::Customer));
        let address = email("ADA@example.com");
        let password = Password::parse("correct horse battery".into(), &address).unwrap();
        let err = block_on(register(&repo, address, password, None)).unwrap_err();
        assert!(matches!(err, UsersError::EmailUnavailable), "{err}");
        assert_eq!(repo.rows.borrow().len(), 1);
    }

    #[test]
    fn another_users_account_is_not_found_but_an_admin_sees_it() {
        let repo = FakeUsers::default();
        let a = repo.seed("a@example.com", Roles::only(Role::Customer));
        let b = repo.seed("b@example.com", Roles::only(Role::Customer));
        assert!(matches!(
            block_on(get(&repo, &me(a.id), b.id)),
            Err(UsersError::NotFound)
        ));
        assert_eq!(block_on(get(&repo, &me(a.id), a.id)).unwrap(), a);
        assert_eq!(block_on(get(&repo, &admin(), b.id)).unwrap(), b);
    }

    #[test]
    fn updates_need_if_match_and_the_current_version() {
        let repo = FakeUsers::default();
        let a = repo.seed("a@example.com", Roles::only(Role::Customer));
        let patch = Patch {
            display_name: Some(Some(DisplayName::parse("Ada").unwrap())),
            ..Patch::default()
        };
        let missing = block_on(update(
            &repo,
            &me(a.id),
            a.id,
            &Precondition::Missing,
            patch.clone(),
        ));
        assert!(matches!(missing, Err(UsersError::PreconditionRequired)));
        let stale = block_on(update(
            &repo,
            &me(a.id),
            a.id,
            &Precondition::Matching(Box::new(|v| v == 7)),
            patch.clone(),
        ));
        assert!(matches!(stale, Err(UsersError::PreconditionFailed)));
        let updated = block_on(update(
            &repo,
            &me(a.id),
            a.id,
            &Precondition::Matching(Box::new(|v| v == 1)),
            patch,
        ))
        .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.display_name.as_deref(), Some("Ada"));
    }

    #[test]
    fn only_an_admin_changes_roles_or_status() {
        let repo = FakeUsers::default();
        let a = repo.seed("a@example.com", Roles::only(Role::Customer));
        let promote = Patch {
            roles: Some(Roles::only(Role::Admin)),
            ..Patch::default()
        };
        let err = block_on(update(
            &repo,
            &me(a.id),
            a.id,
            &Precondition::Any,
            promote.clone(),
        ))
        .unwrap_err();
        assert!(matches!(err, UsersError::Forbidden(_)));
        assert_eq!(block_on(repo.find(a.id)).unwrap().unwrap().version, 1);
        let done = block_on(update(&repo, &admin(), a.id, &Precondition::Any, promote)).unwrap();
        assert!(done.roles.is_admin());
    }

    #[test]
    fn a_user_with_orders_is_not_deleted() {
        let repo = FakeUsers::default();
        let a = repo.seed("a@example.com", Roles::only(Role::Customer));
        repo.referenced.borrow_mut().push(a.id);
        let err = block_on(delete(&repo, &admin(), a.id, &Precondition::Any)).unwrap_err();
        assert!(matches!(err, UsersError::StillReferenced));
        assert!(block_on(repo.find(a.id)).unwrap().is_some());
    }

    #[test]
    fn pages_walk_forward_and_back_without_gaps() {
        let repo = FakeUsers::default();
        let all: Vec<User> = (0..5)
            .map(|i| repo.seed(&format!("u{i}@example.com"), Roles::only(Role::Customer)))
            .collect();
        let sort = SortOrder::CreatedAsc;
        let p1 = block_on(list(&repo, &admin(), None, sort, None, 2)).unwrap();
        assert_eq!(p1.items, all[0..2]);
        assert!(p1.prev.is_none());
        let p2 = block_on(list(
            &repo,
            &admin(),
            None,
            sort,
            Some((Direction::After, p1.next.unwrap())),
            2,
        ))
        .unwrap();
        assert_eq!(p2.items, all[2..4]);
        let p3 = block_on(list(
            &repo,
            &admin(),
            None,
            sort,
            Some((Direction::After, p2.next.unwrap())),
            2,
        ))
        .unwrap();
        assert_eq!(p3.items, all[4..5]);
        assert!(p3.next.is_none());
        let back = block_on(list(
            &repo,
            &admin(),
            None,
            sort,
            Some((Direction::Before, p3.prev.unwrap())),
            2,
        ))
        .unwrap();
        assert_eq!(back.items, all[2..4]);
        assert!(back.prev.is_some() && back.next.is_some());
        let newest =
            block_on(list(&repo, &admin(), None, SortOrder::CreatedDesc, None, 1)).unwrap();
        assert_eq!(newest.items, all[4..5]);
    }

    #[test]
    fn listing_needs_admin() {
        let repo = FakeUsers::default();
        let a = repo.seed("a@example.com", Roles::only(Role::Customer));
        let err = block_on(list(
            &repo,
            &me(a.id),
            None,
            SortOrder::CreatedAsc,
            None,
            10,
        ))
        .unwrap_err();
        assert!(matches!(err, UsersError::Forbidden(_)));
    }
}
