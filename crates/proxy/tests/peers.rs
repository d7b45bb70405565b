//! The proxy in front of MCP servers nobody here wrote, installed by the test command
//! (scripts/services/proxy-peers.sh): the MCP TypeScript SDK's `server-everything` over
//! Streamable HTTP (stateful, SSE) and a server written with the Python MCP SDK. rmcp's
//! client signs its requests with tokens of a test issuer, opens a session through the proxy
//! and uses tools, resources and prompts; the scopes, the hidden list items, the sessions
//! bound to their user and a killed upstream are checked against the real servers.
//!
//! ```text
//! source scripts/services/node.sh; source scripts/services/proxy-peers.sh
//! node_install; proxy_peers_install; proxy_peers_env
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-proxy --test peers
//! ```
//!
//! Without the peers (MCP_OAUTH_EVERYTHING_SERVER, MCP_OAUTH_NODE, MCP_OAUTH_PYTHON_MCP unset)
//! the tests pass after a notice, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

mod peers_support;

use std::time::Duration;

use mcp_oauth_proxy::{HttpUpstream, HttpUpstreamConfig, ProxyConfig, protect_upstream};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::TestIssuer;
use peers_support::{everything_server, free_port, python_server};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, GetPromptRequestParams,
    Implementation, ReadResourceRequestParams,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The proxy in front of `upstream_url`: `guarded_tool` needs `mcp:admin`, everything else
/// `mcp:read`, and lists hide what a token may not use.
struct Proxy {
    issuer: TestIssuer,
    mcp_url: String,
}

impl Proxy {
    async fn start(upstream_url: &str, guarded_tool: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp_url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let issuer = TestIssuer::start().await;
        let resource_server = ResourceServer::new(
            ResourceServerConfig::new(&mcp_url)
                .unwrap()
                .with_issuer(IssuerConfig::jwt(issuer.issuer()))
                .with_tool_scope(guarded_tool, "mcp:admin")
                .with_default_scope("mcp:read"),
        )
        .unwrap();
        let upstream = HttpUpstream::new(
            &HttpUpstreamConfig::new(upstream_url).with_connect_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        let config = ProxyConfig::default().with_hide_unauthorized(true);
        let app = protect_upstream(&resource_server, &config, upstream).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { issuer, mcp_url }
    }

    fn token(&self, subject: &str, scope: &str) -> String {
        let mut claims = self.issuer.claims(&self.mcp_url, scope);
        claims["sub"] = subject.into();
        self.issuer.sign("rsa-1", &claims)
    }

    async fn client(
        &self,
        token: &str,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, ClientConfig> {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(self.mcp_url.as_str()).auth_header(token),
        );
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("proxy-tests", "0"),
        )
        .serve(transport)
        .await
        .expect("initialize through the proxy")
    }

    /// Opens a session with a plain `initialize` and returns its id.
    async fn open_session(&self, token: &str) -> String {
        let response = self.post(token, None, initialize()).await;
        assert_eq!(response.status(), 200);
        response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Opens the session's GET stream, resuming after `last_event_id` (MCP 2025-06-18
    /// "Transports" §Resumability and Redelivery).
    async fn resume(&self, token: &str, session: &str, last_event_id: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("mcp-session-id", session)
            .header("last-event-id", last_event_id)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, token: &str, session: Option<&str>, message: Value) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&message);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send().await.unwrap()
    }
}

/// One server-sent event: its `id` and its `data` lines joined (as the HTML Standard's
/// "Server-sent events" §9.2.6 interprets an event stream; `event` and `retry` ignored).
#[derive(Debug)]
struct Event {
    id: Option<String>,
    data: String,
}

/// Reads the events of an SSE response as they arrive, skipping comments.
struct Events {
    response: reqwest::Response,
    /// What arrived of events not yet returned, `\r` removed (a line end in an event stream).
    buffer: Vec<u8>,
}

impl Events {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event with data, or `None` when the stream ends or sends nothing for `idle`.
    async fn next(&mut self, idle: Duration) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    data: String::new(),
                };
                for line in std::str::from_utf8(&block).unwrap().lines() {
                    if let Some(id) = line.strip_prefix("id:") {
                        event.id = Some(id.trim_start().to_owned());
                    } else if let Some(data) = line.strip_prefix("data:") {
                        event.data.push_str(data.strip_prefix(' ').unwrap_or(data));
                    }
                }
                if !event.data.trim().is_empty() {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(idle, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer
                .extend(chunk.iter().filter(|&&byte| byte != b'\r'));
        }
    }
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "proxy-tests", "version": "0"}}})
}

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|tool| tool.name.to_string()).collect()
}

/// What every peer must show through the proxy: tools, a resource and a prompt work for a
/// reader; the guarded tool is hidden from the reader's list and refused with 403; an admin
/// sees and calls it; another user's token cannot use a session.
async fn uses_the_peer_through_the_proxy(
    proxy: &Proxy,
    guarded_tool: &str,
    prompt: &str,
    prompt_arguments: Value,
) {
    let reader = proxy.client(&proxy.token("alice", "mcp:read")).await;
    let tools = tool_names(&reader.list_all_tools().await.unwrap());
    assert!(tools.contains(&"echo".to_owned()), "{tools:?}");
    assert!(!tools.contains(&guarded_tool.to_owned()), "{tools:?}");
    let echoed = reader
        .call_tool(
            CallToolRequestParams::new("echo").with_arguments(
                json!({"message": "through the proxy"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert!(
        format!("{echoed:?}").contains("through the proxy"),
        "{echoed:?}"
    );
    let refused = reader
        .call_tool(CallToolRequestParams::new(guarded_tool.to_owned()))
        .await;
    assert!(
        refused.is_err(),
        "the guarded tool was callable: {refused:?}"
    );
    let resources = reader.list_all_resources().await.unwrap();
    let first = resources.first().expect("the peer lists a resource");
    let read = reader
        .read_resource(ReadResourceRequestParams::new(first.uri.clone()))
        .await
        .unwrap();
    assert!(!read.contents.is_empty());
    let prompts = reader.list_all_prompts().await.unwrap();
    assert!(
        prompts.iter().any(|listed| listed.name == prompt),
        "{prompts:?}"
    );
    let got = reader
        .get_prompt(
            GetPromptRequestParams::new(prompt)
                .with_arguments(prompt_arguments.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap();
    assert!(!got.messages.is_empty());
    reader.cancel().await.unwrap();

    let admin = proxy
        .client(&proxy.token("root", "mcp:read mcp:admin"))
        .await;
    let tools = tool_names(&admin.list_all_tools().await.unwrap());
    assert!(tools.contains(&guarded_tool.to_owned()), "{tools:?}");
    admin.cancel().await.unwrap();

    let alice = proxy.token("alice", "mcp:read");
    let bob = proxy.token("bob", "mcp:read");
    let session = proxy.open_session(&alice).await;
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let hijack = proxy.post(&bob, Some(&session), ping.clone()).await;
    assert_eq!(hijack.status(), 404);
    let body: Value = hijack.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32001, "{body}");
    assert_eq!(proxy.post(&alice, Some(&session), ping).await.status(), 200);
}

#[tokio::test]
async fn the_typescript_sdk_everything_server_works_through_the_proxy() {
    let port = free_port();
    let Some(peer) = everything_server(port).await else {
        return;
    };
    let proxy = Proxy::start(&peer.url, "get-env").await;
    uses_the_peer_through_the_proxy(&proxy, "get-env", "simple-prompt", json!({})).await;
}

#[tokio::test]
async fn the_python_sdk_server_works_through_the_proxy() {
    let port = free_port();
    let Some(peer) = python_server(port).await else {
        return;
    };
    let proxy = Proxy::start(&peer.url, "secret_tool").await;
    uses_the_peer_through_the_proxy(&proxy, "secret_tool", "summarise", json!({"text": "t"})).await;
}

#[tokio::test]
async fn a_killed_upstream_gives_a_clean_error_and_the_next_session_works() {
    let port = free_port();
    let Some(peer) = everything_server(port).await else {
        return;
    };
    let proxy = Proxy::start(&peer.url, "get-env").await;
    let alice = proxy.token("alice", "mcp:read");
    let session = proxy.open_session(&alice).await;
    drop(peer);
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let failed = proxy.post(&alice, Some(&session), ping.clone()).await;
    assert_eq!(failed.status(), 502);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000, "{body}");
    // The upstream comes back (a new process: its old sessions are gone).
    let _peer = everything_server(port).await.unwrap();
    let stale = proxy.post(&alice, Some(&session), ping.clone()).await;
    // The restarted upstream does not know the old session (server-everything says 400).
    assert!(stale.status().is_client_error(), "{}", stale.status());
    let fresh = proxy.open_session(&alice).await;
    assert_eq!(proxy.post(&alice, Some(&fresh), ping).await.status(), 200);
}

#[tokio::test]
async fn a_stream_broken_off_resumes_with_last_event_id_and_the_missed_events_arrive() {
    let port = free_port();
    let Some(peer) = everything_server(port).await else {
        return;
    };
    let proxy = Proxy::start(&peer.url, "get-env").await;
    let alice = proxy.token("alice", "mcp:read");
    let session = proxy.open_session(&alice).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        proxy
            .post(&alice, Some(&session), initialized)
            .await
            .status(),
        202
    );
    // A call that reports its progress four times, then answers, all on one SSE stream.
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 1, "steps": 4},
        "_meta": {"progressToken": "resumed"}}});
    let mut stream = Events::new(proxy.post(&alice, Some(&session), call).await);
    let first = stream
        .next(Duration::from_secs(30))
        .await
        .expect("a first event");
    let first_message: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(
        first_message["method"], "notifications/progress",
        "{first:?}"
    );
    assert_eq!(first_message["params"]["progress"], 1, "{first:?}");
    let last_event_id = first.id.expect("server-everything numbers its events");
    // The client goes away in the middle of the call.
    drop(stream);

    // It comes back with the last event it saw, as often as it takes for the call to end:
    // everything after that event is replayed (the upstream stored what nobody read).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let replayed = loop {
        let mut resumed = Events::new(proxy.resume(&alice, &session, &last_event_id).await);
        let mut messages = Vec::new();
        while let Some(event) = resumed.next(Duration::from_millis(500)).await {
            messages.push(serde_json::from_str::<Value>(&event.data).unwrap());
        }
        if messages.iter().any(|message| message["id"] == 7) {
            break messages;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the call's answer was never replayed: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let progress: Vec<&Value> = replayed
        .iter()
        .filter(|message| message["method"] == "notifications/progress")
        .map(|message| &message["params"]["progress"])
        .collect();
    assert_eq!(progress, [2, 3, 4], "{replayed:?}");
    let answer = replayed.iter().find(|message| message["id"] == 7).unwrap();
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Long running operation completed"),
        "{answer}"
    );
}
