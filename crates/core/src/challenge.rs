//! The `Bearer` challenge of the `WWW-Authenticate` header (RFC 6750 §3, RFC 9728 §5.1).

use std::fmt;

use crate::CoreError;

/// The error codes a resource server puts in a `Bearer` challenge (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerErrorCode {
    /// The request is malformed (400).
    InvalidRequest,
    /// The token is expired, revoked, malformed or not for this resource (401).
    InvalidToken,
    /// The token lacks a scope the request needs (403).
    InsufficientScope,
}

impl BearerErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "invalid_request" => Some(Self::InvalidRequest),
            "invalid_token" => Some(Self::InvalidToken),
            "insufficient_scope" => Some(Self::InsufficientScope),
            _ => None,
        }
    }
}

impl fmt::Display for BearerErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Bearer` challenge: what a resource server answers when a request lacks a usable token.
///
/// `Display` renders the header value; every parameter is a quoted string whose content is
/// restricted to the characters RFC 6750 §3 allows, so no caller-supplied text can break out
/// of the quotes or inject another parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `resource_metadata`: the URL of the Protected Resource Metadata (RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
    /// `scope`: the scopes the request needs (RFC 6750 §3).
    pub scope: Option<String>,
    /// `error` (RFC 6750 §3.1).
    pub error: Option<BearerErrorCode>,
    /// `error_description`: human-readable, never containing secrets.
    pub error_description: Option<String>,
}

impl BearerChallenge {
    /// A challenge that points at the resource's metadata document.
    pub fn new(resource_metadata: impl Into<String>) -> Self {
        Self {
            resource_metadata: Some(resource_metadata.into()),
            ..Self::default()
        }
    }

    /// Sets the `scope` parameter (omitted when empty).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.scope = (!scope.is_empty()).then_some(scope);
        self
    }

    /// Sets `error` and `error_description`.
    pub fn with_error(mut self, error: BearerErrorCode, description: impl Into<String>) -> Self {
        self.error = Some(error);
        self.error_description = Some(description.into());
        self
    }

    /// Parses the `Bearer` challenge out of a `WWW-Authenticate` value, which may hold other
    /// challenges too. Unknown parameters are ignored.
    pub fn parse(header: &str) -> Result<Self, CoreError> {
        let params = bearer_params(header)?;
        let mut challenge = Self::default();
        for (name, value) in params {
            match name.to_ascii_lowercase().as_str() {
                "resource_metadata" => challenge.resource_metadata = Some(value),
                "scope" => challenge.scope = Some(value),
                "error" => challenge.error = BearerErrorCode::parse(&value),
                "error_description" => challenge.error_description = Some(value),
                _ => {}
            }
        }
        Ok(challenge)
    }
}

impl fmt::Display for BearerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer")?;
        let params = [
            ("resource_metadata", self.resource_metadata.as_deref()),
            ("scope", self.scope.as_deref()),
            ("error", self.error.map(BearerErrorCode::as_str)),
            ("error_description", self.error_description.as_deref()),
        ];
        let mut separator = " ";
        for (name, value) in params {
            if let Some(value) = value {
                write!(f, "{separator}{name}=\"{}\"", SafeQuoted(value))?;
                separator = ", ";
            }
        }
        Ok(())
    }
}

/// Writes only the characters RFC 6750 §3 allows inside quoted parameter values
/// (`%x20-21 / %x23-5B / %x5D-7E`); anything else becomes `?`.
struct SafeQuoted<'a>(&'a str);

impl fmt::Display for SafeQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            let allowed = matches!(c, '\x20'..='\x7e') && c != '"' && c != '\\';
            f.write_char(if allowed { c } else { '?' })?;
        }
        Ok(())
    }
}

/// Splits out the auth-params of the first `Bearer` challenge (RFC 9110 §11.6.1).
fn bearer_params(header: &str) -> Result<Vec<(String, String)>, CoreError> {
    let mut rest = header.trim_start();
    // Find a challenge whose scheme is `Bearer`: a token at the start or after a comma.
    loop {
        let scheme_end = rest.find([' ', ',']).unwrap_or(rest.len());
        if rest[..scheme_end].eq_ignore_ascii_case("bearer") {
            rest = &rest[scheme_end..];
            break;
        }
        rest = skip_challenge(&rest[scheme_end..])?;
        if rest.is_empty() {
            return Err(CoreError::MalformedChallenge("no Bearer challenge"));
        }
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() {
            return Ok(params);
        }
        let Some(eq) = rest.find('=') else {
            return Ok(params);
        };
        let name = rest[..eq].trim();
        if name.contains(' ') {
            // `name` is the next challenge's scheme: the Bearer challenge has ended.
            return Ok(params);
        }
        rest = rest[eq + 1..].trim_start();
        let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            read_quoted(quoted)?
        } else {
            let end = rest.find([',', ' ']).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        params.push((name.to_owned(), value));
        rest = after;
    }
}

/// Skips one challenge's parameters; returns the text from the next scheme on.
fn skip_challenge(mut rest: &str) -> Result<&str, CoreError> {
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let token_end = rest.find([' ', ',', '=']).unwrap_or(rest.len());
        match rest[token_end..].trim_start().chars().next() {
            Some('=') => {
                let after_eq = rest[token_end..].trim_start()[1..].trim_start();
                rest = if let Some(quoted) = after_eq.strip_prefix('"') {
                    read_quoted(quoted)?.1
                } else {
                    &after_eq[after_eq.find(',').unwrap_or(after_eq.len())..]
                };
            }
            _ => return Ok(rest),
        }
    }
}

/// Reads a quoted-string body (after the opening quote); returns the unescaped value and the rest.
fn read_quoted(input: &str) -> Result<(String, &str), CoreError> {
    let mut value = String::new();
    let mut chars = input.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &input[index + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(CoreError::MalformedChallenge("unterminated quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_resource_metadata_and_scope() {
        let challenge =
            BearerChallenge::new("http://localhost:3001/.well-known/oauth-protected-resource/mcp")
                .with_scope("mcp:read mcp:write");
        assert_eq!(
            challenge.to_string(),
            r#"Bearer resource_metadata="http://localhost:3001/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write""#
        );
    }

    #[test]
    fn neutralises_quotes_backslashes_and_control_characters_in_descriptions() {
        let challenge = BearerChallenge::new("https://r/.well-known/oauth-protected-resource")
            .with_error(BearerErrorCode::InvalidToken, "bad \"x\", error=\"y\\\r\né");
        let rendered = challenge.to_string();
        assert!(
            rendered.ends_with(r#"error_description="bad ?x?, error=?y????""#),
            "{rendered}"
        );
        let parsed = BearerChallenge::parse(&rendered).unwrap();
        assert_eq!(parsed.error, Some(BearerErrorCode::InvalidToken));
    }

    #[test]
    fn parses_bearer_among_other_challenges() {
        let header = r#"Basic realm="a, b", Bearer error="insufficient_scope", scope="mcp:write", resource_metadata="https://x/.well-known/oauth-protected-resource", DPoP algs="ES256""#;
        let parsed = BearerChallenge::parse(header).unwrap();
        assert_eq!(parsed.error, Some(BearerErrorCode::InsufficientScope));
        assert_eq!(parsed.scope.as_deref(), Some("mcp:write"));
        assert_eq!(
            parsed.resource_metadata.as_deref(),
            Some("https://x/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn parses_escaped_quotes_and_bare_tokens() {
        let parsed =
            BearerChallenge::parse(r#"bearer error=invalid_token, error_description="a \"b\"""#)
                .unwrap();
        assert_eq!(parsed.error, Some(BearerErrorCode::InvalidToken));
        assert_eq!(parsed.error_description.as_deref(), Some(r#"a "b""#));
    }

    #[test]
    fn refuses_headers_without_bearer_or_with_unterminated_quotes() {
        assert!(BearerChallenge::parse(r#"Basic realm="x""#).is_err());
        assert!(BearerChallenge::parse(r#"Bearer scope="open"#).is_err());
    }
}
