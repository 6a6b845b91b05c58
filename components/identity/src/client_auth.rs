//! Client credentials on the token, revocation and introspection endpoints
//! (RFC 6749 §2.3.1): HTTP Basic or the request body, never both.

use base64ct::{Base64, Base64Unpadded, Encoding};

use crate::form::Form;

/// The longest Basic credential we decode (client ids are at most 64 characters; secrets
/// are 43 in practice).
const MAX_BASIC_LEN: usize = 1024;

/// How a client presented itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic {
        /// The client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// `client_id` and `client_secret` in the body (`client_secret_post`).
    Post {
        /// The client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// `client_id` alone (`none`: public clients).
    None {
        /// The client id.
        client_id: String,
    },
}

impl Presented {
    /// The client id presented.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    /// The secret presented, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Self::Basic { secret, .. } | Self::Post { secret, .. } => Some(secret),
            Self::None { .. } => None,
        }
    }
}

/// Why the presented credentials could not even be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentError {
    /// No `client_id` anywhere.
    Missing,
    /// An `Authorization` header that is not a well-formed Basic credential.
    MalformedBasic,
    /// Two methods at once (RFC 6749 §2.3: "MUST NOT use more than one").
    MultipleMethods,
}

/// Reads the client's credentials from the `Authorization` header value (if any) and
/// the form.
pub fn presented(authorization: Option<&str>, form: &Form) -> Result<Presented, PresentError> {
    if let Some(header) = authorization {
        let (client_id, secret) = parse_basic(header).ok_or(PresentError::MalformedBasic)?;
        if form.get("client_secret").is_some() {
            return Err(PresentError::MultipleMethods);
        }
        // A `client_id` in the body as well must name the same client.
        if form.get("client_id").is_some_and(|id| id != client_id) {
            return Err(PresentError::MultipleMethods);
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    let client_id = form.get("client_id").ok_or(PresentError::Missing)?;
    Ok(match form.get("client_secret") {
        Some(secret) => Presented::Post {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
        },
        None => Presented::None {
            client_id: client_id.to_owned(),
        },
    })
}

/// Decodes `Basic <base64(form-urlencoded id ":" form-urlencoded secret)>`
/// (RFC 6749 §2.3.1 with RFC 7617). The scheme is case-insensitive; both the id and the
/// secret must be non-empty.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = rest.trim();
    if encoded.is_empty() || encoded.len() > MAX_BASIC_LEN {
        return None;
    }
    let bytes = Base64::decode_vec(encoded)
        .or_else(|_| Base64Unpadded::decode_vec(encoded))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one component: `+` is a space,
/// `%XX` a byte; anything else malformed is refused.
pub fn form_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", Base64::encode_string(raw.as_bytes()))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(
            parse_basic(&basic("my%20client:s%3Acret+x")),
            Some(("my client".into(), "s:cret x".into()))
        );
        assert_eq!(
            parse_basic(&basic("web:secret").replace("Basic", "bAsIc")),
            Some(("web".into(), "secret".into()))
        );
    }

    #[test]
    fn the_secret_may_contain_colons_after_the_first() {
        assert_eq!(
            parse_basic(&basic("web:a:b")),
            Some(("web".into(), "a:b".into()))
        );
    }

    #[test]
    fn malformed_basic_credentials_are_refused() {
        for (header, why) in [
            ("Bearer abc".to_owned(), "another scheme"),
            ("Basic".to_owned(), "no credentials"),
            ("Basic !!!".to_owned(), "not base64"),
            (basic("no-colon"), "no separator"),
            (basic(":secret"), "empty id"),
            (basic("web:"), "empty secret"),
            (basic("web:%zz"), "bad escape"),
            (basic("web:%4"), "short escape"),
        ] {
            assert_eq!(parse_basic(&header), None, "{why}");
        }
    }

    #[test]
    fn presented_methods() {
        let form = Form::parse(b"client_id=web&client_secret=s").unwrap();
        assert_eq!(
            presented(None, &form),
            Ok(Presented::Post {
                client_id: "web".into(),
                secret: "s".into()
            })
        );
        let form = Form::parse(b"client_id=spa").unwrap();
        assert_eq!(
            presented(None, &form),
            Ok(Presented::None {
                client_id: "spa".into()
            })
        );
        let form = Form::parse(b"grant_type=x").unwrap();
        assert_eq!(presented(None, &form), Err(PresentError::Missing));
        let both = Form::parse(b"client_secret=s").unwrap();
        assert_eq!(
            presented(Some(&basic("web:s")), &both),
            Err(PresentError::MultipleMethods)
        );
        let other_id = Form::parse(b"client_id=other").unwrap();
        assert_eq!(
            presented(Some(&basic("web:s")), &other_id),
            Err(PresentError::MultipleMethods)
        );
        assert_eq!(
            presented(Some("Basic ???"), &Form::default()),
            Err(PresentError::MalformedBasic)
        );
    }
}
