//! The embedded OAuth 2.1 authorization server for MCP.
//!
//! Work in progress: the storage layer ([`store`]) comes first; the endpoints follow.
#![warn(missing_docs)]

mod accounts;
pub mod cimd;
mod config;
mod endpoints;
pub mod keys;
mod pages;
mod server;
pub mod secrets;
pub mod store;

pub use accounts::{AccountError, create_user};
pub use config::AuthorizationServerConfig;
pub use server::{AuthorizationServer, Clock, StartError, system_clock};
