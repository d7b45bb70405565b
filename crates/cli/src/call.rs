//! `mcp-oauth call`: a command-line MCP client that signs in with OAuth, lists the tools of
//! an MCP server or calls one.
//!
//! The sign-in is the client library's flow (discovery, registration, PKCE, tokens,
//! refresh, step-up) with one of two drivers: the loopback driver (the system browser, and
//! a listener on `127.0.0.1` for the redirect) or, with `--headless`, the driver that
//! follows the authorization server's redirects itself. Registrations and tokens are kept
//! per authorization server in an owner-only credential file, so later runs need no
//! sign-in.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use mcp_oauth_client::FileCredentialStore;
use rmcp::model::{CallToolResult, Tool};
use serde_json::{Map, Value};

use crate::sign_in_args::{SignInArgs, describe_client_error};

/// What the command logs unless `RUST_LOG` says otherwise: the client library's progress
/// (a registration, a step-up) and warnings. rmcp's own messages are left out: the failures
/// they describe come back as errors, which the command reports.
pub const LOG_FILTER: &str = "warn,mcp_oauth_client=info,rmcp=off";

/// Flags of `mcp-oauth call`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    mcp-oauth call http://localhost:3001/mcp                  # list the tools\n  \
    mcp-oauth call http://localhost:3001/mcp whoami           # call one\n  \
    mcp-oauth call http://localhost:3001/mcp create_context --args '{\"name\": \"notes\", \"description\": \"my notes\"}'")]
pub struct CallArgs {
    /// URL of the MCP server (its Streamable HTTP endpoint), e.g. http://localhost:3001/mcp.
    url: String,

    /// Tool to call. Without it, the server's tools are listed (name and description).
    tool: Option<String>,

    /// Arguments of the tool: a JSON object, e.g. '{"name": "notes"}'.
    #[arg(long, value_name = "JSON", requires = "tool")]
    args: Option<String>,

    /// How to sign in and which client to be.
    #[command(flatten)]
    sign_in: SignInArgs,

    /// The credential file: client registrations and tokens per authorization server,
    /// readable by its owner only. Default: $XDG_CONFIG_HOME/mcp-oauth/credentials.json,
    /// else ~/.config/mcp-oauth/credentials.json.
    #[arg(long, env = "MCP_OAUTH_CREDENTIALS", value_name = "PATH")]
    credentials: Option<PathBuf>,
}

/// Lists the tools or calls one.
pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    let arguments = args.args.as_deref().map(parse_arguments).transpose()?;
    let credentials = match &args.credentials {
        Some(path) => path.clone(),
        None => default_credentials_path()?,
    };
    let store = Arc::new(FileCredentialStore::new(&credentials));
    let client = args.sign_in.client(&args.url, store, None).await?;

    let session = client
        .connect(&args.url)
        .await
        .map_err(|error| anyhow!(describe_client_error(&args.url, &error)))?;
    let outcome = match &args.tool {
        Some(tool) => match session.call_tool(tool.clone(), arguments).await {
            Ok(result) => print_result(tool, &result),
            Err(error) => Err(anyhow!(
                "calling the tool `{tool}` failed: {}",
                describe_client_error(&args.url, &error)
            )),
        },
        None => session
            .list_tools()
            .await
            .map_err(|error| anyhow!(describe_client_error(&args.url, &error)))
            .map(|tools| print_tools(&tools)),
    };
    session.close().await;
    outcome
}

/// `--args` must be a JSON object (MCP `tools/call` `arguments`).
fn parse_arguments(text: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text).context("--args is not valid JSON")? {
        Value::Object(object) => Ok(object),
        other => bail!(
            "--args must be a JSON object such as '{{\"name\": \"notes\"}}', not {}",
            kind(&other)
        ),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `$XDG_CONFIG_HOME/mcp-oauth/credentials.json`, else `~/.config/...` (`%APPDATA%\...` on
/// Windows).
fn default_credentials_path() -> anyhow::Result<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let config_dir = absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".config")))
        .or_else(|| absolute("APPDATA"))
        .context(
            "cannot find your configuration directory (set HOME or XDG_CONFIG_HOME, or pass \
             --credentials)",
        )?;
    Ok(config_dir.join("mcp-oauth").join("credentials.json"))
}

fn print_tools(tools: &[Tool]) {
    if tools.is_empty() {
        println!("(the server has no tools)");
        return;
    }
    let width = tools.iter().map(|tool| tool.name.len()).max().unwrap_or(0);
    for tool in tools {
        let description = tool
            .description
            .as_deref()
            .or(tool.title.as_deref())
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if description.is_empty() {
            println!("{}", tool.name);
        } else {
            println!("{:width$}  {description}", tool.name);
        }
    }
}

/// Prints the content (text as is, other kinds as one-line summaries), then the structured
/// content as indented JSON. A text item that only repeats the structured content (as
/// servers send it for older clients) is left out. A result marked as an error fails the
/// command.
fn print_result(tool: &str, result: &CallToolResult) -> anyhow::Result<()> {
    let structured = result.structured_content.as_ref();
    for block in &result.content {
        let block = serde_json::to_value(block).unwrap_or(Value::Null);
        if let Some(line) = content_line(&block, structured) {
            println!("{line}");
        }
    }
    if let Some(structured) = structured {
        println!(
            "{}",
            serde_json::to_string_pretty(structured).unwrap_or_default()
        );
    }
    if result.is_error == Some(true) {
        bail!("the tool `{tool}` reported an error");
    }
    Ok(())
}

/// One content block (MCP `ContentBlock`) for the terminal, or `None` for text that is the
/// structured content serialised.
fn content_line(block: &Value, structured: Option<&Value>) -> Option<String> {
    let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or_default();
    Some(match field("type") {
        "text" => {
            let text = field("text");
            if structured.is_some()
                && serde_json::from_str::<Value>(text).ok().as_ref() == structured
            {
                return None;
            }
            text.to_owned()
        }
        kind @ ("image" | "audio") => format!(
            "[{kind}: {}, {} bytes of base64]",
            field("mimeType"),
            field("data").len()
        ),
        "resource" => match block["resource"].get("text").and_then(Value::as_str) {
            Some(text) => text.to_owned(),
            None => format!(
                "[resource: {}]",
                block["resource"]["uri"].as_str().unwrap_or("?")
            ),
        },
        "resource_link" => format!("[link: {}]", field("uri")),
        other => format!("[{other} content]"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_repeating_the_structured_content_is_not_printed_twice() {
        let structured = serde_json::json!({"count": 1});
        let text = |text: &str| serde_json::json!({"type": "text", "text": text});
        assert_eq!(
            content_line(&text(r#"{"count":1}"#), Some(&structured)),
            None
        );
        assert_eq!(
            content_line(&text("one context"), Some(&structured)).as_deref(),
            Some("one context")
        );
        assert_eq!(
            content_line(&text(r#"{"count":1}"#), None).as_deref(),
            Some(r#"{"count":1}"#)
        );
        let image = serde_json::json!({"type": "image", "mimeType": "image/png", "data": "AAAA"});
        assert_eq!(
            content_line(&image, None).as_deref(),
            Some("[image: image/png, 4 bytes of base64]")
        );
    }

    #[test]
    fn arguments_must_be_a_json_object() {
        assert!(parse_arguments(r#"{"name": "notes"}"#).is_ok());
        for (text, expected) in [
            ("[1, 2]", "not an array"),
            ("\"notes\"", "not a string"),
            ("42", "not a number"),
            ("null", "not null"),
            ("{name: notes}", "not valid JSON"),
            ("", "not valid JSON"),
        ] {
            let error = format!("{:#}", parse_arguments(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
