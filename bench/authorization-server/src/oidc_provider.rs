//! node-oidc-provider beside the server under test (`--oidc-provider`): the `oidc-provider`
//! package that `scripts/services/oidc-provider.sh` installs for the federation tests, started
//! from `oidc-provider/provider.mjs` pinned to CPU 0 like the server, with its refresh tokens.

use std::path::PathBuf;
use std::time::Duration;

use mcp_oauth_bench_support::{ServerProcess, free_port};
use tempfile::TempDir;

/// The provider's script, copied beside the installed `node_modules` to run.
const SCRIPT: &str = include_str!("../oidc-provider/provider.mjs");

/// Its public client, allowed refresh tokens.
pub const CLIENT_ID: &str = "bench";

/// A running node-oidc-provider; killed when dropped.
pub struct OidcProvider {
    /// The issuer and base URL (`http://127.0.0.1:PORT`).
    pub base: String,
    /// One refresh token per connection, each the start of a refresh chain.
    pub refresh_tokens: Vec<String>,
    process: ServerProcess,
    _dir: TempDir,
}

impl OidcProvider {
    /// Starts the provider (Node 22 and the package from the cache, `MCP_OAUTH_CACHE` or
    /// `~/.cache/mcp-oauth`) with `tokens` refresh tokens, and waits until it listens.
    pub async fn start(tokens: usize) -> Result<Self, String> {
        let cache = std::env::var_os("MCP_OAUTH_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/mcp-oauth"))
            })
            .ok_or("neither MCP_OAUTH_CACHE nor HOME is set")?;
        let node = cache.join("node22/node_modules/.bin/node");
        let install = cache.join("oidc-provider");
        if !node.exists() || !install.join("node_modules/oidc-provider").exists() {
            return Err(format!(
                "--oidc-provider needs Node 22 and oidc-provider in {}: run `source \
                 scripts/services/node.sh; source scripts/services/oidc-provider.sh; \
                 node_install; oidc_provider_install`",
                cache.display()
            ));
        }
        let script = install.join("bench-provider.mjs");
        std::fs::write(&script, SCRIPT)
            .map_err(|error| format!("cannot write {}: {error}", script.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("mcp-oauth-bench-oidc-")
            .tempdir()
            .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
        let tokens_file = dir.path().join("tokens");
        let port = free_port()?;
        let mut command = ServerProcess::pinned_command();
        command
            .arg(&node)
            .arg(&script)
            .current_dir(&install)
            .env("PORT", port.to_string())
            .env("TOKENS", tokens.to_string())
            .env("TOKENS_FILE", &tokens_file);
        let mut process = ServerProcess::spawn(&mut command, &node, dir.path().join("log"))?;
        process
            .wait_until_listening(port, Duration::from_secs(30))
            .await?;
        let refresh_tokens: Vec<String> = std::fs::read_to_string(&tokens_file)
            .map_err(|error| format!("cannot read the provider's refresh tokens: {error}"))?
            .lines()
            .map(str::to_owned)
            .collect();
        if refresh_tokens.len() != tokens {
            return Err("the provider wrote the wrong number of refresh tokens".to_owned());
        }
        Ok(Self {
            base: format!("http://127.0.0.1:{port}"),
            refresh_tokens,
            process,
            _dir: dir,
        })
    }

    /// The provider's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
