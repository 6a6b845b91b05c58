//! The `wasi:http` middleware entry (Spin >= 4.1 `dependencies.middleware`).

use bytes::Bytes;
use edge_http::{
    ApiError, BodyError, EdgeConfig, HandlerResult, MATCHED_ROUTE_HEADER, RequestContext,
};
use http::request::Parts;
use http_body_util::Full;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;
use store::spin::{SpinRuntime, SpinShared};

use crate::bearer;
use crate::forward;
use crate::responses;
use crate::service::{self, Config, Decision, Rejection};
use contract::Route;

/// Refusals go through the edge like any component's errors. The body cap applies only to
/// the form bodies this middleware has to read (to refuse an `access_token` in them); other
/// bodies are streamed to the component unread.
static EDGE: EdgeConfig = EdgeConfig::new("auth");

/// Largest form body read to look for `access_token` (the components' default cap).
const MAX_FORM_BYTES: usize = edge_http::edge::DEFAULT_MAX_BODY_BYTES;

/// Now (one clock seam: `store::Clock`, the wall clock in Spin).
fn now() -> kit::Now {
    kit::Now::from_clock(&SpinRuntime::default())
}

/// Answers without calling the component, inside the edge (security headers, request id,
/// problem document, log line).
async fn answer<F>(parts: Parts, respond: F) -> edge_http::EdgeResponse
where
    F: FnOnce(&RequestContext) -> HandlerResult,
{
    let request = http::Request::from_parts(parts, Full::new(Bytes::new()));
    edge_http::serve(&EDGE, request, |_request, context| async move {
        respond(&context)
    })
    .await
}

async fn reject(parts: Parts, rejection: Rejection) -> edge_http::EdgeResponse {
    answer(parts, move |context| responses::respond(rejection, context)).await
}

/// The body passed on: the form body we had to read, or the untouched stream.
enum Forwarded<B> {
    Read(Bytes),
    Streaming(B),
}

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let (mut parts, body) = request.into_parts();
    forward::ensure_request_id(&mut parts.headers);
    forward::strip_internal_headers(&mut parts.headers);

    if bearer::query_has_access_token(parts.uri.query()) {
        let why = "not in the query string";
        return reject(parts, Rejection::InvalidRequest(why))
            .await
            .into_response();
    }

    // Only a form body can carry `access_token` (RFC 6750 §2.2); only then is it read.
    let form_body = if bearer::is_form(&parts.headers) {
        match edge_http::read_body_capped(&parts.headers, body, MAX_FORM_BYTES).await {
            Ok(bytes) if bearer::form_has_access_token(&bytes) => {
                let why = "not in a form body";
                return reject(parts, Rejection::InvalidRequest(why))
                    .await
                    .into_response();
            }
            Ok(bytes) => Forwarded::Read(bytes),
            Err(BodyError::TooLarge { limit_bytes }) => {
                let error = ApiError::PayloadTooLarge { limit_bytes };
                return answer(parts, move |_| Err(error)).await.into_response();
            }
            Err(BodyError::Read(reason)) => {
                let error = ApiError::bad_request("The request body could not be read.");
                return answer(parts, move |context| {
                    let mut response = error.to_response(context.request_id());
                    edge_http::attach_log_cause(&mut response, reason);
                    Ok(response)
                })
                .await
                .into_response();
            }
        }
    } else {
        Forwarded::Streaming(body)
    };

    let config = match kit::spin::settings::<Config>().await {
        Ok(config) => config,
        Err(error) => {
            let error = ApiError::from(error);
            return answer(parts, move |_| Err(error)).await.into_response();
        }
    };
    let route = Route::resolve(
        parts
            .headers
            .get(MATCHED_ROUTE_HEADER)
            .and_then(|v| v.to_str().ok()),
        parts.uri.path(),
    );
    let credential = bearer::from_headers(&parts.headers);
    let decision = service::authorize(
        &config,
        &SpinShared::new(),
        route,
        &parts.method,
        credential,
        now(),
    )
    .await;

    match decision {
        Decision::Reject(rejection) => reject(parts, rejection).await.into_response(),
        Decision::Pass(principal) => {
            if let Some(principal) = principal
                && forward::set_principal(&mut parts.headers, &principal).is_err()
            {
                let why = "the token has an invalid claim";
                return reject(parts, Rejection::InvalidToken(why))
                    .await
                    .into_response();
            }
            // The component's response goes back as it is: its own edge already added the
            // headers and wrote the log line.
            let response = match form_body {
                Forwarded::Read(bytes) => {
                    spin_sdk::http::next(http::Request::from_parts(parts, Full::new(bytes))).await
                }
                Forwarded::Streaming(body) => {
                    spin_sdk::http::next(http::Request::from_parts(parts, body)).await
                }
            };
            match response {
                Ok(response) => response.into_response(),
                Err(code) => Err(code),
            }
        }
    }
}
