//! Metadata documents: Protected Resource Metadata (RFC 9728) and Authorization Server
//! Metadata (RFC 8414, also read from OpenID Connect Discovery documents).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Protected Resource Metadata (RFC 9728 §2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// `resource`: the canonical URI of the protected resource.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers of the servers whose tokens are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// `scopes_supported`: scopes used to request access to this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// `bearer_methods_supported`: how the token may be presented (we accept only `header`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// `resource_name`: a human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// `resource_documentation`: a page describing the resource for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Members this crate does not model, kept when a document is read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// A document for `resource` trusting `authorization_servers`, presenting tokens in the
    /// `Authorization` header only.
    pub fn new(resource: impl Into<String>, authorization_servers: Vec<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers,
            bearer_methods_supported: vec!["header".to_owned()],
            ..Self::default()
        }
    }
}

/// Authorization Server Metadata (RFC 8414 §2), the subset MCP clients and resource servers use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationServerMetadata {
    /// `issuer`: must equal the issuer identifier the document was looked up with (RFC 8414 §3.3).
    pub issuer: String,
    /// `authorization_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `jwks_uri`: where the signing keys are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `registration_endpoint` (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// `scopes_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// `response_types_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<String>,
    /// `grant_types_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// `code_challenge_methods_supported` (RFC 7636); MCP clients require `S256`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Members this crate does not model, kept when a document is read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_resource_metadata_omits_empty_members_and_keeps_unknown_ones() {
        let document =
            ProtectedResourceMetadata::new("https://r/mcp", vec!["https://as".to_owned()]);
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://r/mcp",
                "authorization_servers": ["https://as"],
                "bearer_methods_supported": ["header"],
            })
        );
        let read: ProtectedResourceMetadata =
            serde_json::from_value(serde_json::json!({"resource": "x", "dpop_bound": true}))
                .unwrap();
        assert_eq!(read.other["dpop_bound"], true);
    }
}
