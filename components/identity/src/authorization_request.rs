//! The authorization request of `GET /oauth2/authorize` (RFC 6749 §4.1.1, RFC 7636,
//! OIDC Core §3.1.2.1) parsed into a type up front, in two pure steps with no I/O:
//!
//! 1. [`ClientNamed::parse`]: the query is well formed and names a client. Until the
//!    client and its redirect URI are known, nothing may be redirected (RFC 6749
//!    §4.1.2.1), so these refusals are [`Refusal::Page`].
//! 2. [`ClientNamed::validate`] against the registered [`ClientRecord`]: the redirect URI
//!    is resolved first; every later refusal is [`Refusal::Redirect`], sent back to that
//!    (now trusted) URI with `error`, `state` and `iss`.
//!
//! The checks run in a fixed order, so a request with several faults always gets the same
//! answer: the first in the order below.

use tokens::ScopeSet;

use crate::form::Form;
use crate::model::ClientRecord;
use crate::oauth_error::ErrorCode;
use crate::pkce;
use crate::redirect::{self, RedirectError};
use crate::scopes::{self, ScopeRefusal};

/// Longest `state` echoed back.
pub const MAX_STATE_LEN: usize = 1024;
/// Longest `nonce` carried into the ID token.
pub const MAX_NONCE_LEN: usize = 255;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the user as a page: the redirect URI is not (yet) trusted.
    Page(&'static str),
    /// Sent back to the client's registered redirect URI.
    Redirect {
        /// The resolved, registered redirect URI.
        redirect_uri: String,
        /// `state` to echo (only when it is within bounds).
        state: Option<String>,
        /// The RFC 6749 §4.1.2.1 error code.
        code: ErrorCode,
        /// The `error_description`.
        description: &'static str,
    },
}

/// `prompt` (OIDC Core §3.1.2.1), the two values this server acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `prompt=login`: sign in again even with a live session.
    pub login: bool,
    /// `prompt=none`: never show a page; `login_required` when not signed in.
    pub none: bool,
}

/// Step 1: a well-formed query that names a client.
#[derive(Debug)]
pub struct ClientNamed {
    query: Form,
    client_id: String,
}

/// Step 2: a request the client may make, every parameter checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The registered, active client making it.
    pub client: ClientRecord,
    /// The registered redirect URI the answer goes to.
    pub redirect_uri: String,
    /// The requested scope, within what the client may ask for.
    pub scope: ScopeSet,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge (43 base64url characters).
    pub code_challenge: String,
    /// What `prompt` asks for.
    pub prompt: Prompt,
}

impl ClientNamed {
    /// Parses the raw query string.
    pub fn parse(query: &str) -> Result<Self, Refusal> {
        let query = Form::parse(query.as_bytes())
            .map_err(|_| Refusal::Page("The request parameters are malformed or repeated."))?;
        let client_id = query
            .get("client_id")
            .ok_or(Refusal::Page(
                "The request names no client (client_id is missing).",
            ))?
            .to_owned();
        Ok(Self { query, client_id })
    }

    /// The `client_id` to look up.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Checks the request against the registered client (`None`: unknown). The client
    /// must be active.
    pub fn validate(self, client: Option<ClientRecord>) -> Result<AuthorizationRequest, Refusal> {
        let client = client
            .filter(|c| c.active)
            .ok_or(Refusal::Page("The client is unknown or disabled."))?;
        let query = &self.query;
        let redirect_uri = redirect::resolve(query.get("redirect_uri"), &client.redirect_uris)
            .map_err(|error| match error {
                RedirectError::Missing => {
                    Refusal::Page("The request names no redirect_uri and the client has several.")
                }
                RedirectError::NotRegistered => {
                    Refusal::Page("The redirect_uri is not registered for this client.")
                }
            })?
            .to_owned();
        let state = query.get("state");
        let fail = |code: ErrorCode, description: &'static str| Refusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state
                .filter(|s| s.len() <= MAX_STATE_LEN)
                .map(str::to_owned),
            code,
            description,
        };
        let invalid = |description| fail(ErrorCode::InvalidRequest, description);

        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(invalid("state is too long."));
        }
        if query.get("request").is_some() || query.get("request_uri").is_some() {
            return Err(invalid("Request objects are not supported."));
        }
        match query.get("response_type") {
            None => return Err(invalid("response_type is required.")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(
                    ErrorCode::UnsupportedResponseType,
                    "Only response_type=code is supported.",
                ));
            }
        }
        if !client.allows_grant("authorization_code") {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "The client may not use the authorization code grant.",
            ));
        }
        if query.get("response_mode").is_some_and(|m| m != "query") {
            return Err(invalid("Only response_mode=query is supported."));
        }
        match query.get("code_challenge_method") {
            Some(pkce::S256) => {}
            Some("plain") => {
                return Err(invalid(
                    "code_challenge_method=plain is not supported; use S256.",
                ));
            }
            Some(_) => return Err(invalid("code_challenge_method must be S256.")),
            None => return Err(invalid("PKCE is required: code_challenge_method=S256.")),
        }
        let code_challenge = query
            .get("code_challenge")
            .ok_or_else(|| invalid("PKCE is required: code_challenge is missing."))?;
        if !pkce::is_valid_s256_challenge(code_challenge) {
            return Err(invalid("code_challenge must be 43 base64url characters."));
        }
        let scope =
            scopes::requested(query.get("scope"), &client.scopes).map_err(
                |refusal| match refusal {
                    ScopeRefusal::Malformed => {
                        fail(ErrorCode::InvalidScope, "The scope is malformed.")
                    }
                    ScopeRefusal::NotAllowed => fail(
                        ErrorCode::InvalidScope,
                        "The requested scope exceeds what the client may request.",
                    ),
                },
            )?;
        let nonce = query.get("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_NONCE_LEN) {
            return Err(invalid("nonce is too long."));
        }
        let prompt = query.get("prompt").unwrap_or("");
        let prompt = Prompt {
            login: prompt.split(' ').any(|p| p == "login"),
            none: prompt.split(' ').any(|p| p == "none"),
        };
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            scope,
            state: state.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
            prompt,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use uuid::Uuid;

    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const URI: &str = "http://127.0.0.1:8400/callback";

    fn client() -> ClientRecord {
        ClientRecord {
            id: Uuid::nil(),
            client_id: "web".to_owned(),
            name: "Web".to_owned(),
            confidential: false,
            secret_hash: None,
            redirect_uris: vec![URI.to_owned()],
            grant_types: vec!["authorization_code".to_owned()],
            scopes: ScopeSet::parse("openid products:read").unwrap(),
            active: true,
        }
    }

    fn good() -> String {
        format!(
            "client_id=web&response_type=code&code_challenge_method=S256&code_challenge={CHALLENGE}&state=s1&scope=openid"
        )
    }

    fn validate(query: &str) -> Result<AuthorizationRequest, Refusal> {
        ClientNamed::parse(query)?.validate(Some(client()))
    }

    fn redirected(query: &str) -> (ErrorCode, &'static str, Option<String>) {
        match validate(query) {
            Err(Refusal::Redirect {
                redirect_uri,
                state,
                code,
                description,
            }) => {
                assert_eq!(redirect_uri, URI);
                (code, description, state)
            }
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_parses_into_every_field() {
        let request = validate(&format!("{}&nonce=n1&prompt=login%20consent", good())).unwrap();
        assert_eq!(
            request,
            AuthorizationRequest {
                client: client(),
                redirect_uri: URI.to_owned(),
                scope: ScopeSet::parse("openid").unwrap(),
                state: Some("s1".to_owned()),
                nonce: Some("n1".to_owned()),
                code_challenge: CHALLENGE.to_owned(),
                prompt: Prompt {
                    login: true,
                    none: false
                },
            }
        );
    }

    #[test]
    fn until_the_redirect_uri_is_trusted_refusals_are_pages() {
        assert_eq!(
            ClientNamed::parse("client_id=a&client_id=b").unwrap_err(),
            Refusal::Page("The request parameters are malformed or repeated.")
        );
        assert_eq!(
            ClientNamed::parse("response_type=code").unwrap_err(),
            Refusal::Page("The request names no client (client_id is missing).")
        );
        let named = ClientNamed::parse(&good()).unwrap();
        assert_eq!(named.client_id(), "web");
        assert_eq!(
            named.validate(None).unwrap_err(),
            Refusal::Page("The client is unknown or disabled.")
        );
        let disabled = ClientRecord {
            active: false,
            ..client()
        };
        assert_eq!(
            ClientNamed::parse(&good())
                .unwrap()
                .validate(Some(disabled))
                .unwrap_err(),
            Refusal::Page("The client is unknown or disabled.")
        );
        assert_eq!(
            validate(&format!(
                "{}&redirect_uri=https%3A%2F%2Fevil.example%2F",
                good()
            ))
            .unwrap_err(),
            Refusal::Page("The redirect_uri is not registered for this client.")
        );
        let two = ClientRecord {
            redirect_uris: vec![URI.to_owned(), "http://localhost:8400/callback".to_owned()],
            ..client()
        };
        assert_eq!(
            ClientNamed::parse(&good())
                .unwrap()
                .validate(Some(two))
                .unwrap_err(),
            Refusal::Page("The request names no redirect_uri and the client has several.")
        );
    }

    #[test]
    fn later_refusals_go_back_to_the_client_with_state() {
        for extra in ["&request=x", "&request_uri=x", "&response_mode=fragment"] {
            let (code, _, state) = redirected(&format!("{}{extra}", good()));
            assert_eq!(code, ErrorCode::InvalidRequest, "{extra}");
            assert_eq!(state.as_deref(), Some("s1"));
        }
        // An empty nonce and response_mode=query are allowed.
        assert!(validate(&format!("{}&nonce=&response_mode=query", good())).is_ok());
        let without = |name: &str| {
            good()
                .split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            redirected(&without("response_type")).1,
            "response_type is required."
        );
        assert_eq!(
            redirected(&without("code_challenge_method")).1,
            "PKCE is required: code_challenge_method=S256."
        );
        assert_eq!(
            redirected(&without("code_challenge")).1,
            "PKCE is required: code_challenge is missing."
        );
        assert_eq!(
            redirected(&good().replace("response_type=code", "response_type=token")).0,
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            redirected(&good().replace("method=S256", "method=plain")).1,
            "code_challenge_method=plain is not supported; use S256."
        );
        assert_eq!(
            redirected(&good().replace(CHALLENGE, "short")).1,
            "code_challenge must be 43 base64url characters."
        );
        assert_eq!(
            redirected(&good().replace("scope=openid", "scope=admin")).0,
            ErrorCode::InvalidScope
        );
        let long = "n".repeat(MAX_NONCE_LEN + 1);
        assert_eq!(
            redirected(&format!("{}&nonce={long}", good())).1,
            "nonce is too long."
        );
    }

    #[test]
    fn an_overlong_state_is_refused_and_not_echoed() {
        let long = "s".repeat(MAX_STATE_LEN + 1);
        let (code, description, state) =
            redirected(&good().replace("state=s1", &format!("state={long}")));
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert_eq!(description, "state is too long.");
        assert_eq!(state, None);
    }

    #[test]
    fn a_client_without_the_code_grant_is_unauthorized() {
        let machine = ClientRecord {
            grant_types: vec!["client_credentials".to_owned()],
            ..client()
        };
        match ClientNamed::parse(&good())
            .unwrap()
            .validate(Some(machine))
            .unwrap_err()
        {
            Refusal::Redirect { code, .. } => assert_eq!(code, ErrorCode::UnauthorizedClient),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn checks_run_in_a_fixed_order() {
        // Both response_type and PKCE are wrong: response_type is reported.
        let query = "client_id=web&response_type=token&state=s1";
        assert_eq!(redirected(query).0, ErrorCode::UnsupportedResponseType);
        // A request object and a bad response_type: the request object is reported.
        let query = "client_id=web&response_type=token&request=x";
        assert_eq!(redirected(query).1, "Request objects are not supported.");
    }
}
