//! The stdio upstream for clients of MCP 2026-07-28 (no sessions), against real child
//! processes (the Python test child of tests/stdio_children/): one child per principal,
//! initialized by the bridge, requests cancelled when their stream closes.

mod stdio_support;

use std::time::Duration;

use mcp_oauth_proxy::stdio::StdioUpstream;
use serde_json::{Value, json};
use stdio_support::{Proxy, messages, test_child, wait_until_gone};

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": {}, "_meta": meta()}})
}

async fn pid_of(proxy: &Proxy, user: &str) -> i64 {
    let response = proxy
        .post_stateless(&proxy.token(user), &call(1, "pid"))
        .await;
    assert_eq!(response.status(), 200);
    let answer = messages(response).await.pop().unwrap();
    answer["result"]["structuredContent"]["pid"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn each_principal_has_one_child_for_all_its_requests() {
    let proxy = Proxy::start(test_child(&[])).await;
    let alice = pid_of(&proxy, "alice").await;
    let bob = pid_of(&proxy, "bob").await;
    assert_ne!(alice, bob);
    assert_eq!(pid_of(&proxy, "alice").await, alice);
    assert_eq!(pid_of(&proxy, "bob").await, bob);
    assert_eq!(proxy.upstream.children(), 2);
}

#[tokio::test]
async fn closing_the_response_stream_cancels_the_request_in_the_child() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    // The client gives up on a request that is never answered.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(500),
        proxy.post_stateless(&token, &call(5, "sleep")),
    )
    .await;
    assert!(gave_up.is_err());
    let mut seen = Value::Null;
    for _ in 0..100 {
        let response = proxy
            .post_stateless(&token, &call(6, "cancellations"))
            .await;
        seen = messages(response).await.pop().unwrap()["result"]["structuredContent"].clone();
        if !seen["cancelled"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["cancelled"], seen["slept"], "{seen}");
    assert_eq!(seen["cancelled"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_crashed_principal_child_is_replaced_on_the_next_request() {
    let proxy = Proxy::start(test_child(&[])).await;
    let first = pid_of(&proxy, "alice").await;
    let response = proxy
        .post_stateless(&proxy.token("alice"), &call(2, "crash"))
        .await;
    assert_eq!(response.status(), 502);
    assert_eq!(messages(response).await[0]["id"], 2);
    wait_until_gone(first as i32).await;
    proxy.wait_for_children(0).await;
    let second = pid_of(&proxy, "alice").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_new_principal_beyond_the_bound_gets_503() {
    let proxy = Proxy::start(test_child(&[]).with_max_children(1)).await;
    pid_of(&proxy, "alice").await;
    let response = proxy
        .post_stateless(&proxy.token("bob"), &call(3, "pid"))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    // Alice's child still serves her.
    pid_of(&proxy, "alice").await;
}

#[tokio::test]
async fn session_mechanics_and_other_versions_are_refused() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let http = reqwest::Client::new();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = http
            .request(method, &proxy.mcp_url)
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
    }
    let response = http
        .post(&proxy.mcp_url)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2099-01-01")
        .json(&call(4, "pid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 4);
    assert_eq!(answer["error"]["code"], -32022);
    assert_eq!(answer["error"]["data"]["supported"][0], "2026-07-28");

    let response_message = json!({"jsonrpc": "2.0", "id": 9, "result": {}});
    let response = proxy.post_stateless(&token, &response_message).await;
    assert_eq!(response.status(), 400);
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/anything"});
    let response = proxy.post_stateless(&token, &notification).await;
    assert_eq!(response.status(), 202);
    assert_eq!(proxy.upstream.children(), 0, "nothing started a child");
}

#[tokio::test]
async fn a_start_abandoned_by_one_request_leaves_the_principals_child_to_the_next() {
    use tower::ServiceExt;
    // The service itself, without the bearer layer: every request is the anonymous principal.
    let upstream = StdioUpstream::new(test_child(&["--slow-start"])).unwrap();
    let post = || {
        http::Request::post("/mcp")
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .body(axum::body::Body::from(call(1, "pid").to_string()))
            .unwrap()
    };
    let pid = |response: http::Response<axum::body::Body>| async move {
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&body).unwrap();
        answer["result"]["structuredContent"]["pid"]
            .as_i64()
            .unwrap()
    };
    // A starts the child (which takes 3 s to initialize) and gives up; B waits for it.
    let abandoned = tokio::spawn(tokio::time::timeout(
        Duration::from_millis(500),
        upstream.clone().oneshot(post()),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = tokio::spawn(upstream.clone().oneshot(post()));
    assert!(abandoned.await.unwrap().is_err());
    let first = pid(waiting.await.unwrap().unwrap()).await;
    // The abandoned child is stopped (and reaped: its end has been handled); the one B got
    // serves the principal from now on.
    for _ in 0..300 {
        if upstream.children() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = pid(upstream.clone().oneshot(post()).await.unwrap()).await;
    assert_eq!(again, first);
    assert_eq!(upstream.children(), 1);
}
