//! Content negotiation helpers: `Accept` (406), `Content-Type` (415) and methods (405).

use http::{HeaderMap, Method, header};

use crate::ApiError;

/// Picks the media type to answer with from `available` (in our order of preference)
/// according to the request's `Accept` (RFC 9110 §12.5.1): the highest `q` wins, the
/// most specific matching range sets a type's `q`, and `q=0` excludes it. No `Accept`
/// header accepts anything. No acceptable type → 406.
pub fn negotiate(
    headers: &HeaderMap,
    available: &'static [&'static str],
) -> Result<&'static str, ApiError> {
    let ranges = accept_ranges(headers);
    let mut best: Option<(&'static str, u16)> = None;
    for &candidate in available {
        let q = quality(&ranges, candidate);
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((candidate, q));
        }
    }
    best.map(|(media, _)| media)
        .ok_or(ApiError::NotAcceptable { available })
}

/// Whether the request accepts `media_type` at all (see [`negotiate`]).
pub fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    quality(&accept_ranges(headers), media_type) > 0
}

/// The parsed `Accept` ranges; unparseable elements are ignored.
fn accept_ranges(headers: &HeaderMap) -> Vec<MediaRange> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(MediaRange::parse)
        .collect()
}

/// `media_type`'s quality in thousandths: that of the most specific matching range,
/// 1000 when there is no `Accept` at all, 0 when nothing matches.
fn quality(ranges: &[MediaRange], media_type: &str) -> u16 {
    if ranges.is_empty() {
        return 1000;
    }
    ranges
        .iter()
        .filter(|r| r.matches(media_type))
        .max_by_key(|r| r.specificity())
        .map_or(0, |r| r.q_millis)
}

/// Checks the request's `Content-Type` against `supported` (media type only, parameters
/// such as `charset` ignored, case-insensitive). Missing or different → 415.
pub fn require_content_type(
    headers: &HeaderMap,
    supported: &'static [&'static str],
) -> Result<&'static str, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    media_type
        .and_then(|m| {
            supported
                .iter()
                .copied()
                .find(|s| s.eq_ignore_ascii_case(&m))
        })
        .ok_or(ApiError::UnsupportedMediaType { supported })
}

/// Checks the request method against `allowed`. `HEAD` is allowed wherever `GET` is
/// (RFC 9110 §9.3.2); anything else → 405 with `Allow`.
pub fn require_method(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    let ok =
        allowed.contains(method) || (*method == Method::HEAD && allowed.contains(&Method::GET));
    if ok {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allowed))
    }
}

/// One element of `Accept`: `type/subtype;params;q=…`.
#[derive(Debug)]
struct MediaRange {
    main: String,
    sub: String,
    q_millis: u16,
}

impl MediaRange {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(';');
        let (main, sub) = parts.next()?.trim().split_once('/')?;
        let (main, sub) = (
            main.trim().to_ascii_lowercase(),
            sub.trim().to_ascii_lowercase(),
        );
        if main.is_empty() || sub.is_empty() || (main == "*" && sub != "*") {
            return None;
        }
        let mut q_millis = 1000;
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q_millis = parse_qvalue(value.trim())?;
            }
        }
        Some(Self {
            main,
            sub,
            q_millis,
        })
    }

    fn matches(&self, media_type: &str) -> bool {
        let Some((main, sub)) = media_type.split_once('/') else {
            return false;
        };
        (self.main == "*" || self.main.eq_ignore_ascii_case(main))
            && (self.sub == "*" || self.sub.eq_ignore_ascii_case(sub))
    }

    fn specificity(&self) -> u8 {
        match (self.main.as_str(), self.sub.as_str()) {
            ("*", _) => 0,
            (_, "*") => 1,
            _ => 2,
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2), in
/// thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_millis = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_millis),
        "1" if frac_millis == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const JSON_ONLY: &[&str] = &["application/json"];
    const JSON_OR_HTML: &[&str] = &["application/json", "text/html"];

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn no_accept_header_gets_our_first_choice() {
        assert_eq!(
            negotiate(&HeaderMap::new(), JSON_OR_HTML).ok(),
            Some("application/json")
        );
    }

    #[test]
    fn accept_is_honoured_by_quality_and_specificity() {
        let cases: [(&'static str, Option<&str>, &str); 8] = [
            ("application/json", Some("application/json"), "exact"),
            ("*/*", Some("application/json"), "anything → our preference"),
            ("application/*", Some("application/json"), "type wildcard"),
            ("text/html", Some("text/html"), "the other type"),
            (
                "text/html;q=0.9, application/json;q=0.5",
                Some("text/html"),
                "higher q wins",
            ),
            (
                "*/*;q=0.1, application/json;q=0",
                Some("text/html"),
                "q=0 excludes even under */*",
            ),
            ("image/png", None, "nothing we can produce"),
            (
                "application/json;q=2",
                Some("application/json"),
                "an invalid element is ignored; none left is no preference",
            ),
        ];
        for (value, expected, reason) in cases {
            assert_eq!(
                negotiate(&accept(value), JSON_OR_HTML).ok(),
                expected,
                "{reason}: {value}"
            );
        }
    }

    #[test]
    fn not_acceptable_answers_406() {
        let error = negotiate(&accept("text/csv"), JSON_ONLY).err();
        assert_eq!(error.map(|e| e.status().as_u16()), Some(406));
        assert!(!accepts(&accept("text/csv"), "application/json"));
        assert!(accepts(&accept("text/csv, */*;q=0.1"), "application/json"));
    }

    #[test]
    fn content_type_is_checked_ignoring_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(
            require_content_type(&headers, JSON_ONLY).ok(),
            Some("application/json")
        );

        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let wrong = require_content_type(&headers, JSON_ONLY).err();
        assert_eq!(wrong.map(|e| e.status().as_u16()), Some(415));

        let missing = require_content_type(&HeaderMap::new(), JSON_ONLY).err();
        assert_eq!(missing.map(|e| e.status().as_u16()), Some(415));
    }

    #[test]
    fn head_is_allowed_wherever_get_is() {
        assert!(require_method(&Method::HEAD, &[Method::GET]).is_ok());
        assert!(require_method(&Method::GET, &[Method::GET]).is_ok());
        let refused = require_method(&Method::POST, &[Method::GET]).err();
        assert_eq!(refused.map(|e| e.status().as_u16()), Some(405));
        assert!(require_method(&Method::HEAD, &[Method::POST]).is_err());
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("x"), None);
    }
}
