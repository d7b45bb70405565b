//! The embedded OAuth 2.1 authorization server for MCP.
//!
//! [`AuthorizationServer`] serves RFC 8414 / OpenID Connect discovery metadata, a JWKS, the
//! sign-in, sign-up and consent pages, the authorization endpoint (code flow, PKCE S256,
//! RFC 8707 resources, RFC 9207 `iss`), the token endpoint (code and rotating refresh tokens),
//! Dynamic Client Registration (RFC 7591/7592), Client ID Metadata Documents, revocation
//! (RFC 7009) and introspection (RFC 7662), over a [`store::Store`] (SQLite or PostgreSQL).
//!
//! Inside, the protocol engine (`engine`: typed requests in, typed outcomes and faults out,
//! each endpoint a sequence of named checks) is kept apart from the HTTP edge (`endpoints`,
//! the account pages in `accounts`, federated sign-in in `federation`, what they share in
//! `web`); the edge's handlers take their sub-state through axum's `FromRef` (`state`).
#![warn(missing_docs)]

mod accounts;
pub mod cimd;
mod clock;
mod config;
mod endpoints;
mod engine;
mod federation;
mod housekeeping;
pub mod keys;
mod params;
pub mod private_files;
mod rate_limit;
pub mod secrets;
mod server;
mod state;
mod static_clients;
pub mod store;
mod users;
mod web;

pub use clock::{Clock, system_clock};
pub use config::{AuthorizationServerConfig, LoginLimits, UpstreamProvider};
pub use server::{AuthorizationServer, StartError};
pub use static_clients::{StaticClient, StaticClientError, register_static_client};
pub use users::AccountError;

/// Creates a local user with `email` (trimmed and lower-cased) and `password` in `store`,
/// checking the e-mail syntax and the password policy (NIST SP 800-63B §3.1.1.2) and storing
/// the password as an Argon2id PHC string.
///
/// Errors: see [`AccountError`].
pub async fn create_user(
    store: &dyn store::AccountStore,
    email: &str,
    password: &str,
    now: store::UnixTime,
) -> Result<store::UserRecord, AccountError> {
    users::create_user(store, email, password, now).await
}
