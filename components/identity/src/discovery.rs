//! RFC 8414 / OpenID Connect Discovery 1.0 metadata: exactly what this server implements.

use bytes::Bytes;
use edge_http::{ApiError, HandlerResult, bytes_response, json_response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::model::Env;

/// The metadata document for `issuer`. `issuer` is published exactly as configured (it
/// must equal every `iss`); endpoint URLs join it without doubling a trailing slash.
pub fn metadata_document(issuer: &str) -> Value {
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

/// Discovery and JWKS may be cached for 5 minutes (short enough for key rotation, whose
/// next key is published well ahead).
pub const METADATA_MAX_AGE_SECS: u64 = 300;

fn cacheable_json(value: &serde_json::Value) -> HandlerResult {
    let mut response = json_response(StatusCode::OK, value)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={METADATA_MAX_AGE_SECS}"))
            .map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub fn metadata<R, K>(env: &Env<'_, R, K>, request: &http::Request<Bytes>) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    cacheable_json(&metadata_document(&env.config.issuer))
}

/// `GET /oauth2/jwks`: current, next and retired public keys.
pub fn jwks<R, K>(env: &Env<'_, R, K>, request: &http::Request<Bytes>) -> HandlerResult {
    edge_http::require_method(request.method(), &[Method::GET])?;
    let body = env.config.verifying_keys.to_jwks_json();
    let mut response = bytes_response(StatusCode::OK, "application/json", Bytes::from(body));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={METADATA_MAX_AGE_SECS}"))
            .map_err(ApiError::internal)?,
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_extend_the_issuer_byte_for_byte() {
        let doc = metadata_document("https://id.example");
        assert_eq!(doc["issuer"], "https://id.example");
        assert_eq!(doc["token_endpoint"], "https://id.example/oauth2/token");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    }

    #[test]
    fn a_trailing_slash_stays_in_the_issuer_but_not_in_the_endpoints() {
        let doc = metadata_document("https://id.example/tenant/");
        assert_eq!(doc["issuer"], "https://id.example/tenant/");
        assert_eq!(doc["jwks_uri"], "https://id.example/tenant/oauth2/jwks");
    }
}
