//! [`MfaStore`] on the `mfa_totp`, `mfa_recovery_codes` and `mfa_pending_sign_ins` tables
//! (migration 0009). TOTP secrets are sealed under the key encryption key when there is one
//! ([`key_encryption`]), with `totp:<user id>` as additional data.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SqlStore;
use super::rows::{self, db_error};
use crate::store::key_encryption::{self, KeyEncryptionKey};
use crate::store::{
    MfaStore, PendingSignInRecord, SecretHash, StoreResult, TotpCredential, TotpSecret, UnixTime,
    UserId,
};

/// The additional data a user's sealed secret is bound to.
fn aad(user_id: &UserId) -> String {
    format!("totp:{}", user_id.as_str())
}

impl SqlStore {
    fn seal_secret(&self, user_id: &UserId, secret: &TotpSecret) -> StoreResult<Vec<u8>> {
        match &self.key_encryption_key {
            Some(key) => key.seal(&aad(user_id), secret.expose()),
            None => Ok(secret.expose().to_vec()),
        }
    }

    fn open_secret(&self, user_id: &UserId, stored: &[u8]) -> StoreResult<TotpSecret> {
        let what = format!("the TOTP secret of user {}", user_id.as_str());
        key_encryption::open_sealed(
            self.key_encryption_key.as_deref(),
            &what,
            &aad(user_id),
            stored,
        )
        .map(TotpSecret::new)
    }

    fn credential(&self, user_id: &UserId, row: &AnyRow) -> StoreResult<TotpCredential> {
        let stored = Zeroizing::new(rows::get::<Vec<u8>>(row, "secret")?);
        Ok(TotpCredential {
            user_id: user_id.clone(),
            secret: self.open_secret(user_id, &stored)?,
            created_at: rows::get(row, "created_at")?,
            confirmed_at: rows::get(row, "confirmed_at")?,
            last_step: rows::get(row, "last_step")?,
        })
    }
}

#[async_trait]
impl MfaStore for SqlStore {
    async fn totp_credential(&self, user_id: &UserId) -> StoreResult<Option<TotpCredential>> {
        let row = sqlx::query(
            "SELECT secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| self.credential(user_id, &row)).transpose()
    }

    async fn begin_totp_enrolment(
        &self,
        user_id: &UserId,
        secret: &TotpSecret,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at, last_step) \
             VALUES ($1, $2, $3, NULL, NULL) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
             created_at = excluded.created_at WHERE mfa_totp.confirmed_at IS NULL",
        )
        .bind(user_id.as_str())
        .bind(self.seal_secret(user_id, secret)?)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn confirm_totp_enrolment(
        &self,
        user_id: &UserId,
        secret: &TotpSecret,
        step: i64,
        recovery_codes: &[SecretHash],
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let Some(row) =
            sqlx::query("SELECT secret FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NULL")
                .bind(user_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
        else {
            return Ok(false);
        };
        let stored = Zeroizing::new(rows::get::<Vec<u8>>(&row, "secret")?);
        let pending = self.open_secret(user_id, &stored)?;
        if !bool::from(pending.expose().ct_eq(secret.expose())) {
            return Ok(false);
        }
        // Only the row just read: a concurrent set-up page cannot slip another secret in.
        let confirmed = sqlx::query(
            "UPDATE mfa_totp SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND confirmed_at IS NULL AND secret = $4",
        )
        .bind(now)
        .bind(step)
        .bind(user_id.as_str())
        .bind(stored.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if confirmed.rows_affected() == 0 {
            return Ok(false);
        }
        replace_recovery_codes(&mut tx, user_id, recovery_codes).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE mfa_totp SET last_step = $1 WHERE user_id = $2 \
             AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(user_id.as_str())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn use_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &SecretHash,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.begin_write().await?;
        let used =
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user_id.as_str())
                .bind(code_hash.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        if used.rows_affected() == 0 {
            return Ok(None);
        }
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1")
                .bind(user_id.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(u64::try_from(left).unwrap_or(0)))
    }

    async fn remove_mfa(&self, user_id: &UserId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL")
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected()
                > 0;
        for statement in [
            "DELETE FROM mfa_totp WHERE user_id = $1",
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            "DELETE FROM mfa_pending_sign_ins WHERE user_id = $1",
        ] {
            sqlx::query(statement)
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(removed)
    }

    async fn insert_pending_sign_in(
        &self,
        pending: &PendingSignInRecord,
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM mfa_pending_sign_ins WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO mfa_pending_sign_ins (pending_hash, user_id, return_to, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(pending.pending_hash.as_str())
        .bind(pending.user_id.as_str())
        .bind(pending.return_to.as_deref())
        .bind(pending.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(rows::conflict("pending sign-in"))?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_pending_sign_in(
        &self,
        pending_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignInRecord>> {
        let Some(row) = sqlx::query(
            "SELECT user_id, return_to, expires_at FROM mfa_pending_sign_ins \
             WHERE pending_hash = $1 AND expires_at > $2",
        )
        .bind(pending_hash.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(PendingSignInRecord {
            pending_hash: pending_hash.clone(),
            user_id: UserId(rows::get(&row, "user_id")?),
            return_to: rows::get(&row, "return_to")?,
            expires_at: rows::get(&row, "expires_at")?,
        }))
    }

    async fn delete_pending_sign_in(&self, pending_hash: &SecretHash) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mfa_pending_sign_ins WHERE pending_hash = $1")
            .bind(pending_hash.as_str())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }
}

async fn replace_recovery_codes(
    tx: &mut Transaction<'static, Any>,
    user_id: &UserId,
    recovery_codes: &[SecretHash],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    for code_hash in recovery_codes {
        sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id.as_str())
            .bind(code_hash.as_str())
            .execute(&mut **tx)
            .await
            .map_err(rows::conflict("recovery code"))?;
    }
    Ok(())
}

/// Seals under `key`, in one transaction, every TOTP secret stored in clear, as the signing
/// keys are ([`super::keys::encrypt_keys_in_clear`]); how many were sealed.
pub(super) async fn seal_secrets_in_clear(
    mut tx: Transaction<'static, Any>,
    key: &KeyEncryptionKey,
) -> StoreResult<usize> {
    let rows = sqlx::query("SELECT user_id, secret FROM mfa_totp")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let mut sealed = 0;
    for row in &rows {
        let user_id = UserId(rows::get(row, "user_id")?);
        let stored = Zeroizing::new(rows::get::<Vec<u8>>(row, "secret")?);
        if key_encryption::is_sealed(&stored) {
            continue;
        }
        sqlx::query("UPDATE mfa_totp SET secret = $1 WHERE user_id = $2")
            .bind(key.seal(&aad(&user_id), &stored)?)
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sealed += 1;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(sealed)
}
