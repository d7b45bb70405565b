//! `mcp-oauth mcp-server`: the protected demo MCP server.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IntrospectionConfig, IssuerConfig, ResourceServer, ResourceServerConfig};

use crate::mcp_endpoint::McpEndpointArgs;
use crate::runtime::{ServeArgs, Service, serve_all};

/// Flags of `mcp-oauth mcp-server`.
#[derive(Args, Debug)]
pub struct McpServerArgs {
    /// Address and port to listen on.
    #[arg(long, env = "MCP_SERVER_BIND", default_value = "127.0.0.1:3001")]
    bind: SocketAddr,

    #[command(flatten)]
    endpoint: McpEndpointArgs,

    /// Issuer of RFC 9068 JWT access tokens to trust (repeatable; comma-separated in the
    /// environment). Tokens must name this server's URL in `aud`.
    #[arg(
        long = "issuer",
        env = "MCP_ISSUERS",
        value_delimiter = ',',
        default_value = "http://localhost:9000"
    )]
    issuers: Vec<String>,

    /// AWS Cognito user pool issuer to trust (`https://cognito-idp.<region>.amazonaws.com/<pool>`;
    /// repeatable). Its access tokens need a scope of the resource server whose identifier is
    /// this server's URL, and a client id from --cognito-client-id.
    #[arg(
        long = "cognito-issuer",
        env = "COGNITO_ISSUERS",
        value_delimiter = ','
    )]
    cognito_issuers: Vec<String>,

    /// Cognito app client ids whose tokens are accepted (repeatable; comma-separated in the
    /// environment).
    #[arg(
        long = "cognito-client-id",
        env = "COGNITO_CLIENT_IDS",
        value_delimiter = ','
    )]
    cognito_client_ids: Vec<String>,

    /// Where an issuer's metadata is, when not at its well-known URLs: ISSUER=URL (repeatable).
    #[arg(long = "issuer-metadata-url", env = "MCP_ISSUER_METADATA_URLS", value_delimiter = ',', value_parser = parse_pair)]
    issuer_metadata_urls: Vec<(String, String)>,

    /// Where an issuer's JWKS is, skipping metadata discovery: ISSUER=URL (repeatable).
    #[arg(long = "jwks-uri", env = "MCP_JWKS_URIS", value_delimiter = ',', value_parser = parse_pair)]
    jwks_uris: Vec<(String, String)>,

    /// RFC 7662 introspection endpoint for opaque tokens of the first --issuer.
    #[arg(long, env = "MCP_INTROSPECTION_URL", requires_all = ["introspection_client_id", "introspection_client_secret"])]
    introspection_url: Option<String>,

    /// This server's client id at the introspection endpoint.
    #[arg(long, env = "MCP_INTROSPECTION_CLIENT_ID")]
    introspection_client_id: Option<String>,

    /// This server's client secret at the introspection endpoint (prefer the environment).
    #[arg(long, env = "MCP_INTROSPECTION_CLIENT_SECRET", hide_env_values = true)]
    introspection_client_secret: Option<String>,

    /// Learn revocations: introspect each JWT of the first --issuer at --introspection-url when
    /// first seen, and again when this many seconds have passed since the last answer. A token
    /// revoked at the authorization server (sign-out, a replayed code, refresh token reuse) is
    /// then refused within this time instead of at its expiry; a token the endpoint does not
    /// vouch for, or an endpoint that cannot be reached, is refused. Off by default: tokens are
    /// checked locally only and stay valid until they expire.
    #[arg(
        long,
        env = "MCP_REVOCATION_CHECK_SECS",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    revocation_check_secs: Option<u64>,

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

    /// Allowed clock skew for `exp`/`nbf`/`iat`, in seconds (at most 60).
    #[arg(long, env = "MCP_LEEWAY_SECS", default_value_t = 30)]
    leeway_secs: u64,

    /// Refuse JWT access tokens that live longer than this (`exp` - `iat`), in seconds,
    /// whatever their issuer issues; without it any lifetime is accepted.
    #[arg(long, env = "MCP_MAX_TOKEN_LIFETIME_SECS")]
    max_token_lifetime_secs: Option<u64>,

    /// Shortest time between two JWKS fetches caused by unknown key ids, in seconds.
    #[arg(long, env = "MCP_JWKS_REFRESH_SECS", default_value_t = 30)]
    jwks_refresh_secs: u64,

    /// Switch token validation OFF: anyone can call every tool. Only for measuring the cost of
    /// validation; never use it on a reachable server.
    #[arg(long, env = "MCP_DANGEROUSLY_DISABLE_AUTH")]
    dangerously_disable_auth: bool,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,
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

fn parse_pair(value: &str) -> Result<(String, String), String> {
    // Split at the `=` that follows the issuer URL.
    let (issuer, url) = value
        .split_once('=')
        .ok_or_else(|| format!("expected ISSUER=URL, got `{value}`"))?;
    Ok((issuer.to_owned(), url.to_owned()))
}

/// Turns the flags into a resource-server configuration.
fn resource_config(args: &McpServerArgs) -> Result<ResourceServerConfig, String> {
    let metadata_urls: HashMap<_, _> = args.issuer_metadata_urls.iter().cloned().collect();
    let jwks_uris: HashMap<_, _> = args.jwks_uris.iter().cloned().collect();
    let known: HashSet<&String> = args.issuers.iter().chain(&args.cognito_issuers).collect();
    for issuer in metadata_urls.keys().chain(jwks_uris.keys()) {
        if !known.contains(issuer) {
            return Err(format!(
                "{issuer} is given a metadata or JWKS URL but is not a trusted issuer"
            ));
        }
    }
    if !args.cognito_issuers.is_empty() && args.cognito_client_ids.is_empty() {
        return Err("--cognito-issuer needs at least one --cognito-client-id".to_owned());
    }
    if args.revocation_check_secs.is_some() && args.introspection_url.is_none() {
        return Err(
            "--revocation-check-secs introspects tokens: it needs --introspection-url, \
             --introspection-client-id and --introspection-client-secret"
                .to_owned(),
        );
    }
    let allowed_clients = Arc::new(
        args.cognito_client_ids
            .iter()
            .cloned()
            .collect::<HashSet<_>>(),
    );
    let mut issuers: Vec<IssuerConfig> = args.issuers.iter().map(IssuerConfig::jwt).collect();
    issuers.extend(
        args.cognito_issuers
            .iter()
            .map(|issuer| IssuerConfig::cognito(issuer, allowed_clients.clone())),
    );
    let mut config = args
        .endpoint
        .resource_config(&args.resource_name, &args.demo_scopes())?
        .with_scopes_supported([&args.scope_read, &args.scope_write])
        .with_leeway(Duration::from_secs(args.leeway_secs))
        .with_jwks_refresh_interval(Duration::from_secs(args.jwks_refresh_secs));
    if let Some(seconds) = args.max_token_lifetime_secs {
        config = config.with_max_token_lifetime(Duration::from_secs(seconds));
    }
    for (index, mut issuer) in issuers.into_iter().enumerate() {
        if let Some(url) = metadata_urls.get(&issuer.issuer) {
            issuer = issuer.with_metadata_url(url);
        }
        if let Some(url) = jwks_uris.get(&issuer.issuer) {
            issuer = issuer.with_jwks_uri(url);
        }
        if index == 0
            && let (Some(url), Some(id), Some(secret)) = (
                &args.introspection_url,
                &args.introspection_client_id,
                &args.introspection_client_secret,
            )
        {
            issuer = issuer.with_introspection(IntrospectionConfig::new(url, id, secret));
            if let Some(seconds) = args.revocation_check_secs {
                issuer = issuer.with_revocation_check(Duration::from_secs(seconds));
            }
        }
        config = config.with_issuer(issuer);
    }
    Ok(config)
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
        self.introspection_url = Some(url.to_owned());
        self.introspection_client_id = Some(client_id.to_owned());
        self.introspection_client_secret = Some(secret.to_owned());
        *self.revocation_check_secs.get_or_insert(default_secs)
    }

    /// The URL of the MCP endpoint (--url).
    pub fn resource_url(&self) -> &str {
        &self.endpoint.url
    }
}

/// Runs the MCP server until Ctrl-C or SIGTERM.
pub async fn run(args: McpServerArgs) -> Result<(), String> {
    serve_all(vec![prepare(&args).await?], &args.serve).await
}

/// Builds and binds the MCP server, prints where it is, and starts fetching issuer keys.
pub async fn prepare(args: &McpServerArgs) -> Result<Service, String> {
    let config = resource_config(args)?;
    let resource_server = ResourceServer::new(config).map_err(|error| error.to_string())?;
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
    if authentication == Authentication::Required {
        let warm = resource_server.clone();
        tokio::spawn(async move {
            for (issuer, reason) in warm.warm_up().await {
                tracing::warn!(%issuer, %reason, "issuer keys not fetched yet; will retry when a token arrives");
            }
        });
    }
    Ok(service)
}

#[cfg(test)]
mod tests {
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
        assert!(error.unwrap_err().contains("--cognito-client-id"));
    }

    #[test]
    fn a_revocation_check_introspects_the_first_issuers_tokens() {
        let refused = resource_config(&parse(&["--revocation-check-secs", "10"]));
        assert!(refused.unwrap_err().contains("--introspection-url"));
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
        assert!(error.unwrap_err().contains("not a trusted issuer"));
    }
}
