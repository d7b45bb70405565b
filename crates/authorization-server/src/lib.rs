//! The embedded OAuth 2.1 authorization server for MCP.
//!
//! [`AuthorizationServer`] serves RFC 8414 / OpenID Connect discovery metadata, a JWKS, the
//! sign-in, sign-up and consent pages, the authorization endpoint (code flow, PKCE S256,
//! RFC 8707 resources, RFC 9207 `iss`), the token endpoint (code and rotating refresh tokens),
//! Dynamic Client Registration (RFC 7591/7592), Client ID Metadata Documents, revocation
//! (RFC 7009) and introspection (RFC 7662), over a [`store::Store`] (SQLite or PostgreSQL).
//! [`Admin`] is what the operator does to its data (static clients, users, signing keys) and
//! reads of it (the audit trail), from the store alone, with or without a server running.
//! Security events (sign-ins, registrations, consents, tokens issued, refresh-token reuse,
//! revocations, key rotations, admin actions) go to one recorder (`audit`) that keeps them in
//! the store's audit trail, counts them ([`AuthorizationServer::register_metrics`], Prometheus)
//! and logs them (target `mcp_oauth::audit`).
//!
//! Inside, the protocol engine (`engine`: typed requests in, typed outcomes and faults out,
//! each endpoint a sequence of named checks) is kept apart from the HTTP edge (`endpoints`,
//! the account pages in `accounts`, federated sign-in in `federation`, what they share in
//! `web`); the edge's handlers take their sub-state through axum's `FromRef` (`state`).
//! The modules form layers, each importing only those below it (no import cycle):
//!
//! 1. `store` (the traits, records and SQL backend), `config`, `params` (the one form and
//!    query parser), `cimd` (fetching client metadata documents);
//! 2. `secrets` (one type per secret, stored as hashes), `clock`, `rate_limit`, then `audit`
//!    (the security events, their recorder and the server's metrics), `keys`, `users`
//!    (accounts without HTTP), `static_clients`;
//! 3. `engine`: authorize, token grants, registration, revocation, introspection, clients;
//! 4. `web` (pages, cookies, CSRF, the browser session, `return_to`; of the engine only where a
//!    sign-in returns to), then the edge: `endpoints`, `accounts`, `federation` (which asks
//!    the engine where to send an error);
//! 5. `admin`, `housekeeping`, `state` (the sub-states), `server` (the router and its start).
//!
//! Public module: [`store`], the storage contract (one trait per domain, their records, the
//! SQLite/PostgreSQL backend). Everything else is private; the public surface is the list
//! below. The data directory's owner-only files are `mcp-oauth-private-files`'s.
//!
//! # Cargo features
//!
//! Each optional capability is a feature, all of them in the default build; with
//! `default-features = false` a build leaves out what it does not name, and the dependencies
//! only that capability needs:
//!
//! | feature | what it adds | without it |
//! |---|---|---|
//! | `postgres` | [`store::SqlStore`] on PostgreSQL (`postgres:` URLs), for several instances; sqlx's PostgreSQL driver | SQLite only: a `postgres:` URL is refused with [`store::StoreError::Database`] naming the feature |
//! | `federation` | federated sign-in at upstream OpenID providers: `UpstreamProvider`, `AuthorizationServerConfig::upstreams`, `/login/upstream` and `/login/callback`, `store::FederationStore` | people sign in with local passwords only |
//! | `cimd` | Client ID Metadata Documents: a `client_id` that is an https URL is the client described there (`ClientMetadataFetcher`, `AuthorizationServerConfig::client_id_metadata_documents`) | only registered clients; the metadata says `client_id_metadata_document_supported: false` |
//!
//! The database schema is the same in every build: a database written by a build without
//! `federation` keeps the (empty) tables of federated sign-in and opens in a full build.
#![warn(missing_docs)]

mod accounts;
mod admin;
mod audit;
#[cfg(feature = "cimd")]
mod cimd;
mod clock;
mod config;
mod endpoints;
mod engine;
#[cfg(feature = "federation")]
mod federation;
mod housekeeping;
mod keys;
mod params;
mod rate_limit;
mod secrets;
mod server;
mod state;
mod static_clients;
pub mod store;
mod users;
mod web;

pub use admin::{
    Admin, ClientSummary, EnsuredStaticClient, KeySummary, RegisteredStaticClient, Rejection,
    UserSummary,
};
#[cfg(feature = "cimd")]
pub use cimd::{
    AddressClass, CimdError, ClientMetadataFetcher, FetcherConfig, FetcherConfigError,
    classify_address,
};
pub use clock::{Clock, system_clock};
#[cfg(feature = "federation")]
pub use config::UpstreamProvider;
pub use config::{AuthorizationServerConfig, LoginLimits, MfaPolicy, UnknownMfaPolicy};
pub use keys::{KeyError, SigningKeys};
pub use secrets::ClientSecret;
pub use server::{AuthorizationServer, StartError};
pub use static_clients::{StaticClient, StaticClientError};
pub use users::AccountError;
