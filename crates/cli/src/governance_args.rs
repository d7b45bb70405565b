//! The flags of registration governance (issue 16), shared by `auth-server` (and so `dev`) and
//! `gateway`: approval of new clients, trusted redirect hosts, scope ceilings, limits. They
//! parse into the core [`RegistrationGovernance`] both servers enforce.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use mcp_oauth_core::{
    HostPatterns, RegistrationGovernance, RegistrationPath, ScopeCeilings, ScopeHandling, ScopeSet,
    TrustedRedirects,
};
use mcp_oauth_resource::{SoftwareStatements, StatementPublisher};

/// What to do with a request for scopes above a client's ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeHandlingArg {
    /// Grant the scopes under the ceiling and say so in the answer (RFC 7591 §2, RFC 6749 §3.3).
    Narrow,
    /// Refuse the request with invalid_client_metadata (registration) or invalid_scope.
    Refuse,
}

/// Registration governance (flattened into each command that registers clients).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Registration governance")]
pub struct GovernanceArgs {
    /// New dynamically registered and metadata-document clients wait for an operator's approval
    /// (`mcp-oauth admin clients approve`): until then /authorize shows a page saying so and
    /// /token answers invalid_client.
    #[arg(long, env = "MCP_OAUTH_REGISTRATION_APPROVAL")]
    registration_approval: bool,

    /// Registration paths whose clients need no approval (repeatable; comma-separated):
    /// open, initial-access-token, software-statement, metadata-document.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_APPROVAL_EXEMPT",
        value_name = "PATH",
        value_delimiter = ',',
        requires = "registration_approval",
        value_parser = parse_dynamic_path
    )]
    registration_approval_exempt: Vec<RegistrationPath>,

    /// Hosts registered redirect URIs may name: `app.example.com`, or `*.example.com` for every
    /// host below example.com (repeatable; comma-separated). Any other https redirect URI is
    /// refused with invalid_redirect_uri naming it.
    #[arg(
        long = "registration-trusted-host",
        env = "MCP_OAUTH_REGISTRATION_TRUSTED_HOSTS",
        value_name = "PATTERN",
        value_delimiter = ','
    )]
    registration_trusted_hosts: Vec<String>,

    /// With --registration-trusted-host: refuse loopback redirect URIs of native clients too
    /// (http://127.0.0.1:PORT/..., allowed by default).
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_NO_LOOPBACK",
        requires = "registration_trusted_hosts"
    )]
    registration_no_loopback: bool,

    /// With --registration-trusted-host: allow private-use scheme redirect URIs
    /// (com.example.app:/cb), which name no host the list could vouch for.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_ALLOW_PRIVATE_USE_SCHEMES",
        requires = "registration_trusted_hosts"
    )]
    registration_allow_private_use_schemes: bool,

    /// The most scope a dynamically registered client may get, by how it registered:
    /// PATH=SCOPES with PATH one of open (also metadata documents), initial-access-token,
    /// software-statement, approved (clients an operator approved) and SCOPES space-separated,
    /// e.g. `open=mcp:read` (repeatable; comma-separated in the environment). Unset paths may
    /// get every supported scope.
    #[arg(
        long = "registration-scope-ceiling",
        env = "MCP_OAUTH_REGISTRATION_SCOPE_CEILINGS",
        value_name = "PATH=SCOPES",
        value_delimiter = ',',
        value_parser = parse_ceiling
    )]
    registration_scope_ceilings: Vec<(CeilingPath, ScopeSet)>,

    /// What a request above the ceiling gets, at registration, /authorize and refresh.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_SCOPE_HANDLING",
        value_enum,
        default_value = "narrow"
    )]
    registration_scope_handling: ScopeHandlingArg,

    /// The most clients that may wait for approval at once; beyond it registration is paused
    /// (invalid_client_metadata saying so) until an operator approves or rejects some.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_MAX_PENDING",
        requires = "registration_approval",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    registration_max_pending: Option<u32>,

    /// The most registrations per minute from all addresses together (429 beyond it), on top
    /// of the per-address limit.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_GLOBAL_PER_MINUTE",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    registration_global_per_minute: Option<u32>,

    /// Hours a client waits for approval before it is deleted.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_PENDING_TTL_HOURS",
        default_value_t = 168,
        value_parser = clap::value_parser!(u64).range(1..=87_600)
    )]
    registration_pending_ttl_hours: u64,

    /// A publisher whose software statements (RFC 7591 §2.3) registration accepts:
    /// ISSUER=JWKS, the statement's `iss` and its keys (an https JWKS URL, or a JWKS file)
    /// (repeatable; comma-separated). A registration with a valid statement gets its claims
    /// and the software-statement scope ceiling.
    #[arg(
        long = "software-statement-issuer",
        env = "MCP_OAUTH_REGISTRATION_SOFTWARE_STATEMENT_ISSUERS",
        value_name = "ISSUER=JWKS",
        value_delimiter = ','
    )]
    software_statement_issuers: Vec<String>,

    /// Accept only statements for these `software_id`s (repeatable; comma-separated); others
    /// get unapproved_software_statement.
    #[arg(
        long = "software-statement-software-id",
        env = "MCP_OAUTH_REGISTRATION_SOFTWARE_STATEMENT_SOFTWARE_IDS",
        value_name = "ID",
        value_delimiter = ',',
        requires = "software_statement_issuers"
    )]
    software_statement_software_ids: Vec<String>,

    /// Open registration (without the initial access token) must carry a software statement
    /// of a --software-statement-issuer.
    #[arg(
        long,
        env = "MCP_OAUTH_REGISTRATION_REQUIRE_SOFTWARE_STATEMENT",
        requires = "software_statement_issuers"
    )]
    require_software_statement: bool,
}

/// The paths a scope ceiling can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeilingPath {
    /// Open registration and metadata documents.
    Open,
    /// Registration with the initial access token.
    InitialAccessToken,
    /// Registration with a software statement.
    SoftwareStatement,
    /// Clients an operator approved.
    Approved,
}

impl GovernanceArgs {
    /// The governance the flags describe, checked against the scopes the server supports.
    pub fn governance(&self, supported: &ScopeSet) -> anyhow::Result<RegistrationGovernance> {
        let mut governance = RegistrationGovernance::default();
        governance.approval_required = self.registration_approval;
        governance.approval_exempt = self.registration_approval_exempt.clone();
        if !self.registration_trusted_hosts.is_empty() {
            let hosts = HostPatterns::parse(&self.registration_trusted_hosts)
                .map_err(|problems| anyhow::anyhow!(problems.join("\n")))?;
            governance.trusted_redirects = Some(
                TrustedRedirects::new(hosts)
                    .with_loopback(!self.registration_no_loopback)
                    .with_private_use_schemes(self.registration_allow_private_use_schemes),
            );
        }
        governance.ceilings = self.ceilings()?;
        governance.scope_handling = match self.registration_scope_handling {
            ScopeHandlingArg::Narrow => ScopeHandling::Narrow,
            ScopeHandlingArg::Refuse => ScopeHandling::Refuse,
        };
        governance.max_pending = self.registration_max_pending;
        governance.global_registrations_per_minute = self.registration_global_per_minute;
        governance.pending_ttl_secs = self.registration_pending_ttl_hours * 3600;
        governance.require_software_statement = self.require_software_statement;
        let problems = governance.problems(supported);
        if !problems.is_empty() {
            bail!("registration governance: {}", problems.join("; "));
        }
        Ok(governance)
    }

    /// The software statement verifier the flags configure, if any publisher is given.
    pub fn software_statements(&self) -> anyhow::Result<Option<Arc<SoftwareStatements>>> {
        if self.software_statement_issuers.is_empty() {
            return Ok(None);
        }
        let publishers = self
            .software_statement_issuers
            .iter()
            .map(|spec| {
                StatementPublisher::parse(spec)
                    .with_context(|| format!("--software-statement-issuer `{spec}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client for software statement publishers")?;
        let mut statements = SoftwareStatements::new(publishers, http);
        if !self.software_statement_software_ids.is_empty() {
            statements =
                statements.with_allowed_software_ids(self.software_statement_software_ids.clone());
        }
        Ok(Some(Arc::new(statements)))
    }

    fn ceilings(&self) -> anyhow::Result<ScopeCeilings> {
        let mut ceilings = ScopeCeilings::default();
        for (path, scopes) in &self.registration_scope_ceilings {
            let slot = match path {
                CeilingPath::Open => &mut ceilings.open,
                CeilingPath::InitialAccessToken => &mut ceilings.initial_access_token,
                CeilingPath::SoftwareStatement => &mut ceilings.software_statement,
                CeilingPath::Approved => &mut ceilings.approved,
            };
            if slot.replace(scopes.clone()).is_some() {
                bail!("--registration-scope-ceiling names the same path twice");
            }
        }
        Ok(ceilings)
    }
}

fn parse_dynamic_path(value: &str) -> Result<RegistrationPath, String> {
    match value.parse::<RegistrationPath>() {
        Ok(RegistrationPath::Static) => {
            Err("static clients never wait for approval; name a dynamic path".to_owned())
        }
        Ok(path) => Ok(path),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_ceiling(value: &str) -> Result<(CeilingPath, ScopeSet), String> {
    let (path, scopes) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not PATH=SCOPES"))?;
    let path = match path.trim() {
        "open" => CeilingPath::Open,
        "initial-access-token" => CeilingPath::InitialAccessToken,
        "software-statement" => CeilingPath::SoftwareStatement,
        "approved" => CeilingPath::Approved,
        other => {
            return Err(format!(
                "unknown path `{other}`; expected open, initial-access-token, software-statement or approved"
            ));
        }
    };
    let scopes = ScopeSet::parse(scopes.trim());
    if scopes.is_empty() {
        return Err(format!("`{value}` names no scope"));
    }
    Ok((path, scopes))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Command {
        #[command(flatten)]
        governance: GovernanceArgs,
    }

    fn governance(args: &[&str]) -> anyhow::Result<RegistrationGovernance> {
        let command = Command::try_parse_from(std::iter::once("test").chain(args.iter().copied()))?;
        command
            .governance
            .governance(&ScopeSet::parse("mcp:read mcp:write admin"))
    }

    #[test]
    fn no_flags_change_nothing() {
        assert_eq!(governance(&[]).unwrap(), RegistrationGovernance::default());
    }

    fn statements(args: &[&str]) -> anyhow::Result<Option<Arc<SoftwareStatements>>> {
        Command::try_parse_from(std::iter::once("test").chain(args.iter().copied()))?
            .governance
            .software_statements()
    }

    #[test]
    fn software_statement_flags_build_the_verifier_or_say_what_is_wrong() {
        assert!(statements(&[]).unwrap().is_none());
        let verifier = statements(&[
            "--software-statement-issuer",
            "https://publisher.example=https://publisher.example/jwks.json",
            "--software-statement-software-id",
            "app-1",
            "--require-software-statement",
        ])
        .unwrap()
        .expect("a verifier");
        assert!(format!("{verifier:?}").contains("https://publisher.example"));
        let message = |args: &[&str]| statements(args).unwrap_err().to_string();
        assert!(message(&["--require-software-statement"]).contains("--software-statement-issuer"));
        assert!(
            message(&["--software-statement-issuer", "no-keys-here"])
                .contains("--software-statement-issuer `no-keys-here`")
        );
        assert!(
            governance(&[
                "--software-statement-issuer",
                "https://p.example=https://p.example/jwks.json",
                "--require-software-statement"
            ])
            .unwrap()
            .require_software_statement
        );
    }

    #[test]
    fn flags_become_the_governance() {
        let parsed = governance(&[
            "--registration-approval",
            "--registration-approval-exempt",
            "initial-access-token,software-statement",
            "--registration-trusted-host",
            "*.example.com",
            "--registration-trusted-host",
            "app.example.org",
            "--registration-no-loopback",
            "--registration-scope-ceiling",
            "open=mcp:read",
            "--registration-scope-ceiling",
            "approved=mcp:read mcp:write",
            "--registration-scope-handling",
            "refuse",
            "--registration-max-pending",
            "50",
            "--registration-global-per-minute",
            "100",
            "--registration-pending-ttl-hours",
            "24",
        ])
        .unwrap();
        assert!(parsed.approval_required);
        assert_eq!(
            parsed.approval_exempt,
            [
                RegistrationPath::InitialAccessToken,
                RegistrationPath::SoftwareStatement
            ]
        );
        let trusted = parsed.trusted_redirects.expect("trusted hosts");
        assert_eq!(trusted.hosts.to_string(), "*.example.com, app.example.org");
        assert!(!trusted.allow_loopback);
        assert_eq!(parsed.ceilings.open, Some(ScopeSet::parse("mcp:read")));
        assert_eq!(
            parsed.ceilings.approved,
            Some(ScopeSet::parse("mcp:read mcp:write"))
        );
        assert_eq!(parsed.scope_handling, ScopeHandling::Refuse);
        assert_eq!(parsed.max_pending, Some(50));
        assert_eq!(parsed.global_registrations_per_minute, Some(100));
        assert_eq!(parsed.pending_ttl_secs, 24 * 3600);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let message = |args: &[&str]| governance(args).unwrap_err().to_string();
        assert!(message(&["--registration-trusted-host", "*.com"]).contains("two labels"));
        assert!(
            message(&["--registration-scope-ceiling", "open=nope"])
                .contains("does not support: nope")
        );
        assert!(
            message(&["--registration-scope-ceiling", "everyone=mcp:read"])
                .contains("unknown path")
        );
        assert!(
            message(&[
                "--registration-scope-ceiling",
                "open=mcp:read",
                "--registration-scope-ceiling",
                "open=admin"
            ])
            .contains("twice")
        );
        assert!(message(&["--registration-max-pending", "5"]).contains("registration-approval"));
        assert!(
            message(&[
                "--registration-approval",
                "--registration-approval-exempt",
                "static"
            ])
            .contains("never wait")
        );
        assert!(message(&["--registration-no-loopback"]).contains("registration-trusted-host"));
    }
}
