//! The faults of this crate. Mapping to HTTP happens once, in the bearer layer.

use thiserror::Error;

/// A configuration the resource server cannot start with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One field is invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Everything [`ResourceServerConfig::validate`](crate::ResourceServerConfig::validate) found.
    #[error("invalid resource server configuration:\n  - {}", .0.join("\n  - "))]
    Problems(Vec<String>),
    /// The HTTP client for issuers could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Why a request's token was not accepted. Each variant names the fault; the description a
/// client sees is fixed per fault and never echoes the token.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// No `Authorization: Bearer` credentials (401 without an error code, RFC 6750 §3.1).
    #[error("no bearer token")]
    Missing,
    /// The request carries credentials in a form we refuse (400 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The token is not acceptable (401 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// The issuer cannot be reached for keys or introspection, and nothing is cached (503).
    #[error("the token issuer cannot be reached")]
    IssuerUnavailable,
    /// The token lacks the scope the request needs (403 `insufficient_scope`).
    #[error("the request needs scope {required}")]
    InsufficientScope {
        /// The scope the request needs.
        required: String,
    },
}

impl TokenRejection {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidToken(reason.into())
    }
}
