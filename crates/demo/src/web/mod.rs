//! The three demo web clients: one small server-rendered application, parameterised by how it
//! gets its OAuth client credentials ([`Credentials`]).
//!
//! - **Pre-registered** (`mcp-oauth client`): a confidential client whose id and secret were
//!   issued beforehand by a known authorization server (MCP "Pre-registration").
//! - **Dynamic** (`mcp-oauth auto-client`): discovers everything from the MCP server URL and
//!   registers itself (RFC 7591), keeping the registration in a file across restarts.
//! - **Metadata document** (`mcp-oauth cimd-client`): serves its own Client ID Metadata
//!   Document at `/client-metadata.json` and uses that URL as its `client_id`.
//!
//! Pages: `/` shows what happened (discovery, registration, token claims, tools, the tool
//! result, errors) with the buttons "Log in" (`POST /login`), "Fetch MCP Data"
//! (`POST /fetch`: `tools/list`, then the `whoami` tool) and "Log out" (`POST /logout`); the
//! authorization response comes back to `/callback`.
//!
//! Each browser gets its own server-side session, keyed by a random cookie whose name is
//! the application's own (cookies do not isolate by port, and every demo application runs on
//! `localhost`). The session holds the PKCE verifier and `state` of a login in progress and
//! the tokens of a completed one; refreshed tokens replace them. Sessions are bounded in
//! number and expire when idle. Forms carry a per-session CSRF token. No secret (client
//! secret, access or refresh token) is ever rendered or logged: claims are decoded from the
//! access token for display only.

mod app;
mod config;
mod credentials;
mod flow;
mod sessions;
mod view;

pub use app::{WebClient, WebClientError};
pub use config::{Credentials, WebClientConfig};
