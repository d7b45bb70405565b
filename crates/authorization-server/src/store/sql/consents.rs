//! [`ConsentStore`] on the `consents` table: one row per (user, client, resource), replaced
//! when consent for it is given again.

use async_trait::async_trait;
use mcp_oauth_core::CanonicalResource;

use super::SqlStore;
use super::rows::{self, db_error};
use crate::store::{ClientId, ConsentRecord, ConsentStore, StoreResult, UserId};

#[async_trait]
impl ConsentStore for SqlStore {
    async fn upsert_consent(&self, consent: &ConsentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, resource, scope, granted_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, client_id, resource) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.as_str())
        .bind(consent.client_id.as_str())
        .bind(consent.resource.as_str())
        .bind(consent.scope.to_string())
        .bind(consent.granted_at)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn get_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        resource: &CanonicalResource,
    ) -> StoreResult<Option<ConsentRecord>> {
        let Some(row) = sqlx::query(
            "SELECT scope, granted_at FROM consents \
             WHERE user_id = $1 AND client_id = $2 AND resource = $3",
        )
        .bind(user_id.as_str())
        .bind(client_id.as_str())
        .bind(resource.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(ConsentRecord {
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            resource: resource.clone(),
            scope: rows::scope(&row, "scope")?,
            granted_at: rows::get(&row, "granted_at")?,
        }))
    }
}
