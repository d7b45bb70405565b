//! OAuth request parameters, from a query string or an `application/x-www-form-urlencoded`
//! body, read one way everywhere (the authorization request, the token, revocation and
//! introspection forms, an upstream provider's callback): a parameter sent without a value is
//! treated as omitted, and one sent more than once is refused (RFC 6749 §3.1, §3.2).

use std::collections::HashMap;

/// The parameters of one request, each at most once, none empty.
#[derive(Debug, Default)]
pub(crate) struct Parameters(HashMap<String, String>);

/// A parameter was sent more than once: its name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated(pub(crate) String);

impl Parameters {
    /// Reads `input` (a query string without `?`, or a form body).
    pub(crate) fn parse(input: &[u8]) -> Result<Self, Repeated> {
        let mut parameters = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            if parameters
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(Repeated(name.into_owned()));
            }
        }
        Ok(Self(parameters))
    }

    /// The value of `name`, if it was sent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parameter_is_read_once_and_decoded() {
        let parameters = Parameters::parse(b"code=a&x=%20y&scope=mcp%3Aread+mcp%3Awrite").unwrap();
        assert_eq!(parameters.get("code"), Some("a"));
        assert_eq!(parameters.get("x"), Some(" y"));
        assert_eq!(parameters.get("scope"), Some("mcp:read mcp:write"));
        assert_eq!(parameters.get("missing"), None);
    }

    #[test]
    fn an_empty_parameter_is_omitted_even_beside_a_value() {
        let parameters = Parameters::parse(b"scope=&state=&state=s&code=c&code=").unwrap();
        assert_eq!(parameters.get("scope"), None);
        assert_eq!(parameters.get("state"), Some("s"));
        assert_eq!(parameters.get("code"), Some("c"));
    }

    #[test]
    fn refuses_a_parameter_sent_twice() {
        for repeated in [&b"code=a&code=b"[..], b"state=x&state=x", b"a=1&b=2&a=3"] {
            let refused = Parameters::parse(repeated).unwrap_err();
            assert!(
                ["code", "state", "a"].contains(&refused.0.as_str()),
                "{refused:?}"
            );
        }
    }
}
