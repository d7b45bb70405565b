//! The stdio upstream in front of a server nobody here wrote: the MCP TypeScript SDK's
//! `@modelcontextprotocol/server-everything` in stdio mode, installed from npm by the test
//! command (scripts/services/proxy-peers.sh exports `MCP_OAUTH_EVERYTHING_SERVER`, the path
//! of its `dist/index.js`; `MCP_OAUTH_NODE` may name the node binary). Without it these tests
//! are skipped, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

mod stdio_support;

use std::collections::BTreeSet;

use mcp_oauth_proxy::stdio::StdioUpstreamConfig;
use serde_json::{Value, json};
use stdio_support::{Events, Proxy, call, messages, request};

/// The everything server in stdio mode, or `None` (after a notice) when it is not installed.
fn everything(test: &str) -> Option<StdioUpstreamConfig> {
    let server = std::env::var("MCP_OAUTH_EVERYTHING_SERVER")
        .ok()
        .filter(|path| !path.is_empty());
    let Some(server) = server else {
        if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!(
                "MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_EVERYTHING_SERVER is not set: install \
                 the peers with `source scripts/services/proxy-peers.sh && proxy_peers_install`"
            );
        }
        eprintln!("skipping {test}: MCP_OAUTH_EVERYTHING_SERVER is not set");
        return None;
    };
    let node = std::env::var("MCP_OAUTH_NODE").unwrap_or_else(|_| "node".to_owned());
    Some(StdioUpstreamConfig::new(node, [server, "stdio".to_owned()]))
}

const CLIENT_CAPABILITIES: &str = r#"{
    "sampling": {},
    "elicitation": {"form": {}},
    "roots": {"listChanged": true},
    "tasks": {"list": {}, "cancel": {}, "requests": {"sampling": {"createMessage": {}}}}
}"#;

fn client_capabilities() -> Value {
    serde_json::from_str(CLIENT_CAPABILITIES).unwrap()
}

#[tokio::test]
async fn fields_a_typed_model_would_drop_pass_through_both_ways() {
    let Some(config) = everything("fields_a_typed_model_would_drop_pass_through_both_ways") else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let (session, initialized) = proxy.open_session_with(&token, client_capabilities()).await;
    // The 2025-11-25 tasks capability and instructions of the server reach the client.
    let result = &initialized["result"];
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert!(
        result["capabilities"]["tasks"]["requests"]["tools"]["call"].is_object(),
        "{result}"
    );
    assert!(
        result["instructions"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
    );

    let response = proxy
        .post(&token, Some(&session), &request(2, "tools/list", json!({})))
        .await;
    let tools = messages(response).await.pop().unwrap();
    let echo = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "echo")
        .unwrap();
    assert_eq!(echo["execution"]["taskSupport"], "forbidden", "{echo}");

    // A tools/call with an unknown member and a custom _meta key is answered as the server
    // answers it, under the client's own id.
    let message = json!({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "hi"},
        "_meta": {"x.example/trace": {"span": 1}}, "futureField": [1, 2]}});
    let answer = messages(proxy.post(&token, Some(&session), &message).await)
        .await
        .pop()
        .unwrap();
    assert_eq!(answer["id"], "call-1");
    assert_eq!(answer["result"]["content"][0]["text"], "Echo: hi");
}

#[tokio::test]
async fn tools_resources_prompts_ping_and_unknown_methods_work_through_the_bridge() {
    let Some(config) =
        everything("tools_resources_prompts_ping_and_unknown_methods_work_through_the_bridge")
    else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let ask = |message: Value| {
        let (proxy, token, session) = (&proxy, &token, &session);
        async move {
            let response = proxy.post(token, Some(session), &message).await;
            messages(response).await.pop().unwrap()
        }
    };
    let sum = ask(call(1, "get-sum", json!({"a": 2, "b": 3}))).await;
    assert_eq!(
        sum["result"]["content"][0]["text"],
        "The sum of 2 and 3 is 5."
    );
    let uri = "demo://resource/static/document/architecture.md";
    let read = ask(request(2, "resources/read", json!({"uri": uri}))).await;
    assert_eq!(read["result"]["contents"][0]["uri"], uri);
    let prompt = ask(request(3, "prompts/get", json!({"name": "simple-prompt"}))).await;
    assert_eq!(prompt["result"]["messages"][0]["role"], "user");
    let pong = ask(request(4, "ping", json!({}))).await;
    assert_eq!(pong, json!({"jsonrpc": "2.0", "id": 4, "result": {}}));
    let unknown = ask(request(5, "no/such/method", json!({"x": 1}))).await;
    assert_eq!(unknown["id"], 5);
    assert_eq!(unknown["error"]["code"], -32601);
}

#[tokio::test]
async fn progress_sampling_and_elicitation_travel_on_the_tool_calls_stream() {
    let Some(config) =
        everything("progress_sampling_and_elicitation_travel_on_the_tool_calls_stream")
    else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let (session, _) = proxy.open_session_with(&token, client_capabilities()).await;

    let long = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2},
        "_meta": {"progressToken": "long-1"}}});
    let all = messages(proxy.post(&token, Some(&session), &long).await).await;
    let progress: Vec<&Value> = all
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 2, "{all:?}");
    assert!(
        progress
            .iter()
            .all(|m| m["params"]["progressToken"] == "long-1")
    );
    assert_eq!(all.last().unwrap()["id"], 1);

    let sampling = call(2, "trigger-sampling-request", json!({"prompt": "a haiku"}));
    let mut events = Events::new(proxy.post(&token, Some(&session), &sampling).await);
    let asked = events.next().await.unwrap();
    assert_eq!(asked["method"], "sampling/createMessage", "{asked}");
    let sampled = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "role": "assistant", "model": "test-model",
        "content": {"type": "text", "text": "the haiku"}, "stopReason": "endTurn"}});
    assert_eq!(
        proxy.post(&token, Some(&session), &sampled).await.status(),
        202
    );
    let answer = events.next().await.unwrap();
    assert_eq!(answer["id"], 2);
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("the haiku")
    );

    let elicitation = call(3, "trigger-elicitation-request", json!({}));
    let mut events = Events::new(proxy.post(&token, Some(&session), &elicitation).await);
    let asked = events.next().await.unwrap();
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    let accepted = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "action": "accept", "content": {"name": "Ada"}}});
    assert_eq!(
        proxy.post(&token, Some(&session), &accepted).await.status(),
        202
    );
    let answer = events.next().await.unwrap();
    assert_eq!(answer["id"], 3);
    assert_eq!(
        answer["result"]["content"][1]["text"],
        "User inputs:\n- Name: Ada"
    );
}

#[tokio::test]
async fn the_servers_own_requests_and_notifications_use_the_sessions_get_stream() {
    let Some(config) =
        everything("the_servers_own_requests_and_notifications_use_the_sessions_get_stream")
    else {
        return;
    };
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let (session, _) = proxy.open_session_with(&token, client_capabilities()).await;
    let mut stream = Events::new(proxy.bare(reqwest::Method::GET, &token, &session).await);
    // A second GET stream would receive nothing: refused.
    assert_eq!(
        proxy
            .bare(reqwest::Method::GET, &token, &session)
            .await
            .status(),
        409
    );

    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    assert_eq!(
        proxy.post(&token, Some(&session), &changed).await.status(),
        202
    );
    let roots = json!([{"uri": "file:///work/project", "name": "project"}]);
    loop {
        let message = stream.next().await.expect("the GET stream stays open");
        if message["method"] == "roots/list" {
            let answer = json!({"jsonrpc": "2.0", "id": message["id"], "result": {"roots": roots}});
            assert_eq!(
                proxy.post(&token, Some(&session), &answer).await.status(),
                202
            );
        } else if message["method"] == "notifications/message"
            && message["params"]["data"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Roots updated: 1")
        {
            break;
        }
    }
    let listed = proxy
        .call(&token, &session, "get-roots-list", json!({}))
        .await;
    let text = listed["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("file:///work/project"), "{text}");
}

#[tokio::test]
async fn two_users_get_two_children_each_with_only_the_named_environment() {
    let Some(config) =
        everything("two_users_get_two_children_each_with_only_the_named_environment")
    else {
        return;
    };
    let config = config
        .with_inherited_env(["PATH"])
        .with_env("UPSTREAM_API_KEY", "for-the-server-only")
        .with_identity_env("MCP_USER_");
    let proxy = Proxy::start(config).await;
    let mut seen = Vec::new();
    for user in ["alice", "bob"] {
        let token = proxy.token(user);
        let session = proxy.open_session(&token).await;
        let answer = proxy.call(&token, &session, "get-env", json!({})).await;
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        let env: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        let names: BTreeSet<String> = env.keys().cloned().collect();
        assert_eq!(
            names,
            BTreeSet::from(
                [
                    "PATH",
                    "UPSTREAM_API_KEY",
                    "MCP_USER_ISSUER",
                    "MCP_USER_SUBJECT",
                    "MCP_USER_CLIENT_ID",
                    "MCP_USER_SCOPES",
                ]
                .map(String::from)
            )
        );
        seen.push(env["MCP_USER_SUBJECT"].clone());
    }
    assert_eq!(
        seen,
        [json!("alice"), json!("bob")],
        "each child knows its own user"
    );
    assert_eq!(proxy.upstream.children(), 2);
}

#[tokio::test]
async fn clients_without_sessions_are_served_by_their_principals_child() {
    let Some(config) = everything("clients_without_sessions_are_served_by_their_principals_child")
    else {
        return;
    };
    let proxy = Proxy::start(config.with_identity_env("MCP_USER_")).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "stateless-test", "version": "1"},
    });
    let discover =
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}});
    let response = proxy.post_stateless(&proxy.token("alice"), &discover).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let discovered = messages(response).await.pop().unwrap();
    assert_eq!(
        discovered["result"]["supportedVersions"],
        json!(["2026-07-28"])
    );
    assert!(
        discovered["result"]["capabilities"]["tools"].is_object(),
        "{discovered}"
    );

    let echo = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "stateless"}, "_meta": meta}});
    let answer = messages(proxy.post_stateless(&proxy.token("alice"), &echo).await)
        .await
        .pop()
        .unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "Echo: stateless");

    let env = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "get-env", "arguments": {}, "_meta": meta}});
    for user in ["alice", "bob"] {
        let answer = messages(proxy.post_stateless(&proxy.token(user), &env).await)
            .await
            .pop()
            .unwrap();
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("\"MCP_USER_SUBJECT\": \"{user}\"")),
            "{text}"
        );
    }
    // One child per principal, reused across requests.
    assert_eq!(proxy.upstream.children(), 2);

    let unknown =
        json!({"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {"_meta": meta}});
    let response = proxy.post_stateless(&proxy.token("alice"), &unknown).await;
    assert_eq!(
        response.status(),
        404,
        "MCP 2026-07-28: an unknown method is 404"
    );
    assert_eq!(messages(response).await[0]["error"]["code"], -32601);
}
