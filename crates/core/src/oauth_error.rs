//! OAuth error codes and the JSON error body (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2;
//! RFC 7009 §2.2.1; RFC 8707 §2).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth `error` code.
///
/// Codes this crate does not know (extension codes registered under RFC 6749 §8.5, such as
/// `authorization_pending`) are kept as [`OAuthErrorCode::Extension`] when a body is parsed,
/// so a client can still read the response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`: a parameter is missing, repeated, or malformed (RFC 6749 §4.1.2.1, §5.2).
    InvalidRequest,
    /// `invalid_client`: client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, revoked, or was issued to
    /// another client or for another redirect URI (RFC 6749 §5.2).
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant or response type
    /// (RFC 6749 §4.1.2.1, §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `unsupported_response_type` (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// `invalid_scope`: the scope is invalid, unknown, or exceeds what was granted
    /// (RFC 6749 §4.1.2.1, §5.2).
    InvalidScope,
    /// `access_denied`: the resource owner or the server denied the request (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// `server_error`: an unexpected condition (RFC 6749 §4.1.2.1).
    ServerError,
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
    /// `invalid_redirect_uri`: a registered redirect URI is invalid (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// `invalid_client_metadata`: a client metadata value is invalid (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// `invalid_software_statement` (RFC 7591 §3.2.2).
    InvalidSoftwareStatement,
    /// `unapproved_software_statement` (RFC 7591 §3.2.2).
    UnapprovedSoftwareStatement,
    /// `invalid_target`: the `resource` is invalid, unknown, or not allowed (RFC 8707 §2).
    InvalidTarget,
    /// `unsupported_token_type`: revocation of this token type is not supported (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// Any other code (RFC 6749 §8.5 extension error codes).
    Extension(String),
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::Extension(code) => code,
        }
    }

    /// Reads a code; unknown codes become [`OAuthErrorCode::Extension`].
    pub fn parse(value: &str) -> Self {
        match value {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "invalid_redirect_uri" => Self::InvalidRedirectUri,
            "invalid_client_metadata" => Self::InvalidClientMetadata,
            "invalid_software_statement" => Self::InvalidSoftwareStatement,
            "unapproved_software_statement" => Self::UnapprovedSoftwareStatement,
            "invalid_target" => Self::InvalidTarget,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            other => Self::Extension(other.to_owned()),
        }
    }

    /// The HTTP status a JSON error response with this code carries: 401 for `invalid_client`
    /// (RFC 6749 §5.2), 500 for `server_error`, 503 for `temporarily_unavailable`, 400 otherwise
    /// (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 7009 §2.2.1).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OAuthErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OAuthErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

/// The JSON body of an OAuth error response (RFC 6749 §5.2, RFC 7591 §3.2.2).
///
/// The constructors keep `error_description` within the characters RFC 6749 §5.2 allows
/// (`%x20-21 / %x23-5B / %x5D-7E`): anything else becomes `?`, so no caller-supplied text can
/// carry quotes, backslashes, control characters or non-ASCII into the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OAuthErrorResponse {
    /// `error`.
    pub error: OAuthErrorCode,
    /// `error_description`: human-readable, for the client developer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// `error_uri`: a page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl OAuthErrorResponse {
    /// An error response with only the code.
    pub fn new(error: OAuthErrorCode) -> Self {
        Self {
            error,
            error_description: None,
            error_uri: None,
        }
    }

    /// An error response with a description (sanitised, see the type's documentation).
    pub fn with_description(error: OAuthErrorCode, description: impl AsRef<str>) -> Self {
        Self::new(error).description(description)
    }

    /// Sets `error_description` (sanitised).
    pub fn description(mut self, description: impl AsRef<str>) -> Self {
        let description = sanitise(description.as_ref());
        self.error_description = (!description.is_empty()).then_some(description);
        self
    }

    /// Sets `error_uri` (sanitised the same way).
    pub fn uri(mut self, uri: impl AsRef<str>) -> Self {
        let uri = sanitise(uri.as_ref());
        self.error_uri = (!uri.is_empty()).then_some(uri);
        self
    }

    /// The HTTP status this response is sent with ([`OAuthErrorCode::http_status`]).
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }
}

fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\x20'..='\x7e') && c != '"' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_form() {
        let codes = [
            OAuthErrorCode::InvalidRequest,
            OAuthErrorCode::InvalidClient,
            OAuthErrorCode::InvalidGrant,
            OAuthErrorCode::UnauthorizedClient,
            OAuthErrorCode::UnsupportedGrantType,
            OAuthErrorCode::UnsupportedResponseType,
            OAuthErrorCode::InvalidScope,
            OAuthErrorCode::AccessDenied,
            OAuthErrorCode::ServerError,
            OAuthErrorCode::TemporarilyUnavailable,
            OAuthErrorCode::InvalidRedirectUri,
            OAuthErrorCode::InvalidClientMetadata,
            OAuthErrorCode::InvalidSoftwareStatement,
            OAuthErrorCode::UnapprovedSoftwareStatement,
            OAuthErrorCode::InvalidTarget,
            OAuthErrorCode::UnsupportedTokenType,
        ];
        for code in codes {
            assert_eq!(OAuthErrorCode::parse(code.as_str()), code);
            assert!(!matches!(code, OAuthErrorCode::Extension(_)));
        }
        assert_eq!(
            OAuthErrorCode::parse("slow_down"),
            OAuthErrorCode::Extension("slow_down".to_owned())
        );
    }

    #[test]
    fn serialises_the_rfc_6749_body_and_omits_absent_members() {
        let body =
            OAuthErrorResponse::with_description(OAuthErrorCode::InvalidGrant, "code expired");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"})
        );
        let bare = OAuthErrorResponse::new(OAuthErrorCode::InvalidTarget);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"error":"invalid_target"}"#
        );
    }

    #[test]
    fn parses_bodies_with_unknown_codes_and_extra_members() {
        let body: OAuthErrorResponse = serde_json::from_str(
            r#"{"error":"authorization_pending","error_uri":"https://x/e","other":1}"#,
        )
        .unwrap();
        assert_eq!(body.error.as_str(), "authorization_pending");
        assert_eq!(body.error_uri.as_deref(), Some("https://x/e"));
        assert!(
            serde_json::from_str::<OAuthErrorResponse>(r#"{"error_description":"x"}"#).is_err()
        );
    }

    #[test]
    fn neutralises_quotes_backslashes_control_and_non_ascii_in_descriptions() {
        let body = OAuthErrorResponse::new(OAuthErrorCode::InvalidRequest)
            .description("bad \"x\"\\\r\n\u{202e}é");
        assert_eq!(body.error_description.as_deref(), Some("bad ?x??????"));
    }

    #[test]
    fn maps_codes_to_their_http_status() {
        assert_eq!(OAuthErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(OAuthErrorCode::ServerError.http_status(), 500);
        assert_eq!(OAuthErrorCode::TemporarilyUnavailable.http_status(), 503);
        assert_eq!(OAuthErrorCode::InvalidClientMetadata.http_status(), 400);
        assert_eq!(OAuthErrorCode::InvalidTarget.http_status(), 400);
    }
}
