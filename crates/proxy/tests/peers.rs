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

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_oauth_proxy::{HttpUpstream, HttpUpstreamConfig, ProxyConfig, protect_upstream};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::TestIssuer;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, GetPromptRequestParams,
    Implementation, ReadResourceRequestParams,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A peer server process, killed when dropped.
struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment variable `name`, or `None` after a notice (a failure when services are
/// required).
fn peer_setting(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) => Some(value),
        Err(_) if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "MCP_OAUTH_REQUIRE_SERVICES=1 but {name} is not set: install the peers with \
             scripts/services/proxy-peers.sh (proxy_peers_install; proxy_peers_env)"
        ),
        Err(_) => {
            eprintln!("skipped: {name} is not set (see scripts/services/proxy-peers.sh)");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command` (which listens on `port`) and waits until it accepts connections.
async fn start_peer(mut command: Command, port: u16) -> Peer {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer {
        child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the peer did not start on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peer
}

/// `server-everything` in Streamable HTTP mode, or `None` when it is not installed.
async fn everything_server(port: u16) -> Option<Peer> {
    let node = peer_setting("MCP_OAUTH_NODE")?;
    let server = peer_setting("MCP_OAUTH_EVERYTHING_SERVER")?;
    let mut command = Command::new(node);
    command
        .arg(server)
        .arg("streamableHttp")
        .env("PORT", port.to_string());
    Some(start_peer(command, port).await)
}

/// The Python MCP SDK server of tests/proxy-peers, or `None` when it is not installed.
async fn python_server(port: u16) -> Option<Peer> {
    let python = peer_setting("MCP_OAUTH_PYTHON_MCP")?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/proxy-peers/python_server.py"
    );
    let mut command = Command::new(python);
    command.arg(script).arg(port.to_string());
    Some(start_peer(command, port).await)
}

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
