//! Remembered consent: [`ConsentStore`] and [`ConsentRecord`].

use async_trait::async_trait;
use mcp_oauth_core::{CanonicalResource, ScopeSet};

use super::{ClientId, StoreResult, UnixTime, UserId};

/// What users allowed clients, per resource, so they are not asked again.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records (or replaces) a user's consent for a client and a resource.
    async fn upsert_consent(&self, consent: &ConsentRecord) -> StoreResult<()>;
    /// The consent a user gave a client for `resource`.
    async fn get_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        resource: &CanonicalResource,
    ) -> StoreResult<Option<ConsentRecord>>;
}

/// Consent a user gave a client for one resource, remembered so they are not asked again for
/// it. Consent for one resource (MCP server) is never reused for another (MCP Security Best
/// Practices, "Confused Deputy Problem": consent is per client and per resource).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentRecord {
    /// The user.
    pub user_id: UserId,
    /// The client.
    pub client_id: ClientId,
    /// The resource (RFC 8707) the consent is for.
    pub resource: CanonicalResource,
    /// The scopes consented to.
    pub scope: ScopeSet,
    /// When consent was (last) given.
    pub granted_at: UnixTime,
}

impl ConsentRecord {
    /// Consent of `user_id` to `client_id` for `scope` at `resource`, given at `granted_at`.
    pub fn new(
        user_id: UserId,
        client_id: ClientId,
        resource: CanonicalResource,
        scope: ScopeSet,
        granted_at: UnixTime,
    ) -> Self {
        Self {
            user_id,
            client_id,
            resource,
            scope,
            granted_at,
        }
    }
}
