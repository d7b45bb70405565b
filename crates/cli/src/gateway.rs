//! `mcp-oauth gateway`: AWS Cognito mode. One listener serves the metadata façade, the
//! registration bridge and the protected demo MCP server, which trusts the user pool and
//! accepts the static app client(s) plus every client registered through the bridge.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{ArgGroup, Args};
use mcp_oauth_cognito::{
    AppClients, DynamoDbRegistry, Gateway, GatewayConfig, RegistrationSettings, Registry,
    SqliteRegistry, load_aws_config,
};
use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_proxy::ScopeRules;
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};

use crate::governance_args::GovernanceArgs;
use crate::mcp_endpoint::McpEndpointArgs;
use crate::runtime::{ServeArgs, Service, TlsArgs, serve_all};
use crate::upstream_args::McpUpstreamArgs;

#[cfg(feature = "lambda")]
mod lambda;

/// Flags of `mcp-oauth gateway`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("registry").required(true).args(["dynamodb_table", "sqlite_registry"])))]
pub struct GatewayArgs {
    /// Address and port to listen on (façade, registration and MCP server).
    #[arg(long, env = "GATEWAY_BIND", default_value = "127.0.0.1:3001")]
    bind: SocketAddr,

    /// Public URL of the gateway: the issuer identifier of its metadata document and the
    /// authorization server the MCP server's metadata lists; registration is at
    /// `<public-url>/register`.
    #[arg(long, env = "GATEWAY_URL", default_value = "http://localhost:3001")]
    public_url: String,

    #[command(flatten)]
    endpoint: McpEndpointArgs,

    /// AWS region of the user pool and the registry table.
    #[arg(long, env = "AWS_REGION")]
    region: String,

    /// Cognito user pool id (`<region>_<id>`).
    #[arg(long, env = "COGNITO_USER_POOL_ID")]
    user_pool_id: String,

    /// The user pool's domain URL (`https://<prefix>.auth.<region>.amazoncognito.com` or a
    /// custom domain): clients sign in at its `/oauth2/authorize` and get tokens from its
    /// `/oauth2/token`.
    #[arg(long, env = "COGNITO_DOMAIN_URL")]
    cognito_domain: String,

    /// Identifier of the Cognito resource server whose scopes clients get [default: --url].
    #[arg(long, env = "COGNITO_RESOURCE_SERVER_ID")]
    resource_server_id: Option<String>,

    /// The resource server's scopes (`<identifier>/<name>`, repeatable; comma-separated in
    /// the environment) [default: read with DescribeResourceServer at start].
    #[arg(long = "scope", env = "COGNITO_SCOPES", value_delimiter = ',')]
    scopes: Vec<String>,

    /// Static app client ids whose tokens are accepted besides the registered ones
    /// (repeatable; comma-separated in the environment).
    #[arg(
        long = "static-client-id",
        env = "COGNITO_CLIENT_IDS",
        value_delimiter = ','
    )]
    static_client_ids: Vec<String>,

    /// The user pool's identity providers (`Google`, `Facebook`, an OIDC or SAML provider's
    /// name) that the app clients the gateway registers offer besides Cognito accounts
    /// (repeatable; comma-separated in the environment; `deploy` writes them).
    #[arg(
        long = "identity-provider",
        env = "COGNITO_IDENTITY_PROVIDERS",
        value_delimiter = ','
    )]
    identity_providers: Vec<String>,

    /// DynamoDB table of the registry (partition key `client_id`, TTL attribute `ttl`).
    #[arg(long, env = "COGNITO_REGISTRY_TABLE")]
    dynamodb_table: Option<String>,

    /// SQLite file of the registry, for local runs instead of DynamoDB (created if missing).
    #[arg(long, env = "COGNITO_REGISTRY_SQLITE")]
    sqlite_registry: Option<PathBuf>,

    /// Send every AWS call to this endpoint (an emulator such as moto or cognito-local).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,

    /// The `iss` of the pool's tokens [default: https://cognito-idp.<region>.amazonaws.com/<pool>].
    #[arg(long, env = "COGNITO_ISSUER")]
    cognito_issuer: Option<String>,

    /// The pool's JWKS URL [default: <issuer>/.well-known/jwks.json, or
    /// <aws-endpoint-url>/<pool>/.well-known/jwks.json with an endpoint override].
    #[arg(long, env = "COGNITO_JWKS_URI")]
    jwks_uri: Option<String>,

    /// Scope `list_contexts` needs [default: <resource-server-id>/mcp.read].
    #[arg(long, env = "MCP_SCOPE_READ")]
    scope_read: Option<String>,

    /// Scope `create_context` needs [default: <resource-server-id>/mcp.write].
    #[arg(long, env = "MCP_SCOPE_WRITE")]
    scope_write: Option<String>,

    /// Hours a registration lives if no token of it ever reaches the MCP server.
    #[arg(long, env = "GATEWAY_UNUSED_REGISTRATION_HOURS", default_value_t = 24)]
    unused_registration_hours: u64,

    /// Seconds between two sweeps of expired, unused registrations (each sweep also recounts
    /// the clients awaiting approval for the metrics).
    #[arg(long, env = "GATEWAY_SWEEP_INTERVAL_SECS", default_value_t = 300)]
    sweep_interval_secs: u64,

    /// Registrations accepted per client address per minute.
    #[arg(long, env = "GATEWAY_REGISTRATIONS_PER_MINUTE", default_value_t = 10)]
    registrations_per_minute: u32,

    /// Days the registry keeps the bridge's events (registrations created, refused and
    /// deleted); the sweeps delete older ones.
    #[arg(
        long,
        env = "GATEWAY_AUDIT_RETENTION_DAYS",
        default_value_t = RegistrationSettings::DEFAULT_EVENT_RETENTION.as_secs() / (24 * 3600),
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    audit_retention_days: u64,

    /// Require this initial access token (`Authorization: Bearer`) to register (prefer the
    /// environment).
    #[arg(long, env = "GATEWAY_INITIAL_ACCESS_TOKEN", hide_env_values = true)]
    initial_access_token: Option<String>,

    /// Your own MCP server in place of the demo tools: its URL (--upstream-url) or its stdio
    /// command (--upstream-command, or after `--`), with the policy flags of `mcp-oauth proxy`.
    #[command(flatten)]
    upstream: McpUpstreamArgs,

    /// Registration governance: approval, trusted redirect hosts, scope ceilings, limits,
    /// software statements.
    #[command(flatten)]
    governance: GovernanceArgs,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,

    /// HTTPS, and client certificates (mutual TLS).
    #[command(flatten)]
    tls: TlsArgs,
}

impl GatewayArgs {
    fn resource_server_id(&self) -> &str {
        self.resource_server_id
            .as_deref()
            .unwrap_or(&self.endpoint.url)
    }

    fn cognito_issuer(&self) -> String {
        self.cognito_issuer.clone().unwrap_or_else(|| {
            format!(
                "https://cognito-idp.{}.amazonaws.com/{}",
                self.region, self.user_pool_id
            )
        })
    }

    fn jwks_uri(&self) -> String {
        match (&self.jwks_uri, &self.aws_endpoint_url) {
            (Some(jwks_uri), _) => jwks_uri.clone(),
            (None, Some(endpoint)) => format!(
                "{}/{}/.well-known/jwks.json",
                endpoint.trim_end_matches('/'),
                self.user_pool_id
            ),
            (None, None) => format!("{}/.well-known/jwks.json", self.cognito_issuer()),
        }
    }

    fn scope(&self, given: Option<&String>, name: &str) -> String {
        given
            .cloned()
            .unwrap_or_else(|| format!("{}/{name}", self.resource_server_id()))
    }

    /// The scopes the demo tools need: --scope-read and --scope-write, or the resource
    /// server's `mcp.read` and `mcp.write`.
    fn demo_scopes(&self) -> DemoScopes {
        DemoScopes {
            read: self.scope(self.scope_read.as_ref(), "mcp.read"),
            write: self.scope(self.scope_write.as_ref(), "mcp.write"),
        }
    }
}

/// The registry in the DynamoDB `table`, else the SQLite file `sqlite` (for the gateway and
/// for `admin --cognito-registry-…`); `missing` is the error when neither is given.
pub(crate) async fn open_registry(
    aws: &mcp_oauth_cognito::SdkConfig,
    table: Option<&str>,
    sqlite: Option<&std::path::Path>,
    missing: &str,
) -> anyhow::Result<Arc<dyn Registry>> {
    match (table, sqlite) {
        (Some(table), _) => Ok(Arc::new(DynamoDbRegistry::connect(aws, table))),
        (None, Some(path)) => SqliteRegistry::open(path)
            .await
            .map(|registry| Arc::new(registry) as Arc<dyn Registry>)
            .with_context(|| format!("cannot open the registry {}", path.display())),
        (None, None) => Err(anyhow!("{missing}")),
    }
}

/// The protected MCP server's configuration: the pool as issuer (its `iss`, its JWKS), listed
/// in the metadata as the gateway, with `allow_list` as the accepted clients; the demo tools'
/// scopes, or with an upstream the proxy's scope rules.
fn resource_config(
    args: &GatewayArgs,
    scopes: &[String],
    allow_list: Arc<mcp_oauth_cognito::RegistryAllowList>,
) -> anyhow::Result<(ResourceServerConfig, Option<ScopeRules>)> {
    let issuer = IssuerConfig::cognito(args.cognito_issuer(), allow_list)
        .with_jwks_uri(args.jwks_uri())
        .with_authorization_server(args.public_url.trim_end_matches('/'));
    if args.upstream.target()?.is_some() {
        let base = args
            .endpoint
            .endpoint_config("MCP server behind mcp-oauth gateway (AWS Cognito)")?
            .with_issuer(issuer)
            .with_scopes_supported(scopes.iter().cloned());
        let (config, rules) = args.upstream.resource_config(base)?;
        return Ok((config, Some(rules)));
    }
    let config = args
        .endpoint
        .resource_config(
            "mcp-oauth demo MCP server (AWS Cognito)",
            &args.demo_scopes(),
        )?
        .with_issuer(issuer)
        .with_scopes_supported(scopes.iter().cloned());
    Ok((config, None))
}

/// What the gateway serves, ready to be served on a listener or in AWS Lambda.
struct Prepared {
    /// The MCP server's routes and the gateway's (façade, registration).
    router: axum::Router,
    gateway: Gateway,
    resource_server: ResourceServer,
}

/// Reads the scopes (unless given), opens the registry and builds every route.
async fn prepare(args: &GatewayArgs) -> anyhow::Result<Prepared> {
    let aws = load_aws_config(&args.region, args.aws_endpoint_url.as_deref()).await;
    let app_clients = AppClients::connect(&aws, &args.user_pool_id)
        .with_identity_providers(args.identity_providers.iter().cloned());
    let scopes = if args.scopes.is_empty() {
        let scopes = app_clients
            .resource_server_scopes(args.resource_server_id())
            .await
            .with_context(|| {
                format!(
                    "cannot read the scopes of resource server {} (give them with --scope)",
                    args.resource_server_id()
                )
            })?;
        if scopes.is_empty() {
            bail!(
                "resource server {} has no scopes",
                args.resource_server_id()
            );
        }
        scopes
    } else {
        args.scopes.clone()
    };
    let mut registration = RegistrationSettings::default()
        .with_unused_lifetime(Duration::from_secs(
            args.unused_registration_hours.saturating_mul(3600),
        ))
        .with_registrations_per_minute(args.registrations_per_minute)
        .with_event_retention(Duration::from_secs(args.audit_retention_days * 24 * 3600));
    if let Some(token) = &args.initial_access_token {
        registration = registration.with_initial_access_token(token);
    }
    let supported = scopes.iter().map(String::as_str).collect();
    registration = registration.with_governance(args.governance.governance(&supported)?);
    if let Some(statements) = args.governance.software_statements()? {
        registration = registration.with_software_statements(statements);
    }
    let config = GatewayConfig::new(
        &args.public_url,
        &args.cognito_domain,
        args.jwks_uri(),
        scopes.clone(),
    )
    .with_registration(registration);
    let gateway = Gateway::new(
        &config,
        app_clients,
        open_registry(
            &aws,
            args.dynamodb_table.as_deref(),
            args.sqlite_registry.as_deref(),
            "give --dynamodb-table or --sqlite-registry",
        )
        .await?,
    )?;
    let static_clients: HashSet<String> = args.static_client_ids.iter().cloned().collect();
    let allow_list = Arc::new(gateway.allow_list(static_clients));
    let (config, rules) = resource_config(args, &scopes, allow_list)?;
    let resource_server = ResourceServer::new(config)?;
    let mcp = match (args.upstream.target()?, rules) {
        (Some(upstream), Some(rules)) => {
            crate::proxy::router(&resource_server, &args.upstream, &rules, &upstream)?
        }
        _ => mcp_router(
            &resource_server,
            args.demo_scopes(),
            Authentication::Required,
        ),
    };
    Ok(Prepared {
        router: mcp.merge(gateway.router()),
        gateway,
        resource_server,
    })
}

/// Runs the gateway until Ctrl-C or SIGTERM; in AWS Lambda, serves the function's events.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    if crate::runtime::in_lambda() {
        #[cfg(feature = "lambda")]
        return lambda::run(args).await;
        #[cfg(not(feature = "lambda"))]
        return Err(crate::left_out::lambda_runtime());
    }
    let tls = args.tls.terminator(&[
        ("--public-url", &args.public_url),
        ("--url", &args.endpoint.url),
    ])?;
    serve_all(vec![bind(&args).await?.with_tls(tls)], &args.serve).await
}

/// Builds and binds the gateway (reading the scopes from the user pool unless given), prints
/// where it is, and returns it with its sweeps of unused registrations as a background task.
pub async fn bind(args: &GatewayArgs) -> anyhow::Result<Service> {
    let Prepared {
        router,
        gateway,
        resource_server,
    } = prepare(args).await?;
    let service = Service::bind(args.bind, router).await?;
    let metadata = gateway.metadata();
    println!("Cognito gateway listening on {}", args.bind);
    println!("  issuer:        {}", metadata.issuer);
    println!(
        "  registration:  {}",
        metadata
            .registration_endpoint
            .as_deref()
            .unwrap_or_default()
    );
    println!(
        "  sign-in:       {}",
        metadata
            .authorization_endpoint
            .as_deref()
            .unwrap_or_default()
    );
    println!("  MCP server:    {}", resource_server.config().resource);
    println!("  trusts:        {}", args.cognito_issuer());
    let sweeps = gateway
        .sweeper()
        .run(Duration::from_secs(args.sweep_interval_secs.max(1)));
    let metrics = gateway.metrics().clone();
    Ok(service
        .with_resource_server(&resource_server)
        .with_metrics(move |registry| metrics.register(registry))
        .with_background(sweeps))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: GatewayArgs,
    }

    fn parse(flags: &[&str]) -> Result<GatewayArgs, clap::Error> {
        let required = [
            "--region",
            "us-east-1",
            "--user-pool-id",
            "us-east-1_Pool",
            "--cognito-domain",
            "https://p.auth.us-east-1.amazoncognito.com",
        ];
        Wrapper::try_parse_from(
            std::iter::once("gateway")
                .chain(required)
                .chain(flags.iter().copied()),
        )
        .map(|wrapper| wrapper.args)
    }

    #[test]
    fn needs_exactly_one_registry() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--dynamodb-table", "t", "--sqlite-registry", "r.db"]).is_err());
        assert!(parse(&["--sqlite-registry", "r.db"]).is_ok());
    }

    #[test]
    fn derives_the_pool_urls_and_scopes() {
        let args = parse(&["--dynamodb-table", "t"]).unwrap();
        assert_eq!(
            args.cognito_issuer(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool"
        );
        assert_eq!(
            args.jwks_uri(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool/.well-known/jwks.json"
        );
        assert_eq!(
            args.scope(None, "mcp.read"),
            "http://localhost:3001/mcp/mcp.read"
        );
        let emulated = parse(&[
            "--dynamodb-table",
            "t",
            "--aws-endpoint-url",
            "http://127.0.0.1:5000/",
        ])
        .unwrap();
        assert_eq!(
            emulated.jwks_uri(),
            "http://127.0.0.1:5000/us-east-1_Pool/.well-known/jwks.json"
        );
    }

    #[test]
    fn the_metadata_lists_the_gateway_while_tokens_must_come_from_the_pool() {
        let args = parse(&["--sqlite-registry", "r.db"]).unwrap();
        let scopes = vec!["http://localhost:3001/mcp/mcp.read".to_owned()];
        let registry_dir = tempfile::tempdir().unwrap();
        let registry = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(SqliteRegistry::open(&registry_dir.path().join("r.db")))
            .unwrap();
        let allow_list = Arc::new(mcp_oauth_cognito::RegistryAllowList::new(
            [],
            Arc::new(registry),
        ));
        let (config, _) = resource_config(&args, &scopes, allow_list).unwrap();
        let server = ResourceServer::new(config).unwrap();
        assert_eq!(
            server.metadata().authorization_servers,
            ["http://localhost:3001"]
        );
        assert_eq!(
            server.config().issuers[0].issuer,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool"
        );
    }
}
