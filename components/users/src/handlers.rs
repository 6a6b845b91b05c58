//! Routes: parse the request, call the service, map the result to a response.
//!
//! Every success carries `Cache-Control: private, no-store` (user data) and, for a single
//! user, a strong `ETag` and `_links`. No response carries a password hash. The kit has
//! already counted the request against its rate limit and answered 405 for a method the
//! route table does not list.

use contract::Scope;
use domain::UserId;
use edge_http::conditional::not_modified_for;
use edge_http::{
    APPLICATION_JSON, ApiError, HandlerResult, Principal, RequestContext, SubjectKind,
    empty_response, negotiate, require_content_type,
};
use http::{HeaderValue, Method, StatusCode, header};
use kit::{Request, Service};

use crate::component::Users;
use crate::dto::{ListQuery, parse_patch, parse_registration};
use crate::service::{self, Caller, UserRepository, UsersError};
use crate::view::{CACHE_CONTROL, if_match, list_response, self_href, user_response};

/// JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

const PRODUCES: &[&str] = &[APPLICATION_JSON];
const JSON_ONLY: &[&str] = &[APPLICATION_JSON];
const MERGE_PATCH_ONLY: &[&str] = &[MERGE_PATCH_JSON];

// ------------------------------------------------------------------ who is asking

fn authenticated(context: &RequestContext) -> Result<&Principal, ApiError> {
    context.require_principal()
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

/// `POST /api/v1/users`: self-registration (public). 201 + `Location` + the user.
pub async fn register<R: UserRepository>(component: &Users<R>, request: &Request) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    require_content_type(request.headers(), JSON_ONLY)?;
    let registration = parse_registration(request.http.body())?;
    let user = service::register(
        component.users(),
        registration.email,
        registration.password,
        registration.display_name,
    )
    .await
    .map_err(users_error)?;
    let mut response = user_response(StatusCode::CREATED, &user, None)?;
    let location = HeaderValue::from_str(&self_href(user.id)).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// `GET`/`PATCH`/`DELETE /api/v1/users/{id}` (`me` is the caller's own id).
pub async fn item<R: UserRepository>(component: &Users<R>, request: &Request) -> HandlerResult {
    let Some(raw_id) = request.path_param("id").map(str::to_owned).or_else(|| {
        request
            .http
            .uri()
            .path()
            .trim_end_matches('/')
            .strip_prefix("/api/v1/users/")
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_owned)
    }) else {
        return Err(ApiError::not_found("No such resource."));
    };
    let principal = authenticated(&request.context)?;
    let caller = caller_of(principal);
    let id = resolve_id(&raw_id, principal)?;
    let scope = match *request.method() {
        Method::PATCH | Method::DELETE => Scope::UsersWrite,
        _ => Scope::UsersRead,
    };
    require_scope(principal, scope)?;
    match *request.method() {
        Method::PATCH => patch(component, request, &caller, id).await,
        Method::DELETE => remove(component, request, &caller, id).await,
        _ => read(component, request, &caller, id).await,
    }
}

async fn read<R: UserRepository>(
    component: &Users<R>,
    request: &Request,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    let user = service::get(component.users(), caller, id)
        .await
        .map_err(users_error)?;
    let response = user_response(StatusCode::OK, &user, Some(caller))?;
    Ok(not_modified_for(request.headers(), &response).unwrap_or(response))
}

async fn patch<R: UserRepository>(
    component: &Users<R>,
    request: &Request,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    negotiate(request.headers(), PRODUCES)?;
    require_content_type(request.headers(), MERGE_PATCH_ONLY)?;
    let patch = parse_patch(request.http.body())?;
    let precondition = if_match(request.headers(), id)?;
    let user = service::update(component.users(), caller, id, &precondition, patch)
        .await
        .map_err(users_error)?;
    user_response(StatusCode::OK, &user, Some(caller))
}

async fn remove<R: UserRepository>(
    component: &Users<R>,
    request: &Request,
    caller: &Caller,
    id: UserId,
) -> HandlerResult {
    let precondition = if_match(request.headers(), id)?;
    service::delete(component.users(), caller, id, &precondition)
        .await
        .map_err(users_error)?;
    let mut response = empty_response(StatusCode::NO_CONTENT);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

/// `GET /api/v1/users`: the admin list.
pub async fn list<R: UserRepository>(component: &Users<R>, request: &Request) -> HandlerResult {
    let principal = authenticated(&request.context)?;
    require_scope(principal, Scope::UsersRead)?;
    let caller = caller_of(principal);
    negotiate(request.headers(), PRODUCES)?;
    let cursors = &component.settings().api.cursors;
    let query = ListQuery::parse(request.http.uri(), cursors)?;
    let page = service::list(
        component.users(),
        &caller,
        query.status,
        query.sort,
        query.from,
        query.limit.get(),
    )
    .await
    .map_err(users_error)?;
    let response = list_response(&page, &query, &caller, cursors)?;
    Ok(not_modified_for(request.headers(), &response).unwrap_or(response))
}

// ------------------------------------------------------------------ errors

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
        UsersError::Store(e) => ApiError::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{API_POLICY, UsersSettings};
    use crate::service::fakes::FakeUsers;
    use bytes::Bytes;
    use domain::{Role, Roles};
    use edge_http::rate_limit::{RateLimitPolicy, RateLimiter};
    use edge_http::{CorsPolicy, Handled};
    use futures::executor::block_on;
    use http::HeaderMap;
    use http_body_util::{BodyExt, Full};
    use kit::PageCursors;
    use kit::settings::ApiSettings;
    use serde_json::{Value, json};
    use std::rc::Rc;
    use store::Clock;
    use store::testing::FakeKv;

    const NOW: u64 = 1_795_000_000;
    const COLLECTION_ROUTE: &str = "/api/v1/users";
    const ITEM_ROUTE: &str = "/api/v1/users/:id";

    struct Fixed;
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            NOW * 1000
        }
    }

    /// The component over fake users with every quota at `limit`.
    fn component(limit: u64) -> Users<FakeUsers> {
        Users::new(
            Rc::new(UsersSettings {
                api: ApiSettings {
                    kv_prefix: "t1".to_owned(),
                    cursors: PageCursors::new(b"0123456789abcdef0123456789abcdef").unwrap(),
                    rate_limit_per_minute: limit,
                    cors: CorsPolicy::from_config("").unwrap(),
                },
                registrations_per_hour: limit,
            }),
            FakeUsers::default(),
        )
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

        fn run(self, component: &Users<FakeUsers>, kv: &FakeKv) -> Handled {
            let mut builder = http::Request::builder()
                .method(self.method)
                .uri(&self.uri)
                .header("spin-matched-route", self.route)
                .header("spin-client-addr", "203.0.113.9:50000");
            for (name, value) in &self.headers {
                builder = builder.header(*name, value);
            }
            let request = builder.body(Full::new(Bytes::from(self.body))).unwrap();
            block_on(kit::serve(Ok(component), kv, &Fixed, request))
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
        let (component, kv) = (component(2), FakeKv::default());
        let users = component.users();
        let first = registration("a@example.com").run(&component, &kv);
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
        assert_eq!(
            kv.keys(),
            [format!("t1:rl:register:a:203.0.113.9:{window}")]
        );
        // Invalid attempts count too.
        let bad = registration("not-an-email").run(&component, &kv);
        assert_eq!(bad.response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.response.headers()["ratelimit"],
            format!("\"register\";r=0;t={reset}").as_str()
        );
        let limited = registration("b@example.com").run(&component, &kv);
        assert_eq!(limited.response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            limited.response.headers()["retry-after"],
            reset.to_string().as_str()
        );
        assert_eq!(users.rows.borrow().len(), 1);
    }

    #[test]
    fn a_failing_counter_store_lets_registration_through_and_logs_why() {
        let (component, kv) = (component(1), FakeKv::default());

        kv.set_failing(true);
        let handled = registration("a@example.com").run(&component, &kv);
        assert_eq!(handled.response.status(), StatusCode::CREATED);
        let cause = handled.log.error.unwrap_or_default();
        assert!(cause.contains("rate limit not enforced"), "{cause}");
    }

    #[test]
    fn item_routes_without_a_principal_are_401_with_a_bearer_challenge() {
        let (component, kv) = (component(5), FakeKv::default());

        let handled = Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
            .header("spin-path-match-id", "me")
            .run(&component, &kv);
        assert_eq!(handled.response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            handled.response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }

    fn me(component: &Users<FakeUsers>, principal: &Principal, kv: &FakeKv) -> Handled {
        Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
            .header("spin-path-match-id", "me")
            .principal(principal)
            .run(component, kv)
    }

    #[test]
    fn item_reads_count_per_client_and_subject_then_429_with_retry_after() {
        let (component, kv) = (component(2), FakeKv::default());
        let users = component.users();
        let alice = users.seed("a@example.com", Roles::only(Role::Customer));
        let bob = users.seed("b@example.com", Roles::only(Role::Customer));
        let principal = user_principal(alice.id, "users:read");
        let reset = 60 - NOW % 60;
        for remaining in [1, 0] {
            let handled = me(&component, &principal, &kv);
            assert_eq!(handled.response.status(), StatusCode::OK);
            let headers = handled.response.headers();
            assert_eq!(headers["ratelimit-policy"], "\"api\";q=2;w=60");
            assert_eq!(
                headers["ratelimit"],
                format!("\"api\";r={remaining};t={reset}").as_str()
            );
        }
        let limited = me(&component, &principal, &kv);
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
        let key =
            RateLimiter::new("t1").key(&policy, &format!("c:orderly-web:{}", alice.id), window);
        assert_eq!(kv.keys(), [key]);
        // Another user of the same client has a quota of their own.
        let other = me(&component, &user_principal(bob.id, "users:read"), &kv);
        assert_eq!(other.response.status(), StatusCode::OK);
    }

    #[test]
    fn errors_carry_the_rate_limit_headers_and_anonymous_callers_count_per_address() {
        let (component, kv) = (component(1), FakeKv::default());

        let anonymous = || {
            Call::new(Method::GET, "/api/v1/users/me", ITEM_ROUTE)
                .header("spin-path-match-id", "me")
                .run(&component, &kv)
        };
        let first = anonymous();
        assert_eq!(first.response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            first.response.headers()["ratelimit-policy"],
            "\"api\";q=1;w=60"
        );
        assert!(first.response.headers().contains_key("ratelimit"));
        let window = NOW / 60;
        assert_eq!(kv.keys(), [format!("t1:rl:api:a:203.0.113.9:{window}")]);
        assert_eq!(anonymous().response.status(), StatusCode::TOO_MANY_REQUESTS);
        // Registration keeps its own per-address policy.
        let registered = registration("a@example.com").run(&component, &kv);
        assert_eq!(registered.response.status(), StatusCode::CREATED);
        assert_eq!(
            registered.response.headers()["ratelimit-policy"],
            "\"register\";q=1;w=3600"
        );
    }

    #[test]
    fn the_admin_list_has_a_strong_etag_and_answers_304_to_it() {
        let (component, kv) = (component(10), FakeKv::default());
        let users = component.users();
        let admin = users.seed("admin@example.com", Roles::only(Role::Admin));
        users.seed("c@example.com", Roles::only(Role::Customer));
        let principal = user_principal(admin.id, "users:read admin");
        let list = |etag: Option<&str>| {
            let mut call = Call::new(Method::GET, "/api/v1/users", COLLECTION_ROUTE);
            if let Some(etag) = etag {
                call = call.header("if-none-match", etag.to_owned());
            }
            call.principal(&principal).run(&component, &kv)
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
        let (component, kv) = (component(5), FakeKv::default());
        let users = component.users();
        let me = users.seed("a@example.com", Roles::only(Role::Customer));
        let handled = Call::new(Method::GET, format!("/api/v1/users/{}", me.id), ITEM_ROUTE)
            .header("spin-path-match-id", me.id.to_string())
            .principal(&user_principal(me.id, "orders:read"))
            .run(&component, &kv);
        assert_eq!(handled.response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn user_views_never_carry_the_password_hash() {
        let (component, kv) = (component(5), FakeKv::default());

        let handled = registration("a@example.com").run(&component, &kv);
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
