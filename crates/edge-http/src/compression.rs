//! Response compression by `Accept-Encoding` (RFC 9110 §12.5.3, §8.4; docs/standards.md §13).
//!
//! The edge applies [`compress_response`] to every response (see
//! [`crate::EdgeConfig::with_compression_min_bytes`] / `without_compression`), so
//! components do nothing. The rules:
//! - only `application/json`, `application/problem+json`, other `+json`, `text/*`,
//!   `application/javascript`, `text/css`, `image/svg+xml` and XML are compressed;
//! - only bodies of at least the threshold (1 KiB by default) — unless the client
//!   refused `identity` (`identity;q=0` or `*;q=0`), then any non-empty body;
//! - never for `HEAD`, 1xx/204/304/206, a response that already has a
//!   `Content-Encoding` or a `Content-Range`, or `Cache-Control: no-transform`;
//! - the coding with the highest q-value wins (`br` before `gzip` on a tie; `*` stands
//!   for codings not listed; `q=0` refuses); no header means identity;
//! - a compressible response always gets `Vary: Accept-Encoding`, compressed or not,
//!   so caches never serve one client's encoding to another;
//! - a strong `ETag` gets the coding as suffix (`"abc-gzip"`): each encoding is its
//!   own representation (RFC 9110 §8.8.3.3); [`crate::conditional`] ignores the suffix
//!   when comparing;
//! - a 304 answering an `If-None-Match` that named the suffixed tag repeats that tag,
//!   so a cache holding the compressed representation recognises the 304 as its own;
//! - the result is used only when smaller; `Content-Length` is set by the edge after.

use std::io::Write as _;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::response::EdgeResponse;

/// Default threshold: bodies smaller than this are sent as they are.
pub const DEFAULT_MIN_COMPRESS_BYTES: usize = 1024;

/// Brotli quality: 4 is several times faster than the default 11 at a ratio still
/// better than gzip's for JSON, which matters on a per-request wasm instance.
const BROTLI_QUALITY: i32 = 4;
const BROTLI_WINDOW: i32 = 22;

/// A content coding we can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Brotli (RFC 7932).
    Br,
    /// gzip (RFC 1952).
    Gzip,
}

impl Coding {
    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Gzip => "gzip",
        }
    }
}

/// What the client's `Accept-Encoding` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingChoice {
    /// The preferred coding we can produce, if any is acceptable.
    pub coding: Option<Coding>,
    /// Whether an uncompressed body is acceptable.
    pub identity_ok: bool,
}

/// Reads every `Accept-Encoding` line in `headers`. No header: identity only (we do
/// not compress for clients that did not ask). Unparseable members are skipped.
pub fn choose_encoding(headers: &HeaderMap) -> EncodingChoice {
    let mut values = headers.get_all(header::ACCEPT_ENCODING).iter().peekable();
    if values.peek().is_none() {
        return EncodingChoice {
            coding: None,
            identity_ok: true,
        };
    }
    let mut br: Option<u16> = None;
    let mut gzip: Option<u16> = None;
    let mut identity: Option<u16> = None;
    let mut star: Option<u16> = None;
    for value in values {
        let Ok(text) = value.to_str() else { continue };
        for member in text.split(',') {
            let mut parts = member.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if token.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in parts {
                if let Some((name, value)) = param.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    q = parse_qvalue(value.trim());
                }
            }
            let Some(q) = q else { continue };
            let slot = match token.as_str() {
                "br" => &mut br,
                "gzip" | "x-gzip" => &mut gzip,
                "identity" => &mut identity,
                "*" => &mut star,
                _ => continue,
            };
            // A coding listed twice: keep the highest weight.
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }
    let br = br.or(star).unwrap_or(0);
    let gzip = gzip.or(star).unwrap_or(0);
    // identity is acceptable unless refused explicitly or through `*;q=0`.
    let identity_ok = identity.or(star).is_none_or(|q| q > 0);
    let coding = if br == 0 && gzip == 0 {
        None
    } else if br >= gzip {
        Some(Coding::Br)
    } else {
        Some(Coding::Gzip)
    };
    EncodingChoice {
        coding,
        identity_ok,
    }
}

/// An RFC 9110 §12.4.2 qvalue in thousandths: `0`, `0.5`, `1`, `1.000`; `None` when
/// malformed.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// Is a response of this `Content-Type` worth compressing?
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/javascript"
        || essence == "application/xml"
        || essence.ends_with("+xml")
}

/// Compresses `data` with `coding`.
///
/// # Errors
/// The encoder's I/O error (not expected when writing to memory).
pub fn compress(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 3),
                flate2::Compression::default(),
            );
            encoder.write_all(data)?;
            encoder.finish()
        }
        Coding::Br => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_WINDOW,
                size_hint: data.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(data.len() / 3);
            brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
            Ok(out)
        }
    }
}

/// Adds `token` to `Vary` unless it (or `*`) is already there.
pub fn add_vary(headers: &mut HeaderMap, token: &'static str) {
    let present = headers.get_all(header::VARY).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case(token))
        })
    });
    if !present {
        headers.append(header::VARY, HeaderValue::from_static(token));
    }
}

/// The request headers [`compress_response`] reads (`Accept-Encoding`,
/// `If-None-Match`), copied so the request itself can move into the handler.
pub fn request_headers_of(request: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [header::ACCEPT_ENCODING, header::IF_NONE_MATCH] {
        for value in request.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// On a 304 with strong `ETag: "x"` for a request whose `If-None-Match` named
/// `"x-gzip"` or `"x-br"`: answers with that tag, the one the client's cache stored.
fn echo_encoded_etag(request_headers: &HeaderMap, response: &mut EdgeResponse) {
    let Some(opaque) = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix('"'))
        .and_then(|t| t.strip_suffix('"'))
        .map(str::to_owned)
    else {
        return;
    };
    let sent = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .find(|t| {
            [Coding::Gzip, Coding::Br]
                .iter()
                .any(|c| *t == format!("\"{opaque}-{}\"", c.token()))
        })
        .and_then(|t| HeaderValue::from_str(t).ok());
    if let Some(value) = sent {
        response.headers_mut().insert(header::ETAG, value);
    }
}

/// Applies the module's rules to `response` for a request with `method` and
/// `request_headers` (at least those of [`request_headers_of`]); `min_bytes` is the
/// size threshold.
pub async fn compress_response(
    method: &Method,
    request_headers: &HeaderMap,
    mut response: EdgeResponse,
    min_bytes: usize,
) -> EdgeResponse {
    if response.status() == StatusCode::NOT_MODIFIED {
        echo_encoded_etag(request_headers, &mut response);
        return response;
    }
    let status = response.status();
    let headers = response.headers();
    let compressible = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_compressible);
    let excluded = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::PARTIAL_CONTENT
        || headers.contains_key(header::CONTENT_ENCODING)
        || headers.contains_key(header::CONTENT_RANGE);
    if !compressible || excluded {
        return response;
    }
    let no_transform = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-transform"));

    let (mut parts, body) = response.into_parts();
    add_vary(&mut parts.headers, "Accept-Encoding");
    if *method == Method::HEAD {
        // Same header fields as the GET would have (RFC 9110 §9.3.2), but no work.
        return http::Response::from_parts(parts, body);
    }
    let data = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let choice = choose_encoding(request_headers);
    let large_enough = data.len() >= min_bytes || (!choice.identity_ok && !data.is_empty());
    let coding = match choice.coding {
        Some(coding) if large_enough && !no_transform => coding,
        _ => return http::Response::from_parts(parts, Full::new(data)),
    };
    let compressed = match compress(coding, &data) {
        Ok(compressed) if compressed.len() < data.len() => compressed,
        _ => return http::Response::from_parts(parts, Full::new(data)),
    };
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(etag) = parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        && let Some(opaque) = etag.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && let Ok(value) = HeaderValue::from_str(&format!("\"{opaque}-{}\"", coding.token()))
    {
        parts.headers.insert(header::ETAG, value);
    }
    http::Response::from_parts(parts, Full::new(Bytes::from(compressed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use proptest::prelude::*;
    use std::io::Read as _;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    fn json_body(len: usize) -> Bytes {
        let item = r#"{"id":"0192f0c4","name":"Widget","price":"9.99"},"#;
        let mut text = String::from("[");
        while text.len() < len {
            text.push_str(item);
        }
        text.push_str("{}]");
        Bytes::from(text)
    }

    fn response(content_type: &str, body: Bytes) -> EdgeResponse {
        let mut response = http::Response::new(Full::new(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        response
    }

    fn body_of(response: EdgeResponse) -> Bytes {
        block_on(response.into_body().collect()).unwrap().to_bytes()
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn unbrotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &data[..], &mut out).unwrap();
        out
    }

    #[test]
    fn the_highest_q_value_wins_and_br_wins_ties() {
        let cases = [
            ("gzip", Some(Coding::Gzip)),
            ("br", Some(Coding::Br)),
            ("gzip, br", Some(Coding::Br)),
            ("br;q=0.5, gzip", Some(Coding::Gzip)),
            ("gzip;q=1.0, br;q=0.999", Some(Coding::Gzip)),
            ("*", Some(Coding::Br)),
            ("br;q=0, *", Some(Coding::Gzip)),
            ("x-gzip", Some(Coding::Gzip)),
            ("GZIP", Some(Coding::Gzip)),
            ("identity", None),
            ("", None),
            ("deflate, compress", None),
            ("gzip;q=0, br;q=0", None),
            ("gzip;q=2", None),
            ("gzip;q=0.1234", None),
        ];
        for (value, expected) in cases {
            assert_eq!(choose_encoding(&accept(value)).coding, expected, "{value}");
        }
        assert_eq!(choose_encoding(&HeaderMap::new()).coding, None);
    }

    #[test]
    fn identity_is_acceptable_unless_refused() {
        assert!(choose_encoding(&accept("gzip")).identity_ok);
        assert!(!choose_encoding(&accept("gzip, identity;q=0")).identity_ok);
        assert!(!choose_encoding(&accept("gzip, *;q=0")).identity_ok);
        assert!(choose_encoding(&accept("gzip, *;q=0, identity")).identity_ok);
    }

    #[test]
    fn compressible_types_are_json_problem_text_script_and_css() {
        for yes in [
            "application/json",
            "application/problem+json",
            "application/json; charset=utf-8",
            "text/html; charset=utf-8",
            "text/plain",
            "text/css",
            "application/javascript",
            "text/javascript",
            "image/svg+xml",
        ] {
            assert!(is_compressible(yes), "{yes}");
        }
        for no in [
            "image/png",
            "application/octet-stream",
            "application/zip",
            "",
        ] {
            assert!(!is_compressible(no), "{no}");
        }
    }

    #[test]
    fn a_large_json_body_is_gzipped_with_vary_and_a_suffixed_etag() {
        let body = json_body(4096);
        let mut original = response("application/json", body.clone());
        original
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        original
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let compressed = block_on(compress_response(
            &Method::GET,
            &accept("gzip"),
            original,
            1024,
        ));
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(compressed.headers()[header::VARY], "Accept-Encoding");
        assert_eq!(compressed.headers()[header::ETAG], "\"abc-gzip\"");
        assert!(!compressed.headers().contains_key(header::CONTENT_LENGTH));
        let data = body_of(compressed);
        assert!(data.len() < body.len());
        assert_eq!(gunzip(&data), body.to_vec());
    }

    #[test]
    fn brotli_is_used_when_preferred_and_round_trips() {
        let body = json_body(8192);
        let compressed = block_on(compress_response(
            &Method::GET,
            &accept("gzip, deflate, br"),
            response("application/problem+json", body.clone()),
            1024,
        ));
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(unbrotli(&body_of(compressed)), body.to_vec());
    }

    #[test]
    fn a_small_body_is_not_compressed_but_still_varies() {
        let small = response("application/json", Bytes::from_static(b"{\"ok\":true}"));
        let result = block_on(compress_response(
            &Method::GET,
            &accept("gzip"),
            small,
            1024,
        ));
        assert!(!result.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(result.headers()[header::VARY], "Accept-Encoding");
        assert_eq!(body_of(result), Bytes::from_static(b"{\"ok\":true}"));
    }

    #[test]
    fn a_refused_identity_compresses_even_a_small_body() {
        let body = Bytes::from_static(b"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}");
        let result = block_on(compress_response(
            &Method::GET,
            &accept("gzip, identity;q=0"),
            response("application/json", body.clone()),
            1024,
        ));
        assert_eq!(result.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gunzip(&body_of(result)), body.to_vec());
    }

    #[test]
    fn no_accept_encoding_means_no_compression() {
        let result = block_on(compress_response(
            &Method::GET,
            &HeaderMap::new(),
            response("application/json", json_body(4096)),
            1024,
        ));
        assert!(!result.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(result.headers()[header::VARY], "Accept-Encoding");
    }

    #[test]
    fn binary_types_are_left_alone_without_vary() {
        let result = block_on(compress_response(
            &Method::GET,
            &accept("gzip"),
            response("image/png", json_body(4096)),
            1024,
        ));
        assert!(!result.headers().contains_key(header::CONTENT_ENCODING));
        assert!(!result.headers().contains_key(header::VARY));
    }

    #[test]
    fn excluded_methods_statuses_and_encoded_bodies_are_left_alone() {
        let head = block_on(compress_response(
            &Method::HEAD,
            &accept("gzip"),
            response("application/json", json_body(4096)),
            1024,
        ));
        assert!(!head.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(head.headers()[header::VARY], "Accept-Encoding");
        for status in [
            StatusCode::NO_CONTENT,
            StatusCode::NOT_MODIFIED,
            StatusCode::PARTIAL_CONTENT,
        ] {
            let mut r = response("application/json", json_body(4096));
            *r.status_mut() = status;
            let result = block_on(compress_response(&Method::GET, &accept("gzip"), r, 1024));
            assert!(
                !result.headers().contains_key(header::CONTENT_ENCODING),
                "{status}"
            );
        }
        let mut encoded = response("application/json", json_body(4096));
        encoded
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        let result = block_on(compress_response(
            &Method::GET,
            &accept("gzip"),
            encoded,
            1024,
        ));
        assert_eq!(result.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(body_of(result), json_body(4096));
        let mut no_transform = response("application/json", json_body(4096));
        no_transform.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-transform"),
        );
        let result = block_on(compress_response(
            &Method::GET,
            &accept("gzip"),
            no_transform,
            1024,
        ));
        assert!(!result.headers().contains_key(header::CONTENT_ENCODING));
    }

    #[test]
    fn vary_is_extended_not_duplicated() {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        add_vary(&mut headers, "Accept-Encoding");
        add_vary(&mut headers, "Accept-Encoding");
        let values: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(values, ["Origin", "Accept-Encoding"]);
        let mut star = HeaderMap::new();
        star.insert(header::VARY, HeaderValue::from_static("*"));
        add_vary(&mut star, "Origin");
        assert_eq!(star.get_all(header::VARY).iter().count(), 1);
    }

    #[test]
    fn weak_etags_are_left_as_they_are() {
        let mut original = response("application/json", json_body(4096));
        original
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("W/\"abc\""));
        let result = block_on(compress_response(
            &Method::GET,
            &accept("br"),
            original,
            1024,
        ));
        assert_eq!(result.headers()[header::ETAG], "W/\"abc\"");
    }

    #[test]
    fn a_304_repeats_the_encoded_tag_the_client_sent() {
        let mut request = accept("gzip");
        request.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"abc-gzip\""),
        );
        let mut not_modified = http::Response::new(Full::new(Bytes::new()));
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        let result = block_on(compress_response(
            &Method::GET,
            &request,
            not_modified,
            1024,
        ));
        assert_eq!(result.headers()[header::ETAG], "\"abc-gzip\"");

        let plain_request = accept("gzip");
        let mut plain = http::Response::new(Full::new(Bytes::new()));
        *plain.status_mut() = StatusCode::NOT_MODIFIED;
        plain
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        let result = block_on(compress_response(&Method::GET, &plain_request, plain, 1024));
        assert_eq!(result.headers()[header::ETAG], "\"abc\"");
    }

    proptest! {
        #[test]
        fn accept_encoding_parsing_never_panics(value in "[ -~]{0,100}") {
            if let Ok(v) = HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(header::ACCEPT_ENCODING, v);
                let _ = choose_encoding(&headers);
            }
        }

        #[test]
        fn both_codings_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert_eq!(gunzip(&compress(Coding::Gzip, &data).unwrap()), data.clone());
            prop_assert_eq!(unbrotli(&compress(Coding::Br, &data).unwrap()), data);
        }
    }
}
