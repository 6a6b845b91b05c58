//! Routes: parse path, query, headers and body ([`crate::dto`]); call the service; map the
//! result to a response ([`crate::view`], [`crate::errors`]). No SQL and no business rules
//! here. The kit has already counted the request against the caller's rate limit and
//! answered 405 for a method the route table does not list.

use bytes::Bytes;
use contract::{Route, Scope};
use domain::{OrderId, UserId};
use edge_http::conditional::{ETag, check_if_none_match, require_if_match};
use edge_http::query::{QueryParams, QueryRules};
use edge_http::{
    APPLICATION_JSON, ApiError, HandlerResult, Principal, bytes_response, negotiate,
    require_content_type,
};
use http::{HeaderValue, Method, StatusCode, header};
use kit::{Request, Service};
use serde_json::{Map, Value, json};
use store::{Clock, Sleeper};

use crate::component::Orders;
use crate::cursor::{self, CursorScope};
use crate::dto::{ListParams, idempotency_key, parse_lines, parse_patch, request_hash};
use crate::errors::{not_found, order_error};
use crate::model::{Caller, IdempotencyScope, ListQuery, Order};
use crate::repository::OrdersRepository;
use crate::service::Placement;
use crate::view::{
    MERGE_PATCH_JSON, cache_headers, collection_href, json_bytes, list_entry, order_etag,
    order_href, order_response, order_view,
};

const PRODUCES: &[&str] = &[APPLICATION_JSON];
const CONSUMES_JSON: &[&str] = &[APPLICATION_JSON];
const CONSUMES_PATCH: &[&str] = &[MERGE_PATCH_JSON, APPLICATION_JSON];
/// An order takes no query parameters.
const NO_QUERY: QueryRules = QueryRules::new(&[]);

/// The collection or item route, after `Accept`, the caller's token and its scope.
pub async fn dispatch<R, S, C>(component: &Orders<R, S, C>, request: &Request) -> HandlerResult
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    negotiate(request.headers(), PRODUCES)?;
    let principal = request.context.require_principal()?;
    let write = !matches!(*request.method(), Method::GET | Method::HEAD);
    require_scope(
        principal,
        if write {
            Scope::OrdersWrite
        } else {
            Scope::OrdersRead
        },
    )?;
    let caller = caller_of(principal);
    let path_id = request.path_param("id").unwrap_or("");
    match (request.route, write) {
        (Route::UserOrders, true) => {
            place(component, request, &caller, owner_of(path_id, &caller)?).await
        }
        (Route::UserOrders, false) => {
            list(component, request, &caller, owner_of(path_id, &caller)?).await
        }
        (Route::Order, write) => {
            let id = OrderId::parse(path_id).map_err(|_| not_found())?;
            if write {
                patch(component, request, &caller, id).await
            } else {
                get(component, request, &caller, id).await
            }
        }
        _ => Err(ApiError::not_found("No such resource.")),
    }
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

/// `POST /api/v1/users/{id}/orders`, with an optional `Idempotency-Key`.
async fn place<R, S, C>(
    component: &Orders<R, S, C>,
    request: &Request,
    caller: &Caller,
    owner: UserId,
) -> HandlerResult
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    require_content_type(request.headers(), CONSUMES_JSON)?;
    let key = idempotency_key(request.headers())?;
    let body = request.http.body();
    let lines = parse_lines(body)?;
    let scope = key.map(|key| IdempotencyScope {
        client_id: caller.client_id.clone(),
        subject: caller.subject.clone(),
        key,
        request_hash: request_hash(owner, body),
    });
    let render = |order: &Order| json_bytes(&order_view(caller, order));
    let placed = component
        .service()
        .place(caller, owner, &lines, scope.as_ref(), &render)
        .await
        .map_err(|e| order_error(e, &lines))?;
    let (status, body, id, replayed) = match placed {
        Placement::Created { order, body } => (StatusCode::CREATED, body, order.id, false),
        Placement::Replayed(stored) => (
            StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED),
            stored.body,
            stored.order_id,
            true,
        ),
    };
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&order_href(id)) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::ETAG, ETag::from_version(id, 1).to_header_value());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `GET /api/v1/users/{id}/orders`: a keyset page with `_links` self/next/prev.
async fn list<R, S, C>(
    component: &Orders<R, S, C>,
    request: &Request,
    caller: &Caller,
    owner: UserId,
) -> HandlerResult
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    let params = ListParams::parse(request.http.uri())?;
    let cursors = &component.settings().cursors;
    let scope = CursorScope {
        owner,
        sort: params.sort,
        status: params.status,
    };
    let after = match &params.cursor {
        None => None,
        Some(text) => Some(cursor::decode(cursors, &scope, text)?),
    };
    let query = ListQuery {
        owner,
        status: params.status,
        sort: params.sort,
        limit: params.limit.get(),
        after,
    };
    let page = component
        .service()
        .list(caller, &query)
        .await
        .map_err(|e| order_error(e, &[]))?;
    let entries: Vec<Value> = page
        .orders
        .iter()
        .map(|order| list_entry(order, &params.fields))
        .collect();
    let link = |cursor: Option<&str>| {
        let mut pairs: Vec<(&str, String)> = vec![("limit", params.limit.get().to_string())];
        if let Some(status) = params.status {
            pairs.push(("status", status.as_str().to_owned()));
        }
        pairs.push(("sort", params.sort.as_str().to_owned()));
        if params.fields_given {
            pairs.push(("fields", params.fields.to_string()));
        }
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_owned()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        json!({ "href": format!("{}?{query}", collection_href(owner)) })
    };
    let mut links = Map::new();
    links.insert("self".into(), link(params.cursor.as_deref()));
    if let Some(next) = page.next {
        links.insert(
            "next".into(),
            link(Some(&cursor::encode(cursors, &scope, &next)?)),
        );
    }
    if let Some(prev) = page.prev {
        links.insert(
            "prev".into(),
            link(Some(&cursor::encode(cursors, &scope, &prev)?)),
        );
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

/// `GET /api/v1/orders/{id}`.
async fn get<R, S, C>(
    component: &Orders<R, S, C>,
    request: &Request,
    caller: &Caller,
    id: OrderId,
) -> HandlerResult
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    QueryParams::from_uri(request.http.uri(), &NO_QUERY)?;
    let order = component
        .service()
        .get(caller, id)
        .await
        .map_err(|e| order_error(e, &[]))?;
    if let Some(mut not_modified) = check_if_none_match(request.headers(), &order_etag(&order)) {
        cache_headers(&mut not_modified);
        return Ok(not_modified);
    }
    Ok(order_response(caller, &order, StatusCode::OK))
}

/// `PATCH /api/v1/orders/{id}`: a status change along the order's state machine.
async fn patch<R, S, C>(
    component: &Orders<R, S, C>,
    request: &Request,
    caller: &Caller,
    id: OrderId,
) -> HandlerResult
where
    R: OrdersRepository,
    S: Sleeper,
    C: Clock,
{
    require_content_type(request.headers(), CONSUMES_PATCH)?;
    if !request.headers().contains_key(header::IF_MATCH) {
        return Err(ApiError::PreconditionRequired {
            detail: "Send If-Match with the order's ETag.".into(),
        });
    }
    let service = component.service();
    let order = service
        .get(caller, id)
        .await
        .map_err(|e| order_error(e, &[]))?;
    // Preconditions before content (RFC 9110 §13.2.1): a stale ETag is a 412 whatever
    // the body says.
    require_if_match(request.headers(), &order_etag(&order))?;
    let to = parse_patch(request.http.body())?;
    let updated = service
        .change_status(caller, id, to, order.version)
        .await
        .map_err(|e| order_error(e, &[]))?;
    Ok(order_response(caller, &updated, StatusCode::OK))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::Repository;
    use edge_http::{CorsPolicy, Handled, SubjectKind};
    use futures::executor::block_on;
    use http_body_util::Full;
    use kit::PageCursors;
    use kit::settings::ApiSettings;
    use std::rc::Rc;
    use store::testing::{FakeDatabase, FakeEnv, FakeKv, FakeSleeper};
    use store::{Breaker, BreakerConfig, Guarded};

    struct Fixed;
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            1_790_000_000_000
        }
    }

    type TestOrders<'a> =
        Orders<Repository<&'a FakeDatabase, &'a FakeKv, &'a FakeEnv>, FakeSleeper, Fixed>;

    fn deps<'a>(
        db: &'a FakeDatabase,
        kv: &'a FakeKv,
        env: &'a FakeEnv,
        quota: u64,
    ) -> TestOrders<'a> {
        Orders::new(
            Rc::new(ApiSettings {
                kv_prefix: "t".into(),
                cursors: PageCursors::new(b"0123456789abcdef0123456789abcdef").unwrap(),
                rate_limit_per_minute: quota,
                cors: CorsPolicy::from_config("").unwrap(),
            }),
            Repository::new(Guarded::new(
                db,
                Breaker::new(kv, BreakerConfig::new("b")),
                env,
            )),
            FakeSleeper::default(),
            Fixed,
        )
    }

    fn call(deps: &TestOrders<'_>, kv: &FakeKv, method: Method, scope: &str) -> Handled {
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
            .header("spin-matched-route", Route::Order.pattern())
            .header("spin-path-match-id", "0190b0c4-0000-7000-8000-0000000000bb")
            .body(Full::new(Bytes::new()))
            .unwrap();
        principal.write_headers(request.headers_mut()).unwrap();
        block_on(kit::serve(Ok(deps), kv, &Fixed, request))
    }

    #[test]
    fn a_missing_order_is_404_with_rate_limit_headers_and_the_quota_then_429() {
        let (db, kv, env) = (FakeDatabase::new(), FakeKv::default(), FakeEnv::default());
        let deps = deps(&db, &kv, &env, 2);
        for remaining in ["1", "0"] {
            let handled = call(&deps, &kv, Method::GET, "orders:read");
            assert_eq!(handled.response.status(), StatusCode::NOT_FOUND);
            let headers = handled.response.headers();
            assert_eq!(headers["ratelimit-policy"], "\"orders\";q=2;w=60");
            let limit = headers["ratelimit"].to_str().unwrap();
            assert!(
                limit.starts_with(&format!("\"orders\";r={remaining};t=")),
                "{limit}"
            );
        }
        let refused = call(&deps, &kv, Method::GET, "orders:read");
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
        let handled = call(&deps, &kv, Method::PATCH, "orders:read");
        assert_eq!(handled.response.status(), StatusCode::FORBIDDEN);
        let handled = call(&deps, &kv, Method::DELETE, "orders:write");
        assert_eq!(handled.response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            handled.response.headers()[header::ALLOW],
            "GET, HEAD, PATCH"
        );
        assert!(db.calls().is_empty());
    }
}
