//! The `device_cookies` table: browsers in which a user signed in, by the hash of their
//! device cookie (part of [`SessionStore`](crate::store::SessionStore)).

use sqlx::AnyPool;

use super::rows::{self, db_error};
use crate::store::{DeviceCookieRecord, SecretHash, StoreResult, UnixTime, UserId};

pub(super) async fn insert(pool: &AnyPool, cookie: &DeviceCookieRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO device_cookies (cookie_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(cookie.cookie_hash.as_str())
    .bind(cookie.user_id.as_str())
    .bind(cookie.created_at)
    .bind(cookie.expires_at)
    .execute(pool)
    .await
    .map_err(rows::conflict("device cookie"))?;
    Ok(())
}

pub(super) async fn get(
    pool: &AnyPool,
    cookie_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<DeviceCookieRecord>> {
    let Some(row) = sqlx::query(
        "SELECT user_id, created_at, expires_at FROM device_cookies \
         WHERE cookie_hash = $1 AND expires_at > $2",
    )
    .bind(cookie_hash.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(Some(DeviceCookieRecord {
        cookie_hash: cookie_hash.clone(),
        user_id: UserId(rows::get(&row, "user_id")?),
        created_at: rows::get(&row, "created_at")?,
        expires_at: rows::get(&row, "expires_at")?,
    }))
}

pub(super) async fn delete(pool: &AnyPool, cookie_hash: &SecretHash) -> StoreResult<()> {
    sqlx::query("DELETE FROM device_cookies WHERE cookie_hash = $1")
        .bind(cookie_hash.as_str())
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}
