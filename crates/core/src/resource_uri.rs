use std::fmt;

use url::Url;

use crate::CoreError;

/// The canonical URI of a protected resource (RFC 8707 §2, MCP authorization "Canonical Server URI").
///
/// Scheme and host are lower-cased, default ports dropped, fragments refused, and a trailing
/// slash removed, so `https://MCP.example.com:443/mcp/` and `https://mcp.example.com/mcp` are
/// the same resource. This is the value of PRM `resource` and of the token audience.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonicalResource {
    url: Url,
    text: String,
}

impl CanonicalResource {
    /// Parses and canonicalises a resource identifier.
    pub fn parse(value: &str) -> Result<Self, CoreError> {
        let url = Url::parse(value.trim()).map_err(|error| CoreError::InvalidUrl {
            value: value.to_owned(),
            reason: error.to_string(),
        })?;
        let invalid = |reason| CoreError::InvalidResource {
            value: value.to_owned(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.fragment().is_some() {
            return Err(invalid("a resource identifier must not contain a fragment"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("a resource identifier needs a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("a resource identifier must not carry credentials"));
        }
        let mut text = url.as_str().to_owned();
        if url.query().is_none() {
            while text.ends_with('/') {
                text.pop();
            }
        }
        Ok(Self { url, text })
    }

    /// The canonical text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL (its path keeps the slash `url` always puts on an empty path).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The path of the resource without a trailing slash (`""` for a host-only resource).
    pub fn path(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    /// The origin (`scheme://host[:port]`) of the resource.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether `other` names this resource once canonicalised (used for `aud` and `resource` values).
    pub fn matches(&self, other: &str) -> bool {
        other == self.text || Self::parse(other).is_ok_and(|parsed| parsed.text == self.text)
    }
}

impl fmt::Display for CanonicalResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_host_and_drops_default_port_and_trailing_slash() {
        let resource = CanonicalResource::parse("HTTPS://MCP.Example.com:443/mcp/").unwrap();
        assert_eq!(resource.as_str(), "https://mcp.example.com/mcp");
        assert_eq!(resource.path(), "/mcp");
    }

    #[test]
    fn host_only_resource_has_no_trailing_slash() {
        let resource = CanonicalResource::parse("http://localhost:3001/").unwrap();
        assert_eq!(resource.as_str(), "http://localhost:3001");
        assert_eq!(resource.path(), "");
    }

    #[test]
    fn refuses_fragments_relative_urls_credentials_and_other_schemes() {
        for value in [
            "https://mcp.example.com/mcp#frag",
            "/mcp",
            "ftp://mcp.example.com",
            "https://user:pw@mcp.example.com/mcp",
            "javascript:alert(1)",
        ] {
            assert!(CanonicalResource::parse(value).is_err(), "{value}");
        }
    }

    #[test]
    fn matches_equivalent_spellings_only() {
        let resource = CanonicalResource::parse("http://localhost:3001/mcp").unwrap();
        assert!(resource.matches("http://localhost:3001/mcp"));
        assert!(resource.matches("http://LOCALHOST:3001/mcp/"));
        assert!(!resource.matches("http://localhost:3002/mcp"));
        assert!(!resource.matches("http://localhost:3001/mcp/other"));
        assert!(!resource.matches("not a url"));
    }
}
