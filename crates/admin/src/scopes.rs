//! The scopes a client may be registered for: the catalogue of `contract::Scope` (spelled
//! once for every component), all of it for clients that act for users
//! (`authorization_code`), without the OpenID Connect scopes for machine clients
//! (`client_credentials`: no user, so no ID token or userinfo). The OpenAPI document's OAuth
//! flows say the same (a test below holds them together).

use contract::Scope;

/// The scope that satisfies every other one; a machine client gets it only on request
/// (`--allow-admin-scope`).
pub const ADMIN: &str = Scope::Admin.as_str();

/// Which OAuth flow a scope list is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `authorization_code` (+ `refresh_token`): a client acting for users.
    AuthorizationCode,
    /// `client_credentials`: a client acting for itself.
    ClientCredentials,
}

fn is_oidc(scope: Scope) -> bool {
    matches!(scope, Scope::OpenId | Scope::Profile | Scope::Email)
}

/// The scopes `flow` offers, in the contract's order.
pub fn offered(flow: Flow) -> Vec<&'static str> {
    Scope::ALL
        .iter()
        .filter(|s| flow == Flow::AuthorizationCode || !is_oidc(**s))
        .map(|s| s.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn openapi_flow(flow: &str) -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../openapi/openapi.json")).unwrap();
        doc.pointer(&format!(
            "/components/securitySchemes/oauth2/flows/{flow}/scopes"
        ))
        .and_then(serde_json::Value::as_object)
        .unwrap()
        .keys()
        .cloned()
        .collect()
    }

    #[test]
    fn the_offered_scopes_are_the_openapi_documents_flows() {
        for (flow, name) in [
            (Flow::AuthorizationCode, "authorizationCode"),
            (Flow::ClientCredentials, "clientCredentials"),
        ] {
            let mut offered = offered(flow);
            let mut documented = openapi_flow(name);
            offered.sort_unstable();
            documented.sort_unstable();
            assert_eq!(offered, documented, "{name}");
        }
        assert!(!offered(Flow::ClientCredentials).contains(&"openid"));
    }
}
