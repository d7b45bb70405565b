//! What the TLS tests share: running `mcp-oauth` commands over https with certificates made
//! by the tests, and calling an MCP tool.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mcp_oauth_testkit::TestIssuer;
use mcp_oauth_testkit::pki::{PemFiles, TestCa, https_client};
use serde_json::json;

pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mcp-oauth ARGS` with no inherited configuration of ours, its stderr in `log`.
pub fn command(args: &[&str], dir: &Path, log: &Path) -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let ours = [
            "MCP_",
            "COGNITO_",
            "AUTH_SERVER_",
            "GATEWAY_",
            "DATABASE_URL",
            "RUST_LOG",
            "AWS_",
        ];
        if ours.iter().any(|prefix| name.starts_with(prefix)) {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(log).unwrap()));
    command
}

/// A running server, killed on drop.
pub struct Server {
    pub child: Child,
    pub origin: String,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `mcp-oauth ARGS --bind 127.0.0.1:PORT` in `dir` (with `env`); returns once
    /// `/healthz` answers over https to a client trusting `ca`.
    pub async fn start(
        args: &[&str],
        port: u16,
        dir: &Path,
        env: &[(&str, &str)],
        ca: &TestCa,
    ) -> Self {
        let log = dir.join(format!("server-{port}.log"));
        let bind = format!("127.0.0.1:{port}");
        let mut all = args.to_vec();
        all.extend(["--bind", &bind]);
        let child = command(&all, dir, &log)
            .envs(env.iter().copied())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            origin: format!("https://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = https_client(&ca.cert_pem(), None);
        while http
            .get(format!("{}/healthz", server.origin))
            .send()
            .await
            .is_err()
        {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited ({status}): {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The JSON document at `path` of this server, over https trusting `ca`.
    pub async fn json(&self, ca: &TestCa, path: &str) -> serde_json::Value {
        https_client(&ca.cert_pem(), None)
            .get(format!("{}{path}", self.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 30 s) until the log holds `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "never logged {text:?}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A CA, its certificate file, and a server certificate of it, in `dir`.
pub struct Pki {
    pub ca: TestCa,
    pub ca_file: PathBuf,
    pub server: PemFiles,
}

pub fn pki(dir: &Path, name: &str) -> Pki {
    let ca = TestCa::new(&format!("{name} test CA"));
    Pki {
        ca_file: ca.write(dir, &format!("{name}-ca")),
        server: ca.server_cert().write(dir, &format!("{name}-server")),
        ca,
    }
}

pub fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `mcp-oauth mcp-server` over TLS trusting `issuer`, at `https://127.0.0.1:PORT/mcp`.
pub async fn mcp_server(issuer: &TestIssuer, dir: &Path, pki: &Pki, extra: &[&str]) -> Server {
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}/mcp");
    let mut args = vec![
        "mcp-server",
        "--url",
        &url,
        "--issuer",
        issuer.issuer(),
        "--tls-cert",
        path(&pki.server.cert),
        "--tls-key",
        path(&pki.server.key),
    ];
    args.extend_from_slice(extra);
    Server::start(&args, port, dir, &[], &pki.ca).await
}

/// A stateless 2025-11-25 `tools/call` of `list_contexts` with `token`; the status and the
/// `WWW-Authenticate` header.
pub async fn call_tool(http: &reqwest::Client, mcp_url: &str, token: &str) -> (u16, String) {
    let response = http
        .post(mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_contexts", "arguments": {}}
        }))
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

/// Waits (at most a minute) for `child` to exit.
pub fn exit_status(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
