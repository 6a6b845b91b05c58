//! Routes: parse path, query, headers and body; call the service; map the result to a
//! response. No SQL and no business rules here.

use bytes::Bytes;
use contract::Scope;
use domain::{
    AllowListed, FieldSelection, Limit, OrderId, OrderStatus, ProductId, Quantity, UserId,
    ValidationError,
};
use edge_http::conditional::{ETag, check_if_none_match, require_if_match};
use edge_http::query::{QueryParams, QueryRules, query_pointer};
use edge_http::rate_limit::{Counter, RateLimitPolicy, RateLimiter};
use edge_http::{
    APPLICATION_JSON, ApiError, FieldError, HandlerResult, Principal, RequestContext,
    attach_log_cause, bytes_response, negotiate, require_content_type, require_method,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use store::{BreakerStore, Clock, Random, Sleeper, StoreError, Transactional};

use crate::cursor::{self, CursorScope};
use crate::model::{Caller, IdempotencyScope, ListQuery, ListSort, MAX_LINES, Order, OrderLine};
use crate::repository::Repository;
use crate::service::{
    IN_PROGRESS_RETRY_AFTER_SECS, OrderError, OrdersService, Placement, allowed_transitions,
};

/// The collection route as `spin.toml` declares it.
pub const COLLECTION_ROUTE: &str = "/api/v1/users/:id/orders";
/// The item route as `spin.toml` declares it.
pub const ITEM_ROUTE: &str = "/api/v1/orders/:id";
/// The header Spin fills with the `:id` path segment.
pub const PATH_ID_HEADER: &str = "spin-path-match-id";
/// The idempotency key header (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

const PRODUCES: &[&str] = &[APPLICATION_JSON];
const CONSUMES_JSON: &[&str] = &[APPLICATION_JSON];
const CONSUMES_PATCH: &[&str] = &[MERGE_PATCH_JSON, APPLICATION_JSON];
const COLLECTION_METHODS: &[Method] = &[Method::GET, Method::POST];
const ITEM_METHODS: &[Method] = &[Method::GET, Method::PATCH];
const USER_DATA_CACHE: &str = "private, no-cache";
/// The list's query parameters (unknown, repeated, oversized or badly encoded → 400).
const LIST_QUERY: QueryRules = QueryRules::new(&["limit", "cursor", "status", "sort", "fields"]);
/// An order takes no query parameters.
const NO_QUERY: QueryRules = QueryRules::new(&[]);
const REALM: &str = "orderly";

/// Name of the per-caller rate-limit policy (`RateLimit-Policy: "orders";q=…;w=60`).
pub const RATE_LIMIT_POLICY: &str = "orders";

/// What the handlers need: the repository, a sleeper for idempotency waits, the wall
/// clock, the cursor signing key and the rate limiter's counter and quota.
pub struct Deps<D, K, E, S, C> {
    /// The orders repository.
    pub repo: Repository<D, K, E>,
    /// Paces waits for a duplicate request's first answer.
    pub sleeper: S,
    /// Microseconds since the Unix epoch.
    pub now_micros: fn() -> i64,
    /// The HMAC key of list cursors (variable `cursor_key`).
    pub cursor_key: Vec<u8>,
    /// Where rate-limit counters live (the shared key-value store).
    pub counter: C,
    /// Counts under the app's `kv_prefix`.
    pub limiter: RateLimiter,
    /// Requests per minute per caller (variable `rate_limit_per_minute`).
    pub rate_limit_per_minute: u64,
}

/// Dispatches a request to the collection or item route, after the method, `Accept`,
/// the caller's token and scope, and the caller's rate limit (per OAuth client and
/// subject, `rate_limit_per_minute`; every answer after the check carries the
/// `RateLimit-Policy` / `RateLimit` headers, a refusal is 429 + `Retry-After`).
pub async fn route<D, K, E, S, C>(
    deps: &Deps<D, K, E, S, C>,
    request: http::Request<Bytes>,
    context: RequestContext,
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
    C: Counter,
{
    let route = context.route().to_owned();
    let (allowed, collection) = match route.as_str() {
        COLLECTION_ROUTE => (COLLECTION_METHODS, true),
        ITEM_ROUTE => (ITEM_METHODS, false),
        _ => return Err(ApiError::not_found("No such resource.")),
    };
    require_method(request.method(), allowed)?;
    negotiate(request.headers(), PRODUCES)?;
    let principal = context.principal().ok_or_else(|| {
        ApiError::unauthorized_bearer(REALM, None, "A bearer access token is required.")
    })?;
    let write = !matches!(*request.method(), Method::GET | Method::HEAD);
    require_scope(
        principal,
        if write {
            Scope::OrdersWrite
        } else {
            Scope::OrdersRead
        },
    )?;
    let policy = RateLimitPolicy::per_minute(RATE_LIMIT_POLICY, deps.rate_limit_per_minute);
    let caller_key = format!("{}:{}", principal.client_id, principal.subject);
    let now_secs = u64::try_from((deps.now_micros)() / 1_000_000).unwrap_or(0);
    let decision = deps
        .limiter
        .check(&deps.counter, &policy, &caller_key, now_secs)
        .await;
    decision.enforce()?;
    match dispatch(deps, collection, write, request, &context).await {
        Ok(mut response) => {
            decision.finish(&mut response);
            Ok(response)
        }
        Err(error) => Err(error.with_headers(decision.headers())),
    }
}

async fn dispatch<D, K, E, S, C>(
    deps: &Deps<D, K, E, S, C>,
    collection: bool,
    write: bool,
    request: http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
{
    let Some(principal) = context.principal() else {
        return Err(ApiError::unauthorized_bearer(
            REALM,
            None,
            "A bearer access token is required.",
        ));
    };
    let caller = caller_of(principal);
    let path_id = request
        .headers()
        .get(PATH_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let service = OrdersService::new(&deps.repo, &deps.sleeper, &deps.now_micros);
    if collection {
        let owner = owner_of(&path_id, &caller)?;
        if write {
            place(&service, &caller, owner, &request, context).await
        } else {
            list(
                &service,
                &caller,
                owner,
                &request,
                context,
                &deps.cursor_key,
            )
            .await
        }
    } else {
        let id = OrderId::parse(&path_id).map_err(|_| not_found())?;
        if write {
            patch(&service, &caller, id, &request, context).await
        } else {
            get(&service, &caller, id, &request, context).await
        }
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("No such order.")
}

fn require_scope(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    if principal.may(scope) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: format!("The token lacks the {scope} scope."),
        })
    }
}

fn caller_of(principal: &Principal) -> Caller {
    Caller {
        user_id: principal.user_id().and_then(|id| UserId::parse(id).ok()),
        is_admin: principal.is_admin(),
        client_id: principal.client_id.clone(),
        subject: principal.subject.clone(),
    }
}

/// The collection's owner: `me` is the caller; anyone else's id is a 404 unless the
/// caller is an admin (never a 403: it would confirm the user exists).
fn owner_of(path_id: &str, caller: &Caller) -> Result<UserId, ApiError> {
    let owner = if path_id == "me" {
        caller.user_id.ok_or_else(not_found)?
    } else {
        UserId::parse(path_id).map_err(|_| not_found())?
    };
    if caller.may_access(owner) {
        Ok(owner)
    } else {
        Err(not_found())
    }
}

// ------------------------------------------------------------------ representations

fn rfc3339(micros: i64) -> String {
    let micros = u64::try_from(micros).unwrap_or(0);
    edge_http::log_line::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros),
    )
}

fn order_href(id: OrderId) -> String {
    format!("/api/v1/orders/{id}")
}

fn collection_href(owner: UserId) -> String {
    format!("/api/v1/users/{owner}/orders")
}

fn action_name(to: OrderStatus) -> &'static str {
    match to {
        OrderStatus::Paid => "pay",
        OrderStatus::Shipped => "ship",
        OrderStatus::Delivered => "deliver",
        OrderStatus::Cancelled => "cancel",
        OrderStatus::Pending => "reopen",
    }
}

fn order_links(caller: &Caller, order: &Order) -> Value {
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": order_href(order.id) }));
    links.insert(
        "collection".into(),
        json!({ "href": collection_href(order.user_id) }),
    );
    for to in allowed_transitions(caller, order) {
        links.insert(
            action_name(to).into(),
            json!({
                "href": order_href(order.id),
                "method": "PATCH",
                "type": MERGE_PATCH_JSON,
                "body": { "status": to.as_str() },
            }),
        );
    }
    Value::Object(links)
}

/// The full order: summary fields, items and links.
fn order_view(caller: &Caller, order: &Order) -> Value {
    let mut view = summary_fields(order);
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            json!({
                "line_no": item.line_no,
                "product_id": item.product_id.to_string(),
                "sku": item.sku,
                "name": item.name,
                "unit_price_minor": item.unit_price_minor,
                "currency": item.currency.code(),
                "quantity": item.quantity,
                "line_total_minor": item.line_total_minor(),
            })
        })
        .collect();
    view.insert("items".into(), Value::Array(items));
    view.insert("_links".into(), order_links(caller, order));
    Value::Object(view)
}

/// The fields of `fields=` for list entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    /// `id`
    Id,
    /// `user_id`
    UserId,
    /// `status`
    Status,
    /// `currency`
    Currency,
    /// `total_minor`
    TotalMinor,
    /// `version`
    Version,
    /// `created_at`
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
}

impl AllowListed for OrderField {
    const ALL: &'static [Self] = &[
        Self::Id,
        Self::UserId,
        Self::Status,
        Self::Currency,
        Self::TotalMinor,
        Self::Version,
        Self::CreatedAt,
        Self::UpdatedAt,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::UserId => "user_id",
            Self::Status => "status",
            Self::Currency => "currency",
            Self::TotalMinor => "total_minor",
            Self::Version => "version",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

fn summary_fields(order: &Order) -> Map<String, Value> {
    let mut view = Map::new();
    for field in OrderField::ALL {
        let value = match field {
            OrderField::Id => json!(order.id.to_string()),
            OrderField::UserId => json!(order.user_id.to_string()),
            OrderField::Status => json!(order.status.as_str()),
            OrderField::Currency => json!(order.currency.code()),
            OrderField::TotalMinor => json!(order.total_minor),
            OrderField::Version => json!(order.version),
            OrderField::CreatedAt => json!(rfc3339(order.created_at_micros)),
            OrderField::UpdatedAt => json!(rfc3339(order.updated_at_micros)),
        };
        view.insert(field.name().into(), value);
    }
    view
}

fn json_bytes(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn set(response: &mut edge_http::EdgeResponse, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

// ------------------------------------------------------------------ errors

fn map_error(error: OrderError, lines: &[OrderLine], context: &RequestContext) -> HandlerResult {
    let problem = |status| context.problem(status);
    let response = match error {
        OrderError::NotFound => return Err(not_found()),
        OrderError::Forbidden(detail) => {
            return Err(ApiError::Forbidden {
                detail: detail.to_owned(),
            });
        }
        OrderError::VersionMismatch => {
            return Err(ApiError::PreconditionFailed {
                detail: "The order has changed since the version named in If-Match.".into(),
            });
        }
        OrderError::OutOfStock {
            product_id,
            sku,
            requested,
            available,
        } => problem(StatusCode::CONFLICT)
            .with_type("out-of-stock")
            .with_detail(format!(
                "Not enough stock for product {sku} ({product_id}): {requested} requested, {available} available."
            ))
            .with_extension("product_id", json!(product_id.to_string()))
            .with_extension("sku", json!(sku))
            .with_extension("requested", json!(requested))
            .with_extension("available", json!(available))
            .into_response(),
        OrderError::UnknownProduct(product_id) => {
            let index = lines
                .iter()
                .position(|l| l.product_id == product_id)
                .unwrap_or(0);
            problem(StatusCode::UNPROCESSABLE_ENTITY)
                .with_type("unknown-product")
                .with_detail(format!(
                    "Product {product_id} does not exist or is no longer sold."
                ))
                .with_errors(vec![FieldError::new(
                    format!("/items/{index}/product_id"),
                    "unknown_product",
                    "no active product has this id",
                )])
                .with_extension("product_id", json!(product_id.to_string()))
                .into_response()
        }
        OrderError::PriceChanged { product_id, sku } => problem(StatusCode::CONFLICT)
            .with_type("price-changed")
            .with_detail(format!(
                "The price of product {sku} ({product_id}) changed while the order was placed; nothing was ordered, retry to order at the new price."
            ))
            .with_extension("product_id", json!(product_id.to_string()))
            .with_extension("sku", json!(sku))
            .into_response(),
        OrderError::MixedCurrency => problem(StatusCode::UNPROCESSABLE_ENTITY)
            .with_type("mixed-currency")
            .with_detail("All products of one order must be priced in the same currency.")
            .into_response(),
        OrderError::TotalTooLarge => problem(StatusCode::UNPROCESSABLE_ENTITY)
            .with_type("total-too-large")
            .with_detail("The order's total is too large.")
            .into_response(),
        OrderError::Transition(e) => problem(StatusCode::CONFLICT)
            .with_type("invalid-transition")
            .with_detail(format!("An order cannot go from {} to {}.", e.from, e.to))
            .with_extension("from", json!(e.from.as_str()))
            .with_extension("to", json!(e.to.as_str()))
            .into_response(),
        OrderError::KeyReused => problem(StatusCode::UNPROCESSABLE_ENTITY)
            .with_type("idempotency-key-reused")
            .with_detail("This Idempotency-Key was already used for a different request.")
            .into_response(),
        OrderError::InProgress => {
            let mut response = problem(StatusCode::CONFLICT)
                .with_type("request-in-progress")
                .with_detail("A request with this Idempotency-Key is still being processed.")
                .into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(IN_PROGRESS_RETRY_AFTER_SECS),
            );
            response
        }
        OrderError::Store(e) => return store_error(e, context),
    };
    Ok(response)
}

/// 503 (+ `Retry-After`) for an unavailable or overloaded database, 500 otherwise; the
/// cause goes to the log line only.
fn store_error(error: StoreError, context: &RequestContext) -> HandlerResult {
    let retry_after_secs = match &error {
        StoreError::Unavailable { retry_after_secs } => u64::from(*retry_after_secs),
        StoreError::Transient { .. } | StoreError::Timeout { .. } => 1,
        _ => return Err(ApiError::internal(error)),
    };
    let mut response =
        ApiError::ServiceUnavailable { retry_after_secs }.to_response(context.request_id());
    attach_log_cause(&mut response, error.to_string());
    Ok(response)
}

// ------------------------------------------------------------------ POST collection

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderBody {
    items: Vec<LineBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    product_id: String,
    quantity: i64,
}

fn body_error(error: &serde_json::Error) -> ApiError {
    let message = match error.classify() {
        serde_json::error::Category::Data => {
            let text = error.to_string();
            text.split(" at line ")
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect()
        }
        _ => "The body is not a well-formed JSON document.".to_owned(),
    };
    ApiError::validation(vec![FieldError::new("", "invalid_body", message)])
}

/// Parses the order body. Duplicate keys, unknown fields and wrong types are 400s; so
/// are a missing or empty `items`, more than [`MAX_LINES`] lines, an invalid product
/// id or quantity, and a product named twice (duplicates are rejected, not merged, so
/// the client states each quantity once).
pub fn parse_lines(body: &[u8]) -> Result<Vec<OrderLine>, ApiError> {
    let parsed: PlaceOrderBody = serde_json::from_slice(body).map_err(|e| body_error(&e))?;
    if parsed.items.is_empty() || parsed.items.len() > MAX_LINES {
        return Err(ApiError::validation(vec![FieldError::new(
            "/items",
            if parsed.items.is_empty() {
                "too_few"
            } else {
                "too_many"
            },
            format!("an order has 1 to {MAX_LINES} items"),
        )]));
    }
    let mut errors = Vec::new();
    let mut lines: Vec<OrderLine> = Vec::with_capacity(parsed.items.len());
    for (index, line) in parsed.items.iter().enumerate() {
        let product_id = ProductId::parse(&line.product_id);
        let quantity = Quantity::new(line.quantity);
        if let Err(e) = &product_id {
            errors.push(FieldError::new(
                format!("/items/{index}/product_id"),
                e.code(),
                e.to_string(),
            ));
        }
        if let Err(e) = &quantity {
            errors.push(FieldError::new(
                format!("/items/{index}/quantity"),
                e.code(),
                e.to_string(),
            ));
        }
        if let (Ok(product_id), Ok(quantity)) = (product_id, quantity) {
            if lines.iter().any(|l| l.product_id == product_id) {
                errors.push(FieldError::new(
                    format!("/items/{index}/product_id"),
                    "duplicate_product",
                    "each product may appear in one line only",
                ));
            } else {
                lines.push(OrderLine {
                    product_id,
                    quantity,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The `Idempotency-Key` header: absent, or one value of 1..=255 printable ASCII.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::validation(vec![FieldError::new(
            "header/idempotency-key",
            "invalid_format",
            format!(
                "one Idempotency-Key of 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
            ),
        )])
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let bytes = value.as_bytes();
    let key = bytes
        .strip_prefix(b"\"")
        .and_then(|b| b.strip_suffix(b"\""))
        .unwrap_or(bytes);
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.iter().all(|b| (0x20..=0x7e).contains(b))
    {
        return Err(invalid());
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

/// SHA-256 over method, canonical route and body: what "the same request" means.
pub fn request_hash(owner: UserId, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"POST\n");
    hasher.update(collection_href(owner).as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().into()
}

async fn place<D, K, E, S>(
    service: &OrdersService<'_, D, K, E, S>,
    caller: &Caller,
    owner: UserId,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
{
    require_content_type(request.headers(), CONSUMES_JSON)?;
    let key = idempotency_key(request.headers())?;
    let lines = parse_lines(request.body())?;
    let scope = key.map(|key| IdempotencyScope {
        client_id: caller.client_id.clone(),
        subject: caller.subject.clone(),
        key,
        request_hash: request_hash(owner, request.body()),
    });
    let render = |order: &Order| json_bytes(&order_view(caller, order));
    let placed = service
        .place(caller, owner, &lines, scope.as_ref(), &render)
        .await;
    let (status, body, id, replayed) = match placed {
        Ok(Placement::Created { order, body }) => (StatusCode::CREATED, body, order.id, false),
        Ok(Placement::Replayed(stored)) => (
            StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED),
            stored.body,
            stored.order_id,
            true,
        ),
        Err(e) => return map_error(e, &lines, context),
    };
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    set(&mut response, header::LOCATION, &order_href(id));
    response
        .headers_mut()
        .insert(header::ETAG, ETag::from_version(id, 1).to_header_value());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

// ------------------------------------------------------------------ GET collection

fn field_error(name: &str, error: &impl ValidationError) -> FieldError {
    FieldError::new(query_pointer(name), error.code(), error.to_string())
}

async fn list<D, K, E, S>(
    service: &OrdersService<'_, D, K, E, S>,
    caller: &Caller,
    owner: UserId,
    request: &http::Request<Bytes>,
    context: &RequestContext,
    cursor_key: &[u8],
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
{
    let query_params = QueryParams::from_uri(request.uri(), &LIST_QUERY)?;
    let mut errors = Vec::new();
    let limit = Limit::from_query(query_params.get("limit"))
        .map_err(|e| errors.push(field_error("limit", &e)))
        .unwrap_or_default();
    let status = match query_params.get("status").map(OrderStatus::parse) {
        Some(Ok(status)) => Some(status),
        Some(Err(e)) => {
            errors.push(field_error("status", &e));
            None
        }
        None => None,
    };
    let sort = match query_params.get("sort") {
        None => ListSort::NewestFirst,
        Some(text) => ListSort::parse(text).unwrap_or_else(|| {
            errors.push(FieldError::new(
                query_pointer("sort"),
                "unknown_field",
                "sort must be one of: -created_at, created_at, -total, total",
            ));
            ListSort::NewestFirst
        }),
    };
    let fields = FieldSelection::<OrderField>::from_query(query_params.get("fields"))
        .map_err(|e| errors.push(field_error("fields", &e)))
        .unwrap_or_else(|()| FieldSelection::all());
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let scope = CursorScope {
        owner,
        sort,
        status,
    };
    let after = match query_params.get("cursor") {
        None => None,
        Some(text) => Some(cursor::decode(cursor_key, &scope, text).map_err(|_| {
            ApiError::validation(vec![FieldError::new(
                query_pointer("cursor"),
                "invalid_cursor",
                "the cursor is not one this list issued",
            )])
        })?),
    };
    let query = ListQuery {
        owner,
        status,
        sort,
        limit: limit.get(),
        after,
    };
    let page = match service.list(caller, &query).await {
        Ok(page) => page,
        Err(e) => return map_error(e, &[], context),
    };
    let entries: Vec<Value> = page
        .orders
        .iter()
        .map(|order| {
            let all = summary_fields(order);
            let mut entry: Map<String, Value> = all
                .into_iter()
                .filter(|(name, _)| {
                    name == "id" || OrderField::from_name(name).is_some_and(|f| fields.contains(f))
                })
                .collect();
            entry.insert(
                "_links".into(),
                json!({ "self": { "href": order_href(order.id) } }),
            );
            Value::Object(entry)
        })
        .collect();
    let link = |cursor: Option<&str>| {
        let mut params: Vec<(&str, String)> = vec![("limit", limit.get().to_string())];
        if let Some(status) = status {
            params.push(("status", status.as_str().to_owned()));
        }
        params.push(("sort", sort.as_str().to_owned()));
        if query_params.get("fields").is_some() {
            params.push(("fields", fields.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_owned()));
        }
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        json!({ "href": format!("{}?{query}", collection_href(owner)) })
    };
    let mut links = Map::new();
    links.insert("self".into(), link(query_params.get("cursor")));
    if let Some(next) = page.next {
        let cursor = cursor::encode(cursor_key, &scope, &next)
            .ok_or_else(|| ApiError::internal("cursor_key is not a usable HMAC key"))?;
        links.insert("next".into(), link(Some(&cursor)));
    }
    if let Some(prev) = page.prev {
        let cursor = cursor::encode(cursor_key, &scope, &prev)
            .ok_or_else(|| ApiError::internal("cursor_key is not a usable HMAC key"))?;
        links.insert("prev".into(), link(Some(&cursor)));
    }
    let body = json_bytes(&json!({ "orders": entries, "_links": links }));
    let etag = ETag::from_bytes(&body);
    if let Some(mut not_modified) = check_if_none_match(request.headers(), &etag) {
        cache_headers(&mut not_modified);
        return Ok(not_modified);
    }
    let mut response = bytes_response(StatusCode::OK, APPLICATION_JSON, Bytes::from(body));
    response
        .headers_mut()
        .insert(header::ETAG, etag.to_header_value());
    cache_headers(&mut response);
    Ok(response)
}

fn cache_headers(response: &mut edge_http::EdgeResponse) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(USER_DATA_CACHE),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Authorization"));
}

// ------------------------------------------------------------------ GET / PATCH item

fn order_response(caller: &Caller, order: &Order, status: StatusCode) -> edge_http::EdgeResponse {
    let body = json_bytes(&order_view(caller, order));
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    response.headers_mut().insert(
        header::ETAG,
        ETag::from_version(order.id, u64::from(order.version)).to_header_value(),
    );
    cache_headers(&mut response);
    response
}

async fn get<D, K, E, S>(
    service: &OrdersService<'_, D, K, E, S>,
    caller: &Caller,
    id: OrderId,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
{
    QueryParams::from_uri(request.uri(), &NO_QUERY)?;
    let order = match service.get(caller, id).await {
        Ok(order) => order,
        Err(e) => return map_error(e, &[], context),
    };
    let etag = ETag::from_version(order.id, u64::from(order.version));
    if let Some(mut not_modified) = check_if_none_match(request.headers(), &etag) {
        cache_headers(&mut not_modified);
        return Ok(not_modified);
    }
    Ok(order_response(caller, &order, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    status: Option<String>,
}

/// Parses the merge patch: only `status` may be set, to a known status.
pub fn parse_patch(body: &[u8]) -> Result<OrderStatus, ApiError> {
    let parsed: PatchBody = serde_json::from_slice(body).map_err(|e| body_error(&e))?;
    let Some(status) = parsed.status else {
        return Err(ApiError::validation(vec![FieldError::new(
            "/status",
            "required",
            "status is the only field that may change",
        )]));
    };
    OrderStatus::parse(&status).map_err(|e| {
        ApiError::validation(vec![FieldError::new("/status", e.code(), e.to_string())])
    })
}

async fn patch<D, K, E, S>(
    service: &OrdersService<'_, D, K, E, S>,
    caller: &Caller,
    id: OrderId,
    request: &http::Request<Bytes>,
    context: &RequestContext,
) -> HandlerResult
where
    D: Transactional,
    K: BreakerStore,
    E: Clock + Sleeper + Random,
    S: Sleeper,
{
    require_content_type(request.headers(), CONSUMES_PATCH)?;
    if !request.headers().contains_key(header::IF_MATCH) {
        return Err(ApiError::PreconditionRequired {
            detail: "Send If-Match with the order's ETag.".into(),
        });
    }
    let order = match service.get(caller, id).await {
        Ok(order) => order,
        Err(e) => return map_error(e, &[], context),
    };
    // Preconditions before content (RFC 9110 §13.2.1): a stale ETag is a 412 whatever
    // the body says.
    require_if_match(
        request.headers(),
        &ETag::from_version(order.id, u64::from(order.version)),
    )?;
    let to = parse_patch(request.body())?;
    match service.change_status(caller, id, to, order.version).await {
        Ok(updated) => Ok(order_response(caller, &updated, StatusCode::OK)),
        Err(e) => map_error(e, &[], context),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_http::{EdgeConfig, Handled, InternalHeaders, SubjectKind, handle};
    use futures::executor::block_on;
    use http_body_util::Full;
    use store::testing::{FakeDatabase, FakeEnv, FakeKv, FakeSleeper};
    use store::{Breaker, BreakerConfig, Guarded};

    static EDGE: EdgeConfig =
        EdgeConfig::new("orders").with_internal_headers(InternalHeaders::TrustMiddleware);

    type TestDeps<'a> = Deps<&'a FakeDatabase, &'a FakeKv, &'a FakeEnv, FakeSleeper, &'a FakeKv>;

    fn now() -> i64 {
        1_790_000_000_000_000
    }

    fn deps<'a>(
        db: &'a FakeDatabase,
        kv: &'a FakeKv,
        env: &'a FakeEnv,
        quota: u64,
    ) -> TestDeps<'a> {
        Deps {
            repo: Repository::new(Guarded::new(
                db,
                Breaker::new(kv, BreakerConfig::new("b")),
                env,
            )),
            sleeper: FakeSleeper::default(),
            now_micros: now,
            cursor_key: b"0123456789abcdef0123456789abcdef".to_vec(),
            counter: kv,
            limiter: RateLimiter::new("t"),
            rate_limit_per_minute: quota,
        }
    }

    fn call(deps: &TestDeps<'_>, method: Method, scope: &str) -> Handled {
        let principal = Principal {
            subject: "0190b0c4-0000-7000-8000-000000000001".into(),
            kind: SubjectKind::User,
            client_id: "web".into(),
            scopes: scope.split(' ').map(str::to_owned).collect(),
            token_id: "jti".into(),
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri("/api/v1/orders/0190b0c4-0000-7000-8000-0000000000bb")
            .header("spin-matched-route", ITEM_ROUTE)
            .header(PATH_ID_HEADER, "0190b0c4-0000-7000-8000-0000000000bb")
            .body(Full::new(Bytes::new()))
            .unwrap();
        principal.write_headers(request.headers_mut()).unwrap();
        block_on(handle(&EDGE, request, |req, ctx| route(deps, req, ctx)))
    }

    #[test]
    fn a_missing_order_is_404_with_rate_limit_headers_and_the_quota_then_429() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        let deps = deps(&db, &kv, &env, 2);
        for remaining in ["1", "0"] {
            let handled = call(&deps, Method::GET, "orders:read");
            assert_eq!(handled.response.status(), StatusCode::NOT_FOUND);
            let headers = handled.response.headers();
            assert_eq!(headers["ratelimit-policy"], "\"orders\";q=2;w=60");
            let limit = headers["ratelimit"].to_str().unwrap();
            assert!(
                limit.starts_with(&format!("\"orders\";r={remaining};t=")),
                "{limit}"
            );
        }
        let refused = call(&deps, Method::GET, "orders:read");
        assert_eq!(refused.response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.response.headers().contains_key(header::RETRY_AFTER));
        assert_eq!(
            db.calls().len(),
            2,
            "the refused request never reached the database"
        );
    }

    #[test]
    fn a_token_without_the_scope_is_403_and_other_methods_405() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        let deps = deps(&db, &kv, &env, 100);
        let handled = call(&deps, Method::PATCH, "orders:read");
        assert_eq!(handled.response.status(), StatusCode::FORBIDDEN);
        let handled = call(&deps, Method::DELETE, "orders:write");
        assert_eq!(handled.response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            handled.response.headers()[header::ALLOW],
            "GET, HEAD, PATCH"
        );
        assert!(db.calls().is_empty());
    }

    fn pid(n: u8) -> String {
        format!("0190b0c4-0000-7000-8000-0000000000{n:02x}")
    }

    fn pointers(error: ApiError) -> Vec<(String, String)> {
        match error {
            ApiError::BadRequest { errors, .. } => {
                errors.into_iter().map(|e| (e.pointer, e.code)).collect()
            }
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_parses_in_request_order() {
        let body = format!(
            r#"{{"items":[{{"product_id":"{}","quantity":2}},{{"product_id":"{}","quantity":1000}}]}}"#,
            pid(2),
            pid(1)
        );
        let lines = parse_lines(body.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].product_id.to_string(), pid(2));
        assert_eq!(lines[1].quantity.get(), 1000);
    }

    #[test]
    fn hostile_bodies_are_400s_naming_the_field() {
        let p = pid(1);
        let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":-1}}]}}"#),
                vec![("/items/0/quantity", "too_small")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1001}}]}}"#),
                vec![("/items/0/quantity", "too_large")],
            ),
            (
                r#"{"items":[{"product_id":"1' OR '1'='1","quantity":1}]}"#.to_owned(),
                vec![("/items/0/product_id", "invalid_format")],
            ),
            (
                format!(
                    r#"{{"items":[{{"product_id":"{p}","quantity":1}},{{"product_id":"{p}","quantity":2}}]}}"#
                ),
                vec![("/items/1/product_id", "duplicate_product")],
            ),
            (r#"{"items":[]}"#.to_owned(), vec![("/items", "too_few")]),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"price_minor":0}}]}}"#),
                vec![("", "invalid_body")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1}}],"items":[]}}"#),
                vec![("", "invalid_body")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1,"quantity":5}}]}}"#),
                vec![("", "invalid_body")],
            ),
            (
                format!(r#"{{"items":[{{"product_id":"{p}","quantity":1.5}}]}}"#),
                vec![("", "invalid_body")],
            ),
            ("not json".to_owned(), vec![("", "invalid_body")]),
        ];
        for (body, expected) in cases {
            let got = pointers(parse_lines(body.as_bytes()).unwrap_err());
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(p, c)| (p.to_owned(), c.to_owned()))
                .collect();
            assert_eq!(got, expected, "{body}");
        }
        let many: Vec<String> = (0..51)
            .map(|n| format!(r#"{{"product_id":"{}","quantity":1}}"#, pid(n)))
            .collect();
        let body = format!(r#"{{"items":[{}]}}"#, many.join(","));
        assert_eq!(
            pointers(parse_lines(body.as_bytes()).unwrap_err()),
            [("/items".to_owned(), "too_many".to_owned())]
        );
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_255() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).unwrap(), None);
        headers.insert(
            IDEMPOTENCY_KEY_HEADER,
            HeaderValue::from_static("\"abc-1\""),
        );
        assert_eq!(idempotency_key(&headers).unwrap().as_deref(), Some("abc-1"));
        for bad in [String::new(), "k".repeat(256), "tab\there".to_owned()] {
            let mut headers = HeaderMap::new();
            headers.insert(
                IDEMPOTENCY_KEY_HEADER,
                HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            assert!(idempotency_key(&headers).is_err(), "{bad:?}");
        }
        let mut twice = HeaderMap::new();
        twice.append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("a"));
        twice.append(IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("b"));
        assert!(idempotency_key(&twice).is_err());
    }

    #[test]
    fn the_request_hash_covers_owner_and_body() {
        let a = UserId::parse("0190b0c4-0000-7000-8000-000000000001").unwrap();
        let b = UserId::parse("0190b0c4-0000-7000-8000-000000000002").unwrap();
        assert_eq!(request_hash(a, b"{}"), request_hash(a, b"{}"));
        assert_ne!(request_hash(a, b"{}"), request_hash(b, b"{}"));
        assert_ne!(request_hash(a, b"{}"), request_hash(a, b"{ }"));
    }

    #[test]
    fn the_patch_body_sets_only_a_known_status() {
        assert_eq!(
            parse_patch(br#"{"status":"cancelled"}"#).unwrap(),
            OrderStatus::Cancelled
        );
        for bad in [
            &br#"{"status":"refunded"}"#[..],
            br#"{"status":"paid","total_minor":0}"#,
            br#"{}"#,
            br#"{"status":"paid","status":"shipped"}"#,
        ] {
            assert!(
                matches!(parse_patch(bad), Err(ApiError::BadRequest { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
