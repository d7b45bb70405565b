//! The processes under test, each started with only the flags shown here (no inherited
//! `MCP_*`/`COGNITO_*` variables, no `.env`): the fast upstream (`mcp-oauth mcp-server
//! --dangerously-disable-auth`), `mcp-oauth proxy` in front of a URL or a stdio command,
//! `server-everything` over Streamable HTTP, and FastMCP's proxy.

use std::path::Path;
use std::time::Duration;

use mcp_oauth_bench_support::{ServerProcess, cpu_ticks, free_port, rss_kib};
use tokio::process::Command;

/// How long a process may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The stdio server of the 1,000-session measure (tools: none; answers everything).
pub const SH_CHILD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sh_child.sh");

/// The stdio server both proxies are put in front of for the comparison: the stdio
/// upstream's Python MCP SDK server (tool `echo`), run by a Python with the `mcp` package.
pub const PYTHON_SDK_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/proxy/tests/stdio_children/python_sdk_server.py"
);

/// FastMCP's proxy, protected by its JWT verifier (bench/proxy/fastmcp_proxy.py).
const FASTMCP_PROXY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fastmcp_proxy.py");

/// A process under test, listening on a loopback port; killed when dropped.
pub struct Listening {
    /// Its MCP endpoint, `http://127.0.0.1:PORT/mcp` (the resource its tokens name).
    pub url: String,
    process: ServerProcess,
}

impl Listening {
    /// Starts `program args…` under `taskset -c CPU` with a clean environment plus `env`,
    /// and waits until it listens on `port`.
    async fn start(
        cpu: u8,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        port: u16,
        name: &str,
    ) -> Result<Self, String> {
        let mut command = Command::new("taskset");
        command
            .args(["-c", &cpu.to_string()])
            .arg(program)
            .args(args);
        for (variable, _) in std::env::vars() {
            if variable.starts_with("MCP_") || variable.starts_with("COGNITO_") {
                command.env_remove(variable);
            }
        }
        command
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir());
        let log = std::env::temp_dir().join(format!(
            "mcp-oauth-bench-proxy-{}-{name}.log",
            std::process::id()
        ));
        let mut process = ServerProcess::spawn(&mut command, program, log)?;
        process
            .wait_until_listening(port, START_TIMEOUT)
            .await
            .map_err(|error| format!("{name}: {error}"))?;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}/mcp"),
            process,
        })
    }

    /// Resident set size in KiB (of this process alone, not its children).
    pub fn rss_kib(&self) -> Result<u64, String> {
        rss_kib(self.process.pid())
    }

    /// User plus system CPU time so far, in clock ticks (of this process alone).
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        cpu_ticks(self.process.pid())
    }

    /// What it wrote to stderr so far.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// The fast upstream: the demo MCP server without token validation, on CPU 1 (with wrk).
pub async fn demo_upstream(binary: &Path) -> Result<Listening, String> {
    let port = free_port()?;
    let args = strings(&[
        "mcp-server",
        "--dangerously-disable-auth",
        "--url",
        &format!("http://127.0.0.1:{port}/mcp"),
        "--bind",
        &format!("127.0.0.1:{port}"),
    ]);
    Listening::start(1, binary, &args, &[], port, "upstream").await
}

/// What `mcp-oauth proxy` is put in front of.
pub enum Upstream<'a> {
    /// A Streamable HTTP server.
    Url(&'a str),
    /// A stdio server: the program and its arguments.
    Command(&'a [String]),
}

/// `mcp-oauth proxy` on CPU 0 (its stdio children too) trusting `issuer`, with room for
/// `sessions` sessions of one user.
pub async fn proxy(
    binary: &Path,
    issuer: &str,
    upstream: Upstream<'_>,
    sessions: usize,
) -> Result<Listening, String> {
    let port = free_port()?;
    let room = (sessions + 100).to_string();
    let mut args = strings(&[
        "proxy",
        "--url",
        &format!("http://127.0.0.1:{port}/mcp"),
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--issuer",
        issuer,
        "--max-sessions",
        &room,
        "--max-sessions-per-user",
        &room,
    ]);
    match upstream {
        Upstream::Url(url) => args.extend(strings(&["--upstream-url", url])),
        Upstream::Command(command) => {
            args.extend(strings(&["--upstream-max-children", &room, "--"]));
            args.extend(command.iter().cloned());
        }
    }
    Listening::start(0, binary, &args, &[], port, "proxy").await
}

/// `server-everything` (the MCP TypeScript SDK's) over Streamable HTTP on CPU 1: a stateful
/// upstream that keeps every session it opens.
pub async fn everything(node: &str, server: &str) -> Result<Listening, String> {
    let port = free_port()?;
    let port_text = port.to_string();
    Listening::start(
        1,
        Path::new(node),
        &strings(&[server, "streamableHttp"]),
        &[("PORT", &port_text)],
        port,
        "server-everything",
    )
    .await
}

/// FastMCP's proxy (`FastMCP.as_proxy`) on CPU 0 in front of the stdio `command`, checking
/// tokens with its `JWTVerifier` against the issuer's JWKS.
pub async fn fastmcp(python: &Path, issuer: &str, command: &[String]) -> Result<Listening, String> {
    let port = free_port()?;
    let mut args = vec![
        FASTMCP_PROXY.to_owned(),
        port.to_string(),
        issuer.to_owned(),
        format!("{}/jwks.json", issuer.trim_end_matches('/')),
        format!("http://127.0.0.1:{port}/mcp"),
    ];
    args.extend(command.iter().cloned());
    Listening::start(0, python, &args, &[], port, "fastmcp").await
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}
