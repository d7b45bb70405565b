//! OAuth 2.1 in front of any MCP server.
//!
//! The proxy puts the resource-server layer of `mcp-oauth-resource` (Protected Resource
//! Metadata, bearer-token validation, DNS-rebinding guard, CORS) in front of an upstream MCP
//! server that knows nothing of OAuth: a Streamable HTTP server reached by URL
//! ([`HttpUpstream`]) or a local stdio program (the `stdio` module). Between the two it
//! enforces what the MCP security best practices require of a gateway: no token passthrough,
//! sessions bound to the principal that created them, and scopes per tool, resource and prompt.
#![warn(missing_docs)]

mod http_upstream;

pub use http_upstream::HttpUpstream;

pub mod stdio;
