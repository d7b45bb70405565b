//! `mcp-oauth doctor URL`: walks what an MCP client does with an MCP server's authorization
//! set-up and says, step by step, what passed and what failed, why, and how to fix it, in
//! the terms of the guide's five common problems (a 401 without `WWW-Authenticate`, token
//! validation, CORS, CloudFormation deployments, registration).
//!
//! 1. An unauthenticated `initialize` and its 401 challenge ([`discovery::challenge`]).
//! 2. The Protected Resource Metadata at each URL a client tries
//!    ([`discovery::resource_metadata`]).
//! 3. Each authorization server ([`authorization_server::check`]).
//! 4. CORS for browser clients ([`cors::CorsCheck`]).
//! 5. With `--sign-in`, a real sign-in and `tools/list` ([`sign_in::check`]).
//! 6. With `--stack`, the AWS stack `mcp-oauth deploy` made (stack module, feature `aws`).

mod authorization_server;
mod cors;
mod discovery;
mod http;
mod report;
mod sign_in;
#[cfg(feature = "aws")]
mod stack;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use mcp_oauth_core::CanonicalResource;

use self::cors::CorsCheck;
use self::discovery::Challenge;
use self::http::Http;
use self::report::{Report, Step};
use crate::sign_in_args::SignInArgs;

/// The browser origin CORS is checked for without `--origin`: the demo web client's.
const DEFAULT_ORIGIN: &str = "http://localhost:3000";

/// Exit status when a step failed.
const FAILED: u8 = 1;

/// Flags of `mcp-oauth doctor`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 when no step failed (warnings allowed), 1 when one \
    failed, 2 for bad usage.\n\nExamples:\n  \
    mcp-oauth doctor http://localhost:3001/mcp\n  \
    mcp-oauth doctor https://mcp.example.com/mcp --origin https://app.example.com --try-registration\n  \
    mcp-oauth doctor http://localhost:3001/mcp --sign-in\n  \
    mcp-oauth doctor http://localhost:3001/mcp --stack mcp-oauth --region eu-west-1 --json"
)]
pub struct DoctorArgs {
    /// URL of the MCP server's endpoint, as clients are given it (e.g.
    /// http://localhost:3001/mcp). The Protected Resource Metadata's `resource` must name it.
    #[arg(value_parser = parse_mcp_url)]
    url: CanonicalResource,

    /// Print the report as one JSON object (url, ok, summary, steps with id, title, status,
    /// detail, fix, problem) instead of text.
    #[arg(long)]
    json: bool,

    /// Give up on any one request after this many seconds (a slow server fails the step).
    #[arg(long, env = "MCP_OAUTH_DOCTOR_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout_secs: u64,

    /// Browser origin to check CORS for (scheme://host[:port]). Without it, CORS is checked
    /// for http://localhost:3000 and its problems are warnings (only browser clients are
    /// affected); with it, they are failures.
    #[arg(long, env = "MCP_OAUTH_DOCTOR_ORIGIN", value_parser = parse_origin)]
    origin: Option<String>,

    /// Register a throwaway client at each authorization server's registration endpoint, as
    /// an MCP client would (this creates a client; it is deleted again when the server
    /// supports RFC 7592 management, else it stays and the report names it).
    #[arg(long)]
    try_registration: bool,

    /// Also sign in for real (authorization code with PKCE, in the browser or --headless)
    /// and list the tools with the token, as `mcp-oauth call` does. Nothing is stored: the
    /// registration and tokens are forgotten at exit. The sign-in flags below apply.
    #[arg(long)]
    sign_in: bool,

    /// With AWS credentials: also check the CloudFormation stack `mcp-oauth deploy` made
    /// (status and failed events, resource server, app client callback URLs and scopes,
    /// registry table). Needs --region.
    #[arg(long, value_name = "NAME", requires = "region")]
    stack: Option<String>,

    /// AWS region of --stack, e.g. eu-west-1.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,

    /// Send the AWS calls of --stack to this endpoint instead of AWS (an emulator such as moto).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,

    /// How to sign in with --sign-in.
    #[command(flatten, next_help_heading = "Sign-in (with --sign-in)")]
    sign_in_args: SignInArgs,
}

/// The MCP URL: an http(s) URL usable as a resource identifier.
fn parse_mcp_url(value: &str) -> Result<CanonicalResource, String> {
    CanonicalResource::parse(value).map_err(|error| {
        format!("{error} (give the MCP endpoint's URL, e.g. http://localhost:3001/mcp)")
    })
}

/// A browser origin: `scheme://host[:port]` with nothing after it.
fn parse_origin(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|error| format!("not a URL: {error}"))?;
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
        return Err(format!(
            "an origin is scheme://host[:port] without a path, e.g. https://app.example.com (not {value})"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// Runs every step, prints the report, and says how the process exits.
pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let http = Http::new(Duration::from_secs(args.timeout_secs))?;
    let url = args.url.as_str().to_owned();
    let mut report = Report::default();
    walk(&args, &http, &url, &mut report).await;
    stack(&args, &mut report).await;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report.to_json(&url)).unwrap_or_default();
        json.push('\n');
        json
    } else {
        report.to_text(&url)
    };
    // A closed stdout (`doctor … | head`) is not an error of the checks.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(if report.failed() {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Steps 1 to 5.
async fn walk(args: &DoctorArgs, http: &Http, url: &str, report: &mut Report) {
    let challenge = match discovery::challenge(http, url, report).await {
        Challenge::Unauthorized(challenge) => challenge,
        Challenge::Stop => {
            report.push(Step::skip(
                "discovery",
                "discovery, authorization servers, CORS, sign-in",
                "not checked: the first request did not get a 401",
            ));
            return;
        }
    };
    let Some(metadata) =
        discovery::resource_metadata(http, &args.url, challenge.as_ref(), report).await
    else {
        report.push(Step::skip(
            "authorization-server-metadata",
            "authorization servers, CORS, sign-in",
            "not checked: no usable Protected Resource Metadata",
        ));
        return;
    };
    let mut servers = Vec::new();
    for issuer in &metadata.authorization_servers {
        if let Some(server) =
            authorization_server::check(http, issuer, args.try_registration, report).await
        {
            servers.push(server);
        }
    }
    let metadata_url = challenge
        .as_ref()
        .and_then(|challenge| challenge.resource_metadata.clone())
        .or_else(|| {
            mcp_oauth_core::protected_resource_metadata_urls(&args.url)
                .into_iter()
                .next()
        });
    CorsCheck {
        http,
        origin: args.origin.as_deref().unwrap_or(DEFAULT_ORIGIN),
        required: args.origin.is_some(),
    }
    .run(url, metadata_url.as_deref(), &servers, report)
    .await;
    if args.sign_in {
        sign_in::check(
            &args.sign_in_args,
            url,
            Duration::from_secs(args.timeout_secs),
            report,
        )
        .await;
    } else {
        report.push(Step::skip(
            "sign-in",
            "sign-in and tool call",
            "not tried: --sign-in signs in for real and lists the tools",
        ));
    }
}

/// Step 6, when --stack is given.
#[cfg(feature = "aws")]
async fn stack(args: &DoctorArgs, report: &mut Report) {
    let (Some(name), Some(region)) = (&args.stack, &args.region) else {
        return;
    };
    let target = stack::StackTarget {
        name,
        region,
        endpoint_url: args.endpoint_url.as_deref(),
    };
    stack::check(&target, &args.url, report).await;
}

/// Step 6 in a build without AWS: --stack cannot be checked, and the step says which
/// feature to build with.
#[cfg(not(feature = "aws"))]
async fn stack(args: &DoctorArgs, report: &mut Report) {
    if let Some(name) = &args.stack {
        let error = crate::left_out::needs_feature("`doctor --stack`", "the AWS SDK", "aws");
        report.push(
            Step::fail("stack", format!("stack {name}"), error.to_string())
                .problem(report::Problem::Deployment),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            parse_origin("HTTPS://App.Example.com:443").unwrap(),
            "https://app.example.com"
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/?x=1",
            "https://app.example.com/path",
            "ftp://x",
            "",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_url_must_be_an_http_url() {
        assert!(parse_mcp_url("http://localhost:3001/mcp").is_ok());
        for bad in [
            "localhost:3001/mcp",
            "not a url",
            "ftp://host/mcp",
            "http://host/mcp#x",
        ] {
            assert!(parse_mcp_url(bad).is_err(), "{bad}");
        }
    }
}
