//! `mcp-oauth mcp-server`: the protected demo MCP server.

use std::net::SocketAddr;

use clap::Args;
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{ResourceServer, ResourceServerConfig};

use crate::issuer_args::IssuerArgs;
use crate::mcp_endpoint::McpEndpointArgs;
use crate::runtime::{ServeArgs, Service, TlsArgs, serve_all};
use crate::upstream_args::{McpUpstreamArgs, UpstreamTarget};

/// Flags of `mcp-oauth mcp-server`.
#[derive(Args, Debug)]
pub struct McpServerArgs {
    /// Address and port to listen on.
    #[arg(long, env = "MCP_SERVER_BIND", default_value = "127.0.0.1:3001")]
    bind: SocketAddr,

    #[command(flatten)]
    endpoint: McpEndpointArgs,

    /// The issuers trusted and how their tokens are checked.
    #[command(flatten)]
    issuers: IssuerArgs,

    /// Scope `list_contexts` needs (Cognito: `<resource-server-id>/mcp.read`).
    #[arg(long, env = "MCP_SCOPE_READ", default_value = "mcp:read")]
    scope_read: String,

    /// Scope `create_context` needs (Cognito: `<resource-server-id>/mcp.write`).
    #[arg(long, env = "MCP_SCOPE_WRITE", default_value = "mcp:write")]
    scope_write: String,

    /// Name published in the Protected Resource Metadata.
    #[arg(
        long,
        env = "MCP_RESOURCE_NAME",
        default_value = "mcp-oauth demo MCP server"
    )]
    resource_name: String,

    /// Switch token validation OFF: anyone can call every tool. Only for measuring the cost of
    /// validation; never use it on a reachable server.
    #[arg(long, env = "MCP_DANGEROUSLY_DISABLE_AUTH")]
    dangerously_disable_auth: bool,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,

    /// HTTPS, and client certificates (mutual TLS).
    #[command(flatten)]
    tls: TlsArgs,
}

impl McpServerArgs {
    /// The scopes the demo tools need.
    fn demo_scopes(&self) -> DemoScopes {
        DemoScopes {
            read: self.scope_read.clone(),
            write: self.scope_write.clone(),
        }
    }
}

/// Turns the flags into a resource-server configuration.
fn resource_config(args: &McpServerArgs) -> anyhow::Result<ResourceServerConfig> {
    let config = args
        .endpoint
        .resource_config(&args.resource_name, &args.demo_scopes())?
        .with_scopes_supported([&args.scope_read, &args.scope_write]);
    args.issuers.apply(config)
}

impl McpServerArgs {
    /// Checks the first issuer's JWTs for revocation at its introspection endpoint `url` with
    /// these credentials, every --revocation-check-secs or else every `default_secs` (what
    /// `dev` does); returns the interval.
    pub fn check_revocations(
        &mut self,
        url: &str,
        client_id: &str,
        secret: &str,
        default_secs: u64,
    ) -> u64 {
        self.issuers
            .check_revocations(url, client_id, secret, default_secs)
    }

    /// The proxy in front of `upstream` instead of the demo tools, with this command's
    /// address, endpoint and issuers, and the demo scopes (which the local authorization
    /// server grants) as the scopes supported: what `dev` runs when given an upstream.
    pub async fn prepare_proxy(
        &self,
        policy: &McpUpstreamArgs,
        upstream: &UpstreamTarget,
    ) -> anyhow::Result<Service> {
        let base = self
            .endpoint
            .endpoint_config(crate::proxy::RESOURCE_NAME)?
            .with_scopes_supported([&self.scope_read, &self.scope_write]);
        crate::proxy::prepare(self.bind, base, &self.issuers, policy, upstream).await
    }

    /// Trusts `issuer` too (what `dev --second-authorization-server` does): the Protected
    /// Resource Metadata then lists it after the --issuer ones.
    pub fn trust_issuer(&mut self, issuer: &str) {
        self.issuers.trust_issuer(issuer);
    }

    /// The URL of the MCP endpoint (--url).
    pub fn resource_url(&self) -> &str {
        &self.endpoint.url
    }
}

/// Runs the MCP server until Ctrl-C or SIGTERM.
pub async fn run(args: McpServerArgs) -> anyhow::Result<()> {
    let tls = args.tls.terminator(&[("--url", &args.endpoint.url)])?;
    serve_all(vec![prepare(&args).await?.with_tls(tls)], &args.serve).await
}

/// Builds and binds the MCP server and prints where it is; with validation on, it fetches
/// the issuers' keys beside serving and is ready once it has them.
pub async fn prepare(args: &McpServerArgs) -> anyhow::Result<Service> {
    let config = resource_config(args)?;
    let resource_server = ResourceServer::new(config)?;
    let authentication = if args.dangerously_disable_auth {
        // Printed unconditionally: a log filter must not hide this.
        eprintln!("WARNING: TOKEN VALIDATION IS SWITCHED OFF (--dangerously-disable-auth)");
        tracing::warn!("!!! TOKEN VALIDATION IS SWITCHED OFF (--dangerously-disable-auth) !!!");
        tracing::warn!(
            "!!! anyone who can reach this server can call every tool; use it only to measure !!!"
        );
        Authentication::DangerouslyDisabled
    } else {
        Authentication::Required
    };
    let service = Service::bind(
        args.bind,
        mcp_router(&resource_server, args.demo_scopes(), authentication),
    )
    .await?;
    let config = resource_server.config();
    println!(
        "MCP server listening on {} (resource {})",
        args.bind, config.resource
    );
    println!("  metadata:  {}", config.resource_metadata_url());
    println!(
        "  docs:      {}",
        config.resource_documentation.as_deref().unwrap_or_default()
    );
    for issuer in &config.issuers {
        println!("  trusts:    {} ({:?})", issuer.issuer, issuer.profile);
    }
    Ok(match authentication {
        Authentication::Required => service.with_resource_server(&resource_server),
        _ => service,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: McpServerArgs,
    }

    fn parse(flags: &[&str]) -> McpServerArgs {
        Wrapper::try_parse_from(std::iter::once("mcp-server").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn defaults_trust_the_local_authorization_server() {
        let config = resource_config(&parse(&[])).unwrap();
        assert_eq!(config.resource.as_str(), "http://localhost:3001/mcp");
        assert_eq!(config.issuers[0].issuer, "http://localhost:9000");
        assert_eq!(config.tool_scopes["create_context"], "mcp:write");
        assert_eq!(
            config.resource_documentation.as_deref(),
            Some("http://localhost:3001/docs")
        );
    }

    #[test]
    fn max_token_lifetime_is_off_unless_given() {
        assert_eq!(
            resource_config(&parse(&[])).unwrap().max_token_lifetime,
            None
        );
        let config = resource_config(&parse(&["--max-token-lifetime-secs", "900"])).unwrap();
        assert_eq!(config.max_token_lifetime, Some(Duration::from_secs(900)));
    }

    #[test]
    fn cognito_issuers_need_client_ids() {
        let error = resource_config(&parse(&[
            "--cognito-issuer",
            "https://cognito-idp.us-east-1.amazonaws.com/p",
        ]));
        assert!(
            error
                .unwrap_err()
                .to_string()
                .contains("--cognito-client-id")
        );
    }

    #[test]
    fn a_revocation_check_introspects_the_first_issuers_tokens() {
        let refused = resource_config(&parse(&["--revocation-check-secs", "10"]));
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("--introspection-url")
        );
        let mut args = parse(&[]);
        let every = args.check_revocations("http://localhost:9000/introspect", "rs", "secret", 30);
        assert_eq!(every, 30);
        let config = resource_config(&args).unwrap();
        let issuer = &config.issuers[0];
        assert_eq!(issuer.revocation_check, Some(Duration::from_secs(30)));
        assert_eq!(
            issuer.introspection.as_ref().unwrap().endpoint,
            "http://localhost:9000/introspect"
        );
        let mut chosen = parse(&["--revocation-check-secs", "5"]);
        assert_eq!(
            chosen.check_revocations("http://as/introspect", "rs", "s", 30),
            5
        );
    }

    #[test]
    fn metadata_urls_must_belong_to_a_trusted_issuer() {
        let error = resource_config(&parse(&[
            "--issuer-metadata-url",
            "https://other=https://x/.well-known/openid-configuration",
        ]));
        assert!(
            error
                .unwrap_err()
                .to_string()
                .contains("not a trusted issuer")
        );
    }
}
