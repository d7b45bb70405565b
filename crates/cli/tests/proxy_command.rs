//! `mcp-oauth proxy` as an operator runs it, with tokens of a test issuer: a 50 MB answer of
//! an upstream served by the test streams through in bounded memory (the proxy's peak RSS,
//! read from /proc, stays far below the answer's size), and a Python MCP SDK server (see
//! crates/proxy/tests/peers_support) never sees the client's token or cookies but sees the
//! identity headers and the credential the operator configured.

mod proxy_support;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use bytes::Bytes;
use mcp_oauth_testkit::TestIssuer;
use proxy_support::{ProxyProcess, free_port, open_session, peers, tool_call};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The size of the upstream's answer.
const ANSWER_BYTES: usize = 50 * 1024 * 1024;

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
    let proxy = ProxyProcess::start(
        free_port(),
        issuer.issuer(),
        &["--upstream-url", &upstream],
        work_dir.path(),
        None,
    )
    .await;
    let mcp_url = proxy.mcp_url.clone();
    let before = peak_rss(proxy.pid());
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
    let after = peak_rss(proxy.pid());
    // Buffering the answer would need all of its 50 MB; streaming needs a few chunks.
    assert!(
        after < before + ANSWER_BYTES / 4,
        "peak RSS grew from {before} to {after} bytes while a {ANSWER_BYTES}-byte answer passed"
    );
}

#[tokio::test]
async fn the_upstream_sees_the_configured_identity_headers_but_never_the_clients_token_or_cookies()
{
    let Some(peer) = peers::python_server(free_port()).await else {
        return;
    };
    let issuer = TestIssuer::start().await;
    let work_dir = tempfile::tempdir().unwrap();
    let proxy = ProxyProcess::start(
        free_port(),
        issuer.issuer(),
        &[
            "--upstream-url",
            &peer.url,
            "--forward-subject-header",
            "X-Caller-Subject",
            "--forward-client-id-header",
            "X-Caller-Client",
            "--forward-scopes-header",
            "X-Caller-Scopes",
            "--forward-issuer-header",
            "X-Caller-Issuer",
            "--upstream-header",
            "X-Upstream-Key: the-upstreams-own-key",
        ],
        work_dir.path(),
        None,
    )
    .await;
    let mut claims = issuer.claims(&proxy.mcp_url, "mcp:read mcp:write");
    claims["sub"] = "alice".into();
    claims["client_id"] = "alices-client".into();
    let token = issuer.sign("rsa-1", &claims);
    let session = open_session(&proxy.mcp_url, &token).await;
    let answer = proxy_support::post(
        &proxy.mcp_url,
        &token,
        Some(&session),
        &tool_call(1, "request_headers", json!({})),
        &[
            ("cookie", "session=the-clients-cookie"),
            // A client cannot speak for someone else: its own copies are replaced.
            ("x-caller-subject", "mallory"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let result = &answer.response(1)["result"];
    assert_ne!(result["isError"], true, "{result}");
    let seen: Value = match &result["structuredContent"] {
        Value::Null => {
            serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap()
        }
        structured => structured.clone(),
    };
    let header = |name: &str| seen[name].clone();
    assert_eq!(header("authorization"), Value::Null, "{seen}");
    assert_eq!(header("cookie"), Value::Null, "{seen}");
    assert!(!seen.to_string().contains(&token), "{seen}");
    assert!(!seen.to_string().contains("the-clients-cookie"), "{seen}");
    assert_eq!(header("x-caller-subject"), json!(["alice"]), "{seen}");
    assert_eq!(
        header("x-caller-client"),
        json!(["alices-client"]),
        "{seen}"
    );
    assert_eq!(
        header("x-caller-scopes"),
        json!(["mcp:read mcp:write"]),
        "{seen}"
    );
    assert_eq!(
        header("x-caller-issuer"),
        json!([issuer.issuer()]),
        "{seen}"
    );
    assert_eq!(
        header("x-upstream-key"),
        json!(["the-upstreams-own-key"]),
        "{seen}"
    );
    // The MCP transport's own headers still pass.
    assert_eq!(header("mcp-session-id"), json!([session]), "{seen}");
}
