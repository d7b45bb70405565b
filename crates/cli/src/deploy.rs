//! `mcp-oauth deploy` and `mcp-oauth cleanup`: the AWS resources of the Cognito mode as one
//! CloudFormation stack, and the `.env` file of every component that uses them.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mcp_oauth_cognito::{
    Architecture, Artifact, Aws, DeployMode, DeployPlan, Deployment, Progress, ServerlessSettings,
    SignInOptions, StackChange, StackSettings, TEMPLATE, WaitPolicy, load_aws_config,
    sign_in_template,
};

mod sign_in;

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

    /// Print the embedded CloudFormation template, with what the sign-in options add to it
    /// (identity providers, a branding settings file; never a secret), and exit without
    /// calling AWS.
    #[arg(long, env = "MCP_OAUTH_PRINT_TEMPLATE")]
    print_template: bool,

    #[command(flatten)]
    serverless: ServerlessArgs,

    #[command(flatten)]
    sign_in: sign_in::SignInArgs,
}

/// The instruction set of the Lambda artifact.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Arch {
    /// AWS Graviton (cheaper per GB-second).
    Arm64,
    /// x86-64.
    #[value(name = "x86-64")]
    X86_64,
}

/// Flags of `mcp-oauth deploy --serverless`.
#[derive(Args, Debug)]
struct ServerlessArgs {
    /// Run the gateway and the MCP server on AWS Lambda behind a public function URL (gateway
    /// mode): the stack gets an artifact bucket, the function, its URL, role and log group, and
    /// the MCP server URL, the gateway URL and the scopes follow the function URL. Running it
    /// again updates the code. Build the artifact first with `scripts/lambda-build`.
    #[arg(
        long,
        env = "MCP_OAUTH_SERVERLESS",
        conflicts_with_all = ["mcp_server_url", "gateway_url"]
    )]
    serverless: bool,

    /// The Lambda zip (an executable `bootstrap` inside) [default:
    /// target/lambda/<arch>/mcp-oauth/bootstrap.zip, as `scripts/lambda-build` writes it].
    #[arg(
        long,
        env = "MCP_OAUTH_LAMBDA_ARTIFACT",
        value_name = "ZIP",
        requires = "serverless"
    )]
    artifact: Option<PathBuf>,

    /// Instruction set the artifact was built for.
    #[arg(long, env = "MCP_OAUTH_LAMBDA_ARCH", value_enum, default_value_t = Arch::Arm64)]
    arch: Arch,

    /// The function's memory in MB (its CPU share grows with it).
    #[arg(
        long,
        env = "MCP_OAUTH_LAMBDA_MEMORY_MB",
        default_value_t = 128,
        value_parser = clap::value_parser!(u32).range(128..=10_240)
    )]
    memory_mb: u32,

    /// Days CloudWatch Logs keeps the function's log (1, 3, 5, 7, 14, 30, 60, 90, 120, 150,
    /// 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653).
    #[arg(
        long,
        env = "MCP_OAUTH_LOG_RETENTION_DAYS",
        default_value_t = 14,
        value_parser = parse_retention
    )]
    log_retention_days: u32,

    /// Name of the artifact bucket (globally unique) [default: generated by CloudFormation].
    #[arg(long, env = "MCP_OAUTH_ARTIFACT_BUCKET", requires = "serverless")]
    artifact_bucket: Option<String>,

    /// Browser origin allowed to call the function (repeatable; comma-separated in the
    /// environment); requests without `Origin`, as from MCP clients outside browsers, always
    /// pass.
    #[arg(
        long = "allowed-origin",
        env = "MCP_OAUTH_LAMBDA_ALLOWED_ORIGINS",
        value_delimiter = ',',
        requires = "serverless"
    )]
    allowed_origins: Vec<String>,
}

/// The retention periods CloudWatch Logs accepts.
const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn parse_retention(value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|days| RETENTION_DAYS.contains(days))
        .ok_or_else(|| {
            format!("CloudWatch Logs keeps logs for one of {RETENTION_DAYS:?} days, not {value}")
        })
}

impl ServerlessArgs {
    fn architecture(&self) -> Architecture {
        match self.arch {
            Arch::Arm64 => Architecture::Arm64,
            Arch::X86_64 => Architecture::X86_64,
        }
    }

    /// The serverless settings, or `None` without `--serverless`.
    fn settings(&self) -> Option<ServerlessSettings> {
        if !self.serverless {
            return None;
        }
        let mut settings = ServerlessSettings::default();
        settings.architecture = self.architecture();
        settings.memory_mb = self.memory_mb;
        settings.log_retention_days = self.log_retention_days;
        settings.bucket_name = self.artifact_bucket.clone();
        settings.allowed_origins = self.allowed_origins.clone();
        Some(settings)
    }

    fn artifact_path(&self) -> PathBuf {
        self.artifact
            .clone()
            .unwrap_or_else(|| self.architecture().default_artifact().into())
    }
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

fn print_progress(progress: Progress<'_>) {
    match progress {
        Progress::Event(event) => println!("  {event}"),
        Progress::Step(step) => println!("{step}"),
        _ => {}
    }
}

/// Runs `mcp-oauth deploy`.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let sign_in = args.sign_in.options()?;
    if args.print_template {
        print!("{}", sign_in_template(TEMPLATE, &sign_in)?);
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
    settings.serverless = args.serverless.settings();
    settings.sign_in = sign_in.clone();
    if settings.serverless.is_some() && mode != DeployMode::Gateway {
        anyhow::bail!("--serverless puts the gateway on Lambda: it needs --mode gateway");
    }
    let mut plan = DeployPlan::new(settings, &target.env_dir).with_wait(target.wait());
    if args.serverless.serverless {
        // Checked before anything is asked of AWS.
        let path = args.serverless.artifact_path();
        Artifact::read(&path, args.serverless.architecture())?;
        plan = plan.with_artifact(path);
    }
    if let Some(path) = &args.template {
        let template =
            std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        plan = plan.with_template(template, args.parameters.clone());
    }

    let aws = target.connect().await?;
    let what = if args.serverless.serverless {
        "gateway mode, on AWS Lambda"
    } else {
        mode.as_str()
    };
    println!(
        "Deploying stack {} ({what}) in {}…",
        target.stack_name,
        aws.region()
    );
    let deployment = mcp_oauth_cognito::deploy(&aws, &plan, &mut print_progress).await?;
    report(
        &target.stack_name,
        mode,
        &deployment,
        &target.env_dir,
        &sign_in,
    );
    Ok(())
}

fn report(
    stack: &str,
    mode: DeployMode,
    deployment: &Deployment,
    env_dir: &std::path::Path,
    sign_in: &SignInOptions,
) {
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
    sign_in::report(sign_in, deployment);
    if let Some(url) = &deployment.serverless_url {
        report_serverless(url, deployment, env_dir);
    } else if mode == DeployMode::Federated {
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

/// The public URLs of the function, where its logs are, and how to use it.
fn report_serverless(url: &str, deployment: &Deployment, env_dir: &std::path::Path) {
    let base = url.trim_end_matches('/');
    println!("  MCP server:                  {base}/mcp");
    println!("  its metadata (RFC 9728):     {base}/.well-known/oauth-protected-resource/mcp");
    println!("  authorization metadata:      {base}/.well-known/oauth-authorization-server");
    println!("  registration (RFC 7591):     {base}/register");
    if let Some(group) = deployment.outputs.get("LogGroupName") {
        println!("  the function's logs:         aws logs tail {group} --follow");
    }
    let dir = env_dir.display();
    println!("  run the demo clients against it: `mcp-oauth dev --env-dir {dir}`, or");
    println!("  `cd {dir}/client && mcp-oauth client` (then open http://localhost:3000);");
    println!("  `mcp-oauth deploy --serverless` again uploads a new build and updates the code.");
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
        &mut print_progress,
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
        "Delete stack {} in {}, with its user pool (every user in it) and registry table, the \
         Lambda function, its URL, role and logs and the artifact bucket's objects if it has \
         them, and the .env files deploy wrote under {}? [y/N] ",
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
