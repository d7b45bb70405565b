//! Which component needs which setting: the stack's outputs turned into each component's
//! `.env` file (the variables its `mcp-oauth` subcommand reads).

use super::env_files::EnvFile;
use super::error::DeployError;
use super::secret::AppClientSecret;
use super::stack::StackOutputs;
use super::template::{DeployMode, StackSettings};

/// Output keys of the template that the components need.
pub mod output {
    /// The user pool id.
    pub const USER_POOL_ID: &str = "UserPoolId";
    /// The user pool's token issuer URL.
    pub const ISSUER: &str = "Issuer";
    /// `https://PREFIX.auth.REGION.amazoncognito.com`, or `https://` and the custom domain.
    pub const HOSTED_DOMAIN_URL: &str = "HostedDomainUrl";
    /// `MCP_SERVER_URL/mcp.read`.
    pub const SCOPE_READ: &str = "ScopeRead";
    /// `MCP_SERVER_URL/mcp.write`.
    pub const SCOPE_WRITE: &str = "ScopeWrite";
    /// The static app client's id (gateway mode).
    pub const STATIC_CLIENT_ID: &str = "StaticClientId";
    /// The federation app client's id (federated mode).
    pub const FEDERATION_CLIENT_ID: &str = "FederationClientId";
    /// The registry table's name (gateway mode).
    pub const REGISTRY_TABLE_NAME: &str = "RegistryTableName";
    /// The artifact bucket's name (serverless).
    pub const ARTIFACT_BUCKET: &str = "ArtifactBucketName";
    /// The function URL, `https://…/` (serverless).
    pub const FUNCTION_URL: &str = "FunctionUrl";
}

/// Everything the `.env` files are made from.
#[derive(Debug)]
#[non_exhaustive]
pub struct DeployedStack<'a> {
    /// The settings the stack was deployed with.
    pub settings: &'a StackSettings,
    /// The region it lives in.
    pub region: &'a str,
    /// The AWS endpoint override (an emulator), passed on to the gateway.
    pub endpoint_url: Option<&'a str>,
    /// The stack's outputs.
    pub outputs: &'a StackOutputs,
    /// The secret of the mode's app client (static client or federation client).
    pub client_secret: &'a AppClientSecret,
}

/// The output holding the id of the app client whose secret the components need.
pub fn secret_client_output(mode: DeployMode) -> &'static str {
    match mode {
        DeployMode::Gateway => output::STATIC_CLIENT_ID,
        DeployMode::Federated => output::FEDERATION_CLIENT_ID,
    }
}

/// The `.env` file of every component of the mode.
pub fn component_env_files(stack: &DeployedStack<'_>) -> Result<Vec<EnvFile>, DeployError> {
    let header = format!(
        "Written by `mcp-oauth deploy` for stack {} in {}; `mcp-oauth cleanup` removes it.",
        stack.settings.stack_name, stack.region
    );
    let mut files = match stack.settings.mode {
        DeployMode::Gateway => gateway_mode(stack)?,
        DeployMode::Federated => federated_mode(stack)?,
    };
    for file in &mut files {
        file.comments.insert(0, header.clone());
    }
    Ok(files)
}

fn env_file(component: &'static str, comment: &str, vars: Vec<(&'static str, String)>) -> EnvFile {
    EnvFile {
        component,
        comments: vec![comment.to_owned()],
        vars,
    }
}

fn gateway_mode(stack: &DeployedStack<'_>) -> Result<Vec<EnvFile>, DeployError> {
    let outputs = stack.outputs;
    let settings = stack.settings;
    let mcp_url = settings.mcp_server_url.clone();
    let static_client = outputs.require(output::STATIC_CLIENT_ID)?.to_owned();
    let clients = gateway_clients(stack, &static_client);
    if settings.serverless.is_some() {
        // The gateway runs on Lambda, configured by the stack: only the clients have files.
        return Ok(clients);
    }
    let mut gateway = vec![("AWS_REGION", stack.region.to_owned())];
    if let Some(endpoint) = stack.endpoint_url {
        gateway.push(("AWS_ENDPOINT_URL", endpoint.to_owned()));
    }
    gateway.extend([
        ("MCP_SERVER_URL", mcp_url.clone()),
        ("GATEWAY_URL", settings.gateway_url.clone()),
        (
            "COGNITO_USER_POOL_ID",
            outputs.require(output::USER_POOL_ID)?.to_owned(),
        ),
        (
            "COGNITO_DOMAIN_URL",
            outputs.require(output::HOSTED_DOMAIN_URL)?.to_owned(),
        ),
        (
            "COGNITO_REGISTRY_TABLE",
            outputs.require(output::REGISTRY_TABLE_NAME)?.to_owned(),
        ),
        // The gateway reads the issuer as COGNITO_ISSUER, `mcp-server` as COGNITO_ISSUERS.
        (
            "COGNITO_ISSUER",
            outputs.require(output::ISSUER)?.to_owned(),
        ),
        (
            "COGNITO_ISSUERS",
            outputs.require(output::ISSUER)?.to_owned(),
        ),
        ("COGNITO_CLIENT_IDS", static_client),
        (
            "MCP_SCOPE_READ",
            outputs.require(output::SCOPE_READ)?.to_owned(),
        ),
        (
            "MCP_SCOPE_WRITE",
            outputs.require(output::SCOPE_WRITE)?.to_owned(),
        ),
    ]);
    let providers = settings.sign_in.provider_names();
    if !providers.is_empty() {
        // The bridge's app clients offer them too.
        gateway.push(("COGNITO_IDENTITY_PROVIDERS", providers.join(",")));
    }
    let mut files = vec![env_file(
        "gateway",
        "`mcp-oauth gateway`: metadata façade, registration bridge and the MCP server; \
         `mcp-oauth mcp-server` reads the same file.",
        gateway,
    )];
    files.extend(clients);
    Ok(files)
}

/// The demo clients' files of the gateway mode: the gateway (local or the function URL) is
/// the issuer.
fn gateway_clients(stack: &DeployedStack<'_>, static_client: &str) -> Vec<EnvFile> {
    let settings = stack.settings;
    let mcp_url = settings.mcp_server_url.clone();
    let issuer = settings.gateway_url.trim_end_matches('/').to_owned();
    vec![
        env_file(
            "client",
            "`mcp-oauth client` and `mcp-oauth call`: the pre-registered confidential client \
             (callbacks: CLIENT_CALLBACK_URL for the web client, http://localhost:8976/callback \
             for `call`, which names localhost because Cognito takes plain http only there).",
            vec![
                ("MCP_SERVER_URL", mcp_url.clone()),
                ("AUTH_SERVER_ISSUER", issuer.clone()),
                ("MCP_OAUTH_ISSUER", issuer),
                ("MCP_OAUTH_CLIENT_ID", static_client.to_owned()),
                (
                    "MCP_OAUTH_CLIENT_SECRET",
                    stack.client_secret.expose().to_owned(),
                ),
                ("MCP_OAUTH_LOCALHOST_REDIRECT", "true".to_owned()),
            ],
        ),
        env_file(
            "auto-client",
            "`mcp-oauth auto-client`: discovers the gateway and registers itself (DCR).",
            vec![("MCP_SERVER_URL", mcp_url.clone())],
        ),
        env_file(
            "cimd-client",
            "`mcp-oauth cimd-client`: Cognito cannot fetch Client ID Metadata Documents, so \
             this client needs the federated mode (deploy --mode federated).",
            vec![("MCP_SERVER_URL", mcp_url)],
        ),
    ]
}

fn federated_mode(stack: &DeployedStack<'_>) -> Result<Vec<EnvFile>, DeployError> {
    let outputs = stack.outputs;
    let settings = stack.settings;
    let mcp_url = settings.mcp_server_url.clone();
    let issuer = settings.auth_server_url.trim_end_matches('/').to_owned();
    Ok(vec![
        env_file(
            "auth-server",
            "`mcp-oauth auth-server`: signs people in at Cognito's hosted login (upstream).",
            vec![
                ("AUTH_SERVER_ISSUER", issuer.clone()),
                ("AUTH_SERVER_RESOURCES", mcp_url.clone()),
                (
                    "AUTH_SERVER_UPSTREAM_ISSUERS",
                    outputs.require(output::ISSUER)?.to_owned(),
                ),
                (
                    "AUTH_SERVER_UPSTREAM_CLIENT_IDS",
                    outputs.require(output::FEDERATION_CLIENT_ID)?.to_owned(),
                ),
                (
                    "AUTH_SERVER_UPSTREAM_CLIENT_SECRETS",
                    stack.client_secret.expose().to_owned(),
                ),
                ("AUTH_SERVER_UPSTREAM_NAMES", "Amazon Cognito".to_owned()),
            ],
        ),
        env_file(
            "mcp-server",
            "`mcp-oauth mcp-server`: trusts the embedded authorization server's tokens.",
            vec![
                ("MCP_SERVER_URL", mcp_url.clone()),
                ("MCP_ISSUERS", issuer.clone()),
            ],
        ),
        env_file(
            "client",
            "`mcp-oauth client`: add its id and secret from `mcp-oauth admin clients add`.",
            vec![
                ("MCP_SERVER_URL", mcp_url.clone()),
                ("MCP_OAUTH_ISSUER", issuer),
            ],
        ),
        env_file(
            "auto-client",
            "`mcp-oauth auto-client`: discovers the authorization server and registers (DCR).",
            vec![("MCP_SERVER_URL", mcp_url.clone())],
        ),
        env_file(
            "cimd-client",
            "`mcp-oauth cimd-client`: its client id is the URL of its metadata document.",
            vec![("MCP_SERVER_URL", mcp_url)],
        ),
    ])
}
