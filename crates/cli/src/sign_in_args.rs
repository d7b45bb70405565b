//! How a command signs in as an MCP OAuth client (`mcp-oauth call`, `mcp-oauth doctor
//! --sign-in`): the flags choosing the authorization driver (the system browser and a
//! loopback listener, or `--headless`) and the client's credentials (Dynamic Client
//! Registration, a Client ID Metadata Document, or a client registered beforehand), the
//! client library's client they make, and the words for its failures.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mcp_oauth_client::{
    AuthorizationDriver, CredentialStore, Error as ClientError, HeadlessDriver,
    InMemoryCredentialStore, LoopbackDriver, McpOAuthClient, OAuthClientConfig,
    PreRegisteredClient, open_browser,
};
use mcp_oauth_core::{BearerChallenge, ScopeSet, TokenEndpointAuthMethod};
use rmcp::ServiceError;
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::one_line::one_line;

/// The sign-in flags (flattened into `call` and `doctor`).
#[derive(Args, Debug)]
pub struct SignInArgs {
    /// Sign in without a browser: follow the authorization server's redirects until one
    /// reaches the redirect URI. Only for servers that redirect back without showing a page
    /// (test and conformance servers, clients approved beforehand).
    #[arg(long, env = "MCP_OAUTH_HEADLESS", conflicts_with = "no_browser")]
    headless: bool,

    /// Do not open the system browser: print the sign-in URL and wait for the redirect.
    #[arg(long, env = "MCP_OAUTH_NO_BROWSER")]
    no_browser: bool,

    /// Loopback port of the redirect URI http://127.0.0.1:PORT/callback (see
    /// --localhost-redirect), listened on while a
    /// sign-in is in progress. 0 picks a free port each run; a dynamically registered client
    /// is then registered again at every sign-in.
    #[arg(long, env = "MCP_OAUTH_CALLBACK_PORT", default_value_t = 8976)]
    port: u16,

    /// Name the redirect URI http://localhost:PORT/callback instead of
    /// http://127.0.0.1:PORT/callback (the listener stays on 127.0.0.1). Needed with Amazon
    /// Cognito, which accepts plain-http callback URLs only for localhost; `mcp-oauth deploy`
    /// sets it in the .env file it writes for this command.
    #[arg(long, env = "MCP_OAUTH_LOCALHOST_REDIRECT")]
    localhost_redirect: bool,

    /// How long to wait for the sign-in in the browser, in seconds.
    #[arg(long, env = "MCP_OAUTH_LOGIN_TIMEOUT_SECS", default_value_t = 300)]
    login_timeout_secs: u64,

    /// Scopes to request instead of the ones the server asks for (repeatable, or space- or
    /// comma-separated). Scopes a tool call is refused for are still added (step-up).
    #[arg(long = "scope", env = "MCP_OAUTH_SCOPES", value_delimiter = ',')]
    scopes: Vec<String>,

    /// Client id registered beforehand with the authorization server (instead of a Client
    /// ID Metadata Document or Dynamic Client Registration).
    #[arg(long, env = "MCP_OAUTH_CLIENT_ID")]
    client_id: Option<String>,

    /// Secret of --client-id, for a confidential client (prefer the environment).
    #[arg(
        long,
        env = "MCP_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,

    /// How --client-id authenticates at the token endpoint. Default: client-secret-basic
    /// with a secret, none without.
    #[arg(
        long,
        env = "MCP_OAUTH_TOKEN_ENDPOINT_AUTH_METHOD",
        value_enum,
        requires = "client_id"
    )]
    token_endpoint_auth_method: Option<AuthMethod>,

    /// Issuer of the authorization server --client-id is registered with. Default: the one
    /// the MCP server names in its Protected Resource Metadata.
    #[arg(long, env = "MCP_OAUTH_ISSUER", requires = "client_id")]
    issuer: Option<String>,

    /// The authorization server to sign in at (its issuer), when the MCP server lists several
    /// in its Protected Resource Metadata. Default: the one used for this MCP server before
    /// (its tokens are in the credential file), else the first listed. Remembered: later runs
    /// without the flag keep using it.
    #[arg(
        long,
        env = "MCP_OAUTH_AUTHORIZATION_SERVER",
        value_name = "ISSUER",
        conflicts_with = "issuer"
    )]
    authorization_server: Option<String>,

    /// https URL of this client's Client ID Metadata Document, used as its client_id with
    /// authorization servers that support them (client_id_metadata_document_supported).
    #[arg(long, env = "MCP_OAUTH_CLIENT_METADATA_URL", value_name = "URL")]
    client_metadata_url: Option<String>,

    /// client_name sent with Dynamic Client Registration (shown on consent pages).
    #[arg(long, env = "MCP_OAUTH_CLIENT_NAME", default_value = "mcp-oauth call")]
    client_name: String,
}

impl SignInArgs {
    /// The client library's client for the MCP server at `url`, keeping its registrations
    /// and tokens in `store`, giving up on a request after `http_timeout` when given (else
    /// the library's default). With `--client-id` and no `--issuer`, the issuer is discovered
    /// first from the server's challenge.
    pub async fn client(
        &self,
        url: &str,
        store: Arc<dyn CredentialStore>,
        http_timeout: Option<Duration>,
    ) -> anyhow::Result<McpOAuthClient> {
        let (driver, redirect_uri) = self.driver()?;
        let mut config = OAuthClientConfig::new(redirect_uri).with_client_name(&self.client_name);
        if let Some(timeout) = http_timeout {
            config = config.with_http_timeout(timeout);
        }
        if let Some(url) = &self.client_metadata_url {
            config = config.with_client_id_metadata_document(url);
        }
        if let Some(issuer) = &self.authorization_server {
            config = config.with_authorization_server(issuer);
        }
        let scopes: ScopeSet = self
            .scopes
            .iter()
            .flat_map(|scope| scope.split_whitespace())
            .collect();
        if !scopes.is_empty() {
            config = config.with_scopes(scopes);
        }
        if let Some(client_id) = &self.client_id {
            let issuer = match &self.issuer {
                Some(issuer) => issuer.clone(),
                None => discover_issuer(&config, url).await?,
            };
            config = config.with_pre_registered_client(self.pre_registered(issuer, client_id));
        }
        Ok(McpOAuthClient::new(config, store, driver)?)
    }

    /// The authorization driver and the redirect URI it receives the response at.
    fn driver(&self) -> anyhow::Result<(Arc<dyn AuthorizationDriver>, String)> {
        let listening = |port| {
            let driver = LoopbackDriver::new(port)
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            anyhow::Ok(if self.localhost_redirect {
                driver.with_localhost_redirect()
            } else {
                driver
            })
        };
        if self.headless {
            // Nothing listens: the driver stops at the redirect URI without requesting it.
            let headless = HeadlessDriver::new()?;
            let redirect_uri = listening(self.port)?.redirect_uri().to_owned();
            return Ok((Arc::new(headless), redirect_uri));
        }
        let open = !self.no_browser;
        let timeout = self.login_timeout_secs;
        let loopback = listening(self.port)?.with_timeout(Duration::from_secs(timeout));
        let redirect_uri = loopback.redirect_uri().to_owned();
        let callback = redirect_uri.clone();
        let loopback = loopback.with_presenter(move |url| {
            eprintln!("To sign in, open this URL in your browser:\n\n  {url}\n");
            if open && let Err(error) = open_browser(url) {
                eprintln!("(the browser could not be opened: {error})");
            }
            eprintln!("{}", waiting_message(&callback, timeout));
        });
        Ok((Arc::new(loopback), redirect_uri))
    }

    fn pre_registered(&self, issuer: String, client_id: &str) -> PreRegisteredClient {
        let client = match &self.client_secret {
            Some(secret) => PreRegisteredClient::confidential(issuer, client_id, secret),
            None => PreRegisteredClient::public(issuer, client_id),
        };
        match self.token_endpoint_auth_method {
            Some(method) => client.with_auth_method(method.into()),
            None => client,
        }
    }
}

/// Token endpoint authentication of a pre-registered client (RFC 7591 §2).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthMethod {
    /// A public client: PKCE alone.
    None,
    /// The secret in HTTP Basic authentication.
    ClientSecretBasic,
    /// The secret in the form body.
    ClientSecretPost,
}

impl From<AuthMethod> for TokenEndpointAuthMethod {
    fn from(method: AuthMethod) -> Self {
        match method {
            AuthMethod::None => Self::None,
            AuthMethod::ClientSecretBasic => Self::ClientSecretBasic,
            AuthMethod::ClientSecretPost => Self::ClientSecretPost,
        }
    }
}

/// What the person reads while the command waits for the browser to come back to
/// `callback`: how long, how it ends, and how to stop.
fn waiting_message(callback: &str, timeout_secs: u64) -> String {
    let port = url::Url::parse(callback)
        .ok()
        .and_then(|url| url.port())
        .unwrap_or_default();
    format!(
        "Waiting up to {timeout_secs} s (--login-timeout-secs) for the sign-in to finish: it ends \
         when the browser is sent back to {callback}. That address is on this machine; if your \
         browser runs on another one, forward the port first (ssh -L {port}:127.0.0.1:{port} \
         <this host>). Press Ctrl-C to give up."
    )
}

/// The issuer of the authorization server the MCP server names: a request without a token
/// brings the server's challenge, from which discovery starts (as the session's would).
async fn discover_issuer(config: &OAuthClientConfig, url: &str) -> anyhow::Result<String> {
    let challenge = challenge_of(url).await?;
    let probe = McpOAuthClient::new(
        config.clone(),
        Arc::new(InMemoryCredentialStore::new()),
        Arc::new(HeadlessDriver::new()?),
    )?;
    let discovery = probe
        .discover(url, challenge.as_ref())
        .await
        .context("cannot find the authorization server of --client-id (pass --issuer)")?;
    Ok(discovery.issuer().to_owned())
}

/// An MCP `initialize` POST to `url` without a token, as a client's first request (its
/// answer is the server's challenge when it is protected), from client `client_name`.
pub fn initialize_request(
    http: &reqwest::Client,
    url: &str,
    client_name: &str,
) -> reqwest::RequestBuilder {
    let initialize = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": client_name, "version": env!("CARGO_PKG_VERSION") }
        }
    });
    http.post(url)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&initialize)
}

/// The `Bearer` challenge of the server's 401 to an `initialize` without a token.
async fn challenge_of(url: &str) -> anyhow::Result<Option<BearerChallenge>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let response = initialize_request(&http, url, "mcp-oauth call")
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    Ok(response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| BearerChallenge::parse(value).ok()))
}

/// What went wrong, in the words of the layer that knows: a server that cannot be reached
/// or answers nonsense is named with the cause (rmcp's messages name its transport's types
/// and drop the cause); a JSON-RPC error is quoted; anything else is the client's message.
pub fn describe_client_error(url: &str, error: &ClientError) -> String {
    let transport = match error {
        ClientError::Initialize(error) => match error.as_ref() {
            ClientInitializeError::TransportError { error, .. } => Some(error),
            ClientInitializeError::JsonRpcError(data) => {
                return format!("the MCP server refused to initialize: {}", data.message);
            }
            _ => None,
        },
        ClientError::Mcp(error) => match error.as_ref() {
            ServiceError::TransportSend(error) => Some(error),
            ServiceError::McpError(data) => {
                return format!("the MCP server answered with an error: {}", data.message);
            }
            _ => None,
        },
        _ => None,
    };
    let Some(transport) = transport else {
        return one_line(error);
    };
    match transport
        .error
        .downcast_ref::<StreamableHttpError<reqwest::Error>>()
    {
        Some(StreamableHttpError::Client(cause)) => {
            format!("cannot reach the MCP server at {url}: {}", one_line(cause))
        }
        Some(other) => format!("the MCP server at {url} failed: {}", one_line(other)),
        None => format!("the MCP server at {url} failed: {}", one_line(transport)),
    }
}
