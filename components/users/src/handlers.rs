//! Routes: parse the request, call the service, map the result to a response.
//!
//! Every success carries `Cache-Control: private, no-store` (user data) and, for a
//! single user, a strong `ETag` and `_links`. No response carries a password hash.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use domain::{
    AccountStatus, DisplayName, Email, Limit, Password, PasswordInput, Roles, UserId,
    ValidationError,
};
use edge_http::{
    ApiError, EdgeResponse, FieldError, HandlerResult, Principal, RequestContext, SubjectKind,
    attach_log_cause, empty_response, json_response, negotiate, require_content_type,
    require_method,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
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

const PRODUCES: &[&str] = &["application/json"];
const JSON_ONLY: &[&str] = &["application/json"];
const MERGE_PATCH_ONLY: &[&str] = &[MERGE_PATCH_JSON];
const PATH_ID_HEADER: HeaderName = HeaderName::from_static("spin-path-match-id");
const CLIENT_ADDR_HEADER: HeaderName = HeaderName::from_static("spin-client-addr");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const REGISTER_FIELDS: &[&str] = &["email", "password", "display_name"];
const PATCH_FIELDS: &[&str] = &["display_name", "roles", "status"];
const LIST_PARAMS: &[&str] = &["limit", "cursor", "status", "sort"];

/// Settings read from Spin variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prefix of every shared key-value key.
    pub kv_prefix: String,
    /// Registrations allowed per client address per hour.
    pub registrations_per_hour: u64,
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

/// Dispatches a users request.
pub async fn route<R: UserRepository, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult {
    let path = request.uri().path().trim_end_matches('/');
    let route = context.route();
    if route == COLLECTION_ROUTE || (route != ITEM_ROUTE && path == COLLECTION_ROUTE) {
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
        Method::PATCH | Method::DELETE => "users:write",
        _ => "users:read",
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

fn require_scope(principal: &Principal, scope: &str) -> Result<(), ApiError> {
    if principal.is_admin() || principal.has_scope(scope) {
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
    let mut limit = registration_limit(deps, request.headers()).await;
    if limit.exceeded() {
        let error = ApiError::TooManyRequests {
            retry_after_secs: limit.reset_secs,
        };
        let response = error.to_response(context.request_id());
        return Ok(with_limit_headers(response, &limit));
    }
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
    if let Some(cause) = limit.kv_failure.take() {
        attach_log_cause(&mut response, cause);
    }
    Ok(with_limit_headers(response, &limit))
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
    let etag = etag_of(&user);
    if if_none_match(request.headers(), &etag) {
        let mut response = empty_response(StatusCode::NOT_MODIFIED);
        set_user_headers(response.headers_mut(), &etag)?;
        return Ok(response);
    }
    user_response(StatusCode::OK, &user, Some(caller))
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
    let precondition = if_match(request.headers(), id);
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
    let precondition = if_match(request.headers(), id);
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
    require_scope(principal, "users:read")?;
    let caller = caller_of(principal);
    negotiate(request.headers(), PRODUCES)?;
    let query = ListQuery::parse(request.uri().query().unwrap_or(""), &deps.config.cursors)?;
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
    list_response(&page, &query, &caller, &deps.config.cursors)
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
    fn parse(raw: &str, cursors: &CursorCodec) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| ApiError::bad_request("The query string is malformed."))?;
        let mut errors = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in &pairs {
            if !LIST_PARAMS.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    format!("query/{}", truncate_name(name)),
                    "unknown_parameter",
                    format!("Supported parameters: {}.", LIST_PARAMS.join(", ")),
                ));
            } else if seen.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    format!("query/{name}"),
                    "repeated_parameter",
                    "Give this parameter once.",
                ));
            } else {
                seen.push(name);
            }
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let limit = Limit::from_query(get("limit"))
            .map_err(|e| errors.push(rule_error("query/limit", &e)))
            .unwrap_or_default();
        let status = match get("status") {
            None => None,
            Some(raw) => AccountStatus::parse(raw)
                .map_err(|e| errors.push(rule_error("query/status", &e)))
                .ok(),
        };
        let sort = match get("sort") {
            None => SortOrder::CreatedDesc,
            Some(raw) => SortOrder::parse(raw).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "query/sort",
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
                    "query/cursor",
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
        let mut pairs: Vec<(&str, String)> = vec![("limit", self.limit.get().to_string())];
        pairs.push(("sort", self.sort.as_str().to_owned()));
        if let Some(status) = self.status {
            pairs.push(("status", status.as_str().to_owned()));
        }
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_owned()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{COLLECTION_ROUTE}?{query}")
    }
}

fn truncate_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
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
    let mut response = json_response(
        StatusCode::OK,
        &json!({ "items": items, "_links": Value::Object(links) }),
    )?;
    response.headers_mut().insert(
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

fn set_user_headers(headers: &mut HeaderMap, etag: &str) -> Result<(), ApiError> {
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).map_err(ApiError::internal)?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(())
}

// ------------------------------------------------------------------ entity tags

/// A strong entity tag from the id and version: `"<version>-<16 hex of SHA-256>"`.
/// It changes with every write and names no other user's state.
pub fn etag_for(id: UserId, version: u32) -> String {
    let digest = Sha256::digest(format!("{id}:{version}").as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{version}-{hex}\"")
}

fn etag_of(user: &User) -> String {
    etag_for(user.id, user.version)
}

fn header_list(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    headers.contains_key(&name).then_some(values)
}

/// `If-Match` (strong comparison, RFC 9110 §13.1.1) as the versions it names for `id`.
fn if_match(headers: &HeaderMap, id: UserId) -> Precondition {
    let Some(tags) = header_list(headers, header::IF_MATCH) else {
        return Precondition::Missing;
    };
    if tags.is_empty() {
        return Precondition::Missing;
    }
    if tags.iter().any(|t| t == "*") {
        return Precondition::Any;
    }
    let versions = tags
        .iter()
        .filter(|t| !t.starts_with("W/"))
        .filter_map(|t| {
            let version = t.trim_matches('"').split_once('-')?.0.parse::<u32>().ok()?;
            (etag_for(id, version) == *t).then_some(version)
        })
        .collect();
    Precondition::Versions(versions)
}

/// `If-None-Match` (weak comparison, RFC 9110 §13.1.2): whether to answer 304.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    header_list(headers, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
    })
}

// ------------------------------------------------------------------ rate limit

#[derive(Debug)]
struct RegistrationLimit {
    limit: u64,
    count: u64,
    reset_secs: u64,
    kv_failure: Option<String>,
}

impl RegistrationLimit {
    fn exceeded(&self) -> bool {
        self.count > self.limit
    }
}

fn client_ip(headers: &HeaderMap) -> String {
    let raw = headers
        .get(CLIENT_ADDR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    raw.parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(|ip| ip.to_string()))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Counts this attempt in the client address's fixed one-hour window, in the shared
/// store (`{kv_prefix}:rl:register:<ip>:<window>`), so every host enforces one limit.
/// When the store fails the request passes (the failure goes to the log line).
async fn registration_limit<R, K: BreakerStore>(
    deps: &Deps<'_, R, K>,
    headers: &HeaderMap,
) -> RegistrationLimit {
    let window = deps.now_secs / REGISTRATION_WINDOW_SECS;
    let reset_secs = ((window + 1) * REGISTRATION_WINDOW_SECS).saturating_sub(deps.now_secs);
    let key = format!(
        "{}:rl:register:{}:{window}",
        deps.config.kv_prefix,
        client_ip(headers)
    );
    let (count, kv_failure) = match deps.kv.increment(&key, 1).await {
        Ok(count) => (u64::try_from(count).unwrap_or(0), None),
        Err(e) => (
            0,
            Some(format!("registration rate limit not enforced: {e}")),
        ),
    };
    RegistrationLimit {
        limit: deps.config.registrations_per_hour,
        count,
        reset_secs: reset_secs.max(1),
        kv_failure,
    }
}

fn with_limit_headers(mut response: EdgeResponse, limit: &RegistrationLimit) -> EdgeResponse {
    let remaining = limit.limit.saturating_sub(limit.count);
    let policy = format!(
        "\"register\";q={};w={REGISTRATION_WINDOW_SECS}",
        limit.limit
    );
    let state = format!("\"register\";r={remaining};t={}", limit.reset_secs);
    if let (Ok(policy), Ok(state)) = (
        HeaderValue::from_str(&policy),
        HeaderValue::from_str(&state),
    ) {
        response.headers_mut().insert(RATELIMIT_POLICY, policy);
        response.headers_mut().insert(RATELIMIT, state);
    }
    response
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
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers, a), Precondition::Missing);
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(&etag_for(a, 3)).unwrap(),
        );
        assert_eq!(if_match(&headers, a), Precondition::Versions(vec![3]));
        assert_eq!(if_match(&headers, b), Precondition::Versions(vec![]));
        let weak = format!("W/{}", etag_for(a, 3));
        headers.insert(header::IF_MATCH, HeaderValue::from_str(&weak).unwrap());
        assert_eq!(if_match(&headers, a), Precondition::Versions(vec![]));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&headers, a), Precondition::Any);
        assert!(if_none_match(
            &{
                let mut h = HeaderMap::new();
                h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&weak).unwrap());
                h
            },
            &etag_for(a, 3)
        ));
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
