//! `mcp-oauth client`, `mcp-oauth auto-client` and `mcp-oauth cimd-client`: the demo web
//! clients, each a [`WebClient`] with its own way of getting credentials.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use mcp_oauth_client::ClientSecret;
use mcp_oauth_demo::web::{Credentials, WebClient, WebClientConfig};
use mcp_oauth_private_files as private_files;
use url::Url;

use crate::runtime::{ServeArgs, Service, serve_all};

/// The file in the data directory that keeps the auto-client's registration.
pub const AUTO_CLIENT_REGISTRATION_FILE: &str = "auto-client-registration.json";

/// Where a web client listens and the URL people open, with its own flag defaults and
/// environment variables.
pub trait Listen {
    /// The address and port to listen on.
    fn bind(&self) -> SocketAddr;
    /// The URL people open.
    fn url(&self) -> &Url;
}

/// Defines a `Listen` argument group: `--bind` and `--url` with the given environment
/// variables and defaults.
macro_rules! listen_args {
    ($name:ident, $what:literal, $bind_env:literal, $bind:literal, $url_env:literal, $url:literal) => {
        #[doc = concat!("Where the ", $what, " listens and the URL people open.")]
        #[derive(Args, Debug, Clone)]
        pub struct $name {
            /// Address and port to listen on.
            #[arg(long, env = $bind_env, default_value = $bind)]
            pub bind: SocketAddr,

            /// The URL people open in their browser (no path); `<url>/callback` is the
            /// client's redirect URI.
            #[arg(long, env = $url_env, default_value = $url)]
            pub url: Url,
        }

        impl Listen for $name {
            fn bind(&self) -> SocketAddr {
                self.bind
            }
            fn url(&self) -> &Url {
                &self.url
            }
        }
    };
}

listen_args!(
    ClientListen,
    "pre-registered client",
    "CLIENT_BIND",
    "127.0.0.1:3000",
    "CLIENT_URL",
    "http://localhost:3000"
);
listen_args!(
    AutoClientListen,
    "auto-client",
    "AUTO_CLIENT_BIND",
    "127.0.0.1:3002",
    "AUTO_CLIENT_URL",
    "http://localhost:3002"
);
listen_args!(
    CimdClientListen,
    "CIMD client",
    "CIMD_CLIENT_BIND",
    "127.0.0.1:3003",
    "CIMD_CLIENT_URL",
    "http://localhost:3003"
);

/// The MCP server a web client calls.
#[derive(Args, Debug, Clone)]
pub struct McpTarget {
    /// The MCP server's URL (the same variable `mcp-server` reads for its own URL).
    #[arg(
        long = "mcp-url",
        env = "MCP_SERVER_URL",
        default_value = "http://localhost:3001/mcp"
    )]
    pub mcp_url: String,
}

/// The authorization server a pre-registered client belongs to.
#[derive(Args, Debug, Clone)]
pub struct IssuerArg {
    /// The issuer of the authorization server that registered the client (the same variable
    /// `auth-server` reads for its own issuer); the credentials are used with it only.
    #[arg(
        long,
        env = "AUTH_SERVER_ISSUER",
        default_value = "http://localhost:9000"
    )]
    pub issuer: String,
}

/// Flags of `mcp-oauth client`.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Where it listens and the URL people open.
    #[command(flatten)]
    pub listen: ClientListen,

    /// The MCP server it calls.
    #[command(flatten)]
    pub mcp: McpTarget,

    #[command(flatten)]
    issuer: IssuerArg,

    /// The client id the authorization server issued (`mcp-oauth admin clients add
    /// --redirect-uri <url>/callback` prints one).
    #[arg(long, env = "MCP_OAUTH_CLIENT_ID")]
    pub client_id: String,

    /// The client secret issued with it (prefer the environment; never shown or logged).
    #[arg(long, env = "MCP_OAUTH_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,
}

/// Flags of `mcp-oauth auto-client`.
#[derive(Args, Debug)]
pub struct AutoClientArgs {
    /// Where it listens and the URL people open.
    #[command(flatten)]
    pub listen: AutoClientListen,

    #[command(flatten)]
    mcp: McpTarget,

    /// Directory where the client keeps its registration (`auto-client-registration.json`,
    /// readable by its owner only), so a restart reuses it. Created 0700; looser modes of this
    /// user's are tightened, another user's directory or one others may write to is refused.
    #[arg(long, env = "MCP_OAUTH_DATA_DIR", default_value = "mcp-oauth-data")]
    data_dir: PathBuf,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,
}

/// Flags of `mcp-oauth cimd-client`.
#[derive(Args, Debug)]
pub struct CimdClientArgs {
    /// Where it listens and the URL people open.
    #[command(flatten)]
    pub listen: CimdClientListen,

    #[command(flatten)]
    mcp: McpTarget,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,
}

/// The pre-registered client's credentials.
pub fn pre_registered(issuer: &str, client_id: &str, client_secret: &str) -> Credentials {
    Credentials::PreRegistered {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        client_secret: ClientSecret::new(client_secret),
    }
}

/// The auto-client's credentials: a registration kept in `data_dir`.
pub fn dynamic(data_dir: &std::path::Path) -> Credentials {
    Credentials::Dynamic {
        registration_file: data_dir.join(AUTO_CLIENT_REGISTRATION_FILE),
    }
}

/// Builds and binds a web client, and prints where it is.
pub async fn prepare(
    listen: &dyn Listen,
    mcp: &McpTarget,
    credentials: Credentials,
) -> anyhow::Result<Service> {
    let config = WebClientConfig::new(listen.url().clone(), &mcp.mcp_url, credentials);
    let client = WebClient::new(config)?;
    let service = Service::bind(listen.bind(), client.router()).await?;
    println!(
        "{} listening on {}: open {}",
        client.title(),
        listen.bind(),
        listen.url()
    );
    Ok(service)
}

/// Builds and binds `mcp-oauth client`, and prints where it is.
pub async fn client_service(args: &ClientArgs) -> anyhow::Result<Service> {
    let credentials = pre_registered(&args.issuer.issuer, &args.client_id, &args.client_secret);
    prepare(&args.listen, &args.mcp, credentials).await
}

/// Builds and binds `mcp-oauth auto-client` (its data directory made private first), and
/// prints where it is.
pub async fn auto_client_service(args: &AutoClientArgs) -> anyhow::Result<Service> {
    private_files::secure_dir(&args.data_dir, &[AUTO_CLIENT_REGISTRATION_FILE])?;
    prepare(&args.listen, &args.mcp, dynamic(&args.data_dir)).await
}

/// Builds and binds `mcp-oauth cimd-client`, and prints where it and its metadata document
/// are.
pub async fn cimd_client_service(args: &CimdClientArgs) -> anyhow::Result<Service> {
    let service = prepare(&args.listen, &args.mcp, Credentials::MetadataDocument).await?;
    println!(
        "  its Client ID Metadata Document: {}",
        args.listen.url.join("client-metadata.json")?
    );
    Ok(service)
}

/// Runs `mcp-oauth client` until Ctrl-C or SIGTERM.
pub async fn run_client(args: ClientArgs) -> anyhow::Result<()> {
    serve_all(vec![client_service(&args).await?], &args.serve).await
}

/// Runs `mcp-oauth auto-client` until Ctrl-C or SIGTERM.
pub async fn run_auto_client(args: AutoClientArgs) -> anyhow::Result<()> {
    serve_all(vec![auto_client_service(&args).await?], &args.serve).await
}

/// Runs `mcp-oauth cimd-client` until Ctrl-C or SIGTERM.
pub async fn run_cimd_client(args: CimdClientArgs) -> anyhow::Result<()> {
    serve_all(vec![cimd_client_service(&args).await?], &args.serve).await
}
