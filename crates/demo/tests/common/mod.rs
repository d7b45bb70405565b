//! A protected demo MCP server on an ephemeral port, trusting a test issuer.
#![allow(dead_code)]

use std::time::Duration;

use mcp_oauth_demo::{Authentication, DemoScopes, mcp_router};
use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
use mcp_oauth_testkit::{MetadataStyle, TestIssuer};
use serde_json::{Value, json};

/// The latest revision that still has `initialize`; plain HTTP tests speak it.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

pub struct Harness {
    pub issuer: TestIssuer,
    /// The canonical resource URL, `http://127.0.0.1:PORT/mcp`.
    pub resource: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start() -> Harness {
    start_with(MetadataStyle::Rfc8414, |config| config).await
}

pub async fn start_with(
    style: MetadataStyle,
    customize: impl FnOnce(ResourceServerConfig) -> ResourceServerConfig,
) -> Harness {
    let issuer = TestIssuer::start_with(style).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{origin}/mcp");
    let config = ResourceServerConfig::new(&resource)
        .unwrap()
        .with_issuer(IssuerConfig::jwt(issuer.issuer()))
        .with_resource_name("test MCP server")
        .with_resource_documentation(format!("{origin}/docs"))
        .with_scopes_supported(["mcp:read", "mcp:write"])
        .with_tool_scope("list_contexts", "mcp:read")
        .with_tool_scope("create_context", "mcp:write")
        .with_allowed_origins(["https://app.example.com"])
        .with_jwks_refresh_interval(Duration::from_secs(300));
    let resource_server = ResourceServer::new(customize(config)).unwrap();
    let app = mcp_router(
        &resource_server,
        DemoScopes::default(),
        Authentication::Required,
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Harness {
        issuer,
        resource,
        origin,
        http: reqwest::Client::new(),
        task,
    }
}

impl Harness {
    /// A valid token for this server with `scope`.
    pub fn token(&self, scope: &str) -> String {
        self.issuer.access_token(&self.resource, scope)
    }

    /// Claims of a valid token for this server with `scope`, to tweak.
    pub fn claims(&self, scope: &str) -> Value {
        self.issuer.claims(&self.resource, scope)
    }

    /// POSTs a JSON-RPC body to the MCP endpoint with an optional bearer token.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.resource)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `tools/call` of `tool` with `arguments`.
    pub async fn call_tool(&self, token: &str, tool: &str, arguments: Value) -> reqwest::Response {
        self.post(Some(token), &tool_call(tool, arguments)).await
    }

    /// The `resource_metadata` URL challenges must name.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.origin)
    }
}

pub fn tool_call(tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    })
}

pub fn tools_list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
}

/// The `WWW-Authenticate` header of a response.
pub fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
