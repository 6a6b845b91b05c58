//! Every HTTP route of the application: the pattern `spin.toml` declares, the component
//! that serves it, whether the `auth` middleware sits in front, the methods it answers and
//! what each method needs (docs/architecture.md §2).
//!
//! `auth` enforces [`Route::access`]; each component dispatches on [`Route`]; a test
//! (`tests/spin_manifest.rs`) fails when `spin.toml` and [`ROUTES`] disagree.

use http::Method;

use crate::scope::Scope;

/// A component of `spin.toml` (its `[component.<name>]` id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// `/health`, `/ready`.
    Health,
    /// The OAuth 2.0 / OpenID Connect authorization server.
    Identity,
    /// The middleware in front of every protected route (no trigger of its own).
    Auth,
    /// `/api/v1/users…`.
    Users,
    /// `/api/v1/products…`.
    Products,
    /// `/api/v1/users/:id/orders`, `/api/v1/orders/:id`.
    Orders,
    /// `/openapi.json`, `/docs`.
    Docs,
}

impl Component {
    /// Every component.
    pub const ALL: &'static [Component] = &[
        Component::Health,
        Component::Identity,
        Component::Auth,
        Component::Users,
        Component::Products,
        Component::Orders,
        Component::Docs,
    ];

    /// The id in `spin.toml`, log lines and shared-store keys.
    pub const fn name(self) -> &'static str {
        match self {
            Component::Health => "health",
            Component::Identity => "identity",
            Component::Auth => "auth",
            Component::Users => "users",
            Component::Products => "products",
            Component::Orders => "orders",
            Component::Docs => "docs",
        }
    }
}

/// A route, by the `spin.toml` trigger that matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `/health` (liveness).
    Health,
    /// `/ready` (readiness).
    Ready,
    /// `/.well-known/openid-configuration`.
    OpenIdConfiguration,
    /// `/.well-known/oauth-authorization-server`.
    AuthorizationServerMetadata,
    /// `/oauth2/...` (authorize, token, revoke, introspect, userinfo, jwks).
    OAuth2,
    /// `/login` (the sign-in page).
    Login,
    /// `/api/v1/users`.
    Users,
    /// `/api/v1/users/:id` (also `/api/v1/users/me`).
    User,
    /// `/api/v1/products`.
    Products,
    /// `/api/v1/products/:id`.
    Product,
    /// `/api/v1/users/:id/orders`.
    UserOrders,
    /// `/api/v1/orders/:id`.
    Order,
    /// `/openapi.json`.
    OpenApi,
    /// `/docs`.
    Docs,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// The route.
    pub route: Route,
    /// The pattern exactly as `spin.toml` writes it (`:name` captures, `/...` wildcards).
    pub pattern: &'static str,
    /// The component serving it.
    pub component: Component,
    /// Whether the `auth` middleware sits in front (`dependencies.middleware`).
    pub protected: bool,
    /// The methods the route answers besides `HEAD` (with `GET`); anything else is 405 +
    /// `Allow` (a CORS preflight from an allowed origin is answered by the edge before
    /// routing). Empty for routes whose component dispatches on sub-paths itself
    /// (`/oauth2/...`).
    pub methods: &'static [Method],
}

const fn spec(
    route: Route,
    pattern: &'static str,
    component: Component,
    protected: bool,
    methods: &'static [Method],
) -> RouteSpec {
    RouteSpec {
        route,
        pattern,
        component,
        protected,
        methods,
    }
}

const GET: &[Method] = &[Method::GET];
const GET_POST: &[Method] = &[Method::GET, Method::POST];

/// Every route, in `spin.toml` order.
pub const ROUTES: &[RouteSpec] = &[
    spec(Route::Health, "/health", Component::Health, false, GET),
    spec(Route::Ready, "/ready", Component::Health, false, GET),
    spec(
        Route::OpenIdConfiguration,
        "/.well-known/openid-configuration",
        Component::Identity,
        false,
        GET,
    ),
    spec(
        Route::AuthorizationServerMetadata,
        "/.well-known/oauth-authorization-server",
        Component::Identity,
        false,
        GET,
    ),
    spec(
        Route::OAuth2,
        "/oauth2/...",
        Component::Identity,
        false,
        &[],
    ),
    spec(Route::Login, "/login", Component::Identity, false, GET_POST),
    spec(
        Route::Users,
        "/api/v1/users",
        Component::Users,
        true,
        GET_POST,
    ),
    spec(
        Route::User,
        "/api/v1/users/:id",
        Component::Users,
        true,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    spec(
        Route::Products,
        "/api/v1/products",
        Component::Products,
        true,
        GET_POST,
    ),
    spec(
        Route::Product,
        "/api/v1/products/:id",
        Component::Products,
        true,
        &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
    ),
    spec(
        Route::UserOrders,
        "/api/v1/users/:id/orders",
        Component::Orders,
        true,
        GET_POST,
    ),
    spec(
        Route::Order,
        "/api/v1/orders/:id",
        Component::Orders,
        true,
        &[Method::GET, Method::PATCH],
    ),
    spec(Route::OpenApi, "/openapi.json", Component::Docs, false, GET),
    spec(Route::Docs, "/docs", Component::Docs, false, GET),
];

/// What a request needs to reach the route component (enforced by `auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No middleware in front: the component is public and decides alone.
    Public,
    /// Passes without looking at credentials and without a principal: CORS preflight
    /// (`OPTIONS`), which browsers send without credentials and which the component answers.
    Preflight,
    /// Anonymous callers pass; a token, if sent, must still be valid (a bad token is a
    /// 401, never silently ignored) and then becomes the principal.
    Optional,
    /// A valid token holding this scope (or `admin`).
    Scope(Scope),
}

impl Route {
    /// This route's row in [`ROUTES`].
    pub fn spec(self) -> &'static RouteSpec {
        // Every variant has a row (checked by a test); the first row is a harmless
        // fallback that cannot be reached.
        ROUTES
            .iter()
            .find(|s| s.route == self)
            .unwrap_or(&ROUTES[0])
    }

    /// The `spin.toml` pattern.
    pub fn pattern(self) -> &'static str {
        self.spec().pattern
    }

    /// The route whose pattern is exactly `pattern` (the `spin-matched-route` header).
    pub fn from_pattern(pattern: &str) -> Option<Route> {
        ROUTES
            .iter()
            .find(|s| s.pattern == pattern)
            .map(|s| s.route)
    }

    /// The route for a `spin-matched-route` value, else the protected route whose pattern
    /// matches `path` (`:name` matches one non-empty segment). An unknown matched route
    /// is `None` even when the path would match: the host's word wins.
    pub fn resolve(matched_route: Option<&str>, path: &str) -> Option<Route> {
        match matched_route {
            Some(pattern) if !pattern.is_empty() => Route::from_pattern(pattern),
            _ => ROUTES
                .iter()
                .filter(|s| s.protected)
                .find(|s| path_matches(s.pattern, path))
                .map(|s| s.route),
        }
    }

    /// Whether `method` is one this route answers (`HEAD` with `GET`). `OPTIONS` is not
    /// listed: a CORS preflight from an allowed origin is answered by the edge before
    /// routing, anything else is a 405 like every unlisted method.
    pub fn allows(self, method: &Method) -> bool {
        let methods = self.spec().methods;
        methods.is_empty()
            || methods.contains(method)
            || (*method == Method::HEAD && methods.contains(&Method::GET))
    }

    /// The `Allow` header value for a 405 (`GET, HEAD, …`).
    pub fn allow_header(self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for method in self.spec().methods {
            names.push(method.as_str());
            if *method == Method::GET {
                names.push(Method::HEAD.as_str());
            }
        }
        names.join(", ")
    }

    /// What `method` on this route needs.
    ///
    /// Methods the route does not answer (e.g. `PUT /api/v1/users/:id`, `TRACE`) are
    /// [`Access::Optional`]: they reach the component, which answers 405 with `Allow`. No
    /// scope can turn a 405 into a success, so demanding credentials to learn the allowed
    /// methods would only hide the API's shape from its own clients.
    pub fn access(self, method: &Method) -> Access {
        use Access::{Optional, Preflight, Public};
        if !self.spec().protected {
            return Public;
        }
        if *method == Method::OPTIONS {
            return Preflight;
        }
        let read = *method == Method::GET || *method == Method::HEAD;
        let needs = |scope: Scope| {
            if self.allows(method) {
                Access::Scope(scope)
            } else {
                Optional
            }
        };
        match self {
            // The catalogue is public to read; writes need products:write.
            Route::Products | Route::Product if read => Optional,
            Route::Products | Route::Product => needs(Scope::ProductsWrite),
            // The user list is for administrators; POST is self-registration.
            Route::Users if read => needs(Scope::Admin),
            Route::Users => Optional,
            Route::User if read => needs(Scope::UsersRead),
            Route::User => needs(Scope::UsersWrite),
            Route::UserOrders | Route::Order if read => needs(Scope::OrdersRead),
            Route::UserOrders | Route::Order => needs(Scope::OrdersWrite),
            _ => Public,
        }
    }
}

/// Whether `path` matches a pattern whose `:name` segments match one non-empty segment
/// each (protected routes have no wildcards).
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) => {
                let ok = if p.starts_with(':') {
                    !s.is_empty()
                } else {
                    p == s
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ROUTES: &[Route] = &[
        Route::Health,
        Route::Ready,
        Route::OpenIdConfiguration,
        Route::AuthorizationServerMetadata,
        Route::OAuth2,
        Route::Login,
        Route::Users,
        Route::User,
        Route::Products,
        Route::Product,
        Route::UserOrders,
        Route::Order,
        Route::OpenApi,
        Route::Docs,
    ];

    #[test]
    fn every_route_has_exactly_one_row() {
        for route in ALL_ROUTES {
            assert_eq!(ROUTES.iter().filter(|s| s.route == *route).count(), 1);
            assert_eq!(route.spec().route, *route);
            assert_eq!(Route::from_pattern(route.pattern()), Some(*route));
        }
        assert_eq!(ROUTES.len(), ALL_ROUTES.len());
    }

    #[test]
    fn an_unknown_matched_route_has_no_policy_even_if_the_path_is_known() {
        assert_eq!(
            Route::resolve(Some("/api/v1/admin/..."), "/api/v1/products"),
            None
        );
        assert_eq!(
            Route::resolve(Some("/health"), "/health"),
            Some(Route::Health)
        );
    }

    #[test]
    fn without_the_header_the_path_is_matched_against_the_protected_patterns() {
        let cases = [
            ("/api/v1/products", Some(Route::Products)),
            ("/api/v1/products/0190b0c4", Some(Route::Product)),
            ("/api/v1/users/me", Some(Route::User)),
            ("/api/v1/users/me/orders", Some(Route::UserOrders)),
            ("/api/v1/orders/42", Some(Route::Order)),
            ("/api/v1/orders", None),
            ("/api/v1/products//", None),
            ("/api/v1/products/1/extra", None),
            ("/api/v2/products", None),
            ("/health", None), // public routes never resolve from a bare path
        ];
        for (path, expected) in cases {
            assert_eq!(Route::resolve(None, path), expected, "{path}");
            assert_eq!(Route::resolve(Some(""), path), expected, "{path}");
        }
    }

    #[test]
    fn catalogue_reads_are_public_and_writes_need_products_write() {
        for route in [Route::Products, Route::Product] {
            assert_eq!(route.access(&Method::GET), Access::Optional);
            assert_eq!(route.access(&Method::HEAD), Access::Optional);
            assert_eq!(route.access(&Method::OPTIONS), Access::Preflight);
        }
        assert_eq!(
            Route::Products.access(&Method::POST),
            Access::Scope(Scope::ProductsWrite)
        );
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                Route::Product.access(&method),
                Access::Scope(Scope::ProductsWrite)
            );
        }
        // Not answered by the route: the component's 405 needs no credentials.
        assert_eq!(Route::Products.access(&Method::DELETE), Access::Optional);
    }

    #[test]
    fn users_orders_and_the_admin_list_need_their_scopes() {
        let cases = [
            (Route::Users, Method::GET, Access::Scope(Scope::Admin)),
            (Route::Users, Method::POST, Access::Optional),
            (Route::User, Method::GET, Access::Scope(Scope::UsersRead)),
            (Route::User, Method::PATCH, Access::Scope(Scope::UsersWrite)),
            (
                Route::User,
                Method::DELETE,
                Access::Scope(Scope::UsersWrite),
            ),
            (Route::User, Method::PUT, Access::Optional),
            (
                Route::UserOrders,
                Method::GET,
                Access::Scope(Scope::OrdersRead),
            ),
            (
                Route::UserOrders,
                Method::POST,
                Access::Scope(Scope::OrdersWrite),
            ),
            (Route::Order, Method::HEAD, Access::Scope(Scope::OrdersRead)),
            (
                Route::Order,
                Method::PATCH,
                Access::Scope(Scope::OrdersWrite),
            ),
            (Route::Order, Method::DELETE, Access::Optional),
            (Route::Health, Method::GET, Access::Public),
            (Route::OAuth2, Method::POST, Access::Public),
        ];
        for (route, method, access) in cases {
            assert_eq!(route.access(&method), access, "{method} {route:?}");
        }
    }

    #[test]
    fn allow_lists_head_with_get() {
        assert_eq!(
            Route::Product.allow_header(),
            "GET, HEAD, PUT, PATCH, DELETE"
        );
        assert_eq!(Route::Users.allow_header(), "GET, HEAD, POST");
        assert!(Route::Order.allows(&Method::HEAD));
        assert!(!Route::Order.allows(&Method::OPTIONS));
        assert!(!Route::Order.allows(&Method::PUT));
        assert!(
            Route::OAuth2.allows(&Method::PUT),
            "identity dispatches itself"
        );
    }
}
