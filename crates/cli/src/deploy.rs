//! `mcp-oauth deploy` and `mcp-oauth cleanup`: the AWS resources of the Cognito mode as one
//! CloudFormation stack, and the `.env` file of every component that uses them.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mcp_oauth_cognito::{
    Aws, DeployMode, DeployPlan, Deployment, StackChange, StackEvent, StackSettings, TEMPLATE,
    WaitPolicy, load_aws_config,
};

/// Where the stack lives and where its `.env` files go (flags of both commands).
#[derive(Args, Debug)]
pub struct StackTarget {
    /// AWS region of the stack, e.g. eu-west-1.
    #[arg(long, env = "AWS_REGION")]
    region: String,

    /// Send every AWS call to this endpoint instead of AWS (an emulator such as moto).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,

    /// CloudFormation stack name.
    #[arg(long, env = "MCP_OAUTH_STACK_NAME", default_value = "mcp-oauth")]
    stack_name: String,

    /// Directory the components' `.env` files go under, one subdirectory per component
    /// (`gateway/.env`, `client/.env`…), with a manifest of what was written.
    #[arg(long, env = "MCP_OAUTH_ENV_DIR", default_value = "mcp-oauth-env")]
    env_dir: PathBuf,

    /// Seconds between two looks at the stack and its events while it changes.
    #[arg(long, env = "MCP_OAUTH_STACK_POLL_SECS", default_value_t = 5)]
    poll_secs: u64,

    /// Stop waiting after this many minutes (CloudFormation carries on).
    #[arg(long, env = "MCP_OAUTH_STACK_TIMEOUT_MINS", default_value_t = 60)]
    timeout_mins: u64,
}

impl StackTarget {
    fn wait(&self) -> WaitPolicy {
        WaitPolicy::new(
            Duration::from_secs(self.poll_secs),
            Duration::from_secs(self.timeout_mins.saturating_mul(60)),
        )
    }

    /// The AWS clients, with credentials checked before anything changes.
    async fn connect(&self) -> anyhow::Result<Aws> {
        let config = load_aws_config(&self.region, self.endpoint_url.as_deref()).await;
        Ok(Aws::from_config(&config).await?)
    }
}

/// What the Cognito side is for.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// Cognito signs the tokens; `mcp-oauth gateway` adds metadata and registration.
    Gateway,
    /// `mcp-oauth auth-server` signs the tokens and signs people in at Cognito.
    Federated,
}

/// Flags of `mcp-oauth deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    target: StackTarget,

    /// gateway: Cognito is the authorization server, with a static app client, a registry
    /// table and a policy for the gateway. federated: one app client whose callback is the
    /// embedded authorization server's (<auth-server-url>/login/callback).
    #[arg(long, env = "MCP_OAUTH_DEPLOY_MODE", value_enum, default_value_t = Mode::Gateway)]
    mode: Mode,

    /// Prefix of the hosted sign-in domain, <prefix>.auth.<region>.amazoncognito.com; unique
    /// in the region (lower-case letters, digits, hyphens).
    #[arg(
        long,
        env = "COGNITO_DOMAIN_PREFIX",
        required_unless_present = "print_template"
    )]
    domain_prefix: Option<String>,

    /// Public URL of the MCP endpoint: the Cognito resource server's identifier, so the
    /// scopes are <url>/mcp.read and <url>/mcp.write.
    #[arg(
        long,
        env = "MCP_SERVER_URL",
        default_value = "http://localhost:3001/mcp"
    )]
    mcp_server_url: String,

    /// Public URL of `mcp-oauth gateway` (the issuer of its metadata; gateway mode).
    #[arg(long, env = "GATEWAY_URL", default_value = "http://localhost:3001")]
    gateway_url: String,

    /// Redirect URI of the pre-registered demo client (`mcp-oauth client`; gateway mode).
    #[arg(
        long,
        env = "CLIENT_CALLBACK_URL",
        default_value = "http://localhost:3000/callback"
    )]
    client_callback_url: String,

    /// Issuer URL of the embedded authorization server (federated mode).
    #[arg(
        long,
        env = "AUTH_SERVER_ISSUER",
        default_value = "http://localhost:9000"
    )]
    auth_server_url: String,

    /// Keep the user pool, and its users, from being deleted (off by default for demos:
    /// cleanup removes everything).
    #[arg(long, env = "COGNITO_DELETION_PROTECTION")]
    deletion_protection: bool,

    /// Apply this template instead of the embedded one; it must take the same parameters
    /// and give the same outputs (see --print-template).
    #[arg(long, env = "MCP_OAUTH_TEMPLATE", value_name = "FILE")]
    template: Option<PathBuf>,

    /// Another template parameter, KEY=VALUE (repeatable; comma-separated in the
    /// environment), for a template given with --template.
    #[arg(
        long = "parameter",
        env = "MCP_OAUTH_STACK_PARAMETERS",
        value_delimiter = ',',
        value_parser = parse_parameter,
        requires = "template"
    )]
    parameters: Vec<(String, String)>,

    /// Print the embedded CloudFormation template and exit, without calling AWS.
    #[arg(long, env = "MCP_OAUTH_PRINT_TEMPLATE")]
    print_template: bool,
}

fn parse_parameter(value: &str) -> Result<(String, String), String> {
    let (key, value) = value
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got `{value}`"))?;
    Ok((key.to_owned(), value.to_owned()))
}

/// Flags of `mcp-oauth cleanup`.
#[derive(Args, Debug)]
pub struct CleanupArgs {
    #[command(flatten)]
    target: StackTarget,

    /// Delete without asking.
    #[arg(long, short = 'y', env = "MCP_OAUTH_CLEANUP_YES")]
    yes: bool,
}

fn print_event(event: &StackEvent) {
    println!("  {event}");
}

/// Runs `mcp-oauth deploy`.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    if args.print_template {
        print!("{TEMPLATE}");
        return Ok(());
    }
    let target = &args.target;
    let domain_prefix = args.domain_prefix.clone().unwrap_or_default();
    let mut settings = StackSettings::new(&target.stack_name, domain_prefix);
    settings.mode = match args.mode {
        Mode::Gateway => DeployMode::Gateway,
        Mode::Federated => DeployMode::Federated,
    };
    let mode = settings.mode;
    settings.mcp_server_url = args.mcp_server_url.clone();
    settings.gateway_url = args.gateway_url.clone();
    settings.client_callback_url = args.client_callback_url.clone();
    settings.auth_server_url = args.auth_server_url.clone();
    settings.deletion_protection = args.deletion_protection;
    let mut plan = DeployPlan::new(settings, &target.env_dir).with_wait(target.wait());
    if let Some(path) = &args.template {
        let template =
            std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        plan = plan.with_template(template, args.parameters.clone());
    }

    let aws = target.connect().await?;
    println!(
        "Deploying stack {} ({} mode) in {}…",
        target.stack_name,
        mode.as_str(),
        aws.region()
    );
    let deployment = mcp_oauth_cognito::deploy(&aws, &plan, &mut print_event).await?;
    report(&target.stack_name, mode, &deployment);
    Ok(())
}

fn report(stack: &str, mode: DeployMode, deployment: &Deployment) {
    let what = match deployment.change {
        StackChange::Created => "created",
        StackChange::Updated => "updated",
        _ => "already up to date",
    };
    println!("\nStack {stack} {what}. Outputs:");
    let width = deployment
        .outputs
        .iter()
        .map(|(key, _)| key.len())
        .max()
        .unwrap_or(0);
    for (key, value) in deployment.outputs.iter() {
        println!("  {key:<width$}  {value}");
    }
    println!("\nConfiguration written (owner-only; secrets never printed):");
    for file in &deployment.env_files {
        println!("  {}", file.display());
    }
    println!("\nNext:");
    if mode == DeployMode::Federated {
        println!("  in each directory above, run the command it is named after,");
        println!("  e.g. `cd <dir>/auth-server && mcp-oauth auth-server`.");
    } else {
        if let Some(policy) = deployment.outputs.get("GatewayPolicyArn") {
            println!("  attach {policy} to the role or user that runs the gateway;");
        }
        println!("  in each directory above, run the command it is named after,");
        println!(
            "  e.g. `cd <dir>/gateway && mcp-oauth gateway`, `cd <dir>/client && mcp-oauth client`."
        );
    }
    println!("  `mcp-oauth cleanup` deletes the stack and these files.");
}

/// Runs `mcp-oauth cleanup`.
pub async fn cleanup(args: CleanupArgs) -> anyhow::Result<()> {
    let target = &args.target;
    if !args.yes && !confirm(target)? {
        println!("Nothing deleted.");
        return Ok(());
    }
    let aws = target.connect().await?;
    let done = mcp_oauth_cognito::cleanup(
        &aws,
        &target.stack_name,
        &target.env_dir,
        target.wait(),
        &mut print_event,
    )
    .await?;
    if done.stack_deleted {
        println!("Stack {} deleted.", target.stack_name);
    } else {
        println!("No stack {} in {}.", target.stack_name, aws.region());
    }
    for file in &done.removed_files {
        println!("Removed {}", file.display());
    }
    Ok(())
}

/// Asks on the terminal; anything but `y`/`yes` (or end of input) is a no.
fn confirm(target: &StackTarget) -> anyhow::Result<bool> {
    print!(
        "Delete stack {} in {}, with its user pool (every user in it) and registry table, \
         and the .env files deploy wrote under {}? [y/N] ",
        target.stack_name,
        target.region,
        target.env_dir.display()
    );
    std::io::stdout()
        .flush()
        .context("cannot write to the terminal")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
