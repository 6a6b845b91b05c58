//! The scopes a client may be registered for, read from the OpenAPI document (the API's
//! contract, `openapi/openapi.json`, compiled in): the `authorizationCode` flow's scopes
//! for clients that act for users, the `clientCredentials` flow's for machine clients.

use serde_json::Value;

use crate::error::{AdminError, Result};

const OPENAPI: &str = include_str!("../../../openapi/openapi.json");

/// The scope that satisfies every other one; a machine client gets it only on request
/// (`--allow-admin-scope`).
pub const ADMIN: &str = "admin";

/// Which OAuth flow a scope list is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `authorization_code` (+ `refresh_token`): a client acting for users.
    AuthorizationCode,
    /// `client_credentials`: a client acting for itself.
    ClientCredentials,
}

impl Flow {
    fn openapi_name(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorizationCode",
            Self::ClientCredentials => "clientCredentials",
        }
    }
}

/// The scopes the OpenAPI document offers for `flow`, in its order.
pub fn offered(flow: Flow) -> Result<Vec<String>> {
    let contract = || AdminError::invalid("openapi.json", "no OAuth flows (build problem)");
    let doc: Value = serde_json::from_str(OPENAPI).map_err(|_| contract())?;
    let scopes = doc
        .pointer(&format!(
            "/components/securitySchemes/oauth2/flows/{}/scopes",
            flow.openapi_name()
        ))
        .and_then(Value::as_object)
        .ok_or_else(contract)?;
    Ok(scopes.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn machine_clients_get_no_openid_scopes_and_user_clients_do() {
        let machine = offered(Flow::ClientCredentials).unwrap();
        let user = offered(Flow::AuthorizationCode).unwrap();
        assert!(machine.contains(&"products:write".to_owned()));
        assert!(!machine.contains(&"openid".to_owned()));
        assert!(user.contains(&"openid".to_owned()));
        assert!(user.contains(&ADMIN.to_owned()));
    }
}
