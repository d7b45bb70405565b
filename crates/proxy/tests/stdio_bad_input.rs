//! Hostile and broken requests to the stdio upstream: each gets a 4xx with a JSON-RPC error
//! body, never a 5xx, a panic or another session; and no child outlives the upstream.

mod stdio_support;

use serde_json::{Value, json};
use stdio_support::{Proxy, call, messages, test_child, wait_until_gone};

/// A POST with a raw body and chosen headers.
async fn raw_post(
    proxy: &Proxy,
    token: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(&proxy.mcp_url)
        .bearer_auth(token)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

const JSON_POST: [(&str, &str); 2] = [
    ("accept", "application/json, text/event-stream"),
    ("content-type", "application/json"),
];

#[tokio::test]
async fn malformed_messages_get_400_with_a_json_rpc_error() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let cases: [(&str, i64); 5] = [
        ("this is not json", -32700),
        ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", -32700),
        (
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]",
            -32600,
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"initialize\"}",
            -32600,
        ),
        ("{\"id\":1,\"method\":\"initialize\"}", -32600),
    ];
    for (body, code) in cases {
        let (status, answer) = raw_post(&proxy, &token, &JSON_POST, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    assert_eq!(proxy.upstream.children(), 0);
}

#[tokio::test]
async fn wrong_headers_methods_and_sizes_are_refused_before_any_child_starts() {
    let config = test_child(&[]).with_max_message_bytes(4096);
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();

    let (status, _) = raw_post(
        &proxy,
        &token,
        &[
            ("accept", "application/json"),
            ("content-type", "application/json"),
        ],
        initialize.clone(),
    )
    .await;
    assert_eq!(status, 406, "Accept must list text/event-stream too");
    let (status, _) = raw_post(
        &proxy,
        &token,
        &[
            ("accept", "application/json, text/event-stream"),
            ("content-type", "text/plain"),
        ],
        initialize.clone(),
    )
    .await;
    assert_eq!(status, 415);
    let (status, answer) = raw_post(&proxy, &token, &JSON_POST, "x".repeat(10_000)).await;
    assert_eq!(status, 413);
    assert_eq!(answer["error"]["code"], -32600);

    let response = reqwest::Client::new()
        .put(&proxy.mcp_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
    assert_eq!(proxy.upstream.children(), 0);
}

#[tokio::test]
async fn requests_without_a_known_session_get_400_or_404() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let response = proxy.post(&token, None, &call(1, "pid", json!({}))).await;
    assert_eq!(
        response.status(),
        400,
        "only initialize goes without a session"
    );
    assert_eq!(messages(response).await[0]["id"], 1);

    let response = proxy
        .post(&token, Some("no-such-session"), &call(2, "pid", json!({})))
        .await;
    assert_eq!(response.status(), 404);
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 2);
    assert_eq!(answer["error"]["code"], -32001);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = proxy.bare(method, &token, "no-such-session").await;
        assert_eq!(response.status(), 404);
    }
    let response = reqwest::Client::new()
        .get(&proxy.mcp_url)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "GET without a session id");
    assert_eq!(proxy.upstream.children(), 0);
}

#[tokio::test]
async fn a_request_reusing_a_progress_token_in_flight_is_refused() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let sleeping = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {}, "_meta": {"progressToken": "same"}}});
    let pending = proxy.post_in_background(&token, &session, sleeping);
    // Once the child has the sleeping request, the token is in use.
    proxy.wait_for_record(&token, &session, "slept").await;
    let again = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "progress", "arguments": {}, "_meta": {"progressToken": "same"}}});
    let response = proxy.post(&token, Some(&session), &again).await;
    assert_eq!(response.status(), 400);
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 2);
    assert_eq!(answer["error"]["code"], -32600);
    pending.abort();
}

#[tokio::test]
async fn no_child_outlives_the_upstream() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    proxy.stop().await;
    wait_until_gone(pid).await;
}
