//! `application/x-www-form-urlencoded` parameters (RFC 6749 §3.1, §3.2, Appendix B).

/// The most parameters one request may carry: OAuth requests need a handful.
pub const MAX_PARAMETERS: usize = 32;

/// Why a parameter list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Not valid form encoding or too many parameters.
    Malformed,
    /// RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
    Duplicate(String),
}

impl FormError {
    /// A sentence for `error_description`.
    pub fn description(&self) -> String {
        match self {
            Self::Malformed => "The parameters are not valid form encoding.".to_owned(),
            Self::Duplicate(name) => format!("The parameter {name} is repeated."),
        }
    }
}

/// Parsed parameters: each name at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body or a query string.
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(input).map_err(|_| FormError::Malformed)?;
        if pairs.len() > MAX_PARAMETERS {
            return Err(FormError::Malformed);
        }
        for (index, (name, _)) in pairs.iter().enumerate() {
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(FormError::Duplicate(name.clone()));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `name`. RFC 6749 §3.1: "Parameters sent without a value MUST be
    /// treated as if they were omitted from the request", so an empty value is `None`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_and_plus_decoded() {
        let form = Form::parse(b"a=1%202&b=x+y&c=%C3%A9").unwrap();
        assert_eq!(form.get("a"), Some("1 2"));
        assert_eq!(form.get("b"), Some("x y"));
        assert_eq!(form.get("c"), Some("é"));
        assert_eq!(form.get("d"), None);
    }

    #[test]
    fn an_empty_value_counts_as_omitted() {
        let form = Form::parse(b"scope=&state=s").unwrap();
        assert_eq!(form.get("scope"), None);
        assert_eq!(form.get("state"), Some("s"));
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert_eq!(
            Form::parse(b"code=a&code=b"),
            Err(FormError::Duplicate("code".into()))
        );
    }

    #[test]
    fn too_many_parameters_is_malformed() {
        let many: String = (0..=MAX_PARAMETERS).map(|i| format!("p{i}=1&")).collect();
        assert_eq!(Form::parse(many.as_bytes()), Err(FormError::Malformed));
    }
}
