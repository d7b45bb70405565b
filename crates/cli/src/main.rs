//! `mcp-oauth`: put MCP servers behind OAuth 2.1.

mod admin;
mod audit_query;
mod auth_server;
mod call;
#[cfg(feature = "aws")]
mod deploy;
mod dev;
mod doctor;
mod federation_args;
#[cfg(feature = "aws")]
mod gateway;
mod governance_args;
mod issuer_args;
#[cfg(not(all(
    feature = "aws",
    feature = "postgres",
    feature = "federation",
    feature = "cimd",
    feature = "lambda"
)))]
mod left_out;
mod mcp_endpoint;
mod mcp_server;
mod one_line;
mod proxy;
mod registry_admin;
mod runtime;
mod sign_in_args;
mod upstream_args;
mod web_client;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// MCP servers behind OAuth 2.1: locally, on AWS Cognito, or behind your own identity provider.
///
/// Every flag can also be set by the environment variable shown in its help, and a `.env` file
/// in the working directory is read first.
#[derive(Parser)]
#[command(name = "mcp-oauth", version, propagate_version = true)]
struct Cli {
    /// How log lines on stderr are written: `text` (colour codes only on a terminal) or
    /// `json` (one object per line, for log collectors). `RUST_LOG` sets what is logged.
    #[arg(
        long,
        global = true,
        env = "MCP_OAUTH_LOG_FORMAT",
        value_enum,
        default_value_t = runtime::LogFormat::Text
    )]
    log_format: runtime::LogFormat,

    #[command(subcommand)]
    command: Command,
}

// Parsed once at start and moved into the command: the size of the largest variant is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the local stack in one process: the authorization server (http://localhost:9000),
    /// the protected MCP server (http://localhost:3001/mcp) and the three demo web clients
    /// (http://localhost:3000, :3002, :3003), with a demo user; or, with --env-dir, the AWS
    /// Cognito gateway and the demo clients configured by the files `deploy` wrote.
    Dev(dev::DevArgs),
    /// Run the protected MCP server (default http://localhost:3001/mcp) that trusts one or more
    /// OAuth issuers.
    McpServer(mcp_server::McpServerArgs),
    /// Run the embedded OAuth 2.1 authorization server (default http://localhost:9000): sign-up,
    /// sign-in and consent pages, PKCE, Dynamic Client Registration, Client ID Metadata
    /// Documents, refresh rotation, revocation and introspection, on SQLite or PostgreSQL.
    AuthServer(auth_server::AuthServerArgs),
    /// Manage the authorization server's users, clients and signing keys, and read its audit
    /// trail; or, with --cognito-registry-table, the clients registered at the Cognito gateway.
    Admin(admin::AdminArgs),
    /// Call an MCP server as an OAuth client: sign in (system browser and a loopback
    /// redirect, or --headless), keep the credentials per authorization server, then list
    /// the tools or call one.
    Call(call::CallArgs),
    /// Run the demo web client that uses a pre-registered confidential client (default
    /// http://localhost:3000): log in, fetch MCP data, see what happened.
    Client(web_client::ClientArgs),
    /// Run the demo web client that discovers everything from the MCP server URL and
    /// registers itself with Dynamic Client Registration (default http://localhost:3002).
    AutoClient(web_client::AutoClientArgs),
    /// Run the demo web client that serves its own Client ID Metadata Document and uses its
    /// URL as client_id (default http://localhost:3003).
    CimdClient(web_client::CimdClientArgs),
    /// Create or update the AWS stack of the Cognito mode (CloudFormation: user pool, hosted
    /// domain, resource server, app client, registry table, gateway policy), show its events,
    /// read the app client's secret, and write every component's .env file.
    #[cfg(feature = "aws")]
    Deploy(deploy::DeployArgs),
    /// Create or update the AWS stack of the Cognito mode (this build leaves AWS out: build
    /// with the default features).
    #[cfg(not(feature = "aws"))]
    Deploy(left_out::AwsCommandArgs),
    /// Delete the AWS stack (after confirmation) and the .env files deploy wrote.
    #[cfg(feature = "aws")]
    Cleanup(deploy::CleanupArgs),
    /// Delete the AWS stack (this build leaves AWS out: build with the default features).
    #[cfg(not(feature = "aws"))]
    Cleanup(left_out::AwsCommandArgs),
    /// Run the AWS Cognito gateway (default http://localhost:3001): RFC 8414 metadata that
    /// sends clients to Cognito's sign-in and token endpoints, RFC 7591/7592 registration
    /// creating Cognito app clients (recorded in DynamoDB or SQLite, unused ones expiring),
    /// and the protected MCP server trusting the user pool. In AWS Lambda (build feature
    /// `lambda`) it serves the function's events, and runs when the function has no arguments.
    #[cfg(feature = "aws")]
    Gateway(gateway::GatewayArgs),
    /// Run the AWS Cognito gateway (this build leaves AWS out: build with the default features).
    #[cfg(not(feature = "aws"))]
    Gateway(left_out::AwsCommandArgs),
    /// Put OAuth 2.1 in front of any MCP server (default http://localhost:3001/mcp): the
    /// resource-server layer of `mcp-server` (same issuers and checks) before an upstream
    /// reached by --upstream-url or run as a stdio command; the client's token never reaches
    /// it, MCP sessions are bound to the user who opened them, and tools, resources and
    /// prompts can each need a scope.
    Proxy(proxy::ProxyArgs),
    /// Check an MCP server's authorization set-up as a client would (the 401 challenge,
    /// Protected Resource Metadata, authorization server metadata, PKCE, registration, JWKS,
    /// CORS; optionally a real sign-in and the AWS stack) and explain each failure and its fix.
    Doctor(doctor::DoctorArgs),
}

fn main() -> ExitCode {
    // The start of the process, from which a Lambda function's init time is counted.
    runtime::since_start();
    // A missing .env file is normal; a malformed one is reported.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return ExitCode::FAILURE;
    }
    // AWS Lambda runs a function's `bootstrap` with no arguments: there it is the gateway,
    // configured by the function's environment, serving Lambda events.
    let cli = if std::env::args_os().len() <= 1 && runtime::in_lambda() {
        Cli::parse_from(["mcp-oauth", "gateway"])
    } else {
        Cli::parse()
    };
    match &cli.command {
        Command::Call(_) | Command::Doctor(_) => {
            runtime::init_logging(cli.log_format, call::LOG_FILTER)
        }
        _ => runtime::init_logging(cli.log_format, "info"),
    }
    let result = match cli.command {
        Command::Dev(args) => runtime::block_on(dev::run(args)),
        Command::McpServer(args) => runtime::block_on(mcp_server::run(args)),
        Command::AuthServer(args) => runtime::block_on(auth_server::run(args)),
        Command::Admin(args) => runtime::block_on(admin::run(args)),
        Command::Call(args) => runtime::block_on(call::run(args)),
        Command::Client(args) => runtime::block_on(web_client::run_client(args)),
        Command::AutoClient(args) => runtime::block_on(web_client::run_auto_client(args)),
        Command::CimdClient(args) => runtime::block_on(web_client::run_cimd_client(args)),
        #[cfg(feature = "aws")]
        Command::Deploy(args) => runtime::block_on(deploy::deploy(args)),
        #[cfg(feature = "aws")]
        Command::Cleanup(args) => runtime::block_on(deploy::cleanup(args)),
        #[cfg(feature = "aws")]
        Command::Gateway(args) => runtime::block_on(gateway::run(args)),
        #[cfg(not(feature = "aws"))]
        Command::Deploy(_) => Err(left_out::aws_command("deploy")),
        #[cfg(not(feature = "aws"))]
        Command::Cleanup(_) => Err(left_out::aws_command("cleanup")),
        #[cfg(not(feature = "aws"))]
        Command::Gateway(_) => Err(left_out::aws_command("gateway")),
        Command::Proxy(args) => runtime::block_on(proxy::run(args)),
        Command::Doctor(args) => match runtime::block_on(doctor::run(args)) {
            Ok(code) => return code,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain on one line: "cannot listen on …: <the cause>".
            eprintln!("error: {}", one_line::one_line(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}
