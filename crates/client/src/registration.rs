//! Client credentials in the MCP specification's priority (MCP "Client Registration
//! Approaches"): pre-registered, then a Client ID Metadata Document when the authorization
//! server advertises support, then Dynamic Client Registration (RFC 7591) with
//! `application_type`.

use mcp_oauth_core::{ClientMetadata, OAuthErrorResponse, TokenEndpointAuthMethod};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::discovery::Discovery;
use crate::http::{invalid, secure_url};
use crate::secret::ClientSecret;
use crate::{Error, McpOAuthClient};

/// Where a client registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistrationSource {
    /// Configured beforehand (MCP "Pre-registration").
    PreRegistered,
    /// The `client_id` is the URL of this client's metadata document (CIMD).
    ClientIdMetadataDocument,
    /// Obtained from the registration endpoint (RFC 7591).
    Dynamic,
}

/// The client's identity at one authorization server (RFC 6749 §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientRegistration {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` of a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The redirect URIs registered.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where the registration came from.
    pub source: RegistrationSource,
}

/// A client registered with an authorization server beforehand, bound to that server's
/// issuer (MCP "Authorization Server Binding": never used with another server).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreRegisteredClient {
    /// The issuer identifier of the authorization server that issued it.
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, for a confidential client.
    pub client_secret: Option<ClientSecret>,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
}

impl PreRegisteredClient {
    /// A public client (`none`: PKCE alone, OAuth 2.1 §2.1).
    pub fn public(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        }
    }

    /// A confidential client authenticating with HTTP Basic (`client_secret_basic`).
    pub fn confidential(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: Some(ClientSecret::new(client_secret)),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        }
    }

    /// Sets how the client authenticates at the token endpoint.
    pub fn with_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.token_endpoint_auth_method = method;
        self
    }

    fn registration(&self, redirect_uri: &str) -> ClientRegistration {
        ClientRegistration {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            redirect_uris: vec![redirect_uri.to_owned()],
            source: RegistrationSource::PreRegistered,
        }
    }
}

/// The second state of the flow: discovery done and client credentials in hand.
#[derive(Debug)]
pub struct Registered {
    pub(crate) discovery: Discovery,
    pub(crate) registration: ClientRegistration,
}

impl Registered {
    /// Pairs a discovery with credentials obtained elsewhere (e.g. stored by an earlier run
    /// for the same issuer).
    pub fn new(discovery: Discovery, registration: ClientRegistration) -> Self {
        Self {
            discovery,
            registration,
        }
    }

    /// What discovery found.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The client credentials.
    pub fn registration(&self) -> &ClientRegistration {
        &self.registration
    }
}

impl Discovery {
    /// Obtains client credentials for the discovered authorization server, in the MCP
    /// specification's priority order:
    ///
    /// 1. a pre-registered client for this issuer;
    /// 2. a registration stored for this issuer by an earlier run (if it has our redirect URI);
    /// 3. the configured Client ID Metadata Document URL, when the server metadata has
    ///    `client_id_metadata_document_supported: true`;
    /// 4. Dynamic Client Registration at `registration_endpoint`, with `application_type`; the
    ///    new registration is stored under the issuer.
    ///
    /// Otherwise [`Error::NoRegistrationMethod`].
    pub async fn register(self, client: &McpOAuthClient) -> Result<Registered, Error> {
        let config = client.config();
        let redirect_uri = config.redirect_uri.as_str();
        let issuer = self.issuer().to_owned();
        if let Some(pre) = config
            .pre_registered
            .iter()
            .find(|pre| pre.issuer == issuer)
        {
            return Ok(Registered::new(self, pre.registration(redirect_uri)));
        }
        let stored = client.store().load(&issuer).await?.registration;
        if let Some(stored) = stored.filter(|stored| usable_stored(stored, client)) {
            return Ok(Registered::new(self, stored));
        }
        if let Some(url) = &config.client_id_metadata_document
            && self.client_id_metadata_document_supported()
        {
            let registration = ClientRegistration {
                client_id: url.clone(),
                client_secret: None,
                token_endpoint_auth_method: TokenEndpointAuthMethod::None,
                redirect_uris: vec![redirect_uri.to_owned()],
                source: RegistrationSource::ClientIdMetadataDocument,
            };
            return Ok(Registered::new(self, registration));
        }
        let Some(endpoint) = self.authorization_server().registration_endpoint.clone() else {
            return Err(Error::NoRegistrationMethod { issuer });
        };
        let registration = register_dynamically(client, &endpoint).await?;
        client
            .store()
            .store_registration(&issuer, Some(&registration))
            .await?;
        tracing::info!(%issuer, client_id = %registration.client_id, "registered a client (RFC 7591)");
        Ok(Registered::new(self, registration))
    }
}

/// A stored registration is reused if it still fits this configuration.
fn usable_stored(stored: &ClientRegistration, client: &McpOAuthClient) -> bool {
    let config = client.config();
    match stored.source {
        RegistrationSource::Dynamic => stored.redirect_uris.contains(&config.redirect_uri),
        RegistrationSource::ClientIdMetadataDocument => {
            config.client_id_metadata_document.as_ref() == Some(&stored.client_id)
        }
        // Pre-registered clients live in the configuration, never in the store.
        RegistrationSource::PreRegistered => false,
    }
}

/// RFC 7591 §3.1: a public native (or web) client using the code and refresh grants. No
/// `scope` is registered, so later step-ups are not limited by the registration.
async fn register_dynamically(
    client: &McpOAuthClient,
    endpoint: &str,
) -> Result<ClientRegistration, Error> {
    secure_url(endpoint)?;
    let config = client.config();
    let mut metadata = ClientMetadata::new([config.redirect_uri.clone()]);
    metadata.client_name = Some(config.client_name.clone());
    metadata.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None.as_str().to_owned());
    metadata.grant_types = Some(vec![
        "authorization_code".to_owned(),
        "refresh_token".to_owned(),
    ]);
    metadata.response_types = Some(vec!["code".to_owned()]);
    metadata.application_type = Some(config.effective_application_type().as_str().to_owned());
    let body =
        serde_json::to_value(&metadata).map_err(|error| invalid(endpoint, &error.to_string()))?;
    let answer = client.http().post_json(endpoint, &body).await?;
    if !answer.is_success() {
        return Err(Error::RegistrationRefused {
            status: answer.status,
            error: serde_json::from_slice::<OAuthErrorResponse>(&answer.body).ok(),
        });
    }
    let response = answer.json_object(endpoint)?;
    let text = |name: &str| response.get(name).and_then(Value::as_str);
    let client_id = text("client_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(endpoint, "the registration response has no client_id"))?;
    let method = match text("token_endpoint_auth_method") {
        None => TokenEndpointAuthMethod::None,
        Some(value) => TokenEndpointAuthMethod::parse(value).ok_or_else(|| {
            invalid(
                endpoint,
                &format!("unsupported token_endpoint_auth_method `{value}`"),
            )
        })?,
    };
    let client_secret = text("client_secret").map(ClientSecret::new);
    if method.uses_secret() && client_secret.is_none() {
        return Err(invalid(
            endpoint,
            "the registration uses a client secret but the response has none",
        ));
    }
    let redirect_uris = match response.get("redirect_uris").and_then(Value::as_array) {
        Some(uris) => uris
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => vec![config.redirect_uri.clone()],
    };
    Ok(ClientRegistration {
        client_id: client_id.to_owned(),
        client_secret,
        token_endpoint_auth_method: method,
        redirect_uris,
        source: RegistrationSource::Dynamic,
    })
}
