//! Routes: `/openapi.json` and `/docs`, both `GET`/`HEAD` with conditional requests.

use bytes::Bytes;
use edge_http::{ApiError, ETag, HandlerResult, bytes_response, negotiate, not_modified_for};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use kit::Request;

use crate::{document, render};

/// The OpenAPI document.
pub const OPENAPI_ROUTE: &str = "/openapi.json";
/// The rendered documentation page.
pub const DOCS_ROUTE: &str = "/docs";
/// Public and cacheable for five minutes: the document changes only with a deployment,
/// and the `ETag` makes revalidation cheap.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// What `/openapi.json` can be served as, in our order of preference. Plain JSON is
/// what tools ask for; `application/openapi+json` is the registered OpenAPI type.
const DOCUMENT_TYPES: &[&str] = &["application/json", "application/openapi+json"];
const PAGE_TYPES: &[&str] = &["text/html"];

/// Dispatches a request whose route (and method) the kit has checked.
pub fn route(request: &Request) -> HandlerResult {
    let headers = request.headers();
    let path = request.route.pattern();
    if path == OPENAPI_ROUTE {
        let media_type = negotiate(headers, DOCUMENT_TYPES)?;
        let content_type = match media_type {
            "application/openapi+json" => "application/openapi+json",
            _ => "application/json",
        };
        representation(
            headers,
            content_type,
            document::etag(),
            Bytes::from_static(document::OPENAPI_JSON.as_bytes()),
        )
    } else {
        negotiate(headers, PAGE_TYPES)?;
        let page = render::page().ok_or_else(|| {
            ApiError::internal("openapi/openapi.json embedded in docs is not valid JSON")
        })?;
        representation(
            headers,
            "text/html; charset=utf-8",
            &page.etag,
            Bytes::from_static(page.html.as_bytes()),
        )
    }
}

/// A cacheable representation, or 304 when the client's `If-None-Match` already names
/// it (weak comparison, `*`, lists: RFC 9110 §13.1.2, via `edge_http::conditional`).
fn representation(
    request_headers: &HeaderMap,
    content_type: &'static str,
    etag: &ETag,
    body: Bytes,
) -> HandlerResult {
    let mut response = bytes_response(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(not_modified_for(request_headers, &response).unwrap_or(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Docs;
    use edge_http::{Handled, PROBLEM_JSON};
    use futures::executor::block_on;
    use http::Method;
    use http_body_util::{BodyExt, Full};
    use serde_json::Value;
    use store::testing::FakeKv;

    struct Fixed;
    impl store::Clock for Fixed {
        fn now_millis(&self) -> u64 {
            1_790_000_000_000
        }
    }

    fn call(method: Method, path: &str, headers: &[(&str, &str)]) -> Handled {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("spin-matched-route", path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|e| panic!("request: {e}"));
        block_on(kit::serve(Ok(&Docs), &FakeKv::default(), &Fixed, request))
    }

    fn header_value(etag: &ETag) -> String {
        etag.to_header_value()
            .to_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn body(handled: Handled) -> Bytes {
        block_on(handled.response.into_body().collect())
            .unwrap_or_else(|e| panic!("body: {e}"))
            .to_bytes()
    }

    fn header_of(handled: &Handled, name: header::HeaderName) -> &str {
        handled
            .response
            .headers()
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn openapi_json_is_the_embedded_document_with_etag_and_public_caching() {
        let handled = call(Method::GET, "/openapi.json", &[]);
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&handled, header::CONTENT_TYPE),
            "application/json"
        );
        assert_eq!(
            header_of(&handled, header::CACHE_CONTROL),
            "public, max-age=300"
        );
        assert_eq!(
            header_of(&handled, header::ETAG),
            header_value(document::etag())
        );
        assert!(handled.response.headers().contains_key("x-request-id"));
        let bytes = body(handled);
        assert_eq!(bytes, document::OPENAPI_JSON.as_bytes());
        let parsed: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON: {e}"));
        assert_eq!(parsed["openapi"], "3.1.0");
    }

    #[test]
    fn a_matching_if_none_match_is_304_without_a_body_but_with_the_validators() {
        let etag = header_value(document::etag());
        for sent in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let handled = call(Method::GET, "/openapi.json", &[("if-none-match", &sent)]);
            assert_eq!(
                handled.response.status(),
                StatusCode::NOT_MODIFIED,
                "{sent}"
            );
            assert_eq!(
                header_of(&handled, header::ETAG),
                header_value(document::etag())
            );
            assert_eq!(header_of(&handled, header::CACHE_CONTROL), CACHE_CONTROL);
            assert!(body(handled).is_empty());
        }
    }

    #[test]
    fn a_stale_if_none_match_gets_the_full_document() {
        let handled = call(
            Method::GET,
            "/openapi.json",
            &[("if-none-match", "\"stale\"")],
        );
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_eq!(body(handled).len(), document::OPENAPI_JSON.len());
    }

    #[test]
    fn the_registered_openapi_media_type_is_served_when_asked_for() {
        let handled = call(
            Method::GET,
            "/openapi.json",
            &[("accept", "application/openapi+json")],
        );
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&handled, header::CONTENT_TYPE),
            "application/openapi+json"
        );
    }

    #[test]
    fn an_accept_that_excludes_json_is_406() {
        let handled = call(Method::GET, "/openapi.json", &[("accept", "text/csv")]);
        assert_eq!(handled.response.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(header_of(&handled, header::CONTENT_TYPE), PROBLEM_JSON);
    }

    #[test]
    fn other_methods_get_405_with_allow_get_head() {
        for path in ["/openapi.json", "/docs"] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let handled = call(method.clone(), path, &[]);
                assert_eq!(
                    handled.response.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                assert_eq!(header_of(&handled, header::ALLOW), "GET, HEAD");
                assert_eq!(header_of(&handled, header::CONTENT_TYPE), PROBLEM_JSON);
            }
        }
    }

    #[test]
    fn head_answers_the_headers_without_a_body() {
        for path in ["/openapi.json", "/docs"] {
            let handled = call(Method::HEAD, path, &[]);
            assert_eq!(handled.response.status(), StatusCode::OK, "{path}");
            assert!(handled.response.headers().contains_key(header::ETAG));
            assert!(body(handled).is_empty());
        }
    }

    #[test]
    fn docs_is_html_with_its_own_strict_csp_etag_and_no_script() {
        let handled = call(Method::GET, "/docs", &[("accept", "text/html")]);
        assert_eq!(handled.response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&handled, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        let csp = header_of(&handled, header::CONTENT_SECURITY_POLICY).to_owned();
        assert_eq!(csp, render::DOCS_CONTENT_SECURITY_POLICY);
        assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
        assert!(!csp.contains("script-src"), "{csp}");
        let etag = header_of(&handled, header::ETAG).to_owned();
        assert_eq!(header_of(&handled, header::CACHE_CONTROL), CACHE_CONTROL);
        let html = String::from_utf8(body(handled).to_vec()).unwrap_or_default();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert!(!html.contains("http://cdn") && !html.contains("https://cdn"));

        let revalidated = call(Method::GET, "/docs", &[("if-none-match", &etag)]);
        assert_eq!(revalidated.response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn a_browser_accept_header_gets_the_page() {
        let handled = call(
            Method::GET,
            "/docs",
            &[(
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )],
        );
        assert_eq!(handled.response.status(), StatusCode::OK);
    }

    #[test]
    fn an_unknown_path_is_a_404_problem() {
        let handled = call(Method::GET, "/nope", &[]);
        assert_eq!(handled.response.status(), StatusCode::NOT_FOUND);
    }
}
