//! `mcp-oauth proxy` as an operator runs it, on a loopback port, and the MCP servers nobody
//! here wrote that it is put in front of (see crates/proxy/tests/peers_support).
#![allow(dead_code)]

#[path = "../../../proxy/tests/peers_support/mod.rs"]
pub mod peers;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use peers::free_port;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// A running `mcp-oauth proxy`, killed when dropped.
pub struct ProxyProcess {
    child: Child,
    /// Its MCP endpoint (the resource its tokens are for), `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
}

impl ProxyProcess {
    /// Starts `mcp-oauth proxy` on `port` trusting `issuer`, with `flags` (the upstream and
    /// its policy), in `work_dir` (no `.env` there) with no `MCP_*`/`COGNITO_*` variable of
    /// the caller's; returns once its Protected Resource Metadata answers. Its output goes to
    /// `log`, or nowhere.
    pub async fn start(
        port: u16,
        issuer: &str,
        flags: &[&str],
        work_dir: &Path,
        log: Option<&Path>,
    ) -> Self {
        let mcp_url = format!("http://127.0.0.1:{port}/mcp");
        let mut command = Command::new(BINARY);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("MCP_") || name.starts_with("COGNITO_") {
                command.env_remove(name);
            }
        }
        let output = || match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        let child = command
            .args([
                "proxy",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--url",
                &mcp_url,
                "--issuer",
                issuer,
            ])
            .args(flags)
            .current_dir(work_dir)
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap();
        let mut proxy = Self { child, mcp_url };
        let metadata = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(&metadata).await
                && response.status() == 200
            {
                break;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("the proxy exited ({status})");
            }
            assert!(Instant::now() < deadline, "the proxy did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        proxy
    }

    /// The proxy's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an MCP endpoint answered a POST: its status, the session id it handed out, and the
/// JSON-RPC messages of its body (a JSON body, or every `data` of an SSE stream that ended).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Mcp-Session-Id` header, if any.
    pub session: Option<String>,
    /// The JSON-RPC messages of the body.
    pub messages: Vec<serde_json::Value>,
}

impl Answer {
    /// The message answering request `id` (a failure when there is none).
    pub fn response(&self, id: u64) -> &serde_json::Value {
        self.messages
            .iter()
            .find(|message| message["id"] == id)
            .unwrap_or_else(|| panic!("no answer to request {id}: {self:?}"))
    }
}

/// POSTs `message` to the MCP endpoint `url` with `token`, in `session`, with `headers`
/// added, and reads the whole answer.
pub async fn post(
    url: &str,
    token: &str,
    session: Option<&str>,
    message: &serde_json::Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(message);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(Duration::from_secs(60), request.send())
        .await
        .expect("the MCP endpoint answers within a minute")
        .unwrap();
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|value| value.to_str().unwrap().to_owned());
    let event_stream = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    let body = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .expect("the answer ends within a minute")
        .unwrap();
    let messages = if event_stream {
        sse_data(&body)
            .iter()
            .map(|data| serde_json::from_str(data).unwrap())
            .collect()
    } else if body.trim().is_empty() {
        Vec::new()
    } else {
        vec![serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))]
    };
    Answer {
        status,
        session,
        messages,
    }
}

/// The data of each event of an SSE stream with data (the HTML Standard's "Server-sent
/// events" §9.2.6: `data` lines joined, other fields ignored).
fn sse_data(stream: &str) -> Vec<String> {
    stream
        .replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| data.strip_prefix(' ').unwrap_or(data))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// Opens an MCP session at `url` with `token` (`initialize`, then
/// `notifications/initialized`) and returns its id.
pub async fn open_session(url: &str, token: &str) -> String {
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "proxy-command-tests", "version": "0"}}});
    let answer = post(url, token, None, &initialize, &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.response(0)["result"].is_object(), "{answer:?}");
    let session = answer.session.expect("the upstream opened a session");
    let initialized = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = post(url, token, Some(&session), &initialized, &[]).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    session
}

/// A `tools/call` request of `tool` with `arguments`, as request `id`.
pub fn tool_call(id: u64, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}
