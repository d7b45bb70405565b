//! OAuth 2.1 in front of any MCP server.
//!
//! The proxy puts the resource-server layer of `mcp-oauth-resource` (Protected Resource
//! Metadata, bearer-token validation, DNS-rebinding guard, CORS, scopes per tool, resource
//! and prompt) in front of an upstream MCP server that knows nothing of OAuth: a Streamable
//! HTTP server reached by URL ([`HttpUpstream`]) or a local stdio program (the `stdio`
//! module). Between the two it enforces what the MCP security best practices require of a
//! gateway: no token passthrough ([`ForwardingLayer`]), sessions bound to the principal that
//! created them ([`SessionBindingLayer`]), and lists that show only what the caller may use
//! ([`ListFilterLayer`]). [`protect_upstream`] assembles it all.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_oauth_proxy::{HttpUpstream, HttpUpstreamConfig, ProxyConfig, protect_upstream};
//! use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
//!
//! let resource_server = ResourceServer::new(
//!     ResourceServerConfig::new("http://localhost:3001/mcp")?
//!         .with_issuer(IssuerConfig::jwt("http://localhost:9000"))
//!         .with_tool_scope("delete_file", "files:write"),
//! )?;
//! let upstream = HttpUpstream::new(&HttpUpstreamConfig::new("http://127.0.0.1:8080/mcp"))?;
//! let app = protect_upstream(&resource_server, &ProxyConfig::default(), upstream)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error_response;
mod forwarding;
mod http_upstream;
mod list_filter;
mod proxy;
mod scope_file;
mod sessions;

pub use forwarding::{Forwarding, ForwardingConfig, ForwardingLayer, IdentityHeaders};
pub use http_upstream::{HttpUpstream, HttpUpstreamConfig, HttpUpstreamError};
pub use list_filter::{DEFAULT_MAX_LIST_BYTES, ListFilter, ListFilterLayer};
pub use proxy::{ProxyConfig, ProxyConfigError, protect_upstream};
pub use scope_file::{ScopeRules, ScopeRulesError};
pub use sessions::{SessionBinding, SessionBindingLayer, SessionConfig};

pub mod stdio;
