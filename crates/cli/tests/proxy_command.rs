//! `mcp-oauth proxy` as an operator runs it, in front of an upstream served by the test, with
//! tokens of a test issuer: a 50 MB answer streams through in bounded memory (the proxy's
//! peak RSS, read from /proc, stays far below the answer's size).

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bytes::Bytes;
use mcp_oauth_testkit::TestIssuer;
use tokio::net::TcpListener;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// The size of the upstream's answer.
const ANSWER_BYTES: usize = 50 * 1024 * 1024;

/// The proxy process, killed when dropped.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An upstream whose every answer is a JSON body of [`ANSWER_BYTES`], sent in 1 MiB chunks.
async fn large_upstream() -> String {
    let answer = || async {
        let chunk = Bytes::from(vec![b' '; 1024 * 1024]);
        let chunks = ANSWER_BYTES / chunk.len();
        let stream = futures_util::stream::iter((0..chunks).map(move |index| {
            Ok::<_, Infallible>(if index == 0 {
                let mut first = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}".to_vec();
                first.resize(chunk.len(), b' ');
                Bytes::from(first)
            } else {
                chunk.clone()
            })
        }));
        (
            [("content-type", "application/json")],
            Body::from_stream(stream),
        )
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/mcp", post(answer));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/mcp")
}

/// Starts the proxy at a free port in front of `upstream`, trusting `issuer`; returns it and
/// its MCP URL once its metadata answers.
async fn start_proxy(
    issuer: &TestIssuer,
    upstream: &str,
    work_dir: &std::path::Path,
) -> (Proxy, String) {
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("MCP_") || name.starts_with("COGNITO_") {
            command.env_remove(name);
        }
    }
    let child = command
        .args([
            "proxy",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--url",
            &mcp_url,
        ])
        .args(["--issuer", issuer.issuer(), "--upstream-url", upstream])
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proxy = Proxy(child);
    let metadata = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = reqwest::get(&metadata).await
            && response.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the proxy did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (proxy, mcp_url)
}

/// The process's peak resident set size (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

#[tokio::test]
async fn a_50_mb_upstream_answer_streams_through_in_bounded_memory() {
    let issuer = TestIssuer::start().await;
    let upstream = large_upstream().await;
    let work_dir = tempfile::tempdir().unwrap();
    let (proxy, mcp_url) = start_proxy(&issuer, &upstream, work_dir.path()).await;
    let before = peak_rss(proxy.0.id());
    let mut response = reqwest::Client::new()
        .post(&mcp_url)
        .bearer_auth(issuer.access_token(&mcp_url, "mcp:read mcp:write"))
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "big"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut received = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, ANSWER_BYTES);
    let after = peak_rss(proxy.0.id());
    // Buffering the answer would need all of its 50 MB; streaming needs a few chunks.
    assert!(
        after < before + ANSWER_BYTES / 4,
        "peak RSS grew from {before} to {after} bytes while a {ANSWER_BYTES}-byte answer passed"
    );
}
