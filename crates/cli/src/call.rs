//! `mcp-oauth call`: a command-line MCP client that signs in with OAuth, lists the tools of
//! an MCP server or calls one.
//!
//! The sign-in is the client library's flow (discovery, registration, PKCE, tokens,
//! refresh, step-up) with one of two drivers: the loopback driver (the system browser, and
//! a listener on `127.0.0.1` for the redirect) or, with `--headless`, the driver that
//! follows the authorization server's redirects itself. Registrations and tokens are kept
//! per authorization server in an owner-only credential file, so later runs need no
//! sign-in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use mcp_oauth_client::{
    AuthorizationDriver, Error as ClientError, FileCredentialStore, HeadlessDriver,
    InMemoryCredentialStore, LoopbackDriver, McpOAuthClient, OAuthClientConfig,
    PreRegisteredClient, open_browser,
};
use mcp_oauth_core::{BearerChallenge, ScopeSet, TokenEndpointAuthMethod};
use rmcp::ServiceError;
use rmcp::model::{CallToolResult, Tool};
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use serde_json::{Map, Value};

use crate::one_line::one_line;

/// What the command logs unless `RUST_LOG` says otherwise: the client library's progress
/// (a registration, a step-up) and warnings. rmcp's own messages are left out: the failures
/// they describe come back as errors, which the command reports.
pub const LOG_FILTER: &str = "warn,mcp_oauth_client=info,rmcp=off";

/// Flags of `mcp-oauth call`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    mcp-oauth call http://localhost:3001/mcp                  # list the tools\n  \
    mcp-oauth call http://localhost:3001/mcp whoami           # call one\n  \
    mcp-oauth call http://localhost:3001/mcp create_context --args '{\"name\": \"notes\", \"description\": \"my notes\"}'")]
pub struct CallArgs {
    /// URL of the MCP server (its Streamable HTTP endpoint), e.g. http://localhost:3001/mcp.
    url: String,

    /// Tool to call. Without it, the server's tools are listed (name and description).
    tool: Option<String>,

    /// Arguments of the tool: a JSON object, e.g. '{"name": "notes"}'.
    #[arg(long, value_name = "JSON", requires = "tool")]
    args: Option<String>,

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

    /// The credential file: client registrations and tokens per authorization server,
    /// readable by its owner only. Default: $XDG_CONFIG_HOME/mcp-oauth/credentials.json,
    /// else ~/.config/mcp-oauth/credentials.json.
    #[arg(long, env = "MCP_OAUTH_CREDENTIALS", value_name = "PATH")]
    credentials: Option<PathBuf>,
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

/// Lists the tools or calls one.
pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    let arguments = args.args.as_deref().map(parse_arguments).transpose()?;
    let credentials = match &args.credentials {
        Some(path) => path.clone(),
        None => default_credentials_path()?,
    };
    let (driver, redirect_uri) = driver(&args)?;
    let mut config = OAuthClientConfig::new(redirect_uri).with_client_name(&args.client_name);
    if let Some(url) = &args.client_metadata_url {
        config = config.with_client_id_metadata_document(url);
    }
    if let Some(issuer) = &args.authorization_server {
        config = config.with_authorization_server(issuer);
    }
    let scopes: ScopeSet = args
        .scopes
        .iter()
        .flat_map(|scope| scope.split_whitespace())
        .collect();
    if !scopes.is_empty() {
        config = config.with_scopes(scopes);
    }
    if let Some(client_id) = &args.client_id {
        let issuer = match &args.issuer {
            Some(issuer) => issuer.clone(),
            None => discover_issuer(&config, &args.url).await?,
        };
        config = config.with_pre_registered_client(pre_registered(&args, issuer, client_id));
    }
    let store = Arc::new(FileCredentialStore::new(&credentials));
    let client = McpOAuthClient::new(config, store, driver)?;

    let session = client
        .connect(&args.url)
        .await
        .map_err(|error| anyhow!(describe_client_error(&args.url, &error)))?;
    let outcome = match &args.tool {
        Some(tool) => match session.call_tool(tool.clone(), arguments).await {
            Ok(result) => print_result(tool, &result),
            Err(error) => Err(anyhow!(
                "calling the tool `{tool}` failed: {}",
                describe_client_error(&args.url, &error)
            )),
        },
        None => session
            .list_tools()
            .await
            .map_err(|error| anyhow!(describe_client_error(&args.url, &error)))
            .map(|tools| print_tools(&tools)),
    };
    session.close().await;
    outcome
}

/// `--args` must be a JSON object (MCP `tools/call` `arguments`).
fn parse_arguments(text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text).context("--args is not valid JSON")? {
        Value::Object(object) => Ok(object),
        other => bail!(
            "--args must be a JSON object such as '{{\"name\": \"notes\"}}', not {}",
            kind(&other)
        ),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `$XDG_CONFIG_HOME/mcp-oauth/credentials.json`, else `~/.config/...` (`%APPDATA%\...` on
/// Windows).
fn default_credentials_path() -> anyhow::Result<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let config_dir = absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".config")))
        .or_else(|| absolute("APPDATA"))
        .context(
            "cannot find your configuration directory (set HOME or XDG_CONFIG_HOME, or pass \
             --credentials)",
        )?;
    Ok(config_dir.join("mcp-oauth").join("credentials.json"))
}

/// The authorization driver and the redirect URI it receives the response at.
fn driver(args: &CallArgs) -> anyhow::Result<(Arc<dyn AuthorizationDriver>, String)> {
    let listening = |port| {
        let driver = LoopbackDriver::new(port)
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        anyhow::Ok(if args.localhost_redirect {
            driver.with_localhost_redirect()
        } else {
            driver
        })
    };
    if args.headless {
        // Nothing listens: the driver stops at the redirect URI without requesting it.
        let headless = HeadlessDriver::new()?;
        let redirect_uri = listening(args.port)?.redirect_uri().to_owned();
        return Ok((Arc::new(headless), redirect_uri));
    }
    let open = !args.no_browser;
    let timeout = args.login_timeout_secs;
    let loopback = listening(args.port)?.with_timeout(Duration::from_secs(timeout));
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

fn pre_registered(args: &CallArgs, issuer: String, client_id: &str) -> PreRegisteredClient {
    let client = match &args.client_secret {
        Some(secret) => PreRegisteredClient::confidential(issuer, client_id, secret),
        None => PreRegisteredClient::public(issuer, client_id),
    };
    match args.token_endpoint_auth_method {
        Some(method) => client.with_auth_method(method.into()),
        None => client,
    }
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

/// The `Bearer` challenge of the server's 401 to an `initialize` without a token.
async fn challenge_of(url: &str) -> anyhow::Result<Option<BearerChallenge>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let initialize = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "mcp-oauth call", "version": env!("CARGO_PKG_VERSION") }
        }
    });
    let response = http
        .post(url)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&initialize)
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

fn print_tools(tools: &[Tool]) {
    if tools.is_empty() {
        println!("(the server has no tools)");
        return;
    }
    let width = tools.iter().map(|tool| tool.name.len()).max().unwrap_or(0);
    for tool in tools {
        let description = tool
            .description
            .as_deref()
            .or(tool.title.as_deref())
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if description.is_empty() {
            println!("{}", tool.name);
        } else {
            println!("{:width$}  {description}", tool.name);
        }
    }
}

/// Prints the content (text as is, other kinds as one-line summaries), then the structured
/// content as indented JSON. A text item that only repeats the structured content (as
/// servers send it for older clients) is left out. A result marked as an error fails the
/// command.
fn print_result(tool: &str, result: &CallToolResult) -> anyhow::Result<()> {
    let structured = result.structured_content.as_ref();
    for block in &result.content {
        let block = serde_json::to_value(block).unwrap_or(Value::Null);
        if let Some(line) = content_line(&block, structured) {
            println!("{line}");
        }
    }
    if let Some(structured) = structured {
        println!(
            "{}",
            serde_json::to_string_pretty(structured).unwrap_or_default()
        );
    }
    if result.is_error == Some(true) {
        bail!("the tool `{tool}` reported an error");
    }
    Ok(())
}

/// One content block (MCP `ContentBlock`) for the terminal, or `None` for text that is the
/// structured content serialised.
fn content_line(block: &Value, structured: Option<&Value>) -> Option<String> {
    let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or_default();
    Some(match field("type") {
        "text" => {
            let text = field("text");
            if structured.is_some()
                && serde_json::from_str::<Value>(text).ok().as_ref() == structured
            {
                return None;
            }
            text.to_owned()
        }
        kind @ ("image" | "audio") => format!(
            "[{kind}: {}, {} bytes of base64]",
            field("mimeType"),
            field("data").len()
        ),
        "resource" => match block["resource"].get("text").and_then(Value::as_str) {
            Some(text) => text.to_owned(),
            None => format!(
                "[resource: {}]",
                block["resource"]["uri"].as_str().unwrap_or("?")
            ),
        },
        "resource_link" => format!("[link: {}]", field("uri")),
        other => format!("[{other} content]"),
    })
}

/// What went wrong, in the words of the layer that knows: a server that cannot be reached
/// or answers nonsense is named with the cause (rmcp's messages name its transport's types
/// and drop the cause); a JSON-RPC error is quoted; anything else is the client's message.
fn describe_client_error(url: &str, error: &ClientError) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_repeating_the_structured_content_is_not_printed_twice() {
        let structured = serde_json::json!({"count": 1});
        let text = |text: &str| serde_json::json!({"type": "text", "text": text});
        assert_eq!(
            content_line(&text(r#"{"count":1}"#), Some(&structured)),
            None
        );
        assert_eq!(
            content_line(&text("one context"), Some(&structured)).as_deref(),
            Some("one context")
        );
        assert_eq!(
            content_line(&text(r#"{"count":1}"#), None).as_deref(),
            Some(r#"{"count":1}"#)
        );
        let image = serde_json::json!({"type": "image", "mimeType": "image/png", "data": "AAAA"});
        assert_eq!(
            content_line(&image, None).as_deref(),
            Some("[image: image/png, 4 bytes of base64]")
        );
    }

    #[test]
    fn arguments_must_be_a_json_object() {
        assert!(parse_arguments(r#"{"name": "notes"}"#).is_ok());
        for (text, expected) in [
            ("[1, 2]", "not an array"),
            ("\"notes\"", "not a string"),
            ("42", "not a number"),
            ("null", "not null"),
            ("{name: notes}", "not valid JSON"),
            ("", "not valid JSON"),
        ] {
            let error = format!("{:#}", parse_arguments(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
