//! Routes: parse the request, call the service, map the result to a response.
//!
//! | route | methods |
//! |---|---|
//! | `/api/v1/products` | `GET`/`HEAD` (public list), `POST` (products:write) |
//! | `/api/v1/products/:id` | `GET`/`HEAD` (public), `PUT`, `PATCH`, `DELETE` (products:write) |
//!
//! The kit has already counted the request against the caller's rate limit and answered
//! 405 for a method the route table does not list. The order of checks on a write here:
//! principal with `products:write` (the auth middleware already answered 401/403; checked
//! again as defence in depth) → `Content-Type` (415) → `Accept` (406) → `If-Match` present
//! (428) → body (400) → the product (404) → `If-Match` matches (412) → the guarded write
//! (409 SKU taken / referenced, 412 changed meanwhile).

use bytes::Bytes;
use contract::Scope;
use domain::ProductId;
use edge_http::conditional::{ETag, check_if_none_match, not_modified_for, require_if_match};
use edge_http::query::{QueryParams, QueryRules};
use edge_http::{
    APPLICATION_JSON, ApiError, FieldError, HandlerResult, Links, RequestContext, bytes_response,
    empty_response, negotiate, require_content_type,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use kit::json::parse_strict;
use kit::{Request, Service};
use serde_json::{Value, json};

use crate::component::Products;
use crate::cursor;
use crate::model::{Product, merge_patch, parse_draft};
use crate::query;
use crate::service::{self, Catalogue, CatalogueError, ListQuery, Page};
use crate::view::{COLLECTION_PATH, product_path, product_view};

/// The scope every write needs.
pub const WRITE_SCOPE: Scope = Scope::ProductsWrite;
/// `Cache-Control` of public reads.
pub const PUBLIC_CACHE: &str = "public, max-age=60";
/// `Cache-Control` of reads by an authenticated caller (their `_links` differ).
pub const PRIVATE_CACHE: &str = "private, max-age=60";
/// `Cache-Control` of write responses.
pub const NO_STORE: &str = "no-store";
/// The merge-patch media type (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

const PRODUCES: &[&str] = &[APPLICATION_JSON];
const JSON_BODY: &[&str] = &[APPLICATION_JSON];
const MERGE_PATCH_BODY: &[&str] = &[MERGE_PATCH_JSON];
const NO_PARAMETERS: QueryRules = QueryRules::new(&[]);

/// 404 for a product that does not exist (or whose id cannot exist).
pub fn no_such_product() -> ApiError {
    ApiError::not_found("No such product.")
}

fn can_write(context: &RequestContext) -> bool {
    context.principal().is_some_and(|p| p.may(WRITE_SCOPE))
}

/// Defence in depth: the auth middleware already refused writes without the scope.
fn require_writer(context: &RequestContext) -> Result<(), ApiError> {
    context.require_principal()?;
    if can_write(context) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: format!("This request needs the {WRITE_SCOPE} scope."),
        })
    }
}

fn catalogue_error(error: CatalogueError) -> ApiError {
    match error {
        CatalogueError::NotFound => no_such_product(),
        CatalogueError::SkuTaken => ApiError::Conflict {
            detail: "Another product already has this SKU.".to_owned(),
        },
        CatalogueError::VersionMismatch => ApiError::PreconditionFailed {
            detail: "The product changed since the version If-Match names.".to_owned(),
        },
        CatalogueError::StillReferenced => ApiError::Conflict {
            detail: "Orders refer to this product, so it cannot be deleted; archive it instead \
                     (PATCH {\"status\": \"archived\"})."
                .to_owned(),
        },
        CatalogueError::Store(e) => ApiError::from(e),
    }
}

fn etag_of(product: &Product) -> ETag {
    ETag::from_version(product.id, u64::from(product.version))
}

fn vary(headers: &mut HeaderMap) {
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
}

fn cache_control(context: &RequestContext) -> &'static str {
    if context.principal().is_some() {
        PRIVATE_CACHE
    } else {
        PUBLIC_CACHE
    }
}

/// A JSON response with the product's `ETag` and the given `Cache-Control`.
fn product_response(
    status: StatusCode,
    product: &Product,
    context: &RequestContext,
    cache: &'static str,
) -> HandlerResult {
    let body = serde_json::to_vec(&product_view(product, None, can_write(context)))
        .map_err(ApiError::internal)?;
    let mut response = bytes_response(status, APPLICATION_JSON, Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag_of(product).to_header_value());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    vary(headers);
    Ok(response)
}

/// Items and writes take no query parameters (each one is a 400 `unknown_parameter`).
fn refuse_query(request: &http::Request<Bytes>) -> Result<(), ApiError> {
    QueryParams::parse(request.uri().query(), &NO_PARAMETERS).map(|_| ())
}

/// Parses a body as strict JSON (400 for syntax errors and duplicate members); the
/// document's shape is checked by [`parse_draft`] (after merging, for a patch).
fn json_body(request: &http::Request<Bytes>) -> Result<Value, ApiError> {
    Ok(parse_strict(request.body())?)
}

/// `If-Match` must be present before anything else is read (428).
fn require_if_match_present(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(header::IF_MATCH) {
        Ok(())
    } else {
        Err(ApiError::PreconditionRequired {
            detail: "This request requires an If-Match header with the product's current ETag."
                .to_owned(),
        })
    }
}

/// `GET`/`HEAD /api/v1/products/{id}`: the product, `ETag`, 304 on `If-None-Match`.
pub async fn read<C: Catalogue>(
    component: &Products<C>,
    request: &Request,
    id: ProductId,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    refuse_query(&request.http)?;
    let product = service::get(component.catalogue(), id)
        .await
        .map_err(catalogue_error)?;
    let cache = cache_control(&request.context);
    if let Some(mut not_modified) = check_if_none_match(request.headers(), &etag_of(&product)) {
        let headers = not_modified.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        vary(headers);
        return Ok(not_modified);
    }
    product_response(StatusCode::OK, &product, &request.context, cache)
}

/// `POST /api/v1/products`: 201 + `Location` + `ETag`.
pub async fn create<C: Catalogue>(component: &Products<C>, request: &Request) -> HandlerResult {
    require_writer(&request.context)?;
    require_content_type(request.headers(), JSON_BODY)?;
    negotiate(request.headers(), PRODUCES)?;
    refuse_query(&request.http)?;
    let draft = parse_draft(&json_body(&request.http)?).map_err(ApiError::validation)?;
    let product = service::create(component.catalogue(), draft, request.now.micros())
        .await
        .map_err(catalogue_error)?;
    let mut response = product_response(StatusCode::CREATED, &product, &request.context, NO_STORE)?;
    let location = HeaderValue::from_str(&product_path(product.id)).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Loads the product and checks `If-Match` against its current `ETag`.
async fn current_matching<C: Catalogue>(
    catalogue: &C,
    headers: &HeaderMap,
    id: ProductId,
) -> Result<Product, ApiError> {
    let current = service::get(catalogue, id).await.map_err(catalogue_error)?;
    require_if_match(headers, &etag_of(&current))?;
    Ok(current)
}

/// `PUT /api/v1/products/{id}` with `If-Match`.
pub async fn replace<C: Catalogue>(
    component: &Products<C>,
    request: &Request,
    id: ProductId,
) -> HandlerResult {
    require_writer(&request.context)?;
    require_content_type(request.headers(), JSON_BODY)?;
    negotiate(request.headers(), PRODUCES)?;
    refuse_query(&request.http)?;
    require_if_match_present(request.headers())?;
    let draft = parse_draft(&json_body(&request.http)?).map_err(ApiError::validation)?;
    let current = current_matching(component.catalogue(), request.headers(), id).await?;
    let product = service::replace(component.catalogue(), &current, draft, request.now.micros())
        .await
        .map_err(catalogue_error)?;
    product_response(StatusCode::OK, &product, &request.context, NO_STORE)
}

/// `PATCH /api/v1/products/{id}` (RFC 7396 merge patch) with `If-Match`.
pub async fn patch<C: Catalogue>(
    component: &Products<C>,
    request: &Request,
    id: ProductId,
) -> HandlerResult {
    require_writer(&request.context)?;
    require_content_type(request.headers(), MERGE_PATCH_BODY)?;
    negotiate(request.headers(), PRODUCES)?;
    refuse_query(&request.http)?;
    require_if_match_present(request.headers())?;
    let patch = json_body(&request.http)?;
    if !patch.is_object() {
        return Err(ApiError::validation(vec![FieldError::new(
            "",
            "invalid_type",
            "a merge patch of a product must be a JSON object",
        )]));
    }
    let current = current_matching(component.catalogue(), request.headers(), id).await?;
    let mut document = current.draft.to_document();
    merge_patch(&mut document, &patch);
    let draft = parse_draft(&document).map_err(ApiError::validation)?;
    let product = service::replace(component.catalogue(), &current, draft, request.now.micros())
        .await
        .map_err(catalogue_error)?;
    product_response(StatusCode::OK, &product, &request.context, NO_STORE)
}

/// `DELETE /api/v1/products/{id}` with `If-Match`; 409 while orders refer to it.
pub async fn delete<C: Catalogue>(
    component: &Products<C>,
    request: &Request,
    id: ProductId,
) -> HandlerResult {
    require_writer(&request.context)?;
    refuse_query(&request.http)?;
    require_if_match_present(request.headers())?;
    let current = current_matching(component.catalogue(), request.headers(), id).await?;
    service::delete(component.catalogue(), id, current.version)
        .await
        .map_err(catalogue_error)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// `GET`/`HEAD /api/v1/products`: a keyset page with `_links`, `ETag`, 304.
pub async fn list<C: Catalogue>(component: &Products<C>, request: &Request) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    let params = query::parse(request.http.uri().query())?;
    let codec = &component.settings().cursors;
    let page = match &params.cursor {
        None => Page::First,
        Some(text) => cursor::decode(codec, text, params.sort, &params.filter)?,
    };
    let query = ListQuery {
        filter: params.filter.clone(),
        sort: params.sort,
        limit: params.limit,
        page,
    };
    let result = service::list(component.catalogue(), &query)
        .await
        .map_err(catalogue_error)?;
    let writer = can_write(&request.context);
    let items: Vec<Value> = result
        .items
        .iter()
        .map(|p| product_view(p, params.fields.as_deref(), writer))
        .collect();
    let next = result
        .next
        .as_ref()
        .map(|at| cursor::encode(codec, true, at, params.sort, &params.filter))
        .transpose()?;
    let prev = result
        .prev
        .as_ref()
        .map(|at| cursor::encode(codec, false, at, params.sort, &params.filter))
        .transpose()?;
    let links = Links::page(
        COLLECTION_PATH,
        &query::to_query(&params),
        params.cursor.as_deref(),
        next.as_deref(),
        prev.as_deref(),
    );
    let body = serde_json::to_vec(&json!({
        "items": items,
        "limit": params.limit.get(),
        "_links": links,
    }))
    .map_err(ApiError::internal)?;
    let etag = ETag::from_bytes(&body);
    let mut response = bytes_response(StatusCode::OK, APPLICATION_JSON, Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&request.context)),
    );
    vary(headers);
    if let Some(not_modified) = not_modified_for(request.headers(), &response) {
        return Ok(not_modified);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::MAX_BODY_BYTES;
    use crate::service::fakes::FakeCatalogue;
    use contract::Route;
    use edge_http::{CorsPolicy, Handled, PROBLEM_JSON, Principal, SubjectKind};
    use futures::executor::block_on;
    use http::Method;
    use http_body_util::{BodyExt, Full};
    use kit::PageCursors;
    use kit::settings::ApiSettings;
    use std::cell::Cell;
    use std::rc::Rc;
    use store::testing::FakeKv;
    use store::{Clock, StoreError};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// The wall clock of the tests: a fixed instant, one millisecond later per request.
    struct TestClock(Cell<u64>);
    impl Clock for TestClock {
        fn now_millis(&self) -> u64 {
            self.0.get()
        }
    }

    struct World {
        component: Products<FakeCatalogue>,
        kv: FakeKv,
        clock: TestClock,
    }

    impl World {
        fn new() -> Self {
            Self::with_quota(1_000)
        }

        fn with_quota(rate_limit_per_minute: u64) -> Self {
            Self {
                component: Products::new(
                    Rc::new(ApiSettings {
                        cursors: PageCursors::new(KEY).unwrap(),
                        kv_prefix: "t".into(),
                        rate_limit_per_minute,
                        cors: CorsPolicy::from_config("").unwrap(),
                    }),
                    FakeCatalogue::default(),
                ),
                kv: FakeKv::default(),
                clock: TestClock(Cell::new(1_764_072_490_000)),
            }
        }

        fn catalogue(&self) -> &FakeCatalogue {
            self.component.catalogue()
        }

        fn send(&mut self, request: Req) -> Reply {
            self.clock.0.set(self.clock.0.get() + 1);
            let mut builder = http::Request::builder()
                .method(request.method)
                .uri(&request.uri)
                .header("spin-client-addr", "192.0.2.7:4444");
            let path = request.uri.split('?').next().unwrap_or_default().to_owned();
            match path.strip_prefix("/api/v1/products/") {
                Some(id) => {
                    builder = builder
                        .header("spin-matched-route", Route::Product.pattern())
                        .header("spin-path-match-id", id);
                }
                None => builder = builder.header("spin-matched-route", Route::Products.pattern()),
            }
            for (name, value) in &request.headers {
                builder = builder.header(*name, value.as_str());
            }
            let mut http_request = builder.body(Full::new(Bytes::from(request.body))).unwrap();
            if let Some(scopes) = request.scopes {
                Principal {
                    subject: "client-1".into(),
                    kind: SubjectKind::Client,
                    client_id: "client-1".into(),
                    scopes: scopes.split(' ').map(str::to_owned).collect(),
                    token_id: "jti-1".into(),
                }
                .write_headers(http_request.headers_mut())
                .unwrap();
            }
            let Handled { response, .. } = block_on(kit::serve(
                Ok(&self.component),
                &self.kv,
                &self.clock,
                http_request,
            ));
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            Reply {
                status,
                headers,
                body,
            }
        }

        fn create(&mut self, sku: &str, price: i64) -> Reply {
            let reply = self.send(Req::post(&product_json(sku, price)).writer());
            assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
            reply
        }
    }

    struct Req {
        method: Method,
        uri: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        scopes: Option<&'static str>,
    }

    impl Req {
        fn new(method: Method, uri: &str) -> Self {
            Self {
                method,
                uri: uri.to_owned(),
                headers: Vec::new(),
                body: Vec::new(),
                scopes: None,
            }
        }
        fn get(uri: &str) -> Self {
            Self::new(Method::GET, uri)
        }
        fn post(body: &str) -> Self {
            Self::new(Method::POST, COLLECTION_PATH)
                .header("content-type", "application/json")
                .body(body)
        }
        fn header(mut self, name: &'static str, value: &str) -> Self {
            self.headers.push((name, value.to_owned()));
            self
        }
        fn body(mut self, body: &str) -> Self {
            self.body = body.as_bytes().to_vec();
            self
        }
        fn writer(mut self) -> Self {
            self.scopes = Some("products:write");
            self
        }
        fn scopes(mut self, scopes: &'static str) -> Self {
            self.scopes = Some(scopes);
            self
        }
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Value,
    }

    impl Reply {
        fn header(&self, name: &str) -> &str {
            self.headers
                .get(name)
                .map_or("", |v| v.to_str().unwrap_or(""))
        }
        fn error_codes(&self) -> Vec<(String, String)> {
            self.body["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| {
                            (
                                e["pointer"].as_str().unwrap_or("").to_owned(),
                                e["code"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
    }

    fn product_json(sku: &str, price: i64) -> String {
        json!({
            "sku": sku, "name": format!("Product {sku}"), "description": "A thing",
            "price": {"amount_minor": price, "currency": "EUR"}, "stock": 7
        })
        .to_string()
    }

    fn item_uri(reply: &Reply) -> String {
        reply.header("location").to_owned()
    }

    #[test]
    fn create_answers_201_with_location_etag_and_the_product() {
        let mut world = World::new();
        let reply = world.create("MUG-1", 1299);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        assert_eq!(reply.header("location"), format!("/api/v1/products/{id}"));
        assert_eq!(reply.header("etag"), ETag::from_version(&id, 1).to_string());
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.body["price"]["amount_minor"], 1299);
        assert_eq!(reply.body["version"], 1);
        assert_eq!(reply.body["_links"]["update"]["method"], "PUT");
        assert_eq!(world.catalogue().rows.borrow().len(), 1);
        assert!(reply.headers.contains_key("ratelimit"));
    }

    #[test]
    fn get_is_public_cacheable_and_answers_304_to_its_etag() {
        let mut world = World::new();
        let uri = item_uri(&world.create("MUG-1", 1299));
        let reply = world.send(Req::get(&uri));
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("cache-control"), PUBLIC_CACHE);
        assert_eq!(reply.header("vary"), "Accept, Authorization");
        assert!(reply.body["_links"].get("update").is_none());
        let etag = reply.header("etag").to_owned();
        let again = world.send(Req::get(&uri).header("if-none-match", &etag));
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert_eq!(again.header("etag"), etag);
        assert_eq!(again.header("cache-control"), PUBLIC_CACHE);
        assert_eq!(again.body, Value::Null);
    }

    #[test]
    fn unknown_and_malformed_ids_are_404() {
        let mut world = World::new();
        let unknown = format!("/api/v1/products/{}", ProductId::generate());
        assert_eq!(world.send(Req::get(&unknown)).status, StatusCode::NOT_FOUND);
        let reply = world.send(Req::get("/api/v1/products/1%27%20OR%201=1"));
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.header("content-type"), PROBLEM_JSON);
    }

    #[test]
    fn a_taken_sku_is_409_and_stores_nothing() {
        let mut world = World::new();
        world.create("MUG-1", 1);
        let reply = world.send(Req::post(&product_json("MUG-1", 2)).writer());
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(world.catalogue().rows.borrow().len(), 1);
    }

    #[test]
    fn bad_bodies_are_400_with_pointers_and_store_nothing() {
        let mut world = World::new();
        let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                r#"{"sku":"MUG-1","sku":"MUG-2","name":"x","price":{"amount_minor":1,"currency":"EUR"},"stock":1}"#.into(),
                vec![("", "duplicate_member")],
            ),
            (
                product_json("MUG-1", -5),
                vec![("/price/amount_minor", "negative")],
            ),
            (
                json!({"sku":"MUG-1","name":"x","price":{"amount_minor":1,"currency":"EUR"},"stock":1,"id":"x"}).to_string(),
                vec![("/id", "unknown_field")],
            ),
        ];
        for (body, expected) in cases {
            let reply = world.send(Req::post(&body).writer());
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(p, c)| (p.to_owned(), c.to_owned()))
                .collect();
            assert_eq!(reply.error_codes(), expected, "{body}");
        }
        let syntax = world.send(Req::post("{").writer());
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
        assert!(world.catalogue().rows.borrow().is_empty());
    }

    #[test]
    fn media_types_are_enforced() {
        let mut world = World::new();
        let body = product_json("MUG-1", 1);
        let wrong_type = Req::new(Method::POST, COLLECTION_PATH)
            .header("content-type", "text/plain")
            .body(&body)
            .writer();
        assert_eq!(
            world.send(wrong_type).status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let missing_type = Req::new(Method::POST, COLLECTION_PATH).body(&body).writer();
        assert_eq!(
            world.send(missing_type).status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let xml = Req::post(&body)
            .header("accept", "application/xml")
            .writer();
        assert_eq!(world.send(xml).status, StatusCode::NOT_ACCEPTABLE);
        let huge = Req::post(&"x".repeat(MAX_BODY_BYTES + 1)).writer();
        assert_eq!(world.send(huge).status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(world.catalogue().rows.borrow().is_empty());
    }

    #[test]
    fn writes_need_the_scope_even_past_the_middleware() {
        let mut world = World::new();
        let body = product_json("MUG-1", 1);
        assert_eq!(
            world.send(Req::post(&body)).status,
            StatusCode::UNAUTHORIZED
        );
        let reader = Req::post(&body).scopes("products:read");
        assert_eq!(world.send(reader).status, StatusCode::FORBIDDEN);
        assert!(world.catalogue().rows.borrow().is_empty());
        let admin = Req::post(&body).scopes("admin");
        assert_eq!(world.send(admin).status, StatusCode::CREATED);
    }

    #[test]
    fn put_needs_if_match_and_bumps_the_version() {
        let mut world = World::new();
        let created = world.create("MUG-1", 1);
        let uri = item_uri(&created);
        let etag = created.header("etag").to_owned();
        let put = |if_match: Option<&str>| {
            let mut req = Req::new(Method::PUT, &uri)
                .header("content-type", "application/json")
                .body(&product_json("MUG-9", 500))
                .writer();
            if let Some(tag) = if_match {
                req = req.header("if-match", tag);
            }
            req
        };
        assert_eq!(
            world.send(put(None)).status,
            StatusCode::PRECONDITION_REQUIRED
        );
        let stale = ETag::from_version(created.body["id"].as_str().unwrap(), 9).to_string();
        assert_eq!(
            world.send(put(Some(&stale))).status,
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(world.catalogue().rows.borrow()[0].version, 1);
        let reply = world.send(put(Some(&etag)));
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["version"], 2);
        assert_eq!(reply.body["sku"], "MUG-9");
        assert_eq!(reply.body["description"], "A thing");
        assert_ne!(reply.header("etag"), etag);
        // The old tag is stale now.
        assert_eq!(
            world.send(put(Some(&etag))).status,
            StatusCode::PRECONDITION_FAILED
        );
    }

    #[test]
    fn merge_patch_changes_only_what_it_names() {
        let mut world = World::new();
        let created = world.create("MUG-1", 100);
        let uri = item_uri(&created);
        let etag = created.header("etag").to_owned();
        let patch = |body: &str, tag: &str| {
            Req::new(Method::PATCH, &uri)
                .header("content-type", MERGE_PATCH_JSON)
                .header("if-match", tag)
                .body(body)
                .writer()
        };
        let reply = world.send(patch(
            r#"{"description":null,"price":{"amount_minor":250}}"#,
            &etag,
        ));
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["description"], Value::Null);
        assert_eq!(
            reply.body["price"],
            json!({"amount_minor": 250, "currency": "EUR"})
        );
        assert_eq!(reply.body["name"], "Product MUG-1");
        let etag = reply.header("etag").to_owned();
        let nulled = world.send(patch(r#"{"name":null}"#, &etag));
        assert_eq!(nulled.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            nulled.error_codes(),
            [("/name".to_owned(), "required".to_owned())]
        );
        let unknown = world.send(patch(r#"{"owner":"me"}"#, &etag));
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let as_json = Req::new(Method::PATCH, &uri)
            .header("content-type", "application/json")
            .header("if-match", &etag)
            .body("{}")
            .writer();
        assert_eq!(
            world.send(as_json).status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(world.catalogue().rows.borrow()[0].version, 2);
    }

    #[test]
    fn delete_needs_if_match_and_referenced_products_are_409() {
        let mut world = World::new();
        let created = world.create("MUG-1", 100);
        let uri = item_uri(&created);
        let etag = created.header("etag").to_owned();
        let delete = |tag: Option<&str>| {
            let mut req = Req::new(Method::DELETE, &uri).writer();
            if let Some(tag) = tag {
                req = req.header("if-match", tag);
            }
            req
        };
        assert_eq!(
            world.send(delete(None)).status,
            StatusCode::PRECONDITION_REQUIRED
        );
        let id = world.catalogue().rows.borrow()[0].id;
        world.catalogue().referenced.borrow_mut().push(id);
        let referenced = world.send(delete(Some(&etag)));
        assert_eq!(referenced.status, StatusCode::CONFLICT);
        assert!(
            referenced.body["detail"]
                .as_str()
                .unwrap()
                .contains("archive")
        );
        world.catalogue().referenced.borrow_mut().clear();
        assert_eq!(
            world.send(delete(Some(&etag))).status,
            StatusCode::NO_CONTENT
        );
        assert!(world.catalogue().rows.borrow().is_empty());
        assert_eq!(world.send(Req::get(&uri)).status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        let mut world = World::new();
        let reply = world.send(Req::new(Method::DELETE, COLLECTION_PATH).writer());
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), "GET, HEAD, POST");
        let item = format!("/api/v1/products/{}", ProductId::generate());
        let reply = world.send(Req::new(Method::POST, &item).writer());
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), "GET, HEAD, PUT, PATCH, DELETE");
    }

    #[test]
    fn the_list_walks_every_page_once_with_links_and_etag() {
        let mut world = World::new();
        for i in 0..7 {
            world.create(&format!("SKU-{i}"), 100 + i64::from(i % 3));
        }
        let mut seen = Vec::new();
        let mut uri = "/api/v1/products?limit=3&sort=price".to_owned();
        let mut pages = 0;
        loop {
            let reply = world.send(Req::get(&uri));
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            assert_eq!(reply.header("cache-control"), PUBLIC_CACHE);
            assert!(!reply.header("etag").is_empty());
            pages += 1;
            for item in reply.body["items"].as_array().unwrap() {
                seen.push(item["price"]["amount_minor"].as_i64().unwrap());
                assert!(item["id"].is_string());
            }
            if pages > 1 {
                assert!(reply.body["_links"]["prev"]["href"].is_string());
            }
            match reply.body["_links"]["next"]["href"].as_str() {
                Some(next) => uri = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, [100, 100, 100, 101, 101, 102, 102]);
    }

    #[test]
    fn the_list_answers_304_and_honours_fields() {
        let mut world = World::new();
        world.create("SKU-1", 1);
        let uri = "/api/v1/products?fields=name";
        let reply = world.send(Req::get(uri));
        let item = &reply.body["items"][0];
        let mut keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["_links", "id", "name"]);
        let etag = reply.header("etag").to_owned();
        let again = world.send(Req::get(uri).header("if-none-match", &etag));
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert_eq!(again.header("cache-control"), PUBLIC_CACHE);
    }

    #[test]
    fn tampered_or_rebound_cursors_and_bad_parameters_are_400() {
        let mut world = World::new();
        for i in 0..3 {
            world.create(&format!("SKU-{i}"), 1);
        }
        let first = world.send(Req::get("/api/v1/products?limit=1"));
        let next = first.body["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .to_owned();
        let rebound = next.replace("sort=-created_at", "sort=price");
        let reply = world.send(Req::get(&rebound));
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.error_codes(),
            [("/query/cursor".to_owned(), "invalid_cursor".to_owned())]
        );
        let tampered = format!("{next}x");
        assert_eq!(
            world.send(Req::get(&tampered)).status,
            StatusCode::BAD_REQUEST
        );
        for bad in [
            "sort=password_hash",
            "fields=password_hash",
            "limit=1000000",
            "min_price=-1",
            "status=active%27%20OR%201%3D1",
            "cursor=%27%20OR%201%3D1%20--",
            "page=2",
        ] {
            let reply = world.send(Req::get(&format!("/api/v1/products?{bad}")));
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(reply.header("content-type"), PROBLEM_JSON);
        }
    }

    #[test]
    fn over_the_quota_is_429_with_retry_after() {
        let mut world = World::with_quota(2);
        assert_eq!(world.send(Req::get(COLLECTION_PATH)).status, StatusCode::OK);
        let second = world.send(Req::get(COLLECTION_PATH));
        assert_eq!(second.header("ratelimit-policy"), "\"products\";q=2;w=60");
        assert!(second.header("ratelimit").starts_with("\"products\";r=0;"));
        let third = world.send(Req::get(COLLECTION_PATH));
        assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(!third.header("retry-after").is_empty());
        assert_eq!(third.header("content-type"), PROBLEM_JSON);
    }

    #[test]
    fn store_outages_are_503_without_details() {
        let mut world = World::new();
        *world.catalogue().fail.borrow_mut() = Some(StoreError::Unavailable {
            retry_after_secs: 4,
        });
        let reply = world.send(Req::get(COLLECTION_PATH));
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.header("retry-after"), "4");
        *world.catalogue().fail.borrow_mut() = Some(StoreError::other("mysql://u:pw@db secret"));
        let reply = world.send(Req::get(COLLECTION_PATH));
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!reply.body.to_string().contains("pw"));
    }
}
