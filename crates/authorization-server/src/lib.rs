//! The embedded OAuth 2.1 authorization server for MCP.
//!
//! [`AuthorizationServer`] serves RFC 8414 / OpenID Connect discovery metadata, a JWKS, the
//! sign-in, sign-up and consent pages, the authorization endpoint (code flow, PKCE S256,
//! RFC 8707 resources, RFC 9207 `iss`), the token endpoint (code and rotating refresh tokens),
//! Dynamic Client Registration (RFC 7591/7592), Client ID Metadata Documents, revocation
//! (RFC 7009) and introspection (RFC 7662), over a [`store::Store`] (SQLite or PostgreSQL).
#![warn(missing_docs)]

mod accounts;
pub mod cimd;
mod clients;
mod config;
mod endpoints;
mod federation;
mod form;
mod housekeeping;
pub mod keys;
mod oauth_error;
mod pages;
pub mod private_files;
mod rate_limit;
pub mod secrets;
mod server;
mod static_clients;
pub mod store;
mod tokens;

pub use accounts::{AccountError, create_user};
pub use config::{AuthorizationServerConfig, LoginLimits, UpstreamProvider};
pub use server::{AuthorizationServer, Clock, StartError, system_clock};
pub use static_clients::{StaticClient, StaticClientError, register_static_client};
