//! [`FederationStore`] on the `upstream_identities` and `upstream_logins` tables: federated
//! sign-in.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};

use super::rows::{self, db_error};
use super::{SqlStore, accounts};
use crate::store::{
    FederationStore, SecretHash, StoreResult, UnixTime, UpstreamIdentityRecord,
    UpstreamLoginRecord, UserId, UserRecord,
};

#[async_trait]
impl FederationStore for SqlStore {
    async fn find_upstream_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamIdentityRecord>> {
        find_identity(&self.pool, issuer, subject).await
    }

    async fn insert_user_with_upstream_identity(
        &self,
        user: &UserRecord,
        identity: &UpstreamIdentityRecord,
    ) -> StoreResult<()> {
        insert_user_with_identity(self.begin_write().await?, user, identity).await
    }

    async fn record_upstream_sign_in(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        record_sign_in(&self.writer, issuer, subject, email, now).await
    }

    async fn insert_upstream_login(&self, login: &UpstreamLoginRecord) -> StoreResult<()> {
        insert_login(&self.writer, login).await
    }

    async fn take_upstream_login(
        &self,
        state_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLoginRecord>> {
        take_login(&self.writer, state_hash, now).await
    }
}

async fn find_identity(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
) -> StoreResult<Option<UpstreamIdentityRecord>> {
    sqlx::query(
        "SELECT issuer, subject, user_id, email, created_at, last_login_at \
         FROM upstream_identities WHERE issuer = $1 AND subject = $2",
    )
    .bind(issuer)
    .bind(subject)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    .map(|row| identity_from_row(&row))
    .transpose()
}

/// Inserts the user, then the identity linked to it, in one transaction: both or neither.
async fn insert_user_with_identity(
    mut tx: Transaction<'static, Any>,
    user: &UserRecord,
    identity: &UpstreamIdentityRecord,
) -> StoreResult<()> {
    accounts::insert(&mut *tx, user).await?;
    sqlx::query(
        "INSERT INTO upstream_identities (issuer, subject, user_id, email, created_at, \
                                          last_login_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(identity.issuer.as_str())
    .bind(identity.subject.as_str())
    .bind(identity.user_id.as_str())
    .bind(identity.email.as_deref())
    .bind(identity.created_at)
    .bind(identity.last_login_at)
    .execute(&mut *tx)
    .await
    .map_err(rows::conflict("upstream identity"))?;
    tx.commit().await.map_err(db_error)
}

async fn record_sign_in(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
    now: UnixTime,
) -> StoreResult<bool> {
    let updated = sqlx::query(
        "UPDATE upstream_identities SET email = $3, last_login_at = $4 \
         WHERE issuer = $1 AND subject = $2",
    )
    .bind(issuer)
    .bind(subject)
    .bind(email)
    .bind(now)
    .execute(pool)
    .await
    .map_err(db_error)?
    .rows_affected();
    Ok(updated > 0)
}

async fn insert_login(pool: &AnyPool, login: &UpstreamLoginRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO upstream_logins (state_hash, browser_hash, issuer, return_to, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(login.state_hash.as_str())
    .bind(login.browser_hash.as_str())
    .bind(login.issuer.as_str())
    .bind(login.return_to.as_str())
    .bind(login.expires_at)
    .execute(pool)
    .await
    .map_err(rows::conflict("upstream login"))?;
    Ok(())
}

/// One statement deletes the row and returns it: of concurrent callers only one gets it. An
/// expired row is deleted too, and not returned.
async fn take_login(
    pool: &AnyPool,
    state_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<UpstreamLoginRecord>> {
    let Some(row) = sqlx::query(
        "DELETE FROM upstream_logins WHERE state_hash = $1 \
         RETURNING browser_hash, issuer, return_to, expires_at",
    )
    .bind(state_hash.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    let login = UpstreamLoginRecord {
        state_hash: state_hash.clone(),
        browser_hash: rows::hash(&row, "browser_hash")?,
        issuer: rows::get(&row, "issuer")?,
        return_to: rows::get(&row, "return_to")?,
        expires_at: rows::get(&row, "expires_at")?,
    };
    Ok((login.expires_at > now).then_some(login))
}

fn identity_from_row(row: &AnyRow) -> StoreResult<UpstreamIdentityRecord> {
    Ok(UpstreamIdentityRecord {
        issuer: rows::get(row, "issuer")?,
        subject: rows::get(row, "subject")?,
        user_id: UserId(rows::get(row, "user_id")?),
        email: rows::get(row, "email")?,
        created_at: rows::get(row, "created_at")?,
        last_login_at: rows::get(row, "last_login_at")?,
    })
}
