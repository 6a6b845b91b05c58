//! The OAuth 2.0 scopes Orderly grants (docs/standards.md §11): granular per resource and
//! action, `admin` on top, and the OpenID Connect ones.

use std::fmt;
use std::str::FromStr;

/// One scope. [`Scope::as_str`] is the only place a scope's name is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `openid`: an ID token and `/oauth2/userinfo` (OpenID Connect Core §3.1.2.1).
    OpenId,
    /// `profile`: the user's name claims (OpenID Connect Core §5.4).
    Profile,
    /// `email`: the user's email claims (OpenID Connect Core §5.4).
    Email,
    /// `products:read`: read the catalogue (it is public; the scope only marks intent).
    ProductsRead,
    /// `products:write`: create, replace, patch and delete products.
    ProductsWrite,
    /// `orders:read`: read one's own orders.
    OrdersRead,
    /// `orders:write`: place orders and change their status.
    OrdersWrite,
    /// `users:read`: read one's own account.
    UsersRead,
    /// `users:write`: change or delete one's own account.
    UsersWrite,
    /// `admin`: satisfies every other scope requirement; only administrators may hold it.
    Admin,
}

impl Scope {
    /// Every scope, in the order discovery lists them.
    pub const ALL: &'static [Scope] = &[
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::ProductsRead,
        Scope::ProductsWrite,
        Scope::OrdersRead,
        Scope::OrdersWrite,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::Admin,
    ];

    /// The scope token as it appears in requests, tokens and discovery.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::ProductsRead => "products:read",
            Scope::ProductsWrite => "products:write",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::Admin => "admin",
        }
    }

    /// What the scope allows, in words (consent pages, the OpenAPI document).
    pub const fn description(self) -> &'static str {
        match self {
            Scope::OpenId => "Sign you in and issue an ID token.",
            Scope::Profile => "Read your display name.",
            Scope::Email => "Read your email address.",
            Scope::ProductsRead => "Read the product catalogue.",
            Scope::ProductsWrite => "Create, change and delete products.",
            Scope::OrdersRead => "Read your orders.",
            Scope::OrdersWrite => "Place orders and change their status.",
            Scope::UsersRead => "Read your account.",
            Scope::UsersWrite => "Change or delete your account.",
            Scope::Admin => "Administer every user, order and product.",
        }
    }

    /// The scope named `token`, if Orderly knows it.
    pub fn parse(token: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|s| s.as_str() == token)
    }

    /// Whether holding `granted` (scope tokens, e.g. a token's `scope` claim split on
    /// spaces) satisfies a requirement of this scope: the scope itself, or `admin`.
    pub fn is_satisfied_by<'a>(self, granted: impl IntoIterator<Item = &'a str>) -> bool {
        granted
            .into_iter()
            .any(|token| token == self.as_str() || token == Scope::Admin.as_str())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope token Orderly does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope;

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown scope")
    }
}

impl std::error::Error for UnknownScope {}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Scope::parse(token).ok_or(UnknownScope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
            assert_eq!(scope.to_string().parse::<Scope>(), Ok(*scope));
            assert!(!scope.description().is_empty());
        }
        assert_eq!(Scope::parse("products:delete"), None);
        assert_eq!(
            Scope::parse("Products:Write"),
            None,
            "scope tokens are case-sensitive"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Scope::ALL.len());
    }

    #[test]
    fn admin_satisfies_every_requirement_and_nothing_else_crosses_over() {
        assert!(Scope::ProductsWrite.is_satisfied_by(["products:write"]));
        assert!(Scope::ProductsWrite.is_satisfied_by(["orders:read", "admin"]));
        assert!(!Scope::ProductsWrite.is_satisfied_by(["products:read", "orders:write"]));
        assert!(!Scope::ProductsWrite.is_satisfied_by([]));
    }
}
