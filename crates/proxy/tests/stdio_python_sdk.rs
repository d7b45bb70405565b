//! The stdio upstream in front of a server written with the Python MCP SDK (PyPI `mcp`,
//! its MCPServer/FastMCP API), in stdio mode: tests/stdio_children/python_sdk_server.py run by
//! the Python of `MCP_OAUTH_PYTHON_MCP` (the venv scripts/services/proxy-peers.sh installs).
//! Without it these tests are skipped, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes
//! them fail. This SDK speaks MCP 2026-07-28 too, and refuses its requests on a connection
//! that did the handshake: its stateless test shows the bridge finding that out.

mod stdio_support;

use mcp_oauth_proxy::stdio::StdioUpstreamConfig;
use serde_json::json;
use stdio_support::{Proxy, call, messages, request};

/// The Python SDK server, or `None` (after a notice) when its venv is not installed.
fn python_sdk_server(test: &str) -> Option<StdioUpstreamConfig> {
    let python = std::env::var("MCP_OAUTH_PYTHON_MCP")
        .ok()
        .filter(|path| !path.is_empty());
    let Some(python) = python else {
        if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!(
                "MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_PYTHON_MCP is not set: install the \
                 peers with `source scripts/services/proxy-peers.sh && proxy_peers_install \
                 && proxy_peers_env`"
            );
        }
        eprintln!("skipping {test}: MCP_OAUTH_PYTHON_MCP is not set");
        return None;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/stdio_children/python_sdk_server.py"
    );
    Some(StdioUpstreamConfig::new(python, [script]))
}

#[tokio::test]
async fn a_python_sdk_server_serves_tools_resources_and_prompts_in_a_session() {
    let Some(config) =
        python_sdk_server("a_python_sdk_server_serves_tools_resources_and_prompts_in_a_session")
    else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let (session, initialized) = proxy.open_session_with(&token, json!({})).await;
    assert_eq!(
        initialized["result"]["serverInfo"]["name"],
        "python-stdio-peer"
    );
    let ask = |message| {
        let (proxy, token, session) = (&proxy, &token, &session);
        async move {
            messages(proxy.post(token, Some(session), &message).await)
                .await
                .pop()
                .unwrap()
        }
    };
    let echoed = ask(call(1, "echo", json!({"message": "from rust"}))).await;
    assert_eq!(echoed["result"]["structuredContent"]["result"], "from rust");
    let read = ask(request(
        2,
        "resources/read",
        json!({"uri": "peer://greeting"}),
    ))
    .await;
    assert_eq!(read["result"]["contents"][0]["text"], "hello from python");
    let prompt = ask(request(
        3,
        "prompts/get",
        json!({"name": "summarise", "arguments": {"text": "t"}}),
    ))
    .await;
    assert_eq!(
        prompt["result"]["messages"][0]["content"]["text"],
        "Summarise: t"
    );
}

#[tokio::test]
async fn a_python_sdk_server_that_speaks_2026_07_28_gets_the_clients_requests_as_they_are() {
    let Some(config) = python_sdk_server(
        "a_python_sdk_server_that_speaks_2026_07_28_gets_the_clients_requests_as_they_are",
    ) else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    // This SDK answers server/discover itself (the bridge found out when it probed the
    // child): its answer, not one the bridge made up.
    let discover = json!({"jsonrpc": "2.0", "id": "d", "method": "server/discover",
        "params": {"_meta": meta}});
    let discovered = messages(proxy.post_stateless(&token, &discover).await)
        .await
        .pop()
        .unwrap();
    assert_eq!(discovered["id"], "d");
    assert_eq!(
        discovered["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "python-stdio-peer",
        "{discovered}"
    );
    // It refuses the 2026-07-28 envelope on a connection that did the handshake, so the
    // bridge must not have initialized it.
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "stateless"}, "_meta": meta}});
    let response = proxy.post_stateless(&token, &message).await;
    assert_eq!(response.status(), 200);
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["result"], "stateless",
        "{answer}"
    );
    assert_eq!(answer["result"]["resultType"], "complete");
    assert_eq!(proxy.upstream.children(), 1);
}
