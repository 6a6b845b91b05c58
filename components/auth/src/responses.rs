//! Refusals as HTTP: RFC 6750 §3 challenges and RFC 9457 problem documents. The entry runs
//! these inside `edge_http::serve`, so each one also carries the security headers, the
//! request id and one log line.

use edge_http::{ApiError, HandlerResult, RequestContext, attach_log_cause};
use http::{HeaderValue, header};

use crate::service::Rejection;

/// The `realm` of every challenge.
pub const REALM: &str = contract::BEARER_REALM;

/// Seconds a client should wait after a 503 (the revocation list was unreachable).
pub const RETRY_AFTER_SECS: u64 = 5;

/// The `WWW-Authenticate` value for a rejection, if it has one.
pub fn challenge(rejection: &Rejection) -> Option<String> {
    match rejection {
        Rejection::NoCredentials(_) => Some(format!("Bearer realm=\"{REALM}\"")),
        Rejection::InvalidRequest(description) => Some(format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_request\", error_description=\"{}\"",
            quoted(description)
        )),
        Rejection::InvalidToken(description) => Some(format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
            quoted(description)
        )),
        Rejection::InsufficientScope(scope) => Some(format!(
            "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
            quoted(scope.as_str())
        )),
        Rejection::NoPolicy | Rejection::Unavailable(_) => None,
    }
}

/// RFC 6750 §3: attribute values are quoted strings of `%x20-21 / %x23-5B / %x5D-7E`; our
/// texts are fixed, but nothing outside that set can get in.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

/// The response for `rejection`.
pub fn respond(rejection: Rejection, context: &RequestContext) -> HandlerResult {
    let challenge_value = challenge(&rejection);
    let (error, cause) = match rejection {
        Rejection::NoCredentials(detail) => (
            ApiError::Unauthorized {
                challenge: challenge_value.clone().unwrap_or_default(),
                detail: capitalised(detail),
            },
            None,
        ),
        Rejection::InvalidToken(description) => (
            ApiError::Unauthorized {
                challenge: challenge_value.clone().unwrap_or_default(),
                detail: format!("The access token was refused: {description}."),
            },
            None,
        ),
        Rejection::InvalidRequest(description) => (
            ApiError::bad_request(format!(
                "Access tokens are accepted only in the Authorization header: {description}."
            )),
            None,
        ),
        Rejection::InsufficientScope(scope) => (
            ApiError::Forbidden {
                detail: format!("This request needs the `{scope}` scope."),
            },
            None,
        ),
        Rejection::NoPolicy => (
            ApiError::Forbidden {
                detail: "No access policy covers this route.".to_owned(),
            },
            None,
        ),
        Rejection::Unavailable(cause) => (
            ApiError::ServiceUnavailable {
                retry_after_secs: RETRY_AFTER_SECS,
            },
            Some(cause),
        ),
    };
    let mut response = error.to_response(context.request_id());
    if let Some(value) = challenge_value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(cause) = cause {
        attach_log_cause(&mut response, cause);
    }
    Ok(response)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_ascii_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_http::{PROBLEM_JSON, RequestContext};
    use futures::executor::block_on;
    use http::StatusCode;
    use http_body_util::BodyExt;
    use serde_json::Value;

    fn problem(response: edge_http::EdgeResponse) -> Value {
        let bytes = block_on(response.into_body().collect()).unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn run(rejection: Rejection) -> (edge_http::EdgeResponse, RequestContext) {
        let context = RequestContext::detached("/api/v1/products");
        (respond(rejection, &context).unwrap(), context)
    }

    #[test]
    fn no_credentials_is_a_bare_challenge_without_an_error_code() {
        let (response, context) = run(Rejection::NoCredentials("this request needs a token"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"orderly\""
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = problem(response);
        assert_eq!(body["status"], 401);
        assert_eq!(body["request_id"], context.request_id().as_str());
        assert_eq!(body["detail"], "This request needs a token.");
    }

    #[test]
    fn an_invalid_token_names_the_error_and_its_fixed_description() {
        let (response, _) = run(Rejection::InvalidToken("the token has expired"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"orderly\", error=\"invalid_token\", error_description=\"the token has expired\""
        );
        assert_eq!(
            problem(response)["detail"],
            "The access token was refused: the token has expired."
        );
    }

    #[test]
    fn insufficient_scope_is_403_naming_the_scope() {
        let (response, _) = run(Rejection::InsufficientScope(contract::Scope::ProductsWrite));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"orderly\", error=\"insufficient_scope\", scope=\"products:write\""
        );
        assert_eq!(problem(response)["status"], 403);
    }

    #[test]
    fn a_token_outside_the_header_is_400_invalid_request() {
        let (response, _) = run(Rejection::InvalidRequest("not in the query"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_request\"")
        );
    }

    #[test]
    fn an_unreachable_revocation_list_is_503_with_retry_after_and_no_cause_in_the_body() {
        let (response, _) = run(Rejection::Unavailable(
            "redis://:secret@host down".to_owned(),
        ));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        let text = problem(response).to_string();
        assert!(
            !text.contains("secret") && !text.contains("redis"),
            "{text}"
        );
    }

    #[test]
    fn no_policy_is_a_plain_403() {
        let (response, _) = run(Rejection::NoPolicy);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn challenge_values_cannot_carry_quotes_or_control_characters() {
        assert_eq!(quoted("a\"b\\c\r\nd"), "abcd");
    }
}
