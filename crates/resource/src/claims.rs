//! What the resource server verified about a token, handed to the MCP handlers.

use mcp_oauth_core::ScopeSet;
use serde::{Deserialize, Serialize};

/// Which profile accepted a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenProfileKind {
    /// An RFC 9068 JWT access token whose `aud` names this resource.
    Jwt,
    /// An AWS Cognito access token.
    Cognito,
    /// An opaque token accepted by RFC 7662 introspection.
    Introspection,
}

/// The identity and authority a validated token carries. The bearer layer puts it in the
/// request's extensions; rmcp handlers find it in `http::request::Parts::extensions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// `iss`: the issuer that signed (or introspected) the token.
    pub issuer: String,
    /// `sub`: the subject (user) the token was issued for.
    pub subject: String,
    /// `client_id`: the OAuth client the token was issued to, when stated.
    pub client_id: Option<String>,
    /// The granted scopes (`scope`, or `scp` as some issuers write it).
    pub scopes: ScopeSet,
    /// `aud`: the audiences the token names (empty for Cognito access tokens).
    pub audience: Vec<String>,
    /// `exp`: when the token expires, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// `jti`: the token's identifier, when present.
    pub token_id: Option<String>,
    /// The profile that accepted the token.
    pub profile: TokenProfileKind,
    /// `cnf.x5t#S256`: the SHA-256 thumbprint of the client certificate the token is bound
    /// to (RFC 8705 §3.1), when it is bound. Such a token is accepted only on a connection
    /// whose client presented that certificate.
    pub certificate_thumbprint: Option<String>,
}

/// The `cnf` (confirmation) member of a token's claims or of an introspection answer
/// (RFC 7800 §3.1), the one confirmation method read here: `x5t#S256` (RFC 8705 §3.1, §3.2).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Confirmation {
    /// The thumbprint of the certificate the token is bound to.
    #[serde(rename = "x5t#S256")]
    pub(crate) x5t_s256: Option<String>,
}

impl Confirmation {
    /// The certificate thumbprint of an optional `cnf`.
    pub(crate) fn thumbprint(cnf: Option<Self>) -> Option<String> {
        cnf.and_then(|cnf| cnf.x5t_s256)
    }
}
