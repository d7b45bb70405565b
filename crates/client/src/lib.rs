//! An OAuth client for MCP servers, following the client rules of the MCP authorization
//! specification (revisions 2025-11-25 and 2026-07-28).
//!
//! # Using it
//!
//! ```no_run
//! # async fn run() -> Result<(), mcp_oauth_client::Error> {
//! use std::sync::Arc;
//! use mcp_oauth_client::{
//!     FileCredentialStore, HeadlessDriver, McpOAuthClient, OAuthClientConfig,
//! };
//!
//! let config = OAuthClientConfig::new("http://127.0.0.1:8976/callback")
//!     .with_client_name("My MCP client");
//! let store = Arc::new(FileCredentialStore::new("/home/me/.config/my-client/credentials.json"));
//! let driver = Arc::new(HeadlessDriver::new()?);
//! let client = McpOAuthClient::new(config, store, driver)?;
//! let session = client.connect("https://mcp.example.com/mcp").await?;
//! let result = session.call_tool("whoami", None).await?;
//! # let _ = result; Ok(()) }
//! ```
//!
//! [`McpOAuthClient::connect`] sends the first MCP request without a token. Its 401 starts
//! the flow, a state machine whose states are consumed as it advances, so no step can be
//! skipped:
//!
//! 1. [`Discovery`] ([`Discovery::run`]): the Protected Resource Metadata from the challenge's
//!    `resource_metadata`, else the path-inserted then the root well-known URL (RFC 9728,
//!    MCP "Protected Resource Metadata Discovery Requirements"); its `resource` must be the
//!    MCP server; an authorization server is chosen from `authorization_servers`; its
//!    metadata is read from the RFC 8414 and OpenID Connect Discovery URLs in the
//!    specification's order and its `issuer` must be the one looked up (RFC 8414 §3.3); the
//!    client refuses to go on without `S256` in `code_challenge_methods_supported`.
//! 2. [`Registered`] ([`Discovery::register`]): credentials in the specification's priority —
//!    a pre-registered client for that issuer, a registration stored for it, the client's
//!    metadata document URL when the server supports CIMD, then Dynamic Client Registration
//!    with `application_type` (MCP "Client Registration").
//! 3. [`PendingAuthorization`] ([`Registered::authorize`]): PKCE `S256`, `state`, the scopes of
//!    MCP "Scope Selection Strategy" (the challenge's `scope`, else `scopes_supported`), and
//!    `resource` (RFC 8707). An [`AuthorizationDriver`] takes the person through it and
//!    brings back the response: [`LoopbackDriver`] opens their browser and receives the
//!    redirect on a loopback port (RFC 8252 §7.3); [`HeadlessDriver`] follows the redirects
//!    of servers that show no page.
//! 4. [`Authorized`] ([`PendingAuthorization::complete`]): the response's `iss` (RFC 9207) and
//!    `state` are checked before anything else is read, and the code is redeemed with the
//!    verifier and `resource`.
//!
//! A web application runs the same states across requests instead of through a driver:
//! [`McpOAuthClient::probe`] for the server's challenge, [`McpOAuthClient::discover`],
//! [`Discovery::register`] and [`Registered::authorize`] when the person presses "Log in" (the
//! [`PendingAuthorization`] is kept in their browser session and they are redirected to its
//! URL), [`PendingAuthorization::complete`] at the callback, and [`McpOAuthClient::resume`]
//! with the tokens kept in the session for each later MCP call.
//!
//! The resulting [`AuthorizedSession`] runs MCP over rmcp's Streamable HTTP client transport.
//! Its HTTP client puts the current access token on every request and refreshes it shortly
//! before it expires, keeping the rotated refresh token. A 401 leads to a refresh or a new
//! authorization; a 403 `insufficient_scope` to a step-up for the union of the scopes so far
//! and the challenged ones, at most [`OAuthClientConfig::max_step_ups`] times per operation.
//!
//! Registrations and tokens are kept in a [`CredentialStore`] keyed by the authorization
//! server's issuer (MCP "Authorization Server Binding"): [`InMemoryCredentialStore`], or
//! [`FileCredentialStore`], a JSON file only its owner can read, replaced atomically.
//!
//! # What comes from rmcp
//!
//! rmcp's client service and Streamable HTTP transport carry MCP; this crate supplies the
//! transport's HTTP client (to present a token that changes during the session) and reads
//! the challenges of rmcp's `AuthRequiredError` and `InsufficientScopeError`. rmcp's `auth`
//! module is not used: its `AuthClient` works only with its own `AuthorizationManager`, which
//! runs its own discovery, registration and refresh; those are this crate's job, built on
//! `mcp-oauth-core`.
#![warn(missing_docs)]

mod authorization;
mod client;
mod config;
mod discovery;
mod driver;
mod error;
mod http;
mod loopback;
mod registration;
mod secret;
mod session;
mod store;
mod tokens;
mod transport;

pub use authorization::{Authorized, PendingAuthorization};
pub use client::McpOAuthClient;
pub use config::OAuthClientConfig;
pub use discovery::Discovery;
pub use driver::{AuthorizationDriver, DriverError, HeadlessDriver};
pub use error::Error;
pub use loopback::{CALLBACK_PATH, LoopbackDriver, open_browser};
pub use registration::{ClientRegistration, PreRegisteredClient, Registered, RegistrationSource};
pub use secret::{AccessToken, ClientSecret, RefreshToken};
pub use session::AuthorizedSession;
pub use store::{
    CredentialStore, FileCredentialStore, InMemoryCredentialStore, IssuerCredentials, StoreError,
};
pub use tokens::TokenSet;
