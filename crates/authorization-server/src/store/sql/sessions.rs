//! [`SessionStore`] on the `sessions` table (signed-in browsers, by the hash of their cookie)
//! and the `device_cookies` table (in [`devices`]).

use async_trait::async_trait;
use sqlx::AnyPool;

use super::rows::{self, db_error};
use super::{SqlStore, devices};
use crate::store::{
    DeviceCookieRecord, SecretHash, SessionRecord, SessionStore, StoreResult, UnixTime, UserId,
};

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        insert(&self.writer, session).await
    }

    async fn get_session(
        &self,
        session_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        get(&self.pool, session_hash, now).await
    }

    async fn delete_session(&self, session_hash: &SecretHash) -> StoreResult<()> {
        delete(&self.writer, session_hash).await
    }

    async fn insert_device_cookie(&self, cookie: &DeviceCookieRecord) -> StoreResult<()> {
        devices::insert(&self.writer, cookie).await
    }

    async fn get_device_cookie(
        &self,
        cookie_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceCookieRecord>> {
        devices::get(&self.pool, cookie_hash, now).await
    }

    async fn delete_device_cookie(&self, cookie_hash: &SecretHash) -> StoreResult<()> {
        devices::delete(&self.writer, cookie_hash).await
    }
}

async fn insert(pool: &AnyPool, session: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (session_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(session.session_hash.as_str())
    .bind(session.user_id.as_str())
    .bind(session.auth_time)
    .bind(session.expires_at)
    .execute(pool)
    .await
    .map_err(rows::conflict("session"))?;
    Ok(())
}

async fn get(
    pool: &AnyPool,
    session_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<SessionRecord>> {
    let Some(row) = sqlx::query(
        "SELECT user_id, auth_time, expires_at FROM sessions \
         WHERE session_hash = $1 AND expires_at > $2",
    )
    .bind(session_hash.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(Some(SessionRecord {
        session_hash: session_hash.clone(),
        user_id: UserId(rows::get(&row, "user_id")?),
        auth_time: rows::get(&row, "auth_time")?,
        expires_at: rows::get(&row, "expires_at")?,
    }))
}

async fn delete(pool: &AnyPool, session_hash: &SecretHash) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
        .bind(session_hash.as_str())
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}
