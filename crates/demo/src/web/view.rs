//! What the page shows, and the page itself. Built only from values that are safe to show:
//! never a client secret, an access token or a refresh token.

use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_client::{ClientRegistration, Discovery, RegistrationSource, TokenSet};
use mcp_oauth_core::OAuthErrorResponse;
use rmcp::model::{CallToolResult, Tool};
use serde_json::Value;

/// What discovery found.
#[derive(Debug, Clone)]
pub(crate) struct DiscoveryView {
    pub(crate) challenge: Option<String>,
    pub(crate) resource_metadata_url: String,
    pub(crate) resource: String,
    pub(crate) issuer: String,
    pub(crate) metadata_url: String,
    pub(crate) endpoints: Vec<(&'static str, String)>,
    pub(crate) scopes: String,
    /// Every authorization server the MCP server lists (more than one: a choice was made).
    pub(crate) offered: Vec<String>,
}

impl DiscoveryView {
    pub(crate) fn new(discovery: &Discovery) -> Self {
        let metadata = discovery.authorization_server();
        let endpoints = [
            ("authorization_endpoint", &metadata.authorization_endpoint),
            ("token_endpoint", &metadata.token_endpoint),
            ("registration_endpoint", &metadata.registration_endpoint),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
        .collect();
        Self {
            challenge: discovery.challenge().map(|challenge| challenge.to_string()),
            resource_metadata_url: discovery.resource_metadata_url().to_owned(),
            resource: discovery.resource().as_str().to_owned(),
            issuer: discovery.issuer().to_owned(),
            metadata_url: discovery.metadata_url().to_owned(),
            endpoints,
            scopes: discovery
                .initial_scopes()
                .map(|scopes| scopes.to_string())
                .unwrap_or_default(),
            offered: discovery
                .offered_authorization_servers()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// The client registration in use, without its secret.
#[derive(Debug, Clone)]
pub(crate) struct RegistrationView {
    pub(crate) client_id: String,
    pub(crate) how: &'static str,
    pub(crate) auth_method: String,
    pub(crate) redirect_uris: Vec<String>,
}

impl RegistrationView {
    pub(crate) fn new(registration: &ClientRegistration, reused: bool) -> Self {
        let how = match (registration.source, reused) {
            (RegistrationSource::PreRegistered, _) => {
                "pre-registered: client id and secret from the configuration"
            }
            (RegistrationSource::ClientIdMetadataDocument, _) => {
                "Client ID Metadata Document: the client_id is the URL of the document this application serves"
            }
            (RegistrationSource::Dynamic, false) => {
                "Dynamic Client Registration (RFC 7591), just now"
            }
            (RegistrationSource::Dynamic, true) => {
                "Dynamic Client Registration (RFC 7591), kept from an earlier registration"
            }
            _ => "other",
        };
        Self {
            client_id: registration.client_id.clone(),
            how,
            auth_method: registration.token_endpoint_auth_method.to_string(),
            redirect_uris: registration.redirect_uris.clone(),
        }
    }
}

/// The access token's claims, decoded from its payload for display (not verified here: the
/// MCP server verifies the token), and facts about the token set.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimsView {
    pub(crate) claims: Vec<(String, String)>,
    pub(crate) scope: String,
    pub(crate) expires_at: Option<u64>,
    pub(crate) has_refresh_token: bool,
    pub(crate) refreshed: u32,
}

impl ClaimsView {
    pub(crate) fn new(tokens: &TokenSet, refreshed: u32) -> Self {
        Self {
            claims: decode_claims(tokens.access_token.expose()),
            scope: tokens.scope.to_string(),
            expires_at: tokens.expires_at,
            has_refresh_token: tokens.refresh_token.is_some(),
            refreshed,
        }
    }
}

/// The payload of a JWT as (claim, JSON value) pairs; empty for an opaque token.
fn decode_claims(token: &str) -> Vec<(String, String)> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Vec::new();
    };
    let Some(Value::Object(claims)) = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    else {
        return Vec::new();
    };
    let mut shown: Vec<(String, String)> = claims
        .into_iter()
        .map(|(name, value)| {
            let shown = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (name, shown)
        })
        .collect();
    shown.sort();
    shown
}

/// A tool of `tools/list`.
#[derive(Debug, Clone)]
pub(crate) struct ToolView {
    pub(crate) name: String,
    pub(crate) description: String,
}

impl ToolView {
    pub(crate) fn new(tool: &Tool) -> Self {
        Self {
            name: tool.name.to_string(),
            description: tool.description.as_deref().unwrap_or_default().to_owned(),
        }
    }
}

/// A tool's result: its text content, or its structured content as JSON.
#[derive(Debug, Clone)]
pub(crate) struct ToolResultView {
    pub(crate) tool: String,
    pub(crate) text: String,
    pub(crate) is_error: bool,
}

impl ToolResultView {
    pub(crate) fn new(tool: &str, result: &CallToolResult) -> Self {
        let mut text: Vec<String> = result
            .content
            .iter()
            .filter_map(|content| content.as_text().map(|text| text.text.clone()))
            .collect();
        if text.is_empty()
            && let Some(structured) = &result.structured_content
        {
            text.push(serde_json::to_string_pretty(structured).unwrap_or_default());
        }
        Self {
            tool: tool.to_owned(),
            text: text.join("\n"),
            is_error: result.is_error == Some(true),
        }
    }
}

/// An error to show: an OAuth error code (or this application's own) and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorView {
    pub(crate) code: String,
    pub(crate) description: Option<String>,
}

impl ErrorView {
    pub(crate) fn new(code: &str, description: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            description: Some(description.into()),
        }
    }

    pub(crate) fn oauth(response: &OAuthErrorResponse) -> Self {
        Self {
            code: response.error.as_str().to_owned(),
            description: response.error_description.clone(),
        }
    }
}

/// The home page.
#[derive(Template)]
#[template(path = "web/home.html")]
pub(crate) struct HomePage<'a> {
    pub(crate) title: &'a str,
    pub(crate) summary: &'a str,
    pub(crate) mcp_url: &'a str,
    pub(crate) metadata_document_url: Option<&'a str>,
    pub(crate) csrf_token: &'a str,
    pub(crate) signed_in: bool,
    pub(crate) error: Option<&'a ErrorView>,
    pub(crate) chooser: Option<&'a [String]>,
    pub(crate) discovery: Option<&'a DiscoveryView>,
    pub(crate) registration: Option<&'a RegistrationView>,
    pub(crate) claims: Option<&'a ClaimsView>,
    pub(crate) tools: &'a [ToolView],
    pub(crate) tool_result: Option<&'a ToolResultView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_claims_of_a_jwt_and_nothing_else() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","exp":5,"aud":["a"]}"#);
        let claims = decode_claims(&format!("h.{payload}.s"));
        assert_eq!(
            claims,
            vec![
                ("aud".to_owned(), r#"["a"]"#.to_owned()),
                ("exp".to_owned(), "5".to_owned()),
                ("sub".to_owned(), "u1".to_owned()),
            ]
        );
        for opaque in ["opaque", "a.b", "a.!!.c", "a.b.c.d", ""] {
            assert!(decode_claims(opaque).is_empty(), "{opaque}");
        }
    }
}
