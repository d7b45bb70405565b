//! `mcp-oauth dev`: the local stack in one process: the authorization server on :9000 and the
//! protected MCP server on :3001, a demo user, and what to do next.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, FromArgMatches};
use mcp_oauth_authorization_server::create_user;
use mcp_oauth_authorization_server::secrets::Secret;
use mcp_oauth_authorization_server::store::Store;

use crate::auth_server::{self, AuthServerArgs};
use crate::mcp_server::{self, McpServerArgs};
use crate::runtime::serve_all;

/// The file in the data directory that keeps the demo user's password.
const DEMO_PASSWORD_FILE: &str = "demo-user.txt";

/// Flags of `mcp-oauth dev`. The servers' other settings come from their environment
/// variables (see `mcp-oauth auth-server --help` and `mcp-oauth mcp-server --help`).
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Directory of the local database (users, clients, keys, tokens).
    #[arg(long, env = "MCP_OAUTH_DATA_DIR", default_value = "mcp-oauth-data")]
    data_dir: PathBuf,

    /// E-mail of the demo user created on first start.
    #[arg(long, env = "MCP_OAUTH_DEMO_EMAIL", default_value = "demo@example.com")]
    demo_email: String,
}

/// A command's flags at their defaults (environment variables and `.env` still apply).
fn defaults<T: Args + FromArgMatches>() -> Result<T, String> {
    let command = T::augment_args(clap::Command::new("dev"));
    let matches = command
        .try_get_matches_from(["dev"])
        .map_err(|error| error.to_string())?;
    T::from_arg_matches(&matches).map_err(|error| error.to_string())
}

/// Runs the local stack until Ctrl-C.
pub async fn run(args: DevArgs) -> Result<(), String> {
    let mut auth: AuthServerArgs = defaults()?;
    auth.storage.data_dir = args.data_dir.clone();
    let mcp: McpServerArgs = defaults()?;
    let store = auth.storage.open().await?;
    let demo_password = ensure_demo_user(store.as_ref(), &args.data_dir, &args.demo_email).await?;
    let services = vec![
        auth_server::prepare(&auth, store).await?,
        mcp_server::prepare(&mcp).await?,
    ];
    println!();
    println!("The local stack is running. Next:");
    match demo_password {
        Some(password) => println!(
            "  - sign in at http://localhost:9000/login as {} / {password}",
            args.demo_email
        ),
        None => println!(
            "  - sign in at http://localhost:9000/login as {} (password set when it was created)",
            args.demo_email
        ),
    }
    println!("    or create an account at http://localhost:9000/signup");
    println!(
        "  - point an MCP client at http://localhost:3001/mcp: it discovers the authorization server,"
    );
    println!("    registers itself and sends you to sign in");
    println!(
        "  - Ctrl-C stops everything; data stays in {}",
        args.data_dir.display()
    );
    serve_all(services).await
}

/// Creates the demo user on first start, keeping its password in the data directory
/// (readable by the owner only); returns the password when it is known.
async fn ensure_demo_user(
    store: &dyn Store,
    data_dir: &Path,
    email: &str,
) -> Result<Option<String>, String> {
    let password_file = data_dir.join(DEMO_PASSWORD_FILE);
    let existing = store
        .find_user_by_email(&email.trim().to_lowercase())
        .await
        .map_err(|error| error.to_string())?;
    if existing.is_some() {
        return Ok(std::fs::read_to_string(&password_file)
            .ok()
            .and_then(|text| text.lines().nth(1).map(str::to_owned)));
    }
    let password = Secret::generate().expose()[..20].to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    create_user(store, email, &password, now)
        .await
        .map_err(|error| format!("cannot create the demo user: {error}"))?;
    write_owner_only(&password_file, &format!("{email}\n{password}\n"))
        .map_err(|error| format!("cannot write {}: {error}", password_file.display()))?;
    Ok(Some(password))
}

fn write_owner_only(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}
