//! [`ClientStore`] on the `clients` table. Deleting a client cascades (foreign keys) to its
//! consents and grants, and from the grants to their codes, refresh tokens and access tokens,
//! in one statement. Suspending it revokes its grants in the transaction that changes its
//! status.

use async_trait::async_trait;
use mcp_oauth_core::ClientStatus;

use super::SqlStore;
use super::inline;
use super::rows::{self, StoredRow, db_error};
use crate::store::{ClientId, ClientRecord, ClientStore, StoreResult, UnixTime};

/// The columns of a client, in the order of `INSERT`'s parameters.
macro_rules! columns {
    () => {
        "client_id, secret_hash, metadata, registration_token_hash, origin, created_at, \
         updated_at, introspection_resources, status, registration_path, approved_at"
    };
}

/// The client `$1`.
const SELECT_CLIENT: &str = concat!("SELECT ", columns!(), " FROM clients WHERE client_id = $1");

/// Revokes every grant of the client `$1` at `$2`, with its refresh and access tokens.
const REVOKE_GRANTS_OF_CLIENT: [&str; 3] = [
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
     AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = $1)",
    "UPDATE access_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
     AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = $1)",
    "UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
];

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, client: &ClientRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO clients (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(client.client_id.as_str())
        .bind(rows::hash_text(client.secret_hash.as_ref()))
        .bind(rows::json_text(&client.metadata.to_json()))
        .bind(rows::hash_text(client.registration_token_hash.as_ref()))
        .bind(rows::origin_text(client.origin))
        .bind(client.created_at)
        .bind(client.updated_at)
        .bind(rows::resources_text(&client.introspection_resources))
        .bind(client.status.as_str())
        .bind(client.registration_path.as_str())
        .bind(client.approved_at)
        .execute(&self.writer)
        .await
        .map_err(rows::conflict("client"))?;
        Ok(())
    }

    async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        let inline = |connection: &rusqlite::Connection| {
            inline::query_optional(connection, SELECT_CLIENT, [&client_id.as_str()], |row| {
                from_row(row)
            })
        };
        if let Some(found) = self.inline(|store| store.read(inline)) {
            return found;
        }
        sqlx::query(SELECT_CLIENT)
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| from_row(&row))
            .transpose()
    }

    /// Replaces what may change after registration: metadata, secret hash, registration token
    /// hash and `updated_at`. The id, origin, `created_at`, the introspection permission and
    /// the status, registration path and approval (the operator's, not the client's to
    /// change) stay.
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

    async fn set_client_status(
        &self,
        client_id: &ClientId,
        status: ClientStatus,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "UPDATE clients SET status = $2, updated_at = $3, \
                    approved_at = CASE WHEN $2 = 'active' THEN $3 ELSE approved_at END \
             WHERE client_id = $1",
        )
        .bind(client_id.as_str())
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected()
            > 0;
        if found && status != ClientStatus::Active {
            for revoke in REVOKE_GRANTS_OF_CLIENT {
                sqlx::query(revoke)
                    .bind(client_id.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn count_clients_with_status(&self, status: ClientStatus) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE status = $1")
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn list_clients_with_status(
        &self,
        status: ClientStatus,
    ) -> StoreResult<Vec<ClientRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM clients WHERE status = $1 ORDER BY created_at, client_id"
        ))
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(from_row)
        .collect()
    }

    async fn delete_pending_clients_before(&self, before: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM clients WHERE status = 'pending' AND created_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

fn from_row(row: &impl StoredRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId(rows::get(row, "client_id")?),
        secret_hash: rows::optional_hash(row, "secret_hash")?,
        metadata: rows::metadata(row, "metadata")?,
        registration_token_hash: rows::optional_hash(row, "registration_token_hash")?,
        origin: rows::origin(row, "origin")?,
        created_at: rows::get(row, "created_at")?,
        updated_at: rows::get(row, "updated_at")?,
        introspection_resources: rows::resources(row, "introspection_resources")?,
        status: rows::named(row, "status")?,
        registration_path: rows::named(row, "registration_path")?,
        approved_at: rows::get(row, "approved_at")?,
    })
}
