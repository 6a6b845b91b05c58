//! Routes: parse the request, call the service, map the result to a response.
//!
//! Every success carries `Cache-Control: private, no-store` (user data) and, for a
//! single user, a strong `ETag` and `_links`. No response carries a password hash.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use contract::Scope;
use domain::{
    AccountStatus, DisplayName, Email, Limit, Password, PasswordInput, Roles, UserId,
    ValidationError,
};
use edge_http::conditional::{ETag, EntityTagCondition, not_modified_for};
use edge_http::links::QueryString;
use edge_http::query::{QueryParams, QueryRules, query_pointer};
use edge_http::rate_limit::{RateLimitPolicy, RateLimiter, client_subject};
use edge_http::{
    APPLICATION_JSON, ApiError, FieldError, HandlerResult, Principal, RequestContext, SubjectKind,
    attach_log_cause, bytes_response, empty_response, json_response, negotiate,
    require_content_type, require_method,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use store::{BreakerStore, StoreError};

use crate::cursor::CursorCodec;
use crate::service::{
    self, Caller, Direction, Page, Patch, Position, Precondition, SortOrder, User, UserRepository,
    UsersError,
};

/// The collection route (register, admin list).
pub const COLLECTION_ROUTE: &str = "/api/v1/users";
/// The item route (`:id` or `me`).
pub const ITEM_ROUTE: &str = "/api/v1/users/:id";
/// What `/api/v1/users` supports.
pub const COLLECTION_METHODS: &[Method] = &[Method::GET, Method::POST];
/// What `/api/v1/users/{id}` supports.
pub const ITEM_METHODS: &[Method] = &[Method::GET, Method::PATCH, Method::DELETE];
/// JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
/// `Cache-Control` of every user representation.
pub const CACHE_CONTROL: &str = "private, no-store";
/// The registration limit's window.
pub const REGISTRATION_WINDOW_SECS: u64 = 3600;
/// Name of the per-caller policy of every route but registration
/// (`RateLimit-Policy: "api";q=…;w=60`).
pub const API_POLICY: &str = "api";

const PRODUCES: &[&str] = &["application/json"];
const JSON_ONLY: &[&str] = &["application/json"];
const MERGE_PATCH_ONLY: &[&str] = &[MERGE_PATCH_JSON];
const PATH_ID_HEADER: HeaderName = HeaderName::from_static("spin-path-match-id");
const REGISTER_FIELDS: &[&str] = &["email", "password", "display_name"];
const PATCH_FIELDS: &[&str] = &["display_name", "roles", "status"];
const LIST_RULES: QueryRules = QueryRules::new(&["limit", "cursor", "status", "sort"]);

/// Settings read from Spin variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prefix of every shared key-value key.
    pub kv_prefix: String,
    /// Registrations allowed per client address per hour.
    pub registrations_per_hour: u64,
    /// Requests per minute per caller on every other route (`rate_limit_per_minute`).
    pub rate_limit_per_minute: u64,
    /// Signs list cursors.
    pub cursors: CursorCodec,
}

/// What a request needs: storage, the shared counter store, settings and the time.
#[derive(Debug)]
pub struct Deps<'a, R, K> {
    /// The users.
    pub users: &'a R,
    /// The shared key-value store (rate-limit counters).
    pub kv: &'a K,
    /// Settings.
    pub config: &'a Config,
    /// Now, in seconds since the Unix epoch.
    pub now_secs: u64,
}

/// Is this the collection route (rather than an item)?
fn is_collection(request: &http::Request<Bytes>, context: &RequestContext) -> bool {
    let path = request.uri().path().trim_end_matches('/');
    let route = context.route();
    route == COLLECTION_ROUTE || (route != ITEM_ROUTE && path == COLLECTION_ROUTE)
}

/// Dispatches a users request. Registration has its own per-address policy
/// (`register`); every other request first passes the per-caller `api` policy
/// (`rate_limit_per_minute`; the caller is the token's client and subject, or the
/// client address without a token): each answer after the check carries the
/// `RateLimit-Policy` / `RateLimit` headers, a refusal is 429 + `Retry-After`.
pub async fn route<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    if request.method() == Method::POST && is_collection(&request, &context) {
        return dispatch(deps, request, context).await;
    }
    let policy = RateLimitPolicy::per_minute(API_POLICY, deps.config.rate_limit_per_minute);
    let subject = match context.principal() {
        Some(principal) => format!("{}:{}", principal.client_id, principal.subject),
        None => client_subject(request.headers()),
    };
    let decision = RateLimiter::new(deps.config.kv_prefix.as_str())
        .check(deps.kv, &policy, &subject, deps.now_secs)
        .await;
    decision.enforce()?;
    match dispatch(deps, request, context).await {
        Ok(mut response) => {
            decision.finish(&mut response);
            Ok(response)
        }
        Err(error) => Err(error.with_headers(decision.headers())),
    }
}

async fn dispatch<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    let path = request.uri().path().trim_end_matches('/');
    if is_collection(&request, &context) {
        require_method(request.method(), COLLECTION_METHODS)?;
        if request.method() == Method::POST {
            return register(deps, &request, &context).await;
        }
        return list(deps, &request, &context).await;
    }
    let id = request
        .headers()
        .get(PATH_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            path.strip_prefix("/api/v1/users/")
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(str::to_owned)
        });
    let Some(id) = id else {
        return Err(ApiError::not_found("No such resource."));
    };
    require_method(request.method(), ITEM_METHODS)?;
    let principal = authenticated(&context)?;
    let caller = caller_of(principal);
    let id = resolve_id(&id, principal)?;
    let scope = match *request.method() {
        Method::PATCH | Method::DELETE => Scope::UsersWrite,
        _ => Scope::UsersRead,
    };
    require_scope(principal, scope)?;
    match *request.method() {
        Method::PATCH => patch(deps, &request, &caller, id).await,
        Method::DELETE => remove(deps, &request, &caller, id).await,
        _ => read(deps, &request, &caller, id).await,
    }
}

// ------------------------------------------------------------------ who is asking

fn authenticated(context: &RequestContext) -> Result<&Principal, ApiError> {
    context.principal().ok_or_else(|| {
        ApiError::unauthorized_bearer("orderly", None, "This request needs a bearer token.")
    })
}

fn caller_of(principal: &Principal) -> Caller {
    Caller {
        user_id: principal.user_id().and_then(|s| UserId::parse(s).ok()),
        admin: principal.is_admin(),
    }
}

/// `me` is the caller's own id (a user token only); anything that is not a user id is
/// no resource.
fn resolve_id(raw: &str, principal: &Principal) -> Result<UserId, ApiError> {
    if raw == "me" {
        if principal.kind == SubjectKind::Client {
            return Err(ApiError::Forbidden {
                detail: "/api/v1/users/me names the signed-in user; a client credentials \
                         token has none."
                    .to_owned(),
            });
        }
        return UserId::parse(&principal.subject).map_err(|_| not_found());
    }
    UserId::parse(raw).map_err(|_| not_found())
}

fn require_scope(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    if principal.may(scope) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: format!("This request needs the {scope} scope."),
        })
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("No such user.")
}

// ------------------------------------------------------------------ routes

async fn register<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult {
    // Every attempt counts, valid or not, so the limit also caps enumeration probes.
    let policy = RateLimitPolicy::new(
        "register",
        deps.config.registrations_per_hour,
        REGISTRATION_WINDOW_SECS,
    );
    let decision = RateLimiter::new(deps.config.kv_prefix.as_str())
        .check(
            deps.kv,
            &policy,
            &client_subject(request.headers()),
            deps.now_secs,
        )
        .await;
    decision.enforce()?;
    let mut response = match register_inner(deps, request).await {
        Ok(response) => response,
        Err(error) => {
            let cause = error.log_cause();
            let mut response = error.to_response(context.request_id());
            if let Some(cause) = cause {
                attach_log_cause(&mut response, cause);
            }
            response
        }
    };
    decision.finish(&mut response);
    Ok(response)
}

async fn register_inner<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    require_content_type(request.headers(), JSON_ONLY)?;
    let body = json_object(request.body())?;
    let mut errors = unknown_fields(&body, REGISTER_FIELDS);
    let email = match required_string(&body, "email", &mut errors) {
        Some(raw) => Email::parse(raw)
            .map_err(|e| errors.push(rule_error("/email", &e)))
            .ok(),
        None => None,
    };
    let password = match required_string(&body, "password", &mut errors) {
        Some(raw) => match (PasswordInput::parse(raw.to_owned()), &email) {
            (Err(e), _) => {
                errors.push(rule_error("/password", &e));
                None
            }
            (Ok(input), Some(email)) => Password::new(input, email)
                .map_err(|e| errors.push(rule_error("/password", &e)))
                .ok(),
            // The email is invalid and already reported; the rest needs it.
            (Ok(_), None) => None,
        },
        None => None,
    };
    let display_name = match body.get("display_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => DisplayName::parse(raw)
            .map_err(|e| errors.push(rule_error("/display_name", &e)))
            .ok(),
        Some(_) => {
            errors.push(type_error("/display_name", "a string or null"));
            None
        }
    };
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let user = service::register(deps.users, email, password, display_name)
        .await
        .map_err(users_error)?;
    let mut response = user_response(StatusCode::CREATED, &user, None)?;
    let location = HeaderValue::from_str(&self_href(user.id)).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

async fn read<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    let user = service::get(deps.users, caller, id)
        .await
        .map_err(users_error)?;
    let response = user_response(StatusCode::OK, &user, Some(caller))?;
    Ok(not_modified_for(request.headers(), &response).unwrap_or(response))
}

async fn patch<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    require_content_type(request.headers(), MERGE_PATCH_ONLY)?;
    let patch = parse_patch(request.body())?;
    let precondition = if_match(request.headers(), id)?;
    let user = service::update(deps.users, caller, id, &precondition, patch)
        .await
        .map_err(users_error)?;
    user_response(StatusCode::OK, &user, Some(caller))
}

async fn remove<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    let precondition = if_match(request.headers(), id)?;
    service::delete(deps.users, caller, id, &precondition)
        .await
        .map_err(users_error)?;
    let mut response = empty_response(StatusCode::NO_CONTENT);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

async fn list<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult {
    let principal = authenticated(context)?;
    require_scope(principal, Scope::UsersRead)?;
    let caller = caller_of(principal);
    negotiate(request.headers(), PRODUCES)?;
    let query = ListQuery::parse(request.uri(), &deps.config.cursors)?;
    let page = service::list(
        deps.users,
        &caller,
        query.status,
        query.sort,
        query.from,
        query.limit.get(),
    )
    .await
    .map_err(users_error)?;
    let response = list_response(&page, &query, &caller, &deps.config.cursors)?;
    Ok(not_modified_for(request.headers(), &response).unwrap_or(response))
}

// ------------------------------------------------------------------ the list query

#[derive(Debug)]
struct ListQuery {
    limit: Limit,
    status: Option<AccountStatus>,
    sort: SortOrder,
    from: Option<(Direction, Position)>,
}

impl ListQuery {
    fn parse(uri: &http::Uri, cursors: &CursorCodec) -> Result<Self, ApiError> {
        let params = QueryParams::from_uri(uri, &LIST_RULES)?;
        let get = |name: &str| params.get(name);
        let mut errors = Vec::new();
        let limit = Limit::from_query(get("limit"))
            .map_err(|e| errors.push(rule_error(&query_pointer("limit"), &e)))
            .unwrap_or_default();
        let status = match get("status") {
            None => None,
            Some(raw) => AccountStatus::parse(raw)
                .map_err(|e| errors.push(rule_error(&query_pointer("status"), &e)))
                .ok(),
        };
        let sort = match get("sort") {
            None => SortOrder::CreatedDesc,
            Some(raw) => SortOrder::parse(raw).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    query_pointer("sort"),
                    "unsupported_sort",
                    "Sort by created_at or -created_at.",
                ));
                SortOrder::CreatedDesc
            }),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let from = match get("cursor") {
            None => None,
            Some(raw) => Some(cursors.decode(raw, sort, status).map_err(|_| {
                ApiError::validation(vec![FieldError::new(
                    query_pointer("cursor"),
                    "invalid_cursor",
                    "The cursor is not one this list handed out (for this sort and filter).",
                )])
            })?),
        };
        Ok(Self {
            limit,
            status,
            sort,
            from,
        })
    }

    /// The canonical query string for a link, with `cursor` if given.
    fn href(&self, cursor: Option<&str>) -> String {
        QueryString::new()
            .with("limit", self.limit.get().to_string())
            .with("sort", self.sort.as_str())
            .with_optional("status", self.status.map(AccountStatus::as_str))
            .with_optional("cursor", cursor)
            .href(COLLECTION_ROUTE)
    }
}

fn list_response(
    page: &Page,
    query: &ListQuery,
    caller: &Caller,
    cursors: &CursorCodec,
) -> HandlerResult {
    let encode = |direction, position| {
        cursors
            .encode(direction, position, query.sort, query.status)
            .map_err(|_| ApiError::internal("cursor key unusable"))
    };
    let mut links = Map::new();
    let self_cursor = match query.from {
        Some((direction, position)) => Some(encode(direction, position)?),
        None => None,
    };
    links.insert(
        "self".into(),
        json!({ "href": query.href(self_cursor.as_deref()) }),
    );
    if let Some(next) = page.next {
        let cursor = encode(Direction::After, next)?;
        links.insert("next".into(), json!({ "href": query.href(Some(&cursor)) }));
    }
    if let Some(prev) = page.prev {
        let cursor = encode(Direction::Before, prev)?;
        links.insert("prev".into(), json!({ "href": query.href(Some(&cursor)) }));
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|user| user_view(user, Some(caller)))
        .collect();
    let body = serde_json::to_vec(&json!({ "items": items, "_links": Value::Object(links) }))
        .map_err(ApiError::internal)?;
    let etag = ETag::from_bytes(&body);
    let mut response = bytes_response(StatusCode::OK, APPLICATION_JSON, Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

// ------------------------------------------------------------------ bodies

fn json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("The body must be a JSON object.")),
        Err(_) => Err(ApiError::bad_request("The body is not valid JSON.")),
    }
}

/// Every field the route does not accept, by pointer (OWASP API3: `roles`, `status`,
/// `id` … cannot be smuggled in).
fn unknown_fields(body: &Map<String, Value>, allowed: &[&str]) -> Vec<FieldError> {
    body.keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| {
            FieldError::new(
                format!("/{}", pointer_escape(key)),
                "unknown_field",
                format!("Accepted fields: {}.", allowed.join(", ")),
            )
        })
        .collect()
}

/// RFC 6901 escaping, capped so a huge key does not travel back whole.
fn pointer_escape(key: &str) -> String {
    key.chars()
        .take(64)
        .collect::<String>()
        .replace('~', "~0")
        .replace('/', "~1")
}

fn required_string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match body.get(field) {
        Some(Value::String(value)) => Some(value),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(
                format!("/{field}"),
                "required",
                format!("{field} is required."),
            ));
            None
        }
        Some(_) => {
            errors.push(type_error(&format!("/{field}"), "a string"));
            None
        }
    }
}

fn rule_error(pointer: &str, error: &dyn ValidationError) -> FieldError {
    FieldError::new(pointer, error.code(), error.to_string())
}

fn type_error(pointer: &str, expected: &str) -> FieldError {
    FieldError::new(pointer, "invalid_type", format!("Must be {expected}."))
}

/// A JSON Merge Patch (RFC 7396) of `display_name`, `roles` and `status`.
fn parse_patch(body: &Bytes) -> Result<Patch, ApiError> {
    let body = json_object(body)?;
    let mut errors = unknown_fields(&body, PATCH_FIELDS);
    let mut patch = Patch::default();
    match body.get("display_name") {
        None => {}
        Some(Value::Null) => patch.display_name = Some(None),
        Some(Value::String(raw)) => match DisplayName::parse(raw) {
            Ok(name) => patch.display_name = Some(Some(name)),
            Err(e) => errors.push(rule_error("/display_name", &e)),
        },
        Some(_) => errors.push(type_error("/display_name", "a string or null")),
    }
    match body.get("roles") {
        None => {}
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            match names.map(Roles::try_from) {
                Some(Ok(roles)) if !roles.is_empty() => patch.roles = Some(roles),
                Some(Ok(_)) => errors.push(FieldError::new(
                    "/roles",
                    "empty",
                    "A user needs at least one role.",
                )),
                Some(Err(e)) => errors.push(rule_error("/roles", &e)),
                None => errors.push(type_error("/roles", "an array of role names")),
            }
        }
        Some(_) => errors.push(type_error("/roles", "an array of role names")),
    }
    match body.get("status") {
        None => {}
        Some(Value::String(raw)) => match AccountStatus::parse(raw) {
            Ok(status) => patch.status = Some(status),
            Err(e) => errors.push(rule_error("/status", &e)),
        },
        Some(_) => errors.push(type_error("/status", "\"active\" or \"disabled\"")),
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(ApiError::validation(errors))
    }
}

// ------------------------------------------------------------------ representations

fn self_href(id: UserId) -> String {
    format!("{COLLECTION_ROUTE}/{id}")
}

fn rfc3339(micros: i64) -> String {
    let micros = u64::try_from(micros).unwrap_or(0);
    edge_http::log_line::format_rfc3339_millis(UNIX_EPOCH + Duration::from_micros(micros))
}

/// The public view of a user with the links `caller` may follow (no caller: just
/// registered, anonymous).
fn user_view(user: &User, caller: Option<&Caller>) -> Value {
    let href = self_href(user.id);
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": href }));
    if let Some(caller) = caller {
        links.insert("update".into(), json!({ "href": href, "method": "PATCH" }));
        links.insert("delete".into(), json!({ "href": href, "method": "DELETE" }));
        links.insert("orders".into(), json!({ "href": format!("{href}/orders") }));
        if caller.admin {
            links.insert("collection".into(), json!({ "href": COLLECTION_ROUTE }));
        }
    }
    let roles: Vec<&'static str> = user.roles.into();
    json!({
        "id": user.id.to_string(),
        "email": user.email,
        "display_name": user.display_name,
        "roles": roles,
        "status": user.status.as_str(),
        "version": user.version,
        "created_at": rfc3339(user.created_at_micros),
        "updated_at": rfc3339(user.updated_at_micros),
        "_links": Value::Object(links),
    })
}

fn user_response(status: StatusCode, user: &User, caller: Option<&Caller>) -> HandlerResult {
    let mut response = json_response(status, &user_view(user, caller))?;
    set_user_headers(response.headers_mut(), &etag_of(user))?;
    Ok(response)
}

fn set_user_headers(headers: &mut HeaderMap, etag: &ETag) -> Result<(), ApiError> {
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(())
}

// ------------------------------------------------------------------ entity tags

/// The strong entity tag of version `version` of user `id` (`edge_http::conditional`:
/// a hash of both, so it changes with every write and names no other user's state; the
/// edge's compression suffix is ignored when comparing).
pub fn etag_for(id: UserId, version: u32) -> ETag {
    ETag::from_version(id, u64::from(version))
}

fn etag_of(user: &User) -> ETag {
    etag_for(user.id, user.version)
}

/// `If-Match` (strong comparison, RFC 9110 §13.1.1) as a test of `id`'s versions; a
/// malformed header is a 412.
fn if_match(headers: &HeaderMap, id: UserId) -> Result<Precondition<'static>, ApiError> {
    match EntityTagCondition::from_headers(headers, header::IF_MATCH) {
        Ok(None) => Ok(Precondition::Missing),
        Ok(Some(EntityTagCondition::Any)) => Ok(Precondition::Any),
        Ok(Some(condition)) => Ok(Precondition::Matching(Box::new(move |version| {
            condition.matches_strong(&etag_for(id, version))
        }))),
        Err(_) => Err(ApiError::PreconditionFailed {
            detail: "If-Match is not a valid list of entity tags.".to_owned(),
        }),
    }
}

// ------------------------------------------------------------------ errors

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Unavailable { retry_after_secs } => ApiError::ServiceUnavailable {
            retry_after_secs: u64::from(retry_after_secs),
        },
        StoreError::Transient { .. } | StoreError::Timeout { .. } => ApiError::ServiceUnavailable {
            retry_after_secs: 1,
        },
        other => ApiError::internal(other),
    }
}

fn users_error(error: UsersError) -> ApiError {
    match error {
        UsersError::EmailUnavailable => ApiError::Conflict {
            detail: "This email address cannot be used.".to_owned(),
        },
        UsersError::NotFound => not_found(),
        UsersError::Forbidden(detail) => ApiError::Forbidden {
            detail: detail.to_owned(),
        },
        UsersError::PreconditionRequired => ApiError::PreconditionRequired {
            detail: "Send If-Match with the user's current ETag.".to_owned(),
        },
        UsersError::PreconditionFailed => ApiError::PreconditionFailed {
            detail: "The user has changed since that ETag; read it again.".to_owned(),
        },
        UsersError::StillReferenced => ApiError::Conflict {
            detail: "This user has orders and cannot be deleted; disable the account \
                     instead (PATCH status to \"disabled\")."
                .to_owned(),
        },
        UsersError::Hashing => ApiError::internal("password hashing failed"),
        UsersError::Store(e) => store_error(e),
    }
}

/// Now, in seconds since the Unix epoch (the wall clock).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::fakes::FakeUsers;
    use domain::Role;
    use edge_http::{EdgeConfig, Handled, InternalHeaders, handle};
    use futures::executor::block_on;
    use http_body_util::{BodyExt, Full};
    use store::testing::FakeKv;

    static EDGE: EdgeConfig =
        EdgeConfig::new("users").with_internal_headers(InternalHeaders::TrustMiddleware);

    const NOW: u64 = 1_795_000_000;

    fn config(limit: u64) -> Config {
        Config {
            kv_prefix: "t1".to_owned(),
            registrations_per_hour: limit,
            rate_limit_per_minute: limit,
            cursors: CursorCodec::new(b"0123456789abcdef0123456789abcdef"),
        }
    }

    struct Call<'a> {
        method: Method,
        uri: String,
        route: &'a str,
        headers: Vec<(&'a str, String)>,
        body: String,
    }

    impl<'a> Call<'a> {
        fn new(method: Method, uri: impl Into<String>, route: &'a str) -> Self {
            Self {
                method,
                uri: uri.into(),
                route,
                headers: Vec::new(),
                body: String::new(),
            }
        }

        fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
            self.headers.push((name, value.into()));
            self
        }

        fn principal(self, principal: &Principal) -> Self {
            let mut headers = HeaderMap::new();
            principal.write_headers(&mut headers).unwrap();
            let mut call = self;
            for (name, value) in &headers {
                call.headers.push((
                    Box::leak(name.as_str().to_owned().into_boxed_str()),
                    value.to_str().unwrap().to_owned(),
                ));
            }
            call
        }

        fn json(mut self, content_type: &'a str, body: Value) -> Self {
            self.headers.push(("content-type", content_type.to_owned()));
            self.body = body.to_string();
            self
        }

        fn run(self, users: &FakeUsers, kv: &FakeKv, config: &Config) -> Handled {
            let mut builder = http::Request::builder()
                .method(self.method)
                .uri(&self.uri)
                .header("spin-matched-route", self.route)
                .header("spin-client-addr", "203.0.113.9:50000");
            for (name, value) in &self.headers {
                builder = builder.header(*name, value);
            }
            let request = builder.body(Full::new(Bytes::from(self.body))).unwrap();
            let deps = Deps {
                users,
                kv,
                config,
                now_secs: NOW,
            };
            block_on(handle(&EDGE, request, |req, ctx| route(&deps, req, ctx)))
        }
    }

    fn body(handled: Handled) -> Value {
        let bytes = block_on(handled.response.into_body().collect())
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn user_principal(id: UserId, scopes: &str) -> Principal {
        Principal {
            subject: id.to_string(),
            kind: SubjectKind::User,
            client_id: "orderly-web".into(),
            scopes: scopes.split(' ').map(str::to_owned).collect(),
            token_id: "jti".into(),
        }
    }

    fn registration(email: &str) -> Call<'static> {
        Call::new(Method::POST, COLLECTION_ROUTE, COLLECTION_ROUTE).json(
            "application/json",
            json!({"email": email, "password": "violet tram sings loud"}),
        )
    }

    #[test]
    fn the_registration_limit_counts_per_address_in_the_prefixed_window() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(2));
        let first = registration("a@example.com").run(&users, &kv, &config);
        assert_eq!(first.response.status(), StatusCode::CREATED);
        assert_eq!(
            first.response.headers()["ratelimit-policy"],
            "\"register\";q=2;w=3600"
        );
        let reset = 3600 - NOW % 3600;
        assert_eq!(
            first.response.headers()["ratelimit"],
            format!("\"register\";r=1;t={reset}").as_str()
        );
        let window = NOW / 3600;
        assert_eq!(kv.keys(), [format!("t1:rl:register:203.0.113.9:{window}")]);
        // Invalid attempts count too.
        let bad = registration("not-an-email").run(&users, &kv, &config);
        assert_eq!(bad.response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.response.headers()["ratelimit"],
            format!("\"register\";r=0;t={reset}").as_str()
        );
        let limited = registration("b@example.com").run(&users, &kv, &config);
        assert_eq!(limited.response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            limited.response.headers()["retry-after"],
            reset.to_string().as_str()
        );
        assert_eq!(users.rows.borrow().len(), 1);
    }

    #[test]
    fn a_failing_counter_store_lets_registration_through_and_logs_why() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(1));
        kv.set_failing(true);
        let handled = registration("a@example.com").run(&users, &kv, &config);
        assert_eq!(handled.response.status(), StatusCode::CREATED);
        let cause = handled.log.error.unwrap_or_default();
        assert!(cause.contains("rate limit not enforced"), "{cause}");
    }

    #[test]
    fn item_routes_without_a_principal_are_401_with_a_bearer_challenge() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(5));
        let handled = Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
            .header("spin-path-match-id", "me")
            .run(&users, &kv, &config);
        assert_eq!(handled.response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            handled.response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }

    fn me(users: &FakeUsers, principal: &Principal, kv: &FakeKv, config: &Config) -> Handled {
        Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
            .header("spin-path-match-id", "me")
            .principal(principal)
            .run(users, kv, config)
    }

    #[test]
    fn item_reads_count_per_client_and_subject_then_429_with_retry_after() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(2));
        let alice = users.seed("a@example.com", Roles::only(Role::Customer));
        let bob = users.seed("b@example.com", Roles::only(Role::Customer));
        let principal = user_principal(alice.id, "users:read");
        let reset = 60 - NOW % 60;
        for remaining in [1, 0] {
            let handled = me(&users, &principal, &kv, &config);
            assert_eq!(handled.response.status(), StatusCode::OK);
            let headers = handled.response.headers();
            assert_eq!(headers["ratelimit-policy"], "\"api\";q=2;w=60");
            assert_eq!(
                headers["ratelimit"],
                format!("\"api\";r={remaining};t={reset}").as_str()
            );
        }
        let limited = me(&users, &principal, &kv, &config);
        assert_eq!(limited.response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            limited.response.headers()["retry-after"],
            reset.to_string().as_str()
        );
        assert_eq!(
            limited.response.headers()["ratelimit"],
            format!("\"api\";r=0;t={reset}").as_str()
        );
        let window = NOW / 60;
        let policy = RateLimitPolicy::per_minute(API_POLICY, 2);
        let key = RateLimiter::new("t1").key(&policy, &format!("orderly-web:{}", alice.id), window);
        assert_eq!(kv.keys(), [key]);
        // Another user of the same client has a quota of their own.
        let other = me(&users, &user_principal(bob.id, "users:read"), &kv, &config);
        assert_eq!(other.response.status(), StatusCode::OK);
    }

    #[test]
    fn errors_carry_the_rate_limit_headers_and_anonymous_callers_count_per_address() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(1));
        let anonymous = || {
            Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
                .header("spin-path-match-id", "me")
                .run(&users, &kv, &config)
        };
        let first = anonymous();
        assert_eq!(first.response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            first.response.headers()["ratelimit-policy"],
            "\"api\";q=1;w=60"
        );
        assert!(first.response.headers().contains_key("ratelimit"));
        let window = NOW / 60;
        assert_eq!(kv.keys(), [format!("t1:rl:api:203.0.113.9:{window}")]);
        assert_eq!(anonymous().response.status(), StatusCode::TOO_MANY_REQUESTS);
        // Registration keeps its own per-address policy.
        let registered = registration("a@example.com").run(&users, &kv, &config);
        assert_eq!(registered.response.status(), StatusCode::CREATED);
        assert_eq!(
            registered.response.headers()["ratelimit-policy"],
            "\"register\";q=1;w=3600"
        );
    }

    #[test]
    fn the_admin_list_has_a_strong_etag_and_answers_304_to_it() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(10));
        let admin = users.seed("admin@example.com", Roles::only(Role::Admin));
        users.seed("c@example.com", Roles::only(Role::Customer));
        let principal = user_principal(admin.id, "users:read admin");
        let list = |etag: Option<&str>| {
            let mut call = Call::new(Method::GET, "/api/v1/users", COLLECTION_ROUTE);
            if let Some(etag) = etag {
                call = call.header("if-none-match", etag.to_owned());
            }
            call.principal(&principal).run(&users, &kv, &config)
        };
        let first = list(None);
        assert_eq!(first.response.status(), StatusCode::OK);
        let etag = first.response.headers()["etag"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(etag.starts_with('"'), "strong: {etag}");
        assert!(first.response.headers().contains_key("ratelimit"));
        let page = body(first);
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let again = list(Some(&etag));
        assert_eq!(again.response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.response.headers()["etag"], etag.as_str());
        assert_eq!(again.response.headers()["cache-control"], CACHE_CONTROL);
        assert!(again.response.headers().contains_key("ratelimit"));
        users.seed("d@example.com", Roles::only(Role::Customer));
        let changed = list(Some(&etag));
        assert_eq!(changed.response.status(), StatusCode::OK);
        assert_ne!(changed.response.headers()["etag"], etag.as_str());
    }

    #[test]
    fn a_token_without_users_read_is_403_even_for_its_own_account() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(5));
        let me = users.seed("a@example.com", Roles::only(Role::Customer));
        let handled = Call::new(Method::GET, format!("/api/v1/users/{}", me.id), ITEM_ROUTE)
            .header("spin-path-match-id", me.id.to_string())
            .principal(&user_principal(me.id, "orders:read"))
            .run(&users, &kv, &config);
        assert_eq!(handled.response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn if_match_is_strong_and_bound_to_the_user() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let holds = |headers: &HeaderMap, id: UserId, version: u32| match if_match(headers, id) {
            Ok(Precondition::Matching(test)) => Some(test(version)),
            Ok(Precondition::Any) => Some(true),
            Ok(Precondition::Missing) => None,
            Err(e) => panic!("{e:?}"),
        };
        let mut headers = HeaderMap::new();
        assert_eq!(holds(&headers, a, 3), None);
        let tag = etag_for(a, 3).to_string();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert_eq!(holds(&headers, a, 3), Some(true));
        assert_eq!(holds(&headers, a, 4), Some(false));
        assert_eq!(holds(&headers, b, 3), Some(false));
        // The tag as the edge's gzip sent it still matches.
        let gzip = format!("{}-gzip\"", tag.trim_end_matches('"'));
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&gzip).unwrap());
        assert_eq!(holds(&headers, a, 3), Some(true));
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(&format!("W/{tag}")).unwrap(),
        );
        assert_eq!(holds(&headers, a, 3), Some(false));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(holds(&headers, a, 3), Some(true));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("nonsense"));
        assert!(if_match(&headers, a).is_err());
    }

    #[test]
    fn patch_bodies_are_checked_field_by_field() {
        let err = parse_patch(&Bytes::from(
            r#"{"display_name": 5, "roles": [], "status": "gone", "email": "x@y.z"}"#,
        ))
        .unwrap_err();
        let ApiError::BadRequest { errors, .. } = err else {
            panic!("{err:?}")
        };
        let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(pointers, ["/display_name", "/email", "/roles", "/status"]);
        let patch = parse_patch(&Bytes::from(r#"{"display_name": null}"#)).unwrap();
        assert_eq!(patch.display_name, Some(None));
    }

    #[test]
    fn user_views_never_carry_the_password_hash() {
        let (users, kv, config) = (FakeUsers::default(), FakeKv::default(), config(5));
        let handled = registration("a@example.com").run(&users, &kv, &config);
        let location = handled.response.headers()["location"]
            .to_str()
            .unwrap()
            .to_owned();
        let view = body(handled);
        assert_eq!(
            location,
            format!("/api/v1/users/{}", view["id"].as_str().unwrap())
        );
        let text = view.to_string();
        assert!(
            !text.contains("argon2") && !text.contains("password"),
            "{text}"
        );
    }
}
