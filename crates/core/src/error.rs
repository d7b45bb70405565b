use thiserror::Error;

/// Faults found while parsing protocol values.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoreError {
    /// A URL could not be parsed.
    #[error("invalid URL `{value}`: {reason}")]
    InvalidUrl {
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A resource identifier breaks RFC 8707 §2 (fragment, relative URL, unsupported scheme).
    #[error("invalid resource identifier `{value}`: {reason}")]
    InvalidResource {
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A `WWW-Authenticate` header could not be parsed.
    #[error("malformed WWW-Authenticate header: {0}")]
    MalformedChallenge(&'static str),
}
