//! The crate's one error type: each variant names the fault.

use mcp_oauth_core::OAuthErrorResponse;
use thiserror::Error;

use crate::driver::DriverError;
use crate::store::StoreError;

/// Why the client could not discover, register, authorize, refresh or call the MCP server.
///
/// Variants group into faults of the servers (they misbehaved: mismatched `resource`,
/// `issuer`, `state` or `iss`; no `S256`), refusals (the server said no: registration, token
/// or authorization errors), faults of the environment (HTTP, the credential store, the
/// authorization driver) and misuse (an invalid configuration or server URL).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is invalid; every problem is listed.
    #[error("invalid MCP OAuth client configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The MCP server URL cannot be a resource identifier (RFC 8707 §2).
    #[error("`{url}` is not a usable MCP server URL: {reason}")]
    InvalidServerUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A URL an authorization server or resource handed us is not `https` and not on a
    /// loopback host (MCP "Communication Security"; OAuth 2.1 §1.5).
    #[error("`{url}` must use https (plain http is accepted on loopback hosts only)")]
    InsecureUrl {
        /// The refused URL.
        url: String,
    },
    /// An HTTP request could not be made or its answer could not be read.
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A metadata or token document is not what its specification says it must be.
    #[error("the document at {url} is not usable: {reason}")]
    InvalidDocument {
        /// Where it came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No Protected Resource Metadata was found at any URL the MCP specification says to try
    /// (RFC 9728 §3, MCP "Protected Resource Metadata Discovery Requirements").
    #[error("no Protected Resource Metadata found; tried {}", .tried.join(", "))]
    ProtectedResourceMetadataNotFound {
        /// The URLs tried, in order, with what each answered.
        tried: Vec<String>,
    },
    /// The Protected Resource Metadata describes another resource than the MCP server
    /// (RFC 9728 §3.3: the client must not use it).
    #[error(
        "the Protected Resource Metadata is for resource `{found}`, not for this MCP server `{expected}`"
    )]
    ResourceMismatch {
        /// The MCP server's canonical URI.
        expected: String,
        /// The `resource` of the document.
        found: String,
    },
    /// The Protected Resource Metadata lists no usable authorization server (MCP
    /// "Authorization Server Location").
    #[error("the Protected Resource Metadata lists no usable authorization server")]
    NoAuthorizationServer,
    /// The authorization server this client was told to use is not one the Protected Resource
    /// Metadata lists (RFC 9728 §7.6: a client uses only listed servers).
    #[error(
        "the MCP server does not list the authorization server `{wanted}`; it lists: {}",
        .offered.join(", ")
    )]
    AuthorizationServerNotListed {
        /// The issuer asked for.
        wanted: String,
        /// The usable issuers listed.
        offered: Vec<String>,
    },
    /// No authorization server metadata was found at any RFC 8414 / OpenID Connect Discovery
    /// URL (MCP "Authorization Server Metadata Discovery").
    #[error("no metadata found for authorization server `{issuer}`; tried {}", .tried.join(", "))]
    AuthorizationServerMetadataNotFound {
        /// The issuer looked up.
        issuer: String,
        /// The URLs tried, in order, with what each answered.
        tried: Vec<String>,
    },
    /// The metadata document names another issuer than the one it was looked up for
    /// (RFC 8414 §3.3, OpenID Connect Discovery §4.3): it must not be used.
    #[error("the metadata at {url} names issuer `{found}`, but it was looked up for `{expected}`")]
    IssuerMismatch {
        /// The issuer identifier used to build the well-known URL.
        expected: String,
        /// The `issuer` in the document.
        found: String,
        /// The document's URL.
        url: String,
    },
    /// The authorization server does not list `S256` in `code_challenge_methods_supported`
    /// (MCP "Authorization Code Protection": the client must refuse to proceed).
    #[error("authorization server `{issuer}` does not support PKCE with S256")]
    PkceS256Unsupported {
        /// The issuer.
        issuer: String,
    },
    /// The authorization server metadata lacks an endpoint the flow needs.
    #[error("the metadata of authorization server `{issuer}` has no `{member}`")]
    MetadataIncomplete {
        /// The issuer.
        issuer: String,
        /// The missing member.
        member: &'static str,
    },
    /// No registration method is available: no pre-registered client for this issuer, no
    /// Client ID Metadata Document the server accepts, no registration endpoint (MCP "Client
    /// Registration Approaches", step 4).
    #[error(
        "no client credentials for authorization server `{issuer}`: configure a pre-registered client for it"
    )]
    NoRegistrationMethod {
        /// The issuer.
        issuer: String,
    },
    /// Dynamic Client Registration was refused (RFC 7591 §3.2.2).
    #[error("client registration refused (HTTP {status}){}", describe(.error))]
    RegistrationRefused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error body, if there was one.
        error: Option<OAuthErrorResponse>,
    },
    /// The authorization driver could not obtain the authorization response.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The authorization response is malformed or does not go to our redirect URI.
    #[error("malformed authorization response: {0}")]
    MalformedCallback(&'static str),
    /// The authorization response's `state` is missing or differs from the request's
    /// (RFC 6749 §10.12, MCP "Open Redirection"): the response is discarded.
    #[error("the authorization response's state does not match the request")]
    StateMismatch,
    /// The authorization response's `iss` differs from the issuer recorded before the
    /// request (RFC 9207 §2.4, MCP "Authorization Response Validation"): a mix-up attack or a
    /// misconfiguration. Its `error`, if any, is not acted on.
    #[error("the authorization response comes from issuer `{found}`, not `{expected}`")]
    AuthorizationIssuerMismatch {
        /// The issuer recorded before the request.
        expected: String,
        /// The `iss` of the response.
        found: String,
    },
    /// The authorization server advertises `authorization_response_iss_parameter_supported`
    /// but its response has no `iss` (RFC 9207 §2.4).
    #[error("the authorization response has no iss, though `{expected}` promises one")]
    AuthorizationIssuerMissing {
        /// The issuer.
        expected: String,
    },
    /// The authorization server answered the authorization request with an error
    /// (RFC 6749 §4.1.2.1), e.g. `access_denied`.
    #[error("authorization refused{}", describe(&Some(.0.clone())))]
    AuthorizationRefused(OAuthErrorResponse),
    /// The token endpoint refused a code or refresh token (RFC 6749 §5.2).
    #[error("the token endpoint refused the request (HTTP {status}){}", describe(.error))]
    TokenRefused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error body, if there was one.
        error: Option<OAuthErrorResponse>,
    },
    /// The MCP server still refuses the token after re-authorization.
    #[error("the MCP server refuses the new token too: {challenge}")]
    Unauthorized {
        /// The last `WWW-Authenticate` value.
        challenge: String,
    },
    /// The MCP server asks for more scope than the step-up limit allowed the client to
    /// obtain (MCP "Step-Up Authorization Flow": retry limits).
    #[error(
        "the MCP server still needs scope `{required}` after {attempts} step-up authorizations"
    )]
    StepUpLimitReached {
        /// The scope of the last challenge.
        required: String,
        /// How many step-ups were made for this operation.
        attempts: u32,
    },
    /// The MCP server answered 403 without naming the scope it needs, so there is nothing to
    /// step up to.
    #[error("the MCP server refused the request: {challenge}")]
    Forbidden {
        /// The `WWW-Authenticate` value.
        challenge: String,
    },
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The MCP connection could not be initialized.
    #[error("MCP initialization failed: {0}")]
    Initialize(Box<rmcp::service::ClientInitializeError>),
    /// An MCP request failed for a reason other than authorization.
    #[error("MCP request failed: {0}")]
    Mcp(Box<rmcp::ServiceError>),
}

fn describe(error: &Option<OAuthErrorResponse>) -> String {
    match error {
        Some(body) => match &body.error_description {
            Some(description) => format!(": {} ({description})", body.error),
            None => format!(": {}", body.error),
        },
        None => String::new(),
    }
}
