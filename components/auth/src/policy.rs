//! The access policy: which protected route, and what each method on it needs.
//!
//! Spin routes by path, so the middleware learns the route from the `spin-matched-route`
//! header (the pattern from `spin.toml`, set by the host, never by the client: the host
//! overwrites it) and falls back to matching the request path against the same patterns.
//! A route that is not in [`Route`] has no policy and is denied.

use http::Method;

/// The scope that satisfies every scope requirement.
pub const ADMIN_SCOPE: &str = "admin";

/// A protected route, by its `spin.toml` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/api/v1/products`
    Products,
    /// `/api/v1/products/:id`
    Product,
    /// `/api/v1/users`
    Users,
    /// `/api/v1/users/:id` (also `/api/v1/users/me`)
    User,
    /// `/api/v1/users/:id/orders`
    UserOrders,
    /// `/api/v1/orders/:id`
    Order,
}

/// Every route with its pattern, as written in `spin.toml`.
pub const ROUTES: &[(&str, Route)] = &[
    ("/api/v1/products", Route::Products),
    ("/api/v1/products/:id", Route::Product),
    ("/api/v1/users", Route::Users),
    ("/api/v1/users/:id", Route::User),
    ("/api/v1/users/:id/orders", Route::UserOrders),
    ("/api/v1/orders/:id", Route::Order),
];

/// What a request needs to reach the route component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Passes without looking at credentials and without a principal: CORS preflight
    /// (`OPTIONS`), which browsers send without credentials and which the component answers.
    Preflight,
    /// Anonymous callers pass; a token, if sent, must still be valid (a bad token is a
    /// 401, never silently ignored) and then becomes the principal.
    Optional,
    /// A valid token holding this scope (or `admin`).
    Scope(&'static str),
}

impl Route {
    /// The route for a `spin-matched-route` value, else for the request path.
    pub fn resolve(matched_route: Option<&str>, path: &str) -> Option<Route> {
        match matched_route {
            Some(pattern) if !pattern.is_empty() => ROUTES
                .iter()
                .find(|(p, _)| *p == pattern)
                .map(|(_, route)| *route),
            _ => ROUTES
                .iter()
                .find(|(p, _)| path_matches(p, path))
                .map(|(_, route)| *route),
        }
    }

    /// The `spin.toml` pattern.
    pub fn pattern(self) -> &'static str {
        ROUTES
            .iter()
            .find(|(_, r)| *r == self)
            .map_or("", |(p, _)| *p)
    }

    /// What `method` on this route needs.
    ///
    /// Methods the table does not name (e.g. `PUT /api/v1/users/:id`, `TRACE`) are
    /// [`Access::Optional`]: they reach the component, which answers 405 with `Allow`. No
    /// scope can turn a 405 into a success, so demanding credentials to learn the allowed
    /// methods would only hide the API's shape from its own clients; the component gets no
    /// principal unless a valid token was sent, and a component that later implements such a
    /// method must add it here first (the component still refuses a request without a
    /// principal it needs).
    pub fn access(self, method: &Method) -> Access {
        use Access::{Optional, Preflight, Scope};
        if *method == Method::OPTIONS {
            return Preflight;
        }
        let read = *method == Method::GET || *method == Method::HEAD;
        match self {
            Route::Products | Route::Product => {
                if read {
                    Optional
                } else if matches!(
                    *method,
                    Method::POST | Method::PUT | Method::PATCH | Method::DELETE
                ) {
                    Scope("products:write")
                } else {
                    Optional
                }
            }
            Route::Users => {
                if read {
                    Scope(ADMIN_SCOPE)
                } else {
                    // POST is self-registration; anything else is a 405 from the component.
                    Optional
                }
            }
            Route::User => {
                if read {
                    Scope("users:read")
                } else if matches!(*method, Method::PATCH | Method::DELETE) {
                    Scope("users:write")
                } else {
                    Optional
                }
            }
            Route::UserOrders => {
                if read {
                    Scope("orders:read")
                } else if *method == Method::POST {
                    Scope("orders:write")
                } else {
                    Optional
                }
            }
            Route::Order => {
                if read {
                    Scope("orders:read")
                } else if *method == Method::PATCH {
                    Scope("orders:write")
                } else {
                    Optional
                }
            }
        }
    }
}

/// Whether `path` matches a `spin.toml` pattern whose `:name` segments match one non-empty
/// segment each (no wildcards in our table).
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

/// Whether `granted` satisfies `needed`: the scope itself, or `admin`.
pub fn satisfies<'a>(mut granted: impl Iterator<Item = &'a str>, needed: &str) -> bool {
    granted.any(|scope| scope == needed || scope == ADMIN_SCOPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matched_route_header_names_the_route() {
        for (pattern, route) in ROUTES {
            assert_eq!(Route::resolve(Some(pattern), "/ignored"), Some(*route));
            assert_eq!(route.pattern(), *pattern);
        }
    }

    #[test]
    fn an_unknown_matched_route_has_no_policy_even_if_the_path_is_known() {
        assert_eq!(
            Route::resolve(Some("/api/v1/admin/..."), "/api/v1/products"),
            None
        );
        assert_eq!(Route::resolve(Some("/health"), "/health"), None);
    }

    #[test]
    fn without_the_header_the_path_is_matched_against_the_patterns() {
        assert_eq!(
            Route::resolve(None, "/api/v1/products"),
            Some(Route::Products)
        );
        assert_eq!(
            Route::resolve(None, "/api/v1/products/0190b0c4"),
            Some(Route::Product)
        );
        assert_eq!(Route::resolve(None, "/api/v1/users/me"), Some(Route::User));
        assert_eq!(
            Route::resolve(Some(""), "/api/v1/users/me/orders"),
            Some(Route::UserOrders)
        );
        assert_eq!(
            Route::resolve(None, "/api/v1/orders/42"),
            Some(Route::Order)
        );
        assert_eq!(Route::resolve(None, "/api/v1/orders"), None);
        assert_eq!(Route::resolve(None, "/api/v1/products//"), None);
        assert_eq!(Route::resolve(None, "/api/v1/products/1/extra"), None);
        assert_eq!(Route::resolve(None, "/api/v2/products"), None);
    }

    #[test]
    fn catalogue_reads_are_public_and_writes_need_products_write() {
        for route in [Route::Products, Route::Product] {
            assert_eq!(route.access(&Method::GET), Access::Optional);
            assert_eq!(route.access(&Method::HEAD), Access::Optional);
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                assert_eq!(route.access(&method), Access::Scope("products:write"));
            }
        }
    }

    #[test]
    fn registration_is_anonymous_and_the_user_list_is_for_admins() {
        assert_eq!(Route::Users.access(&Method::POST), Access::Optional);
        assert_eq!(Route::Users.access(&Method::GET), Access::Scope("admin"));
        assert_eq!(Route::Users.access(&Method::HEAD), Access::Scope("admin"));
    }

    #[test]
    fn a_user_resource_needs_users_scopes() {
        assert_eq!(
            Route::User.access(&Method::GET),
            Access::Scope("users:read")
        );
        assert_eq!(
            Route::User.access(&Method::PATCH),
            Access::Scope("users:write")
        );
        assert_eq!(
            Route::User.access(&Method::DELETE),
            Access::Scope("users:write")
        );
    }

    #[test]
    fn orders_need_orders_scopes() {
        assert_eq!(
            Route::UserOrders.access(&Method::GET),
            Access::Scope("orders:read")
        );
        assert_eq!(
            Route::UserOrders.access(&Method::POST),
            Access::Scope("orders:write")
        );
        assert_eq!(
            Route::Order.access(&Method::GET),
            Access::Scope("orders:read")
        );
        assert_eq!(
            Route::Order.access(&Method::PATCH),
            Access::Scope("orders:write")
        );
    }

    #[test]
    fn preflight_passes_everywhere_and_unlisted_methods_reach_the_component() {
        for (_, route) in ROUTES {
            assert_eq!(route.access(&Method::OPTIONS), Access::Preflight);
            assert_eq!(route.access(&Method::TRACE), Access::Optional);
        }
        assert_eq!(Route::User.access(&Method::PUT), Access::Optional);
        assert_eq!(Route::Order.access(&Method::DELETE), Access::Optional);
        assert_eq!(Route::UserOrders.access(&Method::PUT), Access::Optional);
    }

    #[test]
    fn admin_satisfies_any_scope_and_others_only_themselves() {
        assert!(satisfies(["admin"].into_iter(), "products:write"));
        assert!(satisfies(
            ["orders:read", "products:write"].into_iter(),
            "products:write"
        ));
        assert!(!satisfies(["orders:read"].into_iter(), "products:write"));
        assert!(!satisfies(["products:write"].into_iter(), "admin"));
        assert!(!satisfies(std::iter::empty(), "orders:read"));
        assert!(!satisfies(["Admin", "admin:x"].into_iter(), "orders:read"));
    }
}
