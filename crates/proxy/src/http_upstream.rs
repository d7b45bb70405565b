//! The Streamable HTTP upstream: a streaming reverse proxy to an MCP server reached by URL.

/// A Streamable HTTP MCP server reached by URL (MCP 2025-11-25, "Transports" §Streamable HTTP).
#[derive(Debug, Clone)]
pub struct HttpUpstream {}
