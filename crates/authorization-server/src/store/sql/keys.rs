//! The `signing_keys` table: current → previous → retired.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};

use super::dialect::Dialect;
use super::rows::{self, db_error};
use crate::store::{SigningKeyRecord, StoreResult};

/// Current and previous keys, current first, then the newest.
pub(super) async fn published(pool: &AnyPool) -> StoreResult<Vec<SigningKeyRecord>> {
    sqlx::query(
        "SELECT kid, algorithm, private_key_der, public_jwk, state, created_at FROM signing_keys \
         WHERE state IN ('current', 'previous') \
         ORDER BY CASE state WHEN 'current' THEN 0 ELSE 1 END, created_at DESC, kid",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(from_row)
    .collect()
}

/// Makes `key` current in one transaction (its own `state` is not consulted): previous keys
/// retire, the current key becomes previous. A taken `kid` is `Conflict("signing key")` and
/// changes nothing.
pub(super) async fn rotate(
    mut tx: Transaction<'static, Any>,
    dialect: Dialect,
    key: &SigningKeyRecord,
) -> StoreResult<()> {
    if let Some(lock) = dialect.lock_signing_keys() {
        sqlx::query(lock)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    sqlx::query("UPDATE signing_keys SET state = 'retired' WHERE state = 'previous'")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query("UPDATE signing_keys SET state = 'previous' WHERE state = 'current'")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key_der, public_jwk, state, created_at) \
         VALUES ($1, $2, $3, $4, 'current', $5)",
    )
    .bind(key.kid.as_str())
    .bind(key.algorithm.as_str())
    .bind(key.private_key_der.as_slice())
    .bind(rows::json_text(&key.public_jwk))
    .bind(key.created_at)
    .execute(&mut *tx)
    .await
    .map_err(rows::conflict("signing key"))?;
    tx.commit().await.map_err(db_error)
}

fn from_row(row: &AnyRow) -> StoreResult<SigningKeyRecord> {
    Ok(SigningKeyRecord {
        kid: rows::get(row, "kid")?,
        algorithm: rows::get(row, "algorithm")?,
        private_key_der: rows::get(row, "private_key_der")?,
        public_jwk: rows::json(row, "public_jwk")?,
        state: rows::key_state(row, "state")?,
        created_at: rows::get(row, "created_at")?,
    })
}
