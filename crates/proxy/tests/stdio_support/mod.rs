//! Shared by the stdio upstream's tests: the upstream behind the real resource-server layer
//! (tokens from a test issuer, so each request carries a verified identity), served on a
//! loopback port, a client speaking Streamable HTTP to it, and the children it runs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_oauth_proxy::stdio::{StdioUpstream, StdioUpstreamConfig};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::TestIssuer;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// `MCP-Protocol-Version` of the session revisions used here.
pub const SESSION_REVISION: &str = "2025-11-25";

/// The Python test child (tests/stdio_children/mcp_child.py) with `flags`, run by the
/// interpreter itself (a `python3` on the PATH may be a wrapper script that adds variables).
pub fn test_child(flags: &[&str]) -> StdioUpstreamConfig {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stdio_children/mcp_child.py");
    let mut args = vec![script.to_string_lossy().into_owned()];
    args.extend(flags.iter().map(|flag| (*flag).to_owned()));
    StdioUpstreamConfig::new(python(), args)
}

/// The Python interpreter's path.
fn python() -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs the test child");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The stdio upstream behind the resource-server layer, on a loopback port.
pub struct Proxy {
    pub mcp_url: String,
    pub issuer: TestIssuer,
    pub upstream: StdioUpstream,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(config: StdioUpstreamConfig) -> Self {
        let issuer = TestIssuer::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp_url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let resource_server = ResourceServer::new(
            ResourceServerConfig::new(&mcp_url)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(issuer.issuer()))
                .with_scopes_supported(["mcp:read"]),
        )
        .unwrap();
        let upstream = StdioUpstream::new(config).unwrap();
        let app = resource_server.protect(upstream.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            mcp_url,
            issuer,
            upstream,
            http: reqwest::Client::new(),
            server,
        }
    }

    /// Stops serving and drops the upstream (every clone of it).
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    /// An access token of `subject`.
    pub fn token(&self, subject: &str) -> String {
        let mut claims = self.issuer.claims(&self.mcp_url, "mcp:read");
        claims["sub"] = subject.into();
        self.issuer.sign("rsa-1", &claims)
    }

    /// A POST of `message` (MCP 2025-11-25 headers; the session when given).
    pub async fn post(
        &self,
        token: &str,
        session: Option<&str>,
        message: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(message);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", SESSION_REVISION);
        }
        request.send().await.unwrap()
    }

    /// A POST of MCP 2026-07-28 (no session; the version header).
    pub async fn post_stateless(&self, token: &str, message: &Value) -> reqwest::Response {
        self.http
            .post(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .json(message)
            .send()
            .await
            .unwrap()
    }

    /// A request without a body of `method` for `session`.
    pub async fn bare(
        &self,
        method: reqwest::Method,
        token: &str,
        session: &str,
    ) -> reqwest::Response {
        self.http
            .request(method, &self.mcp_url)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", SESSION_REVISION)
            .send()
            .await
            .unwrap()
    }

    /// Opens a session (`initialize`, then `notifications/initialized`) with `capabilities`.
    pub async fn open_session_with(&self, token: &str, capabilities: Value) -> (String, Value) {
        let response = self
            .post(
                token,
                None,
                &request(
                    0,
                    "initialize",
                    json!({
                        "protocolVersion": SESSION_REVISION,
                        "capabilities": capabilities,
                        "clientInfo": {"name": "stdio-test", "version": "1"},
                    }),
                ),
            )
            .await;
        assert_eq!(response.status(), 200, "initialize");
        let session = response
            .headers()
            .get("mcp-session-id")
            .expect("a session id")
            .to_str()
            .unwrap()
            .to_owned();
        let answer = messages(response).await.pop().unwrap();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = self.post(token, Some(&session), &initialized).await;
        assert_eq!(response.status(), 202, "notifications/initialized");
        (session, answer)
    }

    pub async fn open_session(&self, token: &str) -> String {
        self.open_session_with(token, json!({})).await.0
    }

    /// `tools/call` of `tool` in `session`: the answer (the last message).
    pub async fn call(&self, token: &str, session: &str, tool: &str, arguments: Value) -> Value {
        let response = self
            .post(token, Some(session), &call(7, tool, arguments))
            .await;
        messages(response).await.pop().expect("an answer")
    }

    /// The child's process id, asked through `session`.
    pub async fn child_pid(&self, token: &str, session: &str) -> i32 {
        let answer = self.call(token, session, "pid", json!({})).await;
        answer["result"]["structuredContent"]["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("a pid in {answer}")) as i32
    }

    /// Sends `message` in `session` from another task, without waiting for its answer.
    pub fn post_in_background(
        &self,
        token: &str,
        session: &str,
        message: Value,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let request = self
            .http
            .post(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .json(&message);
        tokio::spawn(request.send())
    }

    /// What the test child's `cancellations` tool reports once its list `list` ("slept" or
    /// "cancelled") is not empty (asked every 50 ms, up to 10 s).
    pub async fn wait_for_record(&self, token: &str, session: &str, list: &str) -> Value {
        let mut seen = Value::Null;
        for _ in 0..200 {
            let answer = self.call(token, session, "cancellations", json!({})).await;
            seen = answer["result"]["structuredContent"].clone();
            if seen[list].as_array().is_some_and(|items| !items.is_empty()) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the child never recorded a {list} request: {seen}");
    }

    /// Waits (up to 30 s) until `count` children run.
    pub async fn wait_for_children(&self, count: usize) {
        for _ in 0..300 {
            if self.upstream.children() == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} children run, not {count}", self.upstream.children());
    }
}

pub fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

pub fn call(id: u64, tool: &str, arguments: Value) -> Value {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

/// Every JSON-RPC message of a response: its JSON body, or the events of its SSE stream
/// (read to the end).
pub async fn messages(response: reqwest::Response) -> Vec<Value> {
    let is_sse = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.to_str().unwrap().starts_with("text/event-stream"));
    let body = response.text().await.unwrap();
    if !is_sse {
        return vec![serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}"))];
    }
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

/// An SSE stream read event by event.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an SSE stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message (comments skipped); `None` when the stream ends. Fails after 30 s.
    pub async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(Duration::from_secs(30), self.next_message())
            .await
            .expect("an event within 30 s")
    }

    async fn next_message(&mut self) -> Option<Value> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) {
                    return Some(serde_json::from_str(data).unwrap());
                }
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Whether process `pid` still exists.
pub fn process_exists(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// Waits (up to 30 s) until process `pid` is gone.
pub async fn wait_until_gone(pid: i32) {
    for _ in 0..300 {
        if !process_exists(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("process {pid} still runs");
}

/// The log lines of this test process (a subscriber writing to memory).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Installs the subscriber for this process (nextest runs each test in its own).
    pub fn capture() -> Self {
        let log = Self::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        log
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits (up to 30 s) until the log holds `needle`.
    pub async fn wait_for(&self, needle: &str) -> String {
        for _ in 0..300 {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the log never showed {needle:?}:\n{}", self.text());
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
