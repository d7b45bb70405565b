//! The demo MCP server: the original demo's "contexts" given a real MCP shape, protected by
//! [`mcp_oauth_resource`]; and the three demo web clients that call it ([`web`]).
//!
//! Tools: `list_contexts` and `create_context` (a per-user store; each needs a configurable
//! scope) and `whoami` (what the resource server verified about the caller's token).
#![warn(missing_docs)]

mod app;
mod contexts;
mod docs;
mod tools;
pub mod web;

pub use app::{Authentication, DemoScopes, mcp_router};
pub use contexts::{Context, ContextStore, ContextStoreError, Owner};
pub use tools::ContextServer;
