//! The embedded OAuth 2.1 authorization server for MCP.
//!
//! Work in progress: the storage layer ([`store`]) comes first; the endpoints follow.
#![warn(missing_docs)]

pub mod store;
