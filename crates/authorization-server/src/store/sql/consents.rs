//! The `consents` table: one row per (user, client, resource), replaced when consent for it is
//! given again.

use sqlx::AnyPool;

use super::rows::{self, db_error};
use crate::store::{ClientId, ConsentRecord, StoreResult, UserId};

pub(super) async fn upsert(pool: &AnyPool, consent: &ConsentRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, resource, scope, granted_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, client_id, resource) \
         DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
    )
    .bind(consent.user_id.as_str())
    .bind(consent.client_id.as_str())
    .bind(consent.resource.as_str())
    .bind(consent.scope.as_str())
    .bind(consent.granted_at)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(super) async fn get(
    pool: &AnyPool,
    user_id: &UserId,
    client_id: &ClientId,
    resource: &str,
) -> StoreResult<Option<ConsentRecord>> {
    let Some(row) = sqlx::query(
        "SELECT scope, granted_at FROM consents \
         WHERE user_id = $1 AND client_id = $2 AND resource = $3",
    )
    .bind(user_id.as_str())
    .bind(client_id.as_str())
    .bind(resource)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(Some(ConsentRecord {
        user_id: user_id.clone(),
        client_id: client_id.clone(),
        resource: resource.to_owned(),
        scope: rows::get(&row, "scope")?,
        granted_at: rows::get(&row, "granted_at")?,
    }))
}
