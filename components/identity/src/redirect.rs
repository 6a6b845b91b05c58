//! Redirect URIs: exact matching (RFC 9700 §2.1, RFC 6749 §3.1.2.3) and building the
//! authorization response (RFC 6749 §4.1.2, RFC 9207 `iss`).

/// Why a redirect URI cannot be trusted; shown on an error page, never redirected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectError {
    /// None sent and the client has more (or fewer) than one registered.
    Missing,
    /// Not byte-for-byte one of the client's registered URIs.
    NotRegistered,
}

/// The redirect URI to use: the requested one if it equals a registered one byte for
/// byte (no normalisation: a trailing slash, another port or an extra query parameter
/// is another URI), or the only registered one when none was requested.
pub fn resolve<'a>(
    requested: Option<&str>,
    registered: &'a [String],
) -> Result<&'a str, RedirectError> {
    match requested {
        Some(requested) => registered
            .iter()
            .find(|uri| uri.as_str() == requested)
            .map(String::as_str)
            .ok_or(RedirectError::NotRegistered),
        None => match registered {
            [only] => Ok(only.as_str()),
            _ => Err(RedirectError::Missing),
        },
    }
}

/// `base` with `params` appended to its query (keeping the registered query, RFC 6749
/// §3.1.2), form-encoded. `None` when `base` is not an absolute URL.
pub fn with_params(base: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(base).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    Some(url.into())
}

/// The origin (`scheme://host[:port]`) of an absolute URL, for `form-action`.
pub fn origin(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<String> {
        vec![
            "https://app.example/cb".to_owned(),
            "http://127.0.0.1:8080/cb?tenant=1".to_owned(),
        ]
    }

    #[test]
    fn an_exact_match_is_used() {
        let uris = registered();
        assert_eq!(
            resolve(Some("https://app.example/cb"), &uris),
            Ok("https://app.example/cb")
        );
        assert_eq!(
            resolve(Some("http://127.0.0.1:8080/cb?tenant=1"), &uris),
            Ok("http://127.0.0.1:8080/cb?tenant=1")
        );
    }

    #[test]
    fn near_misses_are_not_registered() {
        let uris = registered();
        for (uri, why) in [
            ("https://app.example/cb/", "trailing slash"),
            ("https://app.example:8443/cb", "another port"),
            ("https://app.example/cb?x=1", "extra query parameter"),
            ("https://APP.example/cb", "case of the host"),
            ("http://app.example/cb", "another scheme"),
            ("https://app.example/cb#frag", "fragment"),
            ("https://app.example/CB", "case of the path"),
            ("http://127.0.0.1:8080/cb", "missing registered query"),
        ] {
            assert_eq!(
                resolve(Some(uri), &uris),
                Err(RedirectError::NotRegistered),
                "{why}"
            );
        }
    }

    #[test]
    fn an_omitted_uri_is_the_only_registered_one_or_an_error() {
        let one = vec!["https://app.example/cb".to_owned()];
        assert_eq!(resolve(None, &one), Ok("https://app.example/cb"));
        assert_eq!(resolve(None, &registered()), Err(RedirectError::Missing));
        assert_eq!(resolve(None, &[]), Err(RedirectError::Missing));
    }

    #[test]
    fn parameters_are_appended_to_the_registered_query() {
        assert_eq!(
            with_params(
                "http://127.0.0.1:8080/cb?tenant=1",
                &[("code", "a b"), ("state", "x&y")]
            )
            .as_deref(),
            Some("http://127.0.0.1:8080/cb?tenant=1&code=a+b&state=x%26y")
        );
        assert_eq!(with_params("not a url", &[]), None);
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://app.example/cb?x").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/cb").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("data:text/plain,x"), None);
    }
}
