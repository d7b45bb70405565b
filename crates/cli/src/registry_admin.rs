//! `mcp-oauth admin --cognito-registry-table TABLE clients …` (or `--cognito-registry-sqlite`):
//! the operator's verbs on the clients registered through the Cognito gateway's bridge
//! (issue 16), instead of the local database's. The flags read the gateway's own environment
//! variables, so in a deployment's `gateway` directory `mcp-oauth admin clients list --pending`
//! lists the gateway's clients waiting for approval.

use std::path::PathBuf;

use clap::Args;

use crate::admin::ClientsCommand;

/// Which Cognito registry `admin clients` works on (none: the local database).
#[derive(Args, Debug)]
#[command(next_help_heading = "Cognito mode (the gateway's registered clients)")]
pub struct CognitoRegistryArgs {
    /// DynamoDB table of the Cognito gateway's registry: `clients` then lists, approves,
    /// rejects, suspends and deletes the clients registered through the gateway.
    #[arg(
        long = "cognito-registry-table",
        env = "COGNITO_REGISTRY_TABLE",
        conflicts_with = "sqlite"
    )]
    table: Option<String>,

    /// SQLite file of the Cognito gateway's registry (local runs), instead of a DynamoDB table.
    #[arg(long = "cognito-registry-sqlite", env = "COGNITO_REGISTRY_SQLITE")]
    sqlite: Option<PathBuf>,

    /// The Cognito user pool whose app clients the registry records.
    #[arg(long = "cognito-user-pool-id", env = "COGNITO_USER_POOL_ID")]
    user_pool_id: Option<String>,

    /// Identity providers the registered app clients offer besides Cognito accounts (the
    /// gateway's --identity-provider), kept when approving or suspending a client.
    #[arg(
        long = "cognito-identity-provider",
        env = "COGNITO_IDENTITY_PROVIDERS",
        value_delimiter = ','
    )]
    identity_providers: Vec<String>,

    /// AWS region of the user pool and the registry table.
    #[arg(long = "cognito-region", env = "AWS_REGION")]
    region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator such as moto).
    #[arg(long = "cognito-aws-endpoint-url", env = "AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,

    /// Hours an approved client has to get its first token before the gateway's sweeper
    /// removes it (the gateway's --unused-registration-hours).
    #[arg(
        long = "cognito-unused-registration-hours",
        env = "GATEWAY_UNUSED_REGISTRATION_HOURS",
        default_value_t = 24
    )]
    unused_registration_hours: u64,
}

impl CognitoRegistryArgs {
    /// Whether a Cognito registry was named.
    pub fn selected(&self) -> bool {
        self.table.is_some() || self.sqlite.is_some()
    }
}

/// Runs `command` on the Cognito registry `args` names.
#[cfg(feature = "aws")]
pub async fn clients(args: &CognitoRegistryArgs, command: ClientsCommand) -> anyhow::Result<()> {
    use std::time::Duration;

    use anyhow::bail;
    use mcp_oauth_cognito::{
        AppClients, Registration, RegistrationSettings, RegistryAdmin, load_aws_config,
    };
    use mcp_oauth_core::ClientStatus;

    let (Some(user_pool_id), Some(region)) = (&args.user_pool_id, &args.region) else {
        bail!(
            "the Cognito registry needs --cognito-user-pool-id and --cognito-region (or \
             COGNITO_USER_POOL_ID and AWS_REGION)"
        );
    };
    let aws = load_aws_config(region, args.aws_endpoint_url.as_deref()).await;
    let registry = crate::gateway::open_registry(
        &aws,
        args.table.as_deref(),
        args.sqlite.as_deref(),
        "give --cognito-registry-table or --cognito-registry-sqlite",
    )
    .await?;
    let settings = RegistrationSettings::default().with_unused_lifetime(Duration::from_secs(
        args.unused_registration_hours.saturating_mul(3600),
    ));
    let app_clients = AppClients::connect(&aws, user_pool_id)
        .with_identity_providers(args.identity_providers.iter().cloned());
    let admin = RegistryAdmin::new(app_clients, registry, settings);
    let line = |registration: &Registration| {
        format!(
            "{}\t{}\t{}\t{}",
            registration.client_id,
            registration.status,
            registration.path,
            registration.metadata["client_name"].as_str().unwrap_or("-")
        )
    };
    match command {
        ClientsCommand::List { pending, suspended } => {
            let status = match (pending, suspended) {
                (true, _) => Some(ClientStatus::Pending),
                (_, true) => Some(ClientStatus::Suspended),
                _ => None,
            };
            for registration in admin.list(status).await? {
                println!("{}", line(&registration));
            }
        }
        ClientsCommand::Approve { client_id } => {
            admin.approve(&client_id).await?;
            println!("approved client {client_id}: its app client signs people in again");
        }
        ClientsCommand::Suspend { client_id } => {
            admin.suspend(&client_id).await?;
            println!(
                "suspended client {client_id}: its app client's OAuth flows are off and the MCP \
                 server refuses its tokens"
            );
        }
        ClientsCommand::Reject { client_id } => {
            admin.reject(&client_id).await?;
            println!("rejected client {client_id}: its app client and record are deleted");
        }
        ClientsCommand::Delete { client_id } => {
            admin.delete(&client_id).await?;
            println!("deleted client {client_id}: its app client and record");
        }
        ClientsCommand::Add { .. } => bail!(
            "clients are added to the Cognito gateway by registering (POST /register) or in the \
             deploy stack, not with `admin clients add`"
        ),
    }
    Ok(())
}

/// Without the AWS SDK, the Cognito registry cannot be reached.
#[cfg(not(feature = "aws"))]
pub async fn clients(_: &CognitoRegistryArgs, _: ClientsCommand) -> anyhow::Result<()> {
    Err(crate::left_out::needs_feature(
        "`mcp-oauth admin --cognito-registry-table`",
        "the AWS SDK",
        "aws",
    ))
}
