//! What the tests of `mcp-oauth doctor` share: the command run with a clean environment, its
//! JSON report read back, and this project's servers started as a user starts them (`dev`,
//! `auth-server`, `mcp-server`), each killed when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mcp-oauth ARGS` with no variable of the caller's that a command reads (`MCP_*`,
/// `AUTH_SERVER_*`, `COGNITO_*`, `AWS_*`, …), run in `dir` (no `.env` there).
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if [
            "MCP_",
            "AUTH_SERVER_",
            "COGNITO_",
            "AWS_",
            "GATEWAY_",
            "CLIENT_",
            "AUTO_CLIENT_",
            "CIMD_CLIENT_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// Runs `mcp-oauth doctor ARGS` to its end (at most two minutes).
pub fn doctor(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["doctor"];
    all.extend(args);
    let mut child = command(dir.path(), &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("doctor {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON report of a `doctor --json` run, after checking its exit status: 0 when `ok`,
/// 1 when a step failed; never a panic.
#[track_caller]
pub fn report(output: &Output) -> Value {
    let text = stdout(output);
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{error}: stdout:\n{text}\nstderr:\n{}", stderr(output)));
    let expected = if report["ok"] == true { 0 } else { 1 };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{report:#}\n{}",
        stderr(output)
    );
    assert!(!stderr(output).contains("panicked"), "{}", stderr(output));
    report
}

/// The steps of `report` with id `id`.
pub fn steps<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["id"] == id)
        .collect()
}

/// The statuses of the steps with id `id`, in order.
pub fn statuses(report: &Value, id: &str) -> Vec<String> {
    steps(report, id)
        .iter()
        .map(|step| step["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The one failed step with id `id` (a failure of the test when there is none).
#[track_caller]
pub fn failed<'a>(report: &'a Value, id: &str) -> &'a Value {
    steps(report, id)
        .into_iter()
        .find(|step| step["status"] == "fail")
        .unwrap_or_else(|| panic!("no failed {id} step in {report:#}"))
}

/// The ids of the steps that failed.
pub fn failures(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] == "fail")
        .map(|step| format!("{}: {}", step["id"], step["detail"]))
        .collect()
}

/// A server process, killed on drop.
pub struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `mcp-oauth ARGS` with `env` in a directory of its own and waits until `ready`
    /// answers (any HTTP status).
    pub async fn start(args: &[&str], env: &[(&str, String)], ready: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let child = command(dir.path(), args)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Self { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(ready).await.is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("mcp-oauth {args:?} exited ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "mcp-oauth {args:?} did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }
}

/// `mcp-oauth auth-server` on a free port (issuer `http://127.0.0.1:PORT`) issuing tokens
/// for `resource`, with `extra` flags.
pub async fn auth_server(resource: &str, extra: &[&str]) -> (Server, String) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec![
        "auth-server",
        "--bind",
        &bind,
        "--issuer",
        &issuer,
        "--resource",
        resource,
        "--data-dir",
        "data",
    ];
    args.extend(extra);
    let ready = format!("{issuer}/.well-known/oauth-authorization-server");
    (Server::start(&args, &[], &ready).await, issuer)
}

/// `mcp-oauth mcp-server` listening on `port`, with `flags` (its URL and issuers).
pub async fn mcp_server(port: u16, flags: &[&str]) -> Server {
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["mcp-server", "--bind", &bind];
    args.extend(flags);
    let ready = format!("http://127.0.0.1:{port}/healthz");
    Server::start(&args, &[], &ready).await
}

/// `mcp-oauth dev` on free ports, with `env` added; returns it and its MCP URL.
pub async fn dev(env: &[(&str, String)]) -> (Server, String) {
    let [auth, mcp, client, auto, cimd] = [(); 5].map(|()| free_port());
    let issuer = format!("http://127.0.0.1:{auth}");
    let mcp_url = format!("http://127.0.0.1:{mcp}/mcp");
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let bind = |port: u16| format!("127.0.0.1:{port}");
    let mut all = vec![
        ("AUTH_SERVER_BIND", bind(auth)),
        ("AUTH_SERVER_ISSUER", issuer.clone()),
        ("AUTH_SERVER_RESOURCES", mcp_url.clone()),
        ("MCP_SERVER_BIND", bind(mcp)),
        ("MCP_SERVER_URL", mcp_url.clone()),
        ("MCP_ISSUERS", issuer),
        ("CLIENT_BIND", bind(client)),
        ("CLIENT_URL", url(client)),
        ("AUTO_CLIENT_BIND", bind(auto)),
        ("AUTO_CLIENT_URL", url(auto)),
        ("CIMD_CLIENT_BIND", bind(cimd)),
        ("CIMD_CLIENT_URL", url(cimd)),
    ];
    all.extend(env.iter().cloned());
    let ready = format!("http://127.0.0.1:{mcp}/healthz");
    let server = Server::start(&["dev", "--data-dir", "data"], &all, &ready).await;
    // The MCP server answers first; the authorization server may still be starting.
    let metadata = format!("http://127.0.0.1:{auth}/.well-known/oauth-authorization-server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(&metadata).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "dev's authorization server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, mcp_url)
}
