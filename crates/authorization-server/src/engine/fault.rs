//! [`Fault`]: why the engine refused a request or failed, named by what happened. The HTTP
//! edge turns each into an OAuth error response in one place (`endpoints/oauth_error.rs`):
//! clients get the fixed description, the logs get the detail of a server fault.

use std::fmt;

use mcp_oauth_core::OAuthErrorCode;

use crate::store::StoreError;

/// Why a request to the token, registration, revocation or introspection endpoint was not
/// answered with success.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The request is refused with an OAuth error (RFC 6749 §5.2, RFC 7591 §3.2.2) and a
    /// description safe to show the client.
    Refused {
        /// The error code.
        error: OAuthErrorCode,
        /// What the client is told.
        description: String,
    },
    /// Client authentication failed (`invalid_client`, RFC 6749 §5.2); `basic`: the client
    /// tried HTTP Basic, so the answer challenges it.
    Unauthenticated {
        /// What the client is told.
        description: String,
        /// Whether the client used HTTP Basic.
        basic: bool,
    },
    /// The bearer token of the request (an initial or registration access token, RFC 7591
    /// §3, RFC 7592 §3) is missing or invalid: `invalid_token` (RFC 6750 §3.1).
    InvalidToken(String),
    /// Too many requests from the client's address: `slow_down`, try again in a minute.
    SlowDown(String),
    /// The server failed; the detail is for the logs, the client gets `server_error`.
    Internal(String),
    /// A registration refused by the operator's governance (issue 16): the client gets
    /// `inner`; the audit trail and the metrics get `reason`, the rule that refused it
    /// (`untrusted_redirect_uri`, `pending_limit`, `global_limit`).
    Governed {
        /// The rule that refused it.
        reason: &'static str,
        /// What the client gets.
        inner: Box<Fault>,
    },
}

impl Fault {
    /// An OAuth error with `error` and a description safe to show the client.
    pub(crate) fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self::Refused {
            error,
            description: description.into(),
        }
    }

    /// `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`, with a Basic challenge when the client used HTTP Basic.
    pub(crate) fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        Self::Unauthenticated {
            description: description.into(),
            basic,
        }
    }

    /// `inner`, refused by the governance rule `reason`.
    pub(crate) fn governed(reason: &'static str, inner: Fault) -> Self {
        Self::Governed {
            reason,
            inner: Box::new(inner),
        }
    }

    /// Why it was refused, for the audit trail and the metrics: the governance rule, else the
    /// OAuth error code.
    pub(crate) fn reason(&self) -> String {
        match self {
            Self::Governed { reason, .. } => (*reason).to_owned(),
            other => other.code().as_str().to_owned(),
        }
    }

    /// Whether a rate limit refused it.
    pub(crate) fn is_throttled(&self) -> bool {
        match self {
            Self::SlowDown(_) => true,
            Self::Governed { inner, .. } => inner.is_throttled(),
            _ => false,
        }
    }

    /// A server fault: `detail` is for the logs only.
    pub(crate) fn internal(detail: &dyn fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The OAuth error code the client gets.
    pub(crate) fn code(&self) -> OAuthErrorCode {
        match self {
            Self::Refused { error, .. } => error.clone(),
            Self::Unauthenticated { .. } => OAuthErrorCode::InvalidClient,
            Self::InvalidToken(_) => OAuthErrorCode::Extension("invalid_token".into()),
            Self::SlowDown(_) => OAuthErrorCode::Extension("slow_down".into()),
            Self::Internal(_) => OAuthErrorCode::ServerError,
            Self::Governed { inner, .. } => inner.code(),
        }
    }
}

impl From<StoreError> for Fault {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}
