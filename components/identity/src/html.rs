//! The sign-in page and the authorization error page: plain HTML forms, no script,
//! one inline stylesheet allowed by its hash.

/// The page's only style, allowed by [`STYLE_HASH`] in the CSP.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}label{display:block;margin-top:1rem}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem}button{margin-top:1.5rem;padding:.6rem 1.2rem}.error{color:#a00000}";

/// `'sha256-…'` of [`STYLE`] (a unit test keeps them in step).
pub const STYLE_HASH: &str = "'sha256-Uc3aNIqL/xtNSlvOOu8noREzlJa7Piw1D2LMiXHSgDk='";

/// The CSP of every HTML page: nothing loads, no script at all, only our stylesheet;
/// forms post to us only; never framed. The login page adds the client's origin to
/// `form-action` (see [`login_policy`]) because browsers apply `form-action` to the
/// redirect that follows a sign-in.
pub const HTML_POLICY: &str = "default-src 'none'; style-src 'sha256-Uc3aNIqL/xtNSlvOOu8noREzlJa7Piw1D2LMiXHSgDk='; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`HTML_POLICY`] with `client_origin` allowed as a `form-action` redirect target.
pub fn login_policy(client_origin: Option<&str>) -> String {
    match client_origin.filter(|o| is_safe_source(o)) {
        Some(origin) => HTML_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ),
        None => HTML_POLICY.to_owned(),
    }
}

/// A CSP host source must not smuggle directives (`;`, `,`, spaces, quotes).
fn is_safe_source(origin: &str) -> bool {
    origin
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b))
}

/// HTML-escapes text for element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// What the sign-in form carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm<'a> {
    /// The sealed authorization request.
    pub request: &'a str,
    /// The CSRF token bound to it and to the browser's CSRF cookie.
    pub csrf: &'a str,
    /// The client's name, shown to the user.
    pub client_name: &'a str,
    /// The email to prefill after a failure.
    pub email: &'a str,
    /// The error to show, if any.
    pub error: Option<&'a str>,
}

/// The sign-in page.
pub fn login_page(form: &LoginForm<'_>) -> String {
    let error = form.error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e))
    });
    let body = format!(
        "<main>\n<h1>Sign in</h1>\n<p>to continue to {client}</p>\n{error}\
         <form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <label for=\"email\">Email</label>\n\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\">\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</main>\n",
        client = escape(form.client_name),
        request = escape(form.request),
        csrf = escape(form.csrf),
        email = escape(form.email),
    );
    page("Sign in", &body)
}

/// An error page (authorization errors that must not be redirected, bad CSRF).
pub fn error_page(title: &str, message: &str) -> String {
    let body = format!(
        "<main>\n<h1>{}</h1>\n<p>{}</p>\n</main>\n",
        escape(title),
        escape(message)
    );
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64, Encoding};
    use sha2::{Digest, Sha256};

    #[test]
    fn the_style_hash_matches_the_style() {
        let hash = Base64::encode_string(&Sha256::digest(STYLE.as_bytes()));
        assert_eq!(STYLE_HASH, format!("'sha256-{hash}'"));
        assert!(HTML_POLICY.contains(STYLE_HASH));
    }

    #[test]
    fn the_page_escapes_what_it_echoes_and_has_no_script() {
        let html = login_page(&LoginForm {
            request: "r\"><script>",
            csrf: "c",
            client_name: "<b>Evil</b>",
            email: "a@b.c\" onfocus=\"x",
            error: Some("Email or password is incorrect."),
        });
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>Evil"));
        assert!(html.contains("&quot; onfocus=&quot;x"));
        assert!(html.contains("autocomplete=\"current-password\""));
        assert!(html.contains("<label for=\"email\">"));
    }

    #[test]
    fn the_login_policy_adds_only_a_clean_origin() {
        assert_eq!(
            login_policy(Some("https://app.example:8443")),
            HTML_POLICY.replace(
                "form-action 'self'",
                "form-action 'self' https://app.example:8443"
            )
        );
        assert_eq!(login_policy(Some("https://x; script-src *")), HTML_POLICY);
        assert_eq!(login_policy(None), HTML_POLICY);
    }
}
