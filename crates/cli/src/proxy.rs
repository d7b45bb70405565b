//! `mcp-oauth proxy`: OAuth 2.1 in front of any MCP server. The resource-server layer (the
//! same issuers and checks as `mcp-server`) guards an upstream MCP server reached by URL or
//! run as a stdio command; `gateway` and `dev` use the same upstream flags.

use std::net::SocketAddr;

use anyhow::bail;
use axum::Router;
use clap::Args;
use mcp_oauth_proxy::stdio::StdioUpstream;
use mcp_oauth_proxy::{HttpUpstream, protect_upstream};
use mcp_oauth_resource::{ResourceServer, ResourceServerConfig};

use crate::issuer_args::IssuerArgs;
use crate::mcp_endpoint::McpEndpointArgs;
use crate::runtime::{ServeArgs, Service, TlsArgs, serve_all};
use crate::upstream_args::{McpUpstreamArgs, UpstreamTarget};

/// The name the Protected Resource Metadata gives a proxied server unless told otherwise.
pub const RESOURCE_NAME: &str = "MCP server behind mcp-oauth proxy";

/// Flags of `mcp-oauth proxy`.
#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Address and port to listen on.
    #[arg(long, env = "MCP_SERVER_BIND", default_value = "127.0.0.1:3001")]
    bind: SocketAddr,

    #[command(flatten)]
    endpoint: McpEndpointArgs,

    /// The issuers trusted and how their tokens are checked.
    #[command(flatten)]
    issuers: IssuerArgs,

    /// Scopes published in the Protected Resource Metadata and asked for in 401 challenges
    /// (comma-separated in the environment); every scope a rule names is added.
    #[arg(
        long = "scopes-supported",
        env = "MCP_SCOPES_SUPPORTED",
        value_delimiter = ',',
        default_value = "mcp:read,mcp:write"
    )]
    scopes_supported: Vec<String>,

    /// Name published in the Protected Resource Metadata.
    #[arg(long, env = "MCP_RESOURCE_NAME", default_value = RESOURCE_NAME)]
    resource_name: String,

    /// The upstream MCP server and the policy in front of it.
    #[command(flatten)]
    upstream: McpUpstreamArgs,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,

    /// HTTPS, and client certificates (mutual TLS).
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs the proxy until Ctrl-C or SIGTERM.
pub async fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let tls = args.tls.terminator(&[("--url", &args.endpoint.url)])?;
    let base = args
        .endpoint
        .endpoint_config(&args.resource_name)?
        .with_scopes_supported(&args.scopes_supported);
    let Some(upstream) = args.upstream.target()? else {
        bail!(
            "give the upstream MCP server: --upstream-url URL, or --upstream-command CMD \
             [ARGS]... (or the command after --)"
        );
    };
    let service = prepare(args.bind, base, &args.issuers, &args.upstream, &upstream).await?;
    serve_all(vec![service.with_tls(tls)], &args.serve).await
}

/// Builds and binds the proxy in front of `upstream` at `bind`, with `base` (the endpoint,
/// its name and scopes) trusting `issuers`; prints where it is. It fetches the issuers' keys
/// beside serving and is ready once it has them.
pub async fn prepare(
    bind: SocketAddr,
    base: ResourceServerConfig,
    issuers: &IssuerArgs,
    policy: &McpUpstreamArgs,
    upstream: &UpstreamTarget,
) -> anyhow::Result<Service> {
    let (config, rules) = policy.resource_config(issuers.apply(base)?)?;
    let resource_server = ResourceServer::new(config)?;
    let router = router(&resource_server, policy, &rules, upstream)?;
    let service = Service::bind(bind, router).await?;
    let config = resource_server.config();
    println!(
        "MCP proxy listening on {bind} (resource {})",
        config.resource
    );
    match upstream {
        UpstreamTarget::Url(url) => println!("  upstream:  {url}"),
        UpstreamTarget::Command(command) => println!("  upstream:  {} (stdio)", command.join(" ")),
    }
    println!("  metadata:  {}", config.resource_metadata_url());
    for issuer in &config.issuers {
        println!("  trusts:    {} ({:?})", issuer.issuer, issuer.profile);
    }
    Ok(service.with_resource_server(&resource_server))
}

/// The protected upstream's routes: the MCP endpoint and the metadata.
pub fn router(
    resource_server: &ResourceServer,
    policy: &McpUpstreamArgs,
    rules: &mcp_oauth_proxy::ScopeRules,
    upstream: &UpstreamTarget,
) -> anyhow::Result<Router> {
    let config = policy.proxy_config(rules)?;
    match upstream {
        UpstreamTarget::Url(url) => {
            let upstream = HttpUpstream::new(&policy.http_config(url))?;
            Ok(protect_upstream(resource_server, &config, upstream)?)
        }
        UpstreamTarget::Command(command) => {
            let upstream = StdioUpstream::new(policy.stdio_config(command)?)?;
            Ok(protect_upstream(resource_server, &config, upstream)?)
        }
    }
}
