//! Protocol types and pure logic for MCP authorization.
//!
//! Nothing in this crate performs I/O: it builds and parses the documents and headers that the
//! MCP authorization specification and the OAuth RFCs it builds on define, so that the resource
//! server, the authorization server and the client all agree on one implementation. (Feature
//! `sql-migrations` adds [`EmbeddedMigrations`], SQL files compiled in for sqlx's migrator.)
#![warn(missing_docs)]

mod audit;
mod challenge;
mod client_certificate;
mod client_id_metadata;
mod client_metadata;
mod distinguished_name;
#[cfg(feature = "sql-migrations")]
mod embedded_migrations;
mod error;
mod governance;
mod metadata;
mod oauth_error;
mod pkce;
mod random;
mod rate_limit;
mod redirect_hosts;
mod redirect_uri;
mod resource_uri;
mod scope;
mod well_known;

pub use audit::{
    AUDIT_LOG_TARGET, AuditOutcome, MAX_AUDIT_TEXT_CHARS, UnknownAuditOutcome, bounded_audit_text,
};
pub use challenge::{BearerChallenge, BearerErrorCode};
pub use client_certificate::ClientCertificate;
pub use client_id_metadata::{
    CimdError, MAX_CLIENT_ID_URL_LEN, is_client_id_url, validate_client_id_metadata_document,
    validate_client_id_url,
};
pub use client_metadata::{
    CertificateIdentity, ClientMetadata, GrantType, RegistrationError, RegistrationPolicy,
    ResponseType, ScopeHandling, TokenEndpointAuthMethod, ValidatedClientMetadata,
};
pub use distinguished_name::{DistinguishedName, DistinguishedNameError};
#[cfg(feature = "sql-migrations")]
pub use embedded_migrations::EmbeddedMigrations;
pub use error::CoreError;
pub use governance::{
    CeilingOutcome, ClientStatus, REGISTRATION_REFUSAL_REASONS, RegistrationGovernance,
    RegistrationPath, ScopeCeilings, UnknownName,
};
pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use oauth_error::{OAuthErrorCode, OAuthErrorResponse};
pub use pkce::{
    CODE_VERIFIER_MAX_LEN, CODE_VERIFIER_MIN_LEN, CodeChallengeMethod, PkceError, challenge_s256,
    validate_code_challenge, validate_code_verifier, verify_s256,
};
pub use random::random_token;
pub use rate_limit::{DEFAULT_MAX_KEYS, RateLimiter};
pub use redirect_hosts::{HostPatterns, TrustedRedirects};
pub use redirect_uri::{
    ApplicationType, RedirectUriError, RedirectUriKind, UnknownApplicationType,
    redirect_uri_matches, validate_redirect_uri,
};
pub use resource_uri::CanonicalResource;
pub use scope::ScopeSet;
pub use well_known::{authorization_server_metadata_urls, protected_resource_metadata_urls};
