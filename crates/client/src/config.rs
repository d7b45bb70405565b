//! The client's configuration: one documented default per setting, `with_…` setters, and
//! [`OAuthClientConfig::validate`] reporting every problem at once.

use std::time::Duration;

use mcp_oauth_core::{ApplicationType, ScopeSet, validate_client_id_url, validate_redirect_uri};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use url::Url;

use crate::registration::PreRegisteredClient;

/// How the client identifies itself, registers and behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthClientConfig {
    /// The redirect URI the authorization response comes back to: `http` on a loopback host
    /// for a native client (RFC 8252 §7.3), or `https` (MCP "Communication Security").
    pub redirect_uri: String,
    /// `client_name` of registrations (default `mcp-oauth client`).
    pub client_name: String,
    /// `application_type` of Dynamic Client Registration (MCP "Application Type and Redirect
    /// URI Constraints"); `None` (the default) infers `native` for loopback and private-use
    /// redirect URIs and `web` otherwise.
    pub application_type: Option<ApplicationType>,
    /// The https URL of this client's Client ID Metadata Document, used as `client_id` with
    /// authorization servers that advertise `client_id_metadata_document_supported`
    /// (default: none, so such servers get Dynamic Client Registration). For local
    /// development, `http` on a loopback host is accepted too (only authorization servers
    /// configured for development fetch such documents).
    pub client_id_metadata_document: Option<String>,
    /// Clients registered beforehand, each bound to its authorization server's issuer
    /// (MCP "Pre-registration"; used first).
    pub pre_registered: Vec<PreRegisteredClient>,
    /// The authorization server to use when the MCP server lists several (its issuer; RFC
    /// 9728 §7.6). Default: none, so discovery takes one this client has a pre-registered
    /// client at, else one whose stored tokens are for this MCP server (the choice of an
    /// earlier run), else the first listed. A server not listed is an error.
    pub authorization_server: Option<String>,
    /// The scopes of every first authorization request, replacing the MCP "Scope Selection
    /// Strategy" (the challenge's `scope`, else `scopes_supported`); stored tokens are used
    /// when they cover them. Step-ups still add the scopes a 403 asks for. Default: none,
    /// the strategy applies.
    pub scopes: Option<ScopeSet>,
    /// Refresh the access token when it expires within this margin (default 60 s).
    pub refresh_skew: Duration,
    /// How many step-up authorizations one MCP operation may trigger before it fails
    /// (MCP "Step-Up Authorization Flow": retry limits; default 2).
    pub max_step_ups: u32,
    /// Timeout of each OAuth HTTP request (default 30 s).
    pub http_timeout: Duration,
    /// The largest metadata, registration or token response read (default 1 MiB).
    pub max_document_bytes: usize,
    /// What the MCP client says about itself in `initialize`.
    pub client_info: ClientConfig,
}

impl OAuthClientConfig {
    /// A configuration with `redirect_uri` and the documented defaults.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        Self {
            redirect_uri: redirect_uri.into(),
            client_name: "mcp-oauth client".to_owned(),
            application_type: None,
            client_id_metadata_document: None,
            pre_registered: Vec::new(),
            authorization_server: None,
            scopes: None,
            refresh_skew: Duration::from_secs(60),
            max_step_ups: 2,
            http_timeout: Duration::from_secs(30),
            max_document_bytes: 1024 * 1024,
            client_info: ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("mcp-oauth-client", env!("CARGO_PKG_VERSION")),
            ),
        }
    }

    /// Sets `client_name`.
    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Sets `application_type` explicitly.
    pub fn with_application_type(mut self, application_type: ApplicationType) -> Self {
        self.application_type = Some(application_type);
        self
    }

    /// Uses the Client ID Metadata Document at `url` with servers that support it.
    pub fn with_client_id_metadata_document(mut self, url: impl Into<String>) -> Self {
        self.client_id_metadata_document = Some(url.into());
        self
    }

    /// Adds a pre-registered client.
    pub fn with_pre_registered_client(mut self, client: PreRegisteredClient) -> Self {
        self.pre_registered.push(client);
        self
    }

    /// Uses the authorization server `issuer` when the MCP server lists several.
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_server = Some(issuer.into());
        self
    }

    /// Requests `scopes` instead of the ones the MCP server asks for.
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Sets the refresh margin.
    pub fn with_refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = skew;
        self
    }

    /// Sets the step-up limit per operation.
    pub fn with_max_step_ups(mut self, limit: u32) -> Self {
        self.max_step_ups = limit;
        self
    }

    /// Sets the OAuth HTTP timeout.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets what the MCP client sends in `initialize`.
    pub fn with_client_info(mut self, client_info: ClientConfig) -> Self {
        self.client_info = client_info;
        self
    }

    /// The application type registered: explicit, else inferred from the redirect URI.
    pub fn effective_application_type(&self) -> ApplicationType {
        self.application_type.unwrap_or_else(|| {
            ApplicationType::infer(None, std::slice::from_ref(&self.redirect_uri))
                .unwrap_or(ApplicationType::Web)
        })
    }

    /// Checks the whole configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let application_type = self.effective_application_type();
        if let Err(error) = validate_redirect_uri(&self.redirect_uri, application_type) {
            problems.push(format!(
                "redirect_uri `{}` cannot be used by a {application_type} client: {error}",
                self.redirect_uri
            ));
        }
        if self.client_name.trim().is_empty() {
            problems.push("client_name must not be empty".to_owned());
        }
        if let Some(url) = &self.client_id_metadata_document
            && let Err(error) = validate_metadata_document_url(url)
        {
            problems.push(format!("client_id_metadata_document `{url}`: {error}"));
        }
        for client in &self.pre_registered {
            if Url::parse(&client.issuer).is_err() {
                problems.push(format!(
                    "pre-registered client `{}`: issuer `{}` is not a URL",
                    client.client_id, client.issuer
                ));
            }
            if client.client_id.is_empty() {
                problems.push(format!(
                    "pre-registered client for `{}` has an empty client_id",
                    client.issuer
                ));
            }
            if client.token_endpoint_auth_method.uses_secret() && client.client_secret.is_none() {
                problems.push(format!(
                    "pre-registered client `{}` authenticates with {} but has no secret",
                    client.client_id, client.token_endpoint_auth_method
                ));
            }
        }
        if self.scopes.as_ref().is_some_and(ScopeSet::is_empty) {
            problems.push("scopes, when set, must name at least one scope".to_owned());
        }
        if self.http_timeout.is_zero() {
            problems.push("http_timeout must be more than zero".to_owned());
        }
        if self.max_document_bytes < 1024 {
            problems.push("max_document_bytes must be at least 1024".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A Client ID Metadata Document URL (CIMD draft §3): https, or for development `http` on a
/// loopback host, held to the same rules as its https spelling.
fn validate_metadata_document_url(url: &str) -> Result<(), mcp_oauth_core::CimdError> {
    match url.strip_prefix("http://") {
        Some(rest) => {
            validate_client_id_url(&format!("https://{rest}"))?;
            let parsed =
                Url::parse(url).map_err(|error| mcp_oauth_core::CimdError::UnparsableUrl {
                    reason: error.to_string(),
                })?;
            if crate::http::is_loopback_host(parsed.host()) {
                Ok(())
            } else {
                Err(mcp_oauth_core::CimdError::NotHttps)
            }
        }
        None => validate_client_id_url(url).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_makes_a_native_client() {
        let config = OAuthClientConfig::new("http://127.0.0.1:8976/callback");
        assert_eq!(config.effective_application_type(), ApplicationType::Native);
        assert_eq!(config.validate(), Ok(()));
        let web = OAuthClientConfig::new("https://app.example.com/callback");
        assert_eq!(web.effective_application_type(), ApplicationType::Web);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let config = OAuthClientConfig::new("http://app.example.com/callback")
            .with_client_name(" ")
            .with_client_id_metadata_document("http://app.example.com/client.json")
            .with_pre_registered_client(
                PreRegisteredClient::public("not a url", "id")
                    .with_auth_method(mcp_oauth_core::TokenEndpointAuthMethod::ClientSecretPost),
            )
            .with_http_timeout(Duration::ZERO);
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn accepts_loopback_http_metadata_documents_only() {
        for accepted in [
            "https://app.example.com/client.json",
            "http://localhost:3003/client-metadata.json",
            "http://127.0.0.1:3003/client-metadata.json",
        ] {
            let config = OAuthClientConfig::new("http://localhost:3003/callback")
                .with_client_id_metadata_document(accepted);
            assert_eq!(config.validate(), Ok(()), "{accepted}");
        }
        for refused in [
            "http://app.example.com/client.json",
            "http://localhost:3003/",
            "http://localhost:3003/a/../client.json",
            "http://user@localhost:3003/client.json",
        ] {
            let config = OAuthClientConfig::new("http://localhost:3003/callback")
                .with_client_id_metadata_document(refused);
            assert!(config.validate().is_err(), "{refused}");
        }
    }
}
