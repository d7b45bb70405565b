//! Protocol types and pure logic for MCP authorization.
//!
//! Nothing in this crate performs I/O: it builds and parses the documents and headers that the
//! MCP authorization specification and the OAuth RFCs it builds on define, so that the resource
//! server, the authorization server and the client all agree on one implementation.
#![warn(missing_docs)]

mod challenge;
mod error;
mod metadata;
mod resource_uri;
mod scope;
mod well_known;

pub use challenge::{BearerChallenge, BearerErrorCode};
pub use error::CoreError;
pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use resource_uri::CanonicalResource;
pub use scope::ScopeSet;
pub use well_known::{authorization_server_metadata_urls, protected_resource_metadata_urls};
