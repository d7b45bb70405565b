//! Software statements at `POST /register` (RFC 7591 §2.3, §3.1.1): the shared step
//! [`apply_registration_statement`] with the bridge's settings, its refusals as 400 answers.

use mcp_oauth_core::{ClientMetadata, RegistrationPath};
use mcp_oauth_resource::apply_registration_statement;

use super::RegistrationSettings;
use crate::oauth_response::BadRequest;

/// `metadata` with its software statement verified and applied, and the registration path that
/// results (see [`apply_registration_statement`]).
pub(super) async fn apply_software_statement(
    settings: &RegistrationSettings,
    metadata: ClientMetadata,
    path: RegistrationPath,
) -> Result<(ClientMetadata, RegistrationPath), BadRequest> {
    apply_registration_statement(
        settings.software_statements.as_deref(),
        settings.governance.require_software_statement,
        metadata,
        path,
    )
    .await
    .map_err(|refusal| BadRequest::new(refusal.code, refusal.description))
}
