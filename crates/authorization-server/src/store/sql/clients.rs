//! [`ClientStore`] on the `clients` table. Deleting a client cascades (foreign keys) to its
//! consents and grants, and from the grants to their codes, refresh tokens and access tokens,
//! in one statement.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{self, db_error};
use crate::store::{ClientId, ClientRecord, ClientStore, StoreResult};

/// The columns of a client, in the order of `INSERT`'s parameters.
macro_rules! columns {
    () => {
        "client_id, secret_hash, metadata, registration_token_hash, origin, created_at, \
         updated_at, introspection_resources"
    };
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, client: &ClientRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO clients (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(client.client_id.as_str())
        .bind(rows::hash_text(client.secret_hash.as_ref()))
        .bind(rows::json_text(&client.metadata.to_json()))
        .bind(rows::hash_text(client.registration_token_hash.as_ref()))
        .bind(rows::origin_text(client.origin))
        .bind(client.created_at)
        .bind(client.updated_at)
        .bind(rows::resources_text(&client.introspection_resources))
        .execute(&self.writer)
        .await
        .map_err(rows::conflict("client"))?;
        Ok(())
    }

    async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM clients WHERE client_id = $1"
        ))
        .bind(client_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| from_row(&row))
        .transpose()
    }

    /// Replaces what may change after registration: metadata, secret hash, registration token
    /// hash and `updated_at`. The id, origin, `created_at` and the introspection permission
    /// (the operator's, not the client's to change) stay.
    async fn update_client(&self, client: &ClientRecord) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE clients SET secret_hash = $2, metadata = $3, registration_token_hash = $4, \
                                updated_at = $5 \
             WHERE client_id = $1",
        )
        .bind(client.client_id.as_str())
        .bind(rows::hash_text(client.secret_hash.as_ref()))
        .bind(rows::json_text(&client.metadata.to_json()))
        .bind(rows::hash_text(client.registration_token_hash.as_ref()))
        .bind(client.updated_at)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM clients ORDER BY created_at, client_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(from_row)
        .collect()
    }
}

fn from_row(row: &AnyRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId(rows::get(row, "client_id")?),
        secret_hash: rows::optional_hash(row, "secret_hash")?,
        metadata: rows::metadata(row, "metadata")?,
        registration_token_hash: rows::optional_hash(row, "registration_token_hash")?,
        origin: rows::origin(row, "origin")?,
        created_at: rows::get(row, "created_at")?,
        updated_at: rows::get(row, "updated_at")?,
        introspection_resources: rows::resources(row, "introspection_resources")?,
    })
}
