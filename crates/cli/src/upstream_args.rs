//! The flags of an upstream MCP server put behind the resource-server layer, shared by
//! `proxy`, `gateway` and `dev`: where the upstream is (`--upstream-url`, or a stdio command),
//! how long to wait for it, what it is told (identity headers, its own credential), the scope
//! of each tool, resource and prompt (flags and a TOML file), and the session limits.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use http::{HeaderName, HeaderValue};
use mcp_oauth_proxy::stdio::StdioUpstreamConfig;
use mcp_oauth_proxy::{
    ForwardingConfig, HttpUpstreamConfig, IdentityHeaders, ProxyConfig, ScopeRules, SessionConfig,
};
use mcp_oauth_resource::ResourceServerConfig;

/// Where the upstream MCP server is, and the policy in front of it.
#[derive(Args, Debug)]
pub struct McpUpstreamArgs {
    /// A Streamable HTTP MCP server to protect (its MCP endpoint, `http://` or `https://`).
    #[arg(
        long,
        env = "MCP_UPSTREAM_URL",
        value_name = "URL",
        conflicts_with_all = ["upstream_command", "command_after_dashes"]
    )]
    pub upstream_url: Option<String>,

    /// A stdio MCP server to protect: the program and its arguments (arguments that start
    /// with `-` go after `--` instead: `-- npx -y my-server`). One child per MCP session.
    /// In the environment: the command line split at spaces.
    #[arg(
        long,
        env = "MCP_UPSTREAM_COMMAND",
        value_name = "CMD [ARGS]...",
        num_args = 1..,
        value_delimiter = ' ',
    )]
    pub upstream_command: Vec<String>,

    /// The stdio MCP server's command line after `--` (the program first, unless
    /// --upstream-command names it).
    #[arg(last = true, value_name = "CMD [ARGS]...")]
    pub command_after_dashes: Vec<String>,

    /// Environment variables a stdio upstream's children copy from this process, when set
    /// (repeatable; comma-separated in the environment) [default: HOME, LOGNAME, PATH, SHELL,
    /// TERM, USER]. Nothing else of this process's environment reaches them.
    #[arg(
        long = "upstream-env-pass",
        env = "MCP_UPSTREAM_ENV_PASS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    upstream_env_pass: Vec<String>,

    /// A variable set in every child of a stdio upstream, `NAME=VALUE` (repeatable;
    /// comma-separated in the environment, which is where secrets belong).
    #[arg(
        long = "upstream-env",
        env = "MCP_UPSTREAM_ENV",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "NAME=VALUE"
    )]
    upstream_env: Vec<String>,

    /// Give each child of a stdio upstream the verified identity of its session's caller in
    /// PREFIXISSUER, PREFIXSUBJECT, PREFIXCLIENT_ID and PREFIXSCOPES (e.g. `MCP_OAUTH_`).
    #[arg(long, env = "MCP_UPSTREAM_IDENTITY_ENV", value_name = "PREFIX")]
    upstream_identity_env: Option<String>,

    /// Children of a stdio upstream running at most (one per MCP session, or per user for
    /// clients without sessions); beyond it new sessions get 503 with Retry-After.
    #[arg(long, env = "MCP_UPSTREAM_MAX_CHILDREN", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    upstream_max_children: u64,

    /// Seconds after which a child of a stdio upstream with nothing to do is stopped (its
    /// session ends).
    #[arg(long, env = "MCP_UPSTREAM_IDLE_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    upstream_idle_secs: u64,

    /// Seconds to wait for a connection to the upstream URL (then 502).
    #[arg(long, env = "MCP_UPSTREAM_CONNECT_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    upstream_connect_timeout_secs: u64,

    /// Seconds to wait for the upstream's response headers (then 504). Streams that started
    /// are never cut.
    #[arg(long, env = "MCP_UPSTREAM_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    upstream_timeout_secs: u64,

    /// A header added to every request to the upstream, `NAME: VALUE` (its own API key, say;
    /// repeatable; comma-separated in the environment, which is where secrets belong). The
    /// client's Authorization and Cookie headers never reach the upstream.
    #[arg(
        long = "upstream-header",
        env = "MCP_UPSTREAM_HEADERS",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "NAME: VALUE"
    )]
    upstream_headers: Vec<String>,

    /// Send the verified token's subject (`sub`) to the upstream in this header.
    #[arg(long, env = "MCP_FORWARD_SUBJECT_HEADER", value_name = "NAME")]
    forward_subject_header: Option<HeaderName>,

    /// Send the verified token's client id to the upstream in this header.
    #[arg(long, env = "MCP_FORWARD_CLIENT_ID_HEADER", value_name = "NAME")]
    forward_client_id_header: Option<HeaderName>,

    /// Send the verified token's scopes (space-separated) to the upstream in this header.
    #[arg(long, env = "MCP_FORWARD_SCOPES_HEADER", value_name = "NAME")]
    forward_scopes_header: Option<HeaderName>,

    /// Send the verified token's issuer to the upstream in this header.
    #[arg(long, env = "MCP_FORWARD_ISSUER_HEADER", value_name = "NAME")]
    forward_issuer_header: Option<HeaderName>,

    /// The scope a tool needs, `TOOL=SCOPE` (repeatable; comma-separated in the environment).
    #[arg(long = "tool-scope", env = "MCP_TOOL_SCOPES", value_delimiter = ',', value_parser = parse_rule)]
    tool_scopes: Vec<(String, String)>,

    /// The scope a resource needs, `URI=SCOPE` (or a resource template's `URI-TEMPLATE=SCOPE`;
    /// split at the last `=`; repeatable; comma-separated in the environment).
    #[arg(long = "resource-scope", env = "MCP_RESOURCE_SCOPES", value_delimiter = ',', value_parser = parse_rule)]
    resource_scopes: Vec<(String, String)>,

    /// The scope a prompt needs, `PROMPT=SCOPE` (repeatable; comma-separated in the
    /// environment).
    #[arg(long = "prompt-scope", env = "MCP_PROMPT_SCOPES", value_delimiter = ',', value_parser = parse_rule)]
    prompt_scopes: Vec<(String, String)>,

    /// The scope every tool, resource and prompt without a rule of its own needs [default:
    /// none beyond a valid token].
    #[arg(long, env = "MCP_DEFAULT_SCOPE", value_name = "SCOPE")]
    default_scope: Option<String>,

    /// Hide from tools/list, resources/list, resources/templates/list and prompts/list what
    /// the caller's scopes do not allow.
    #[arg(long, env = "MCP_HIDE_UNAUTHORIZED")]
    hide_unauthorized: bool,

    /// A TOML file of scope rules (`default_scope`, `hide_unauthorized`, and `[tools]`,
    /// `[resources]`, `[prompts]` tables of NAME = "SCOPE"); flags add to it and win.
    #[arg(long, env = "MCP_SCOPES_FILE", value_name = "FILE")]
    scopes_file: Option<PathBuf>,

    /// MCP sessions remembered at most (each bound to the user and client that opened it);
    /// beyond it a new session gets 503.
    #[arg(long, env = "MCP_MAX_SESSIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_sessions: u64,

    /// MCP sessions one user (of one client) may hold; beyond it their least recently used
    /// session is closed.
    #[arg(long, env = "MCP_MAX_SESSIONS_PER_USER", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    max_sessions_per_user: u64,

    /// Seconds after which an MCP session nobody used is forgotten (its client then starts a
    /// new one).
    #[arg(long, env = "MCP_SESSION_IDLE_SECS", default_value_t = 7200, value_parser = clap::value_parser!(u64).range(1..))]
    session_idle_secs: u64,
}

/// The upstream the flags name.
#[derive(Debug, PartialEq, Eq)]
pub enum UpstreamTarget {
    /// A Streamable HTTP server.
    Url(String),
    /// A stdio program and its arguments.
    Command(Vec<String>),
}

impl McpUpstreamArgs {
    /// The upstream, if the flags name one.
    pub fn target(&self) -> anyhow::Result<Option<UpstreamTarget>> {
        let command: Vec<String> = self
            .upstream_command
            .iter()
            .chain(&self.command_after_dashes)
            .filter(|word| !word.is_empty())
            .cloned()
            .collect();
        match (&self.upstream_url, command.is_empty()) {
            (Some(_), false) => bail!("give --upstream-url or an upstream command, not both"),
            (Some(url), true) => Ok(Some(UpstreamTarget::Url(url.clone()))),
            (None, false) => Ok(Some(UpstreamTarget::Command(command))),
            (None, true) => Ok(None),
        }
    }

    /// How to reach an upstream at `url`.
    pub fn http_config(&self, url: &str) -> HttpUpstreamConfig {
        HttpUpstreamConfig::new(url)
            .with_connect_timeout(Duration::from_secs(self.upstream_connect_timeout_secs))
            .with_response_timeout(Duration::from_secs(self.upstream_timeout_secs))
    }

    /// How to run a stdio upstream `command` (the program, then its arguments).
    pub fn stdio_config(&self, command: &[String]) -> anyhow::Result<StdioUpstreamConfig> {
        let (program, args) = command
            .split_first()
            .context("the upstream command is empty")?;
        let mut config = StdioUpstreamConfig::new(program, args)
            .with_max_children(usize::try_from(self.upstream_max_children).unwrap_or(usize::MAX))
            .with_idle_timeout(Duration::from_secs(self.upstream_idle_secs));
        if !self.upstream_env_pass.is_empty() {
            config = config.with_inherited_env(self.upstream_env_pass.iter().cloned());
        }
        for variable in &self.upstream_env {
            let (name, value) = variable
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .context("--upstream-env: expected NAME=VALUE")?;
            config = config.with_env(name, value);
        }
        if let Some(prefix) = &self.upstream_identity_env {
            config = config.with_identity_env(prefix);
        }
        Ok(config)
    }

    /// The scope rules of the file and the flags (flags win).
    pub fn scope_rules(&self) -> anyhow::Result<ScopeRules> {
        let file = match &self.scopes_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                ScopeRules::from_toml(&text).with_context(|| path.display().to_string())?
            }
            None => ScopeRules::default(),
        };
        let mut flags = ScopeRules::default();
        flags.default_scope = self.default_scope.clone();
        flags.hide_unauthorized = self.hide_unauthorized.then_some(true);
        flags.tools = self.tool_scopes.iter().cloned().collect();
        flags.resources = self.resource_scopes.iter().cloned().collect();
        flags.prompts = self.prompt_scopes.iter().cloned().collect();
        Ok(file.merged_with(flags))
    }

    /// `config` with the scope rules, and `scopes_supported` (RFC 9728) extended by every
    /// scope a rule names.
    pub fn resource_config(
        &self,
        config: ResourceServerConfig,
    ) -> anyhow::Result<(ResourceServerConfig, ScopeRules)> {
        let rules = self.scope_rules()?;
        let mut supported = config.scopes_supported.clone();
        for scope in rules.scopes() {
            if !supported.contains(&scope) {
                supported.push(scope);
            }
        }
        let config = rules.apply(config).with_scopes_supported(supported);
        Ok((config, rules))
    }

    /// What the proxy does between the resource server and the upstream.
    pub fn proxy_config(&self, rules: &ScopeRules) -> anyhow::Result<ProxyConfig> {
        let mut identity = IdentityHeaders::default();
        identity.subject = self.forward_subject_header.clone();
        identity.client_id = self.forward_client_id_header.clone();
        identity.scopes = self.forward_scopes_header.clone();
        identity.issuer = self.forward_issuer_header.clone();
        let mut forwarding = ForwardingConfig::default().with_identity_headers(identity);
        for header in &self.upstream_headers {
            let (name, value) = parse_header(header)?;
            forwarding = forwarding.with_static_header(name, value);
        }
        let sessions = SessionConfig::default()
            .with_max_sessions(usize::try_from(self.max_sessions).unwrap_or(usize::MAX))
            .with_max_sessions_per_principal(
                usize::try_from(self.max_sessions_per_user).unwrap_or(usize::MAX),
            )
            .with_idle_timeout(Duration::from_secs(self.session_idle_secs));
        Ok(ProxyConfig::default()
            .with_forwarding(forwarding)
            .with_sessions(sessions)
            .with_hide_unauthorized(rules.hide_unauthorized.unwrap_or(false)))
    }
}

/// `NAME: VALUE` of --upstream-header. The value is a secret: errors name the header only.
fn parse_header(header: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = header
        .split_once(':')
        .context("--upstream-header: expected NAME: VALUE")?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|_| anyhow!("--upstream-header: not a header name"))?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|_| anyhow!("--upstream-header {name}: the value is not a valid header value"))?;
    Ok((name, value))
}

/// `TARGET=SCOPE`, split at the last `=` (URIs may hold `=`; scope tokens do not here).
fn parse_rule(value: &str) -> Result<(String, String), String> {
    match value.rsplit_once('=') {
        Some((target, scope)) if !target.is_empty() && !scope.is_empty() => {
            Ok((target.to_owned(), scope.to_owned()))
        }
        _ => Err(format!("expected NAME=SCOPE, got `{value}`")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        upstream: McpUpstreamArgs,
    }

    fn parse(flags: &[&str]) -> Result<McpUpstreamArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("proxy").chain(flags.iter().copied()))
            .map(|wrapper| wrapper.upstream)
    }

    #[test]
    fn takes_one_upstream_a_url_or_a_command_with_its_arguments() {
        let target = |flags: &[&str]| parse(flags).unwrap().target().unwrap();
        assert_eq!(target(&[]), None);
        assert_eq!(
            target(&["--upstream-url", "http://127.0.0.1:8080/mcp"]),
            Some(UpstreamTarget::Url("http://127.0.0.1:8080/mcp".to_owned()))
        );
        let words = |words: &[&str]| words.iter().map(|word| (*word).to_owned()).collect();
        assert_eq!(
            target(&["--upstream-command", "python3", "server.py"]),
            Some(UpstreamTarget::Command(words(&["python3", "server.py"])))
        );
        assert_eq!(
            target(&["--", "npx", "-y", "server-everything"]),
            Some(UpstreamTarget::Command(words(&[
                "npx",
                "-y",
                "server-everything"
            ])))
        );
        assert_eq!(
            target(&["--upstream-command", "npx", "--", "-y", "server-everything"]),
            Some(UpstreamTarget::Command(words(&[
                "npx",
                "-y",
                "server-everything"
            ])))
        );
        assert!(parse(&["--upstream-url", "http://x/mcp", "--upstream-command", "a"]).is_err());
    }

    #[test]
    fn scope_rules_come_from_flags_and_the_file_with_the_flags_winning() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scopes.toml");
        std::fs::write(
            &file,
            "default_scope = \"mcp:read\"\n[tools]\ndelete = \"mcp:admin\"\necho = \"mcp:read\"\n",
        )
        .unwrap();
        let args = parse(&[
            "--scopes-file",
            file.to_str().unwrap(),
            "--tool-scope",
            "delete=mcp:write",
            "--resource-scope",
            "https://x/a?b=c=mcp:admin",
            "--prompt-scope",
            "p=mcp:read",
            "--hide-unauthorized",
        ])
        .unwrap();
        let base = ResourceServerConfig::new("http://localhost:3001/mcp")
            .unwrap()
            .with_scopes_supported(["mcp:read"]);
        let (config, rules) = args.resource_config(base).unwrap();
        assert_eq!(config.tool_scopes["delete"], "mcp:write");
        assert_eq!(config.tool_scopes["echo"], "mcp:read");
        assert_eq!(config.resource_scopes["https://x/a?b=c"], "mcp:admin");
        assert_eq!(config.prompt_scopes["p"], "mcp:read");
        assert_eq!(config.default_scope.as_deref(), Some("mcp:read"));
        assert_eq!(
            config.scopes_supported,
            ["mcp:read", "mcp:admin", "mcp:write"]
        );
        assert!(args.proxy_config(&rules).unwrap().hide_unauthorized);
        assert!(parse(&["--tool-scope", "no-scope"]).is_err());
    }

    #[test]
    fn a_broken_scopes_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scopes.toml");
        std::fs::write(&file, "[tool]\ndelete = \"mcp:admin\"\n").unwrap();
        let args = parse(&["--scopes-file", file.to_str().unwrap()]).unwrap();
        let error = format!("{:#}", args.scope_rules().unwrap_err());
        assert!(error.contains("scopes.toml"), "{error}");
    }

    #[test]
    fn upstream_header_values_are_never_echoed() {
        let args = parse(&["--upstream-header", "x-api-key: s3\u{7}cret"]).unwrap();
        let error = format!(
            "{:#}",
            args.proxy_config(&ScopeRules::default()).unwrap_err()
        );
        assert!(!error.contains("s3cret"), "{error}");
        assert!(error.contains("x-api-key"), "{error}");
        let args = parse(&["--upstream-header", "X-Api-Key: s3cret"]).unwrap();
        let config = args.proxy_config(&ScopeRules::default()).unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
