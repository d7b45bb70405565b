//! [`McpOAuthClient`]: the configuration, the credential store and the authorization driver,
//! shared by every flow and session.

use std::fmt;
use std::sync::Arc;

use mcp_oauth_core::{BearerChallenge, ScopeSet};
use url::Url;

use crate::authorization::Authorized;
use crate::discovery::{Discovery, canonical_server};
use crate::driver::AuthorizationDriver;
use crate::http::Http;
use crate::registration::Registered;
use crate::store::CredentialStore;
use crate::{Error, OAuthClientConfig};

/// An OAuth client for MCP servers. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct McpOAuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: OAuthClientConfig,
    redirect_uri: Url,
    http: Http,
    mcp_http: reqwest::Client,
    store: Arc<dyn CredentialStore>,
    driver: Arc<dyn AuthorizationDriver>,
}

impl fmt::Debug for McpOAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpOAuthClient")
            .field("redirect_uri", &self.inner.config.redirect_uri)
            .field("client_name", &self.inner.config.client_name)
            .finish_non_exhaustive()
    }
}

impl McpOAuthClient {
    /// Validates `config` and builds the client over `store` and `driver`.
    pub fn new(
        config: OAuthClientConfig,
        store: Arc<dyn CredentialStore>,
        driver: Arc<dyn AuthorizationDriver>,
    ) -> Result<Self, Error> {
        config.validate().map_err(Error::Config)?;
        let redirect_uri = Url::parse(&config.redirect_uri)
            .map_err(|error| Error::Config(vec![format!("redirect_uri: {error}")]))?;
        let http = Http::new(config.http_timeout, config.max_document_bytes)
            .map_err(|error| Error::Config(vec![error]))?;
        // MCP requests carry the bearer token: no redirect is followed with it.
        let mcp_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                Error::Config(vec![format!("cannot build the HTTP client: {error}")])
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                redirect_uri,
                http,
                mcp_http,
                store,
                driver,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &OAuthClientConfig {
        &self.inner.config
    }

    /// The credential store.
    pub fn store(&self) -> &dyn CredentialStore {
        self.inner.store.as_ref()
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    pub(crate) fn mcp_http(&self) -> &reqwest::Client {
        &self.inner.mcp_http
    }

    /// Sends the MCP server at `server_url` an `initialize` request without a token and
    /// returns the `Bearer` challenge of its 401 answer, if it gave one (MCP "Authorization
    /// Server Location": the challenge is where discovery starts). Any other answer gives
    /// `None`, and discovery falls back to the well-known URLs.
    pub async fn probe(&self, server_url: &str) -> Result<Option<BearerChallenge>, Error> {
        canonical_server(server_url)?;
        let initialize = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": self.inner.config.client_info.protocol_version,
                "capabilities": {},
                "clientInfo": self.inner.config.client_info.client_info,
            },
        });
        let response = self
            .inner
            .mcp_http
            .post(server_url)
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .json(&initialize)
            .timeout(self.inner.config.http_timeout)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: server_url.to_owned(),
                source,
            })?;
        if response.status() != http::StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        Ok(response
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| BearerChallenge::parse(value).ok()))
    }

    /// Runs discovery for the MCP server at `server_url` (see [`Discovery::run`]).
    pub async fn discover(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
    ) -> Result<Discovery, Error> {
        Discovery::run(self, server_url, challenge).await
    }

    /// Runs discovery with the authorization server `chosen` (see [`Discovery::run_with`]).
    pub async fn discover_with(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
        chosen: Option<&str>,
    ) -> Result<Discovery, Error> {
        Discovery::run_with(self, server_url, challenge, chosen).await
    }

    /// Takes `registered` through the authorization code flow with `scopes`: the request is
    /// built, the driver brings back the response, which is checked and redeemed.
    pub async fn authorize(
        &self,
        registered: Registered,
        scopes: Option<ScopeSet>,
    ) -> Result<Authorized, Error> {
        let pending = registered.authorize(self, scopes)?;
        tracing::debug!(issuer = %pending.expected_issuer(), "authorization request sent to the driver");
        let callback = self
            .inner
            .driver
            .authorize(pending.url(), &self.inner.redirect_uri)
            .await?;
        pending.complete(self, &callback).await
    }
}
