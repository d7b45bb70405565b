//! The smallest MCP server protected by `mcp-oauth-resource`: one `hello` tool that needs the
//! scope `hello:read`, tokens from one issuer.
//!
//! Run it with `cargo run -p protected-server -- http://localhost:9000` (the issuer to trust),
//! then `curl -i -X POST http://localhost:8080/mcp` shows the 401 challenge and
//! `curl http://localhost:8080/.well-known/oauth-protected-resource/mcp` the metadata.

use std::sync::Arc;

use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig, VerifiedToken};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

/// An MCP server with one tool. The router is built once and shared: stateless Streamable
/// HTTP clones the server for every request.
#[derive(Clone)]
struct Hello {
    tool_router: Arc<ToolRouter<Hello>>,
}

#[tool_router]
impl Hello {
    fn new() -> Self {
        Self {
            tool_router: Arc::new(Self::tool_router()),
        }
    }

    #[tool(description = "Greet the caller by the subject of their access token.")]
    async fn hello(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        // The bearer layer attached the verified token to the HTTP request.
        let subject = VerifiedToken::of_request(&context)
            .map_or_else(|| "stranger".to_owned(), |token| token.subject.clone());
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "hello, {subject}"
        ))]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Hello {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://localhost:9000".to_owned());

    // 1. Say what this resource is and whom it trusts.
    let config = ResourceServerConfig::new("http://localhost:8080/mcp")?
        .with_issuer(IssuerConfig::jwt(issuer))
        .with_scopes_supported(["hello:read"])
        .with_tool_scope("hello", "hello:read");
    let resource_server = ResourceServer::new(config)?;

    // 2. An rmcp Streamable HTTP service, stateless.
    let hello = Hello::new();
    let mcp = StreamableHttpService::new(
        move || Ok(hello.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );

    // 3. Protect it: /mcp behind the bearer layer, plus both metadata URLs.
    let app = resource_server.protect(mcp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("protected MCP server on http://localhost:8080/mcp");
    axum::serve(listener, app).await?;
    Ok(())
}
