//! `mcp-oauth dev`: the local stack in one process: the authorization server on :9000, the
//! protected MCP server on :3001 and the three demo web clients on :3000, :3002 and :3003,
//! a demo user, and what to do next. With `--env-dir`, the AWS Cognito mode's local side
//! instead, from the files `mcp-oauth deploy` wrote (see `env_dir`).

mod env_dir;
mod env_file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::{Args, FromArgMatches};
use mcp_oauth_authorization_server::{Admin, ClientSecret, MfaPolicy, StaticClient};
use mcp_oauth_core::CanonicalResource;
#[cfg(feature = "cimd")]
use mcp_oauth_demo::web::Credentials;
use mcp_oauth_private_files as private_files;
#[cfg(feature = "cimd")]
use url::Url;

use crate::auth_server::{self, AuthServerArgs};
use crate::federation_args::UpstreamArgs;
use crate::governance_args::GovernanceArgs;
use crate::mcp_server::{self, McpServerArgs};
use crate::runtime::{ServeArgs, serve_all};
use crate::upstream_args::McpUpstreamArgs;
#[cfg(feature = "cimd")]
use crate::web_client::CimdClientListen;
use crate::web_client::{self, AutoClientListen, ClientListen, IssuerArg, Listen, McpTarget};

/// The file in the data directory that keeps the demo user's password.
const DEMO_PASSWORD_FILE: &str = "demo-user.txt";

/// The file in the data directory that keeps the pre-registered client's id and secret.
const DEMO_CLIENT_FILE: &str = "demo-client.txt";

/// The `client_id` of the pre-registered client `dev` creates for `mcp-oauth client`.
const DEMO_CLIENT_ID: &str = "mcp-oauth-demo-client";

/// The `client_id` the MCP server introspects tokens with (to learn of revocations).
const MCP_SERVER_CLIENT_ID: &str = "mcp-oauth-mcp-server";

/// The file in the data directory that keeps the MCP server's client id and secret.
const MCP_SERVER_CLIENT_FILE: &str = "mcp-server-client.txt";

/// How often the MCP server asks again whether a token was revoked, unless
/// MCP_REVOCATION_CHECK_SECS says otherwise.
const REVOCATION_CHECK_SECS: u64 = 30;

/// Flags of `mcp-oauth dev`. Every server's other settings come from its environment
/// variables, the same ones its own command reads (see `mcp-oauth auth-server --help`,
/// `mcp-oauth mcp-server --help`, `mcp-oauth client --help`, `mcp-oauth auto-client --help`,
/// `mcp-oauth cimd-client --help`): for example `AUTH_SERVER_BIND` and `AUTH_SERVER_ISSUER`,
/// `MCP_SERVER_BIND` and `MCP_SERVER_URL`, `CLIENT_BIND` and `CLIENT_URL`, `AUTO_CLIENT_BIND`
/// and `AUTO_CLIENT_URL`, `CIMD_CLIENT_BIND` and `CIMD_CLIENT_URL`.
///
/// So that the CIMD client on loopback `http` works, the authorization server runs with
/// `--cimd-trusted-local-document` naming that client's metadata document URL, and only it:
/// every other metadata document must still be https on a public address. A build without
/// the `cimd` feature (whose authorization server takes no metadata documents) runs no CIMD
/// client.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Directory of the local database (users, clients, keys, tokens), the demo user's
    /// password, the pre-registered client's secret and the auto-client's registration: this
    /// user's alone (0700, files 0600; looser modes of this user's are tightened, another
    /// user's directory or one others may write to is refused). `MCP_OAUTH_INIT_EMPTY_DATABASE`
    /// and `MCP_OAUTH_KEY_ENCRYPTION_KEY[_FILE]` apply as for `mcp-oauth auth-server`.
    #[arg(long, env = "MCP_OAUTH_DATA_DIR", default_value = "mcp-oauth-data")]
    data_dir: PathBuf,

    /// E-mail of the demo user created on first start.
    #[arg(long, env = "MCP_OAUTH_DEMO_EMAIL", default_value = "demo@example.com")]
    demo_email: String,

    /// Days the audit trail keeps a security event (`mcp-oauth admin audit --data-dir <data
    /// dir>` shows them), as for `mcp-oauth auth-server`.
    #[arg(
        long,
        env = "AUTH_SERVER_AUDIT_RETENTION_DAYS",
        default_value_t = auth_server::DEFAULT_AUDIT_RETENTION_DAYS,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    audit_retention_days: u64,

    /// Two-step verification of local sign-ins (TOTP), as for `mcp-oauth auth-server`.
    #[arg(long, env = "AUTH_SERVER_MFA", default_value_t = MfaPolicy::Optional, value_name = "off|optional|required")]
    mfa: MfaPolicy,

    /// Federated sign-in at upstream OpenID providers, as for `mcp-oauth auth-server`.
    #[command(flatten)]
    upstream: UpstreamArgs,

    /// Registration governance of the authorization server, as for `mcp-oauth auth-server`
    /// (e.g. --registration-approval: the auto-client and the CIMD client then wait for
    /// `mcp-oauth admin clients approve`).
    #[command(flatten)]
    governance: GovernanceArgs,

    /// Your own MCP server in place of the demo tools, behind the same sign-in: its URL
    /// (--upstream-url) or its stdio command (--upstream-command, or after `--`), with the
    /// policy flags of `mcp-oauth proxy`.
    #[command(flatten)]
    mcp_upstream: McpUpstreamArgs,

    /// Run the AWS Cognito mode from the directory `mcp-oauth deploy` wrote (its `--env-dir`)
    /// instead of the local stack: `mcp-oauth gateway` with `gateway/.env` and the three demo
    /// clients with `client/.env`, `auto-client/.env` and `cimd-client/.env` (for a
    /// `deploy --serverless` directory only the clients: the gateway runs on AWS Lambda). The
    /// files' values win over the environment, which still gives what they leave out (AWS
    /// credentials, say). Of this command's other flags only --data-dir (where the
    /// auto-client keeps its registration) and the connection limits apply.
    #[arg(long, env = "MCP_OAUTH_ENV_DIR")]
    env_dir: Option<PathBuf>,

    /// Also start a second authorization server, to try an MCP server that trusts several
    /// (RFC 9728 `authorization_servers`): its own users, clients and keys in
    /// `<data dir>/second-authorization-server` (the demo user is created there too), the
    /// other settings as the first's. The MCP server trusts and lists both; the demo clients
    /// then ask which to sign in at, and `mcp-oauth call --authorization-server` chooses.
    #[arg(long, env = "MCP_OAUTH_SECOND_AUTHORIZATION_SERVER")]
    second_authorization_server: bool,

    /// Issuer (public URL) of the second authorization server.
    #[arg(
        long,
        env = "SECOND_AUTH_SERVER_ISSUER",
        default_value = "http://localhost:9001"
    )]
    second_issuer: String,

    /// Address and port the second authorization server listens on.
    #[arg(
        long,
        env = "SECOND_AUTH_SERVER_BIND",
        default_value = "127.0.0.1:9001"
    )]
    second_bind: SocketAddr,

    /// Connection limits (slow clients, idle connections, floods).
    #[command(flatten)]
    serve: ServeArgs,
}

/// The directory (inside the data directory) of the second authorization server's database.
const SECOND_SERVER_DIR: &str = "second-authorization-server";

/// A command's flags from `arguments` (environment variables and `.env` apply to the rest).
fn parse<T: Args + FromArgMatches>(arguments: &[&str]) -> anyhow::Result<T> {
    let command = T::augment_args(clap::Command::new("dev"));
    let matches =
        command.try_get_matches_from(std::iter::once("dev").chain(arguments.iter().copied()))?;
    Ok(T::from_arg_matches(&matches)?)
}

/// A command's flags at their defaults (environment variables and `.env` still apply).
fn defaults<T: Args + FromArgMatches>() -> anyhow::Result<T> {
    parse(&[])
}

/// Runs the local stack until Ctrl-C.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.env_dir {
        return env_dir::run(dir, &args.data_dir, &args.serve).await;
    }
    private_files::secure_dir(
        &args.data_dir,
        &[
            DEMO_PASSWORD_FILE,
            DEMO_CLIENT_FILE,
            MCP_SERVER_CLIENT_FILE,
            web_client::AUTO_CLIENT_REGISTRATION_FILE,
        ],
    )?;
    #[cfg(feature = "cimd")]
    let cimd_client: CimdClientListen = defaults()?;
    let mut auth: AuthServerArgs = defaults()?;
    auth.storage.data_dir = args.data_dir.clone();
    auth.audit_retention_days = args.audit_retention_days;
    auth.mfa = args.mfa;
    auth.upstream = args.upstream.clone();
    auth.governance = args.governance.clone();
    #[cfg(feature = "cimd")]
    auth.cimd_trusted_local_documents
        .push(metadata_document_url(cimd_client.url()));
    let mut mcp: McpServerArgs = defaults()?;
    let issuer: IssuerArg = defaults()?;
    let target: McpTarget = defaults()?;
    let client: ClientListen = defaults()?;
    let auto_client: AutoClientListen = defaults()?;
    let store = auth.storage.open().await?;
    let admin = Admin::new(store.clone());
    let demo_password = ensure_demo_user(&admin, &args.data_dir, &args.demo_email, None).await?;
    let redirect_uri = client.url().join("callback").context("CLIENT_URL")?;
    let demo_client = StaticClient::new(DEMO_CLIENT_ID, "mcp-oauth demo client (pre-registered)")
        .with_redirect_uris([redirect_uri.as_str()]);
    let secret =
        ensure_static_client(&admin, &args.data_dir, DEMO_CLIENT_FILE, &demo_client).await?;
    let mcp_resource = CanonicalResource::parse(mcp.resource_url()).context("MCP_SERVER_URL")?;
    let mcp_server_client = StaticClient::new(MCP_SERVER_CLIENT_ID, "mcp-oauth demo MCP server")
        .with_introspection_resources([mcp_resource]);
    let mcp_server_secret = ensure_static_client(
        &admin,
        &args.data_dir,
        MCP_SERVER_CLIENT_FILE,
        &mcp_server_client,
    )
    .await?;
    let revocation_check_secs = mcp.check_revocations(
        &format!("{}/introspect", issuer.issuer.trim_end_matches('/')),
        MCP_SERVER_CLIENT_ID,
        mcp_server_secret.expose(),
        REVOCATION_CHECK_SECS,
    );
    let upstream = args.mcp_upstream.target()?;
    if upstream.is_some() {
        // A scope the proxy's rules ask for must be one clients can get from this server.
        auth.support_scopes(args.mcp_upstream.scope_rules()?.scopes());
    }
    let second = if args.second_authorization_server {
        let dir = args.data_dir.join(SECOND_SERVER_DIR);
        private_files::secure_dir(&dir, &[DEMO_PASSWORD_FILE])?;
        let second = auth.second(&args.second_issuer, args.second_bind, &dir);
        let store = second.storage.open().await?;
        let password = demo_password.as_deref();
        ensure_demo_user(&Admin::new(store.clone()), &dir, &args.demo_email, password).await?;
        mcp.trust_issuer(second.issuer());
        Some((second, store))
    } else {
        None
    };
    let mut services = vec![
        auth_server::prepare(&auth, store).await?,
        match upstream {
            Some(upstream) => mcp.prepare_proxy(&args.mcp_upstream, &upstream).await?,
            None => mcp_server::prepare(&mcp).await?,
        },
        web_client::prepare(
            &client,
            &target,
            web_client::pre_registered(&issuer.issuer, DEMO_CLIENT_ID, secret.expose()),
        )
        .await?,
        web_client::prepare(&auto_client, &target, web_client::dynamic(&args.data_dir)).await?,
    ];
    #[cfg(feature = "cimd")]
    services.push(web_client::prepare(&cimd_client, &target, Credentials::MetadataDocument).await?);
    if let Some((second, store)) = &second {
        let second = auth_server::prepare(second, store.clone()).await?;
        services.push(second.with_metrics_label("authorization_server", "second"));
    }
    let signup = format!("{}/signup", issuer.issuer.trim_end_matches('/'));
    println!();
    println!("The local stack is running. Next:");
    println!("  1. Open a demo client and press \"Log in\":");
    println!(
        "       {}  pre-registered confidential client ({DEMO_CLIENT_ID})",
        client.url()
    );
    println!(
        "       {}  discovers everything and registers itself (Dynamic Client Registration)",
        auto_client.url()
    );
    #[cfg(feature = "cimd")]
    println!(
        "       {}  uses its Client ID Metadata Document as client_id",
        cimd_client.url()
    );
    #[cfg(not(feature = "cimd"))]
    println!(
        "       (no Client ID Metadata Document client: this build leaves CIMD out; the `cimd` \
         feature, a default one, has it)"
    );
    if !auth.upstream.issuers.is_empty() {
        println!(
            "  2. Sign in at your identity provider ({})",
            auth.upstream.issuers.join(", ")
        );
    } else {
        match demo_password {
            Some(password) => println!("  2. Sign in as {} / {password}", args.demo_email),
            None => println!(
                "  2. Sign in as {} (password set when it was created; see {})",
                args.demo_email,
                args.data_dir.join(DEMO_PASSWORD_FILE).display()
            ),
        }
        if auth.signup_allowed() {
            println!("     or create an account at {signup}");
        }
        match auth.mfa {
            MfaPolicy::Required => println!(
                "     Two-step verification is required (--mfa required): the first sign-in sets \
                 it up with an authenticator app"
            ),
            MfaPolicy::Optional => println!(
                "     Two-step verification (an authenticator app) can be set up at {}/",
                issuer.issuer.trim_end_matches('/')
            ),
            _ => {}
        }
    }
    if let Some((second, _)) = &second {
        println!(
            "     The MCP server also trusts a second authorization server, {}: the demo \
             clients ask where to sign in (the same demo user there; its data in {})",
            second.issuer(),
            args.data_dir.join(SECOND_SERVER_DIR).display()
        );
    }
    println!("  3. Allow access, then press \"Fetch MCP Data\": the tools and the whoami result");
    println!(
        "  - A token revoked at the authorization server (\"Log out\") is refused by the MCP \
         server within {revocation_check_secs} s (MCP_REVOCATION_CHECK_SECS)"
    );
    println!(
        "  - Any MCP client can use {}: it discovers the authorization server,",
        target.mcp_url
    );
    println!("    registers itself and sends you to sign in");
    println!(
        "  - Ctrl-C stops everything; data stays in {}",
        args.data_dir.display()
    );
    serve_all(services, &args.serve).await
}

/// Registers `client` on first start, keeping its secret in `file` in the data directory
/// (readable by the owner only), and again when its registration changed (a redirect URI or
/// resource moved by the environment) or its secret file is gone; returns its secret.
async fn ensure_static_client(
    admin: &Admin,
    data_dir: &Path,
    file: &str,
    client: &StaticClient,
) -> anyhow::Result<ClientSecret> {
    let secret_file = data_dir.join(file);
    let kept = std::fs::read_to_string(&secret_file)
        .ok()
        .and_then(|text| text.lines().nth(1).map(ClientSecret::from_presented));
    let ensured = admin
        .ensure_static_client(client, kept)
        .await
        .with_context(|| format!("cannot register the client {}", client.client_id))?;
    let secret = ensured
        .secret
        .ok_or_else(|| anyhow!("{} is a public client", client.client_id))?;
    if ensured.registered_now {
        private_files::write_private_file(
            &secret_file,
            format!("{}\n{}\n", client.client_id, secret.expose()).as_bytes(),
        )
        .with_context(|| format!("cannot write {}", secret_file.display()))?;
    }
    Ok(secret)
}

/// The `client_id` of the CIMD client served at `base`: its metadata document's URL, as the
/// demo client builds it.
#[cfg(feature = "cimd")]
fn metadata_document_url(base: &Url) -> String {
    format!(
        "{}/client-metadata.json",
        base.as_str().trim_end_matches('/')
    )
}

/// Creates the demo user on first start, with `password` or a random one, keeping its
/// password in the data directory (readable by the owner only); returns the password when it
/// is known.
async fn ensure_demo_user(
    admin: &Admin,
    data_dir: &Path,
    email: &str,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let password_file = data_dir.join(DEMO_PASSWORD_FILE);
    let existing = admin.find_user(email).await?;
    if existing.is_some() {
        return Ok(std::fs::read_to_string(&password_file)
            .ok()
            .and_then(|text| text.lines().nth(1).map(str::to_owned)));
    }
    let password = password.map_or_else(
        || mcp_oauth_core::random_token()[..20].to_owned(),
        str::to_owned,
    );
    admin
        .add_user(email, &password)
        .await
        .context("cannot create the demo user")?;
    private_files::write_private_file(&password_file, format!("{email}\n{password}\n").as_bytes())
        .with_context(|| format!("cannot write {}", password_file.display()))?;
    Ok(Some(password))
}
