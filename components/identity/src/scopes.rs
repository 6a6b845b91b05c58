//! Which scopes a request gets (docs/standards.md §11): never more than the client is
//! registered for, `admin` only for admins, and by default the client's scopes without
//! `admin`.

use tokens::ScopeSet;

use contract::Scope;

/// The scope only administrators may hold.
pub const ADMIN: &str = Scope::Admin.as_str();
/// The OpenID Connect scope.
pub const OPENID: &str = Scope::OpenId.as_str();

/// Why a requested scope is refused (`invalid_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRefusal {
    /// Not RFC 6749 §3.3 syntax.
    Malformed,
    /// Asks for more than allowed.
    NotAllowed,
}

/// `set` without `token`.
pub fn without(set: &ScopeSet, token: &str) -> ScopeSet {
    ScopeSet::from_tokens(set.iter().filter(|t| *t != token)).unwrap_or_else(|_| ScopeSet::empty())
}

/// The scope a client asks for: the request if it is a subset of `allowed`, else
/// refused; with no request, `allowed` without `admin`.
pub fn requested(requested: Option<&str>, allowed: &ScopeSet) -> Result<ScopeSet, ScopeRefusal> {
    match requested {
        None => Ok(without(allowed, ADMIN)),
        Some(text) => {
            let scope = ScopeSet::parse(text).map_err(|_| ScopeRefusal::Malformed)?;
            if allowed.contains_all(&scope) {
                Ok(scope)
            } else {
                Err(ScopeRefusal::NotAllowed)
            }
        }
    }
}

/// What a user actually gets: `admin` is dropped unless they are an administrator
/// (RFC 6749 §3.3 lets the server grant less than asked; the token response says so).
pub fn for_user(scope: &ScopeSet, is_admin: bool) -> ScopeSet {
    if is_admin {
        scope.clone()
    } else {
        without(scope, ADMIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap()
    }

    #[test]
    fn the_default_is_the_clients_scopes_without_admin() {
        let allowed = set("openid orders:read admin");
        assert_eq!(requested(None, &allowed), Ok(set("openid orders:read")));
    }

    #[test]
    fn a_request_must_be_a_subset() {
        let allowed = set("openid orders:read");
        assert_eq!(
            requested(Some("orders:read"), &allowed),
            Ok(set("orders:read"))
        );
        assert_eq!(
            requested(Some("orders:read orders:write"), &allowed),
            Err(ScopeRefusal::NotAllowed)
        );
        assert_eq!(
            requested(Some("bad\"scope"), &allowed),
            Err(ScopeRefusal::Malformed)
        );
    }

    #[test]
    fn admin_only_for_admins() {
        let scope = set("admin orders:read");
        assert_eq!(for_user(&scope, false), set("orders:read"));
        assert_eq!(for_user(&scope, true), scope);
    }
}
