//! The server under test: a release `mcp-oauth auth-server` child process pinned to CPU 0, on a
//! fresh SQLite data directory (or the PostgreSQL database given) that already holds the
//! benchmark's user.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mcp_oauth_bench_support::{ServerProcess, free_port};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::oauth::{EMAIL, PASSWORD, RESOURCE};

/// Dynamic registrations allowed per client IP per minute: far more than any run sends.
const REGISTRATIONS_PER_MINUTE: &str = "1000000000";

/// A running authorization server; it is killed, and its data directory removed, when dropped.
pub struct AuthServer {
    /// The issuer, which is also the base URL of every endpoint (`http://127.0.0.1:PORT`).
    pub base: String,
    /// Where the SQLite database lives (the server's working directory on PostgreSQL).
    pub data_dir: PathBuf,
    /// Whether the store is on PostgreSQL rather than in the SQLite file of `data_dir`.
    pub postgres: bool,
    process: ServerProcess,
    _dir: TempDir,
}

impl AuthServer {
    /// Creates a data directory under `parent` (the system's temporary directory by default),
    /// adds the benchmark's user with `mcp-oauth admin users add --password-stdin`, starts
    /// `binary auth-server` on a free loopback port under `taskset -c 0`, and waits until it
    /// accepts connections. With `database_url`, both use that database instead of a SQLite
    /// file (`--database-url`).
    pub async fn start(
        binary: &Path,
        parent: Option<&Path>,
        database_url: Option<&str>,
    ) -> Result<Self, String> {
        let dir = match parent {
            Some(parent) => tempfile::Builder::new()
                .prefix("mcp-oauth-bench-")
                .tempdir_in(parent),
            None => tempfile::Builder::new()
                .prefix("mcp-oauth-bench-")
                .tempdir(),
        }
        .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
        let data_dir = dir.path().join("data");
        let storage = Storage {
            data_dir: &data_dir,
            database_url,
        };
        add_user(binary, dir.path(), &storage).await?;

        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.path().join("server.log");
        let mut command = ServerProcess::pinned_command();
        command
            .arg(binary)
            .arg("auth-server")
            .args(["--bind", &format!("127.0.0.1:{port}"), "--issuer", &base])
            .args(["--resource", RESOURCE]);
        storage.add_to(command.as_std_mut());
        command.args(["--registrations-per-minute", REGISTRATIONS_PER_MINUTE]);
        isolate(&mut command, dir.path());
        let mut process = ServerProcess::spawn(&mut command, binary, log)?;
        process
            .wait_until_listening(port, Duration::from_secs(10))
            .await?;
        Ok(Self {
            base,
            data_dir,
            postgres: database_url.is_some(),
            process,
            _dir: dir,
        })
    }

    /// What the server wrote to stderr so far (warnings and errors only).
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// The server's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The size of the database and its write-ahead log, in bytes.
    pub fn database_bytes(&self) -> u64 {
        ["mcp-oauth.db", "mcp-oauth.db-wal"]
            .iter()
            .filter_map(|name| std::fs::metadata(self.data_dir.join(name)).ok())
            .map(|metadata| metadata.len())
            .sum()
    }
}

/// Where the server and `admin` keep the store.
struct Storage<'a> {
    data_dir: &'a Path,
    database_url: Option<&'a str>,
}

impl Storage<'_> {
    /// `--data-dir DIR`, and `--database-url URL` when given.
    fn add_to(&self, command: &mut std::process::Command) {
        command.arg("--data-dir").arg(self.data_dir);
        if let Some(url) = self.database_url {
            command.args(["--database-url", url]);
        }
    }
}

/// Only the flags configure a command: no inherited settings of the server (`MCP_*`,
/// `AUTH_SERVER_*`, `DATABASE_URL`), warnings-only logs, and a working directory without a
/// `.env` file.
fn isolate<'a>(command: &'a mut Command, directory: &Path) -> &'a mut Command {
    for (name, _) in std::env::vars() {
        if name.starts_with("MCP_") || name.starts_with("AUTH_SERVER_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "warn").current_dir(directory)
}

/// `mcp-oauth admin --data-dir DATA [--database-url URL] users add --email EMAIL
/// --password-stdin`, which also creates and migrates the database.
async fn add_user(binary: &Path, directory: &Path, storage: &Storage<'_>) -> Result<(), String> {
    let mut command = Command::new(binary);
    command.arg("admin");
    storage.add_to(command.as_std_mut());
    command.args(["users", "add", "--email", EMAIL, "--password-stdin"]);
    let mut child = isolate(&mut command, directory)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run {} admin: {error}", binary.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .await
            .map_err(|error| format!("cannot send the password to admin users add: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| format!("admin users add failed: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "admin users add failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
