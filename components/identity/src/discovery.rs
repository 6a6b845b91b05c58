//! RFC 8414 / OpenID Connect Discovery 1.0 metadata: exactly what this server implements.

use serde_json::{Value, json};

/// The metadata document for `issuer`. `issuer` is published exactly as configured (it
/// must equal every `iss`); endpoint URLs join it without doubling a trailing slash.
pub fn metadata(issuer: &str) -> Value {
    let base = issuer.trim_end_matches('/');
    let endpoint = |path: &str| format!("{base}{path}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint("/oauth2/authorize"),
        "token_endpoint": endpoint("/oauth2/token"),
        "revocation_endpoint": endpoint("/oauth2/revoke"),
        "introspection_endpoint": endpoint("/oauth2/introspect"),
        "userinfo_endpoint": endpoint("/oauth2/userinfo"),
        "jwks_uri": endpoint("/oauth2/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": contract::Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name"],
        "prompt_values_supported": ["none", "login"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_extend_the_issuer_byte_for_byte() {
        let doc = metadata("https://id.example");
        assert_eq!(doc["issuer"], "https://id.example");
        assert_eq!(doc["token_endpoint"], "https://id.example/oauth2/token");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    }

    #[test]
    fn a_trailing_slash_stays_in_the_issuer_but_not_in_the_endpoints() {
        let doc = metadata("https://id.example/tenant/");
        assert_eq!(doc["issuer"], "https://id.example/tenant/");
        assert_eq!(doc["jwks_uri"], "https://id.example/tenant/oauth2/jwks");
    }
}
