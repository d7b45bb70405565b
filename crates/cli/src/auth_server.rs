//! `mcp-oauth auth-server`: the embedded OAuth 2.1 authorization server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use mcp_oauth_authorization_server::store::{
    KeyEncryptionKey, SqlStore, SqlStoreOptions, Store, StoreError,
};
use mcp_oauth_authorization_server::{
    AuthorizationServer, AuthorizationServerConfig, LoginLimits, MfaPolicy,
};
use mcp_oauth_core::CanonicalResource;

use crate::federation_args::UpstreamArgs;
use crate::governance_args::GovernanceArgs;
use crate::runtime::{ServeArgs, Service, TlsArgs, serve_all};

/// Where the authorization server keeps its data (shared with the admin commands).
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Directory of the SQLite database (created if missing). It holds the private signing
    /// keys, so it must be this user's alone: it is created 0700 and its files 0600, looser
    /// modes of this user's are tightened (and logged), and a directory others may write to or
    /// another user's is refused with the command that fixes it. Ignored with --database-url.
    #[arg(long, env = "MCP_OAUTH_DATA_DIR", default_value = "mcp-oauth-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (`postgres://user:password@host/db`), for more than one instance (a build
    /// with the `postgres` feature, a default one).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Make a new, empty database of an existing database file that holds no data: an empty
    /// file, or a SQLite database without the server's tables. Without it such a file is
    /// refused, because it usually means the data was lost (an interrupted copy or restore)
    /// and starting afresh would hide that: every user, client and key would be gone.
    #[arg(long, env = "MCP_OAUTH_INIT_EMPTY_DATABASE")]
    pub init_empty_database: bool,

    /// Encrypt the private signing keys in the database with this key (AES-256-GCM): 32 random
    /// bytes in base64, e.g. from `openssl rand -base64 32`. Keys stored in clear are
    /// encrypted at start; from then on the key is needed to start. Protects copies of the
    /// database (backups, dumps), not a machine where the key can be read as well. Prefer the
    /// environment variable or --key-encryption-key-file: flags show in `ps`.
    #[arg(
        long,
        env = "MCP_OAUTH_KEY_ENCRYPTION_KEY",
        hide_env_values = true,
        value_name = "BASE64",
        conflicts_with = "key_encryption_key_file"
    )]
    pub key_encryption_key: Option<String>,

    /// A file holding the key encryption key (base64), e.g. a mounted secret readable by this
    /// user only.
    #[arg(long, env = "MCP_OAUTH_KEY_ENCRYPTION_KEY_FILE", value_name = "PATH")]
    pub key_encryption_key_file: Option<PathBuf>,
}

impl StorageArgs {
    /// Opens the store and applies migrations.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        #[cfg(not(feature = "postgres"))]
        if let Some(url) = &self.database_url
            && is_postgres_url(url)
        {
            return Err(crate::left_out::needs_feature(
                "--database-url (DATABASE_URL) with a PostgreSQL URL",
                "PostgreSQL support",
                "postgres",
            ));
        }
        let mut options =
            SqlStoreOptions::default().with_init_empty_database(self.init_empty_database);
        let key = match (&self.key_encryption_key, &self.key_encryption_key_file) {
            (Some(text), _) => Some(KeyEncryptionKey::from_base64(text)),
            (None, Some(path)) => Some(KeyEncryptionKey::from_file(path)),
            (None, None) => None,
        };
        if let Some(key) = key {
            options = options.with_key_encryption_key(key.map_err(explain)?);
        }
        let store = match &self.database_url {
            Some(url) => SqlStore::connect_with(url, &options).await,
            None => SqlStore::open_sqlite_dir_with(&self.data_dir, &options).await,
        }
        .map_err(explain)?;
        Ok(Arc::new(store))
    }
}

/// Whether `url` names a PostgreSQL database (its scheme, which the URL's secrets never follow).
#[cfg(not(feature = "postgres"))]
fn is_postgres_url(url: &str) -> bool {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    ["postgres", "postgresql"]
        .iter()
        .any(|postgres| scheme.eq_ignore_ascii_case(postgres))
}

/// Why the store cannot be opened, with the flag that changes it where there is one. The
/// store's message already names its cause.
fn explain(error: StoreError) -> anyhow::Error {
    let hint = match error {
        StoreError::NotInitialised(_) => {
            " (that is --init-empty-database or MCP_OAUTH_INIT_EMPTY_DATABASE=true)"
        }
        StoreError::KeyEncryption(_) => {
            " (the key encryption key is given by MCP_OAUTH_KEY_ENCRYPTION_KEY or \
             --key-encryption-key-file)"
        }
        StoreError::Exposed(_) => " (--data-dir or MCP_OAUTH_DATA_DIR)",
        _ => "",
    };
    anyhow!("cannot open the database: {error}{hint}")
}

/// Sign-in throttling (OWASP Authentication Cheat Sheet, "Login Throttling"): failed sign-ins
/// allowed in a window before further attempts get 429. A browser that signed in before holds a
/// device cookie of the account and is counted only by it, so others' failures never lock the
/// owner out. The counters are in the database, shared by every instance on it.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Sign-in throttling")]
pub struct LoginLimitArgs {
    /// Failed sign-ins allowed per account from one client address (browsers without a device
    /// cookie of the account).
    #[arg(
        long,
        env = "AUTH_SERVER_LOGIN_FAILURES_PER_ACCOUNT_AND_IP",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    login_failures_per_account_and_ip: u32,

    /// Failed sign-ins allowed per account from all addresses together (browsers without a
    /// device cookie of the account): the cap on guessing spread over many addresses.
    #[arg(
        long,
        env = "AUTH_SERVER_LOGIN_FAILURES_PER_ACCOUNT",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    login_failures_per_account: u32,

    /// Failed sign-ins (and sign-ups for a taken e-mail address) allowed per client address,
    /// whatever the account.
    #[arg(
        long,
        env = "AUTH_SERVER_LOGIN_FAILURES_PER_IP",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    login_failures_per_ip: u32,

    /// Failed sign-ins allowed per device cookie before that cookie is locked.
    #[arg(
        long,
        env = "AUTH_SERVER_LOGIN_FAILURES_PER_DEVICE",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    login_failures_per_device: u32,

    /// Length of the throttling window in seconds (it starts at a counter's first failure).
    #[arg(
        long,
        env = "AUTH_SERVER_LOGIN_WINDOW_SECS",
        default_value_t = 15 * 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    login_window_secs: u64,

    /// Lifetime in seconds of the device cookie a browser gets when it signs in with a password.
    #[arg(
        long,
        env = "AUTH_SERVER_DEVICE_COOKIE_TTL_SECS",
        default_value_t = 30 * 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    device_cookie_ttl_secs: u64,
}

impl LoginLimitArgs {
    /// The limits the flags describe.
    fn limits(&self) -> LoginLimits {
        LoginLimits::default()
            .with_per_account_and_ip(self.login_failures_per_account_and_ip)
            .with_per_account(self.login_failures_per_account)
            .with_per_ip(self.login_failures_per_ip)
            .with_per_device(self.login_failures_per_device)
            .with_window(Duration::from_secs(self.login_window_secs))
            .with_device_cookie_ttl(Duration::from_secs(self.device_cookie_ttl_secs))
    }
}

/// How many days the audit trail keeps a record unless `--audit-retention-days` says otherwise
/// (the library's default).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 =
    AuthorizationServerConfig::DEFAULT_AUDIT_RETENTION.as_secs() / (24 * 3600);

/// Flags of `mcp-oauth auth-server`.
#[derive(Args, Debug, Clone)]
pub struct AuthServerArgs {
    /// Address and port to listen on.
    #[arg(long, env = "AUTH_SERVER_BIND", default_value = "127.0.0.1:9000")]
    bind: SocketAddr,

    /// The issuer identifier: the public URL of this server (https, or http on loopback).
    #[arg(
        long,
        env = "AUTH_SERVER_ISSUER",
        default_value = "http://localhost:9000"
    )]
    issuer: String,

    /// Resources (MCP server URLs) tokens may be issued for (repeatable; comma-separated in
    /// the environment). Tokens carry the requested one as `aud`; others get invalid_target.
    #[arg(
        long = "resource",
        env = "AUTH_SERVER_RESOURCES",
        value_delimiter = ',',
        default_value = "http://localhost:3001/mcp"
    )]
    resources: Vec<String>,

    /// Scopes clients may ask for (comma-separated in the environment).
    #[arg(
        long = "scope",
        env = "AUTH_SERVER_SCOPES",
        value_delimiter = ',',
        default_value = "mcp:read,mcp:write,openid,offline_access"
    )]
    scopes: Vec<String>,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// Access token lifetime in seconds. MCP servers that validate tokens locally accept a
    /// revoked access token until it expires, so keep it short (clients refresh), or let them
    /// check revocations (`mcp-oauth mcp-server --revocation-check-secs`).
    #[arg(
        long,
        env = "AUTH_SERVER_ACCESS_TOKEN_TTL_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    access_token_ttl_secs: u64,

    /// Refresh token lifetime in seconds.
    #[arg(long, env = "AUTH_SERVER_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    refresh_token_ttl_secs: u64,

    /// Do not let people create accounts (add users with `mcp-oauth admin users add`).
    #[arg(long, env = "AUTH_SERVER_NO_SIGNUP")]
    no_signup: bool,

    /// Require this initial access token (as a Bearer token) for Dynamic Client Registration.
    #[arg(long, env = "AUTH_SERVER_INITIAL_ACCESS_TOKEN", hide_env_values = true)]
    initial_access_token: Option<String>,

    /// Dynamic registrations allowed per client address (IPv6: per /64) per minute, counted in
    /// the database: every instance on it counts together (give them all the same value).
    #[arg(
        long,
        env = "AUTH_SERVER_REGISTRATIONS_PER_MINUTE",
        default_value_t = 20
    )]
    registrations_per_minute: u32,

    /// Exact client_id URL of a Client ID Metadata Document that may be plain http on a
    /// loopback host (repeatable; comma-separated in the environment), e.g. a local CIMD
    /// client's http://localhost:3003/client-metadata.json. Every other metadata document is
    /// fetched only over https from public addresses. Needs a build with the `cimd` feature
    /// (a default one).
    #[arg(
        long = "cimd-trusted-local-document",
        value_name = "URL",
        env = "AUTH_SERVER_CIMD_TRUSTED_LOCAL_DOCUMENTS",
        value_delimiter = ','
    )]
    pub cimd_trusted_local_documents: Vec<String>,

    /// Seconds between purges of expired sessions, codes, upstream sign-ins and tokens from
    /// the store (the first runs at start).
    #[arg(
        long,
        env = "AUTH_SERVER_PURGE_INTERVAL_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    purge_interval_secs: u64,

    /// Seconds between reads of the signing keys from the store, so that a key rotated with
    /// `mcp-oauth admin keys rotate` is used and published without a restart.
    #[arg(
        long,
        env = "AUTH_SERVER_KEY_RELOAD_INTERVAL_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    key_reload_interval_secs: u64,

    /// Days the audit trail keeps a security event (sign-ins, registrations, consents, tokens
    /// issued, refresh-token reuse, revocations, admin actions; `mcp-oauth admin audit` shows
    /// them); older ones are deleted by the purge.
    #[arg(
        long,
        env = "AUTH_SERVER_AUDIT_RETENTION_DAYS",
        default_value_t = DEFAULT_AUDIT_RETENTION_DAYS,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    pub audit_retention_days: u64,

    #[command(flatten)]
    login_limits: LoginLimitArgs,

    /// Two-step verification of local sign-ins, a TOTP code from an authenticator app after
    /// the password: `off` (not offered, never asked; codes set up earlier are kept unused),
    /// `optional` (people set it up on their account page) or `required` (whoever has none
    /// sets it up right after their password). Upstream sign-ins are never asked.
    #[arg(long, env = "AUTH_SERVER_MFA", default_value_t = MfaPolicy::Optional, value_name = "off|optional|required")]
    pub mfa: MfaPolicy,

    /// Registration governance: approval, trusted redirect hosts, scope ceilings, limits.
    #[command(flatten)]
    pub governance: GovernanceArgs,

    #[command(flatten)]
    pub upstream: UpstreamArgs,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,

    /// HTTPS, and client certificates (mutual TLS).
    #[command(flatten)]
    tls: TlsArgs,
}

impl AuthServerArgs {
    /// Whether people may create accounts on the sign-up page.
    pub fn signup_allowed(&self) -> bool {
        !self.no_signup
    }

    /// The issuer identifier (--issuer).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The same server at `bind` as `issuer`, on its own SQLite database in `data_dir` (what
    /// `dev --second-authorization-server` starts): nothing of this one's store is shared.
    pub fn second(&self, issuer: &str, bind: SocketAddr, data_dir: &Path) -> Self {
        let mut second = self.clone();
        second.issuer = issuer.to_owned();
        second.bind = bind;
        second.storage.data_dir = data_dir.to_owned();
        second.storage.database_url = None;
        second
    }

    /// Lets clients also ask for `scopes` (those an MCP endpoint's scope rules need), besides
    /// the --scope list.
    pub fn support_scopes(&mut self, scopes: impl IntoIterator<Item = String>) {
        for scope in scopes {
            if !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
    }
}

fn config(args: &AuthServerArgs) -> anyhow::Result<AuthorizationServerConfig> {
    let (first, others) = args
        .resources
        .split_first()
        .context("at least one --resource is required")?;
    let mut config = AuthorizationServerConfig::new(&args.issuer, first)
        .map_err(|problem| anyhow!("--resource: {problem}"))?
        .with_scopes_supported(&args.scopes)
        .with_access_token_ttl(Duration::from_secs(args.access_token_ttl_secs))
        .with_refresh_token_ttl(Duration::from_secs(args.refresh_token_ttl_secs))
        .with_signup(!args.no_signup)
        .with_registrations_per_minute(args.registrations_per_minute)
        .with_purge_interval(Duration::from_secs(args.purge_interval_secs))
        .with_key_reload_interval(Duration::from_secs(args.key_reload_interval_secs))
        .with_audit_retention(Duration::from_secs(args.audit_retention_days * 24 * 3600))
        .with_login_limits(args.login_limits.limits())
        .with_mfa(args.mfa)
        .with_tls_client_certificates(args.tls.asks_client_certificates())
        .with_client_certificate_authorities(args.tls.client_certificate_authorities()?);
    let governance = args.governance.governance(&config.supported_scopes())?;
    config = config.with_governance(governance);
    if let Some(statements) = args.governance.software_statements()? {
        config = config.with_software_statements(statements);
    }
    config = trust_local_documents(config, &args.cimd_trusted_local_documents)?;
    for resource in others {
        let resource = CanonicalResource::parse(resource).context("--resource")?;
        config = config.with_resource(resource);
    }
    if let Some(token) = &args.initial_access_token {
        config = config.with_initial_access_token(token);
    }
    config = args.upstream.apply(config)?;
    let defaults: Vec<&String> = ["mcp:read", "mcp:write"]
        .iter()
        .filter_map(|scope| args.scopes.iter().find(|supported| supported == scope))
        .collect();
    if !defaults.is_empty() {
        config = config.with_default_scopes(defaults);
    }
    Ok(config)
}

/// `config` trusting the metadata documents at `urls` on loopback http.
#[cfg(feature = "cimd")]
fn trust_local_documents(
    config: AuthorizationServerConfig,
    urls: &[String],
) -> anyhow::Result<AuthorizationServerConfig> {
    Ok(config.with_cimd_trusted_local_documents(urls.iter().cloned()))
}

/// `config`, in a build without Client ID Metadata Documents: no document may be named.
#[cfg(not(feature = "cimd"))]
fn trust_local_documents(
    config: AuthorizationServerConfig,
    urls: &[String],
) -> anyhow::Result<AuthorizationServerConfig> {
    if urls.is_empty() {
        return Ok(config);
    }
    Err(crate::left_out::needs_feature(
        "--cimd-trusted-local-document (AUTH_SERVER_CIMD_TRUSTED_LOCAL_DOCUMENTS)",
        "Client ID Metadata Documents",
        "cimd",
    ))
}

/// Runs the authorization server until Ctrl-C or SIGTERM.
pub async fn run(args: AuthServerArgs) -> anyhow::Result<()> {
    let tls = args.tls.terminator(&[("--issuer", &args.issuer)])?;
    let store = args.storage.open().await?;
    serve_all(
        vec![prepare(&args, store).await?.with_tls(tls)],
        &args.serve,
    )
    .await
}

/// Builds and binds the authorization server over `store`, and prints where it is.
pub async fn prepare(args: &AuthServerArgs, store: Arc<dyn Store>) -> anyhow::Result<Service> {
    let config = config(args)?;
    let server = AuthorizationServer::new(config, store).await?;
    let ready = server.clone();
    let counted = server.clone();
    let service = Service::bind(args.bind, server.router())
        .await?
        .with_background(server.purge_expired_periodically())
        .with_background(server.reload_keys_periodically())
        .with_readiness(move || {
            let server = ready.clone();
            Box::pin(async move { readiness(&server).await })
        })
        .with_metrics(move |registry| counted.register_metrics(registry));
    let issuer = &server.config().issuer;
    println!(
        "Authorization server listening on {} (issuer {issuer})",
        args.bind
    );
    println!("  metadata:  {issuer}/.well-known/oauth-authorization-server");
    println!("  sign in:   {issuer}/login");
    crate::federation_args::print_upstreams(server.config());
    match &args.storage.database_url {
        Some(_) => println!("  storage:   PostgreSQL (DATABASE_URL)"),
        None => println!(
            "  storage:   {}",
            args.storage.data_dir.join("mcp-oauth.db").display()
        ),
    }
    Ok(service)
}

/// Whether the authorization server can serve (see [`AuthorizationServer::readiness`]).
async fn readiness(server: &AuthorizationServer) -> Result<(), String> {
    server.readiness().await.map_err(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<AuthServerArgs, clap::Error> {
        use clap::FromArgMatches;
        let command = AuthServerArgs::augment_args(clap::Command::new("auth-server"));
        let matches = command.try_get_matches_from(
            std::iter::once("auth-server").chain(arguments.iter().copied()),
        )?;
        AuthServerArgs::from_arg_matches(&matches)
    }

    #[test]
    fn throttle_flags_set_the_login_limits_and_default_to_the_library_defaults() {
        let defaults = config(&parse(&[]).unwrap()).unwrap();
        assert_eq!(defaults.login_limits, LoginLimits::default());

        let args = parse(&[
            "--login-failures-per-account-and-ip=3",
            "--login-failures-per-account=30",
            "--login-failures-per-ip=40",
            "--login-failures-per-device=2",
            "--login-window-secs=60",
            "--device-cookie-ttl-secs=3600",
        ])
        .unwrap();
        let limits = config(&args).unwrap().login_limits;
        assert_eq!(
            limits,
            LoginLimits::default()
                .with_per_account_and_ip(3)
                .with_per_account(30)
                .with_per_ip(40)
                .with_per_device(2)
                .with_window(Duration::from_secs(60))
                .with_device_cookie_ttl(Duration::from_secs(3600))
        );
        for zero in [
            "--login-failures-per-account-and-ip=0",
            "--login-window-secs=0",
            "--device-cookie-ttl-secs=0",
        ] {
            assert!(parse(&[zero]).is_err(), "{zero}");
        }
    }
}
