//! [`KeyStore`] on the `signing_keys` table: current → previous → retired. With a key
//! encryption key the private keys are stored encrypted (see `store/key_encryption.rs`), and
//! read back in clear.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};
use zeroize::Zeroizing;

use super::SqlStore;
use super::dialect::Dialect;
use super::rows::{self, db_error};
use crate::store::key_encryption::{self, KeyEncryptionKey};
use crate::store::{KeyStore, SigningKeyRecord, StoreResult};

#[async_trait]
impl KeyStore for SqlStore {
    async fn published_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        published(&self.pool, self.key_encryption_key.as_deref()).await
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        rotate(
            self.begin_write().await?,
            self.dialect,
            key,
            self.key_encryption_key.as_deref(),
        )
        .await
    }
}

/// Current and previous keys, current first, then the newest, their private keys decrypted
/// with `key` where they were stored encrypted.
async fn published(
    pool: &AnyPool,
    key: Option<&KeyEncryptionKey>,
) -> StoreResult<Vec<SigningKeyRecord>> {
    sqlx::query(
        "SELECT kid, algorithm, private_key_der, public_jwk, state, created_at FROM signing_keys \
         WHERE state IN ('current', 'previous') \
         ORDER BY CASE state WHEN 'current' THEN 0 ELSE 1 END, created_at DESC, kid",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| from_row(row, key))
    .collect()
}

/// Makes `key` current in one transaction (its own `state` is not consulted): previous keys
/// retire, the current key becomes previous. A taken `kid` is `Conflict("signing key")` and
/// changes nothing. The private key is stored encrypted under `encryption` when there is one.
async fn rotate(
    mut tx: Transaction<'static, Any>,
    dialect: Dialect,
    key: &SigningKeyRecord,
    encryption: Option<&KeyEncryptionKey>,
) -> StoreResult<()> {
    lock(&mut tx, dialect).await?;
    let stored = Zeroizing::new(match encryption {
        Some(encryption) => encryption.seal(&key.kid, &key.private_key_der)?,
        None => key.private_key_der.clone(),
    });
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
    .bind(stored.as_slice())
    .bind(rows::json_text(&key.public_jwk))
    .bind(key.created_at)
    .execute(&mut *tx)
    .await
    .map_err(rows::conflict("signing key"))?;
    tx.commit().await.map_err(db_error)
}

/// Encrypts under `key`, in one transaction, every private key stored in clear (retired ones
/// too), so that a store given a key encryption key keeps no key in clear from then on;
/// returns how many were encrypted.
pub(super) async fn encrypt_keys_in_clear(
    mut tx: Transaction<'static, Any>,
    dialect: Dialect,
    key: &KeyEncryptionKey,
) -> StoreResult<usize> {
    lock(&mut tx, dialect).await?;
    let rows = sqlx::query("SELECT kid, private_key_der FROM signing_keys")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let mut encrypted = 0;
    for row in &rows {
        let kid: String = rows::get(row, "kid")?;
        let stored = Zeroizing::new(rows::get::<Vec<u8>>(row, "private_key_der")?);
        if key_encryption::is_sealed(&stored) {
            continue;
        }
        sqlx::query("UPDATE signing_keys SET private_key_der = $1 WHERE kid = $2")
            .bind(key.seal(&kid, &stored)?)
            .bind(&kid)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        encrypted += 1;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(encrypted)
}

/// Serialises the transaction with every other change of the keys (PostgreSQL; SQLite's
/// writing transactions already are).
async fn lock(tx: &mut Transaction<'static, Any>, dialect: Dialect) -> StoreResult<()> {
    if let Some(lock) = dialect.lock_signing_keys() {
        sqlx::query(lock)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

fn from_row(row: &AnyRow, key: Option<&KeyEncryptionKey>) -> StoreResult<SigningKeyRecord> {
    let kid: String = rows::get(row, "kid")?;
    let stored = Zeroizing::new(rows::get::<Vec<u8>>(row, "private_key_der")?);
    Ok(SigningKeyRecord {
        private_key_der: key_encryption::open_stored(key, &kid, &stored)?,
        kid,
        algorithm: rows::get(row, "algorithm")?,
        public_jwk: rows::json(row, "public_jwk")?,
        state: rows::key_state(row, "state")?,
        created_at: rows::get(row, "created_at")?,
    })
}
