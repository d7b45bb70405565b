//! The `clients` table. Deleting a client cascades (foreign keys) to its consents and grants,
//! and from the grants to their codes, refresh tokens and access tokens, in one statement.

use sqlx::AnyPool;
use sqlx::any::AnyRow;

use super::rows::{self, db_error};
use crate::store::{ClientId, ClientRecord, StoreResult};

pub(super) async fn insert(pool: &AnyPool, client: &ClientRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO clients (client_id, secret_hash, metadata, registration_token_hash, origin, \
                              created_at, updated_at, introspection_resources) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(client.client_id.as_str())
    .bind(client.secret_hash.as_ref().map(|hash| hash.0.as_str()))
    .bind(rows::json_text(&client.metadata))
    .bind(
        client
            .registration_token_hash
            .as_ref()
            .map(|hash| hash.0.as_str()),
    )
    .bind(rows::origin_text(client.origin))
    .bind(client.created_at)
    .bind(client.updated_at)
    .bind(rows::strings_text(&client.introspection_resources))
    .execute(pool)
    .await
    .map_err(rows::conflict("client"))?;
    Ok(())
}

pub(super) async fn get(pool: &AnyPool, client_id: &ClientId) -> StoreResult<Option<ClientRecord>> {
    sqlx::query(
        "SELECT client_id, secret_hash, metadata, registration_token_hash, origin, created_at, \
                updated_at, introspection_resources \
         FROM clients WHERE client_id = $1",
    )
    .bind(client_id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    .map(|row| from_row(&row))
    .transpose()
}

/// Replaces what may change after registration: metadata, secret hash, registration token hash
/// and `updated_at`. The id, origin, `created_at` and the introspection permission (the
/// operator's, not the client's to change) stay.
pub(super) async fn update(pool: &AnyPool, client: &ClientRecord) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE clients SET secret_hash = $2, metadata = $3, registration_token_hash = $4, \
                            updated_at = $5 \
         WHERE client_id = $1",
    )
    .bind(client.client_id.as_str())
    .bind(client.secret_hash.as_ref().map(|hash| hash.0.as_str()))
    .bind(rows::json_text(&client.metadata))
    .bind(
        client
            .registration_token_hash
            .as_ref()
            .map(|hash| hash.0.as_str()),
    )
    .bind(client.updated_at)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete(pool: &AnyPool, client_id: &ClientId) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(client_id.as_str())
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list(pool: &AnyPool) -> StoreResult<Vec<ClientRecord>> {
    sqlx::query(
        "SELECT client_id, secret_hash, metadata, registration_token_hash, origin, created_at, \
                updated_at, introspection_resources \
         FROM clients ORDER BY created_at, client_id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(from_row)
    .collect()
}

fn from_row(row: &AnyRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId(rows::get(row, "client_id")?),
        secret_hash: rows::optional_hash(row, "secret_hash")?,
        metadata: rows::json(row, "metadata")?,
        registration_token_hash: rows::optional_hash(row, "registration_token_hash")?,
        origin: rows::origin(row, "origin")?,
        created_at: rows::get(row, "created_at")?,
        updated_at: rows::get(row, "updated_at")?,
        introspection_resources: rows::strings(row, "introspection_resources")?,
    })
}
