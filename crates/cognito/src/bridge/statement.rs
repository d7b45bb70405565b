//! Software statements at `POST /register` (RFC 7591 §2.3, §3.1.1): a presented statement is
//! verified when publishers are configured and its claims take precedence over the request's;
//! the governance may require one for open registration.

use mcp_oauth_core::{ClientMetadata, OAuthErrorCode, RegistrationPath};

use super::RegistrationSettings;
use crate::oauth_response::BadRequest;

/// `metadata` with its software statement verified and applied, and the registration path that
/// results: a valid statement makes an open registration a [`RegistrationPath::SoftwareStatement`]
/// one (an initial access token keeps its own path). Without a configured verifier the
/// statement is left for validation to drop: RFC 7591 §3.1.1 lets a server ignore it.
///
/// Errors: `invalid_software_statement` for a statement that fails verification or whose
/// claims are not valid metadata, or for an open registration without one when the governance
/// requires it; `unapproved_software_statement` for a valid statement of a publisher or
/// software this server does not approve.
pub(super) async fn apply_software_statement(
    settings: &RegistrationSettings,
    metadata: ClientMetadata,
    path: RegistrationPath,
) -> Result<(ClientMetadata, RegistrationPath), BadRequest> {
    let Some(statements) = &settings.software_statements else {
        return Ok((metadata, path));
    };
    let Some(statement) = metadata.software_statement.as_deref() else {
        if path == RegistrationPath::Open && settings.governance.require_software_statement {
            return Err(BadRequest::new(
                OAuthErrorCode::InvalidSoftwareStatement,
                "a software statement is required to register",
            ));
        }
        return Ok((metadata, path));
    };
    let claims = statements
        .verify(statement)
        .await
        .map_err(|error| BadRequest::new(error.error_code(), error.to_string()))?;
    let metadata = metadata
        .apply_statement(&claims)
        .map_err(|error| BadRequest::new(error.error_code(), error.to_string()))?;
    let path = match path {
        RegistrationPath::Open => RegistrationPath::SoftwareStatement,
        other => other,
    };
    Ok((metadata, path))
}
