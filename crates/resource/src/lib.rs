//! The resource-server side of MCP authorization.
//!
//! [`ResourceServer`] turns a [`ResourceServerConfig`] into the pieces an MCP server needs:
//! a bearer-token layer that answers 401/403 exactly as the MCP authorization specification
//! and RFC 6750 require, the Protected Resource Metadata routes (RFC 9728), and a DNS-rebinding
//! guard for the `Origin` and `Host` headers. Tokens are validated locally against each trusted
//! issuer's cached JWKS, with a profile per issuer (generic RFC 9068 JWTs or AWS Cognito access
//! tokens), or through RFC 7662 introspection for opaque tokens.
//!
//! ```no_run
//! # async fn run(mcp_service: axum::routing::Router) -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_oauth_resource::{IssuerConfig, ResourceServer, ResourceServerConfig};
//!
//! let config = ResourceServerConfig::new("http://localhost:3001/mcp")?
//!     .with_issuer(IssuerConfig::jwt("http://localhost:9000"))
//!     .with_scopes_supported(["mcp:read", "mcp:write"])
//!     .with_tool_scope("create_context", "mcp:write");
//! let resource_server = ResourceServer::new(config)?;
//! // `protect` mounts the service at the resource's path behind the guard and the bearer layer,
//! // and adds both Protected Resource Metadata URLs.
//! let app = resource_server.protect(mcp_service);
//! # let _ = app; Ok(()) }
//! ```
#![warn(missing_docs)]

mod allowed_clients;
mod bearer;
mod cache;
mod claims;
mod config;
mod error;
mod extract;
mod guard;
mod host;
mod introspection;
mod json_rpc;
mod keys;
mod layer_future;
mod metadata_route;
mod metrics;
mod scope_policy;
mod server;
mod software_statement;
mod validator;

pub use allowed_clients::{ClientAllowList, ClientListUnavailable};
pub use bearer::{BearerFuture, BearerLayer, BearerService};
pub use claims::{TokenProfileKind, VerifiedToken};
pub use config::{IntrospectionConfig, IssuerConfig, ResourceServerConfig, TokenProfile};
pub use error::{ConfigError, TokenRejection};
pub use extract::MissingVerifiedToken;
pub use guard::{RebindingGuardLayer, RebindingGuardService};
pub use host::{HostAuthority, HostError, request_host};
pub use keys::{IssuerKeys, KeyLookupError, VerifyingKey};
pub use layer_future::LayerFuture;
pub use scope_policy::{ListRequests, Listing, Primitive, ScopePolicy};
pub use server::ResourceServer;
pub use software_statement::{
    PublisherError, SoftwareStatements, StatementError, StatementPublisher, StatementRefusal,
    apply_registration_statement,
};
pub use validator::TokenValidator;

/// Re-exported so configurations can name JWT algorithms without a direct dependency.
pub use jsonwebtoken::Algorithm;
