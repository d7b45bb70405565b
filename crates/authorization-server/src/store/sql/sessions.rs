//! The `sessions` table: signed-in browsers, by the hash of their cookie.

use sqlx::AnyPool;

use super::rows::{self, db_error};
use crate::store::{SecretHash, SessionRecord, StoreResult, UnixTime, UserId};

pub(super) async fn insert(pool: &AnyPool, session: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (session_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(session.session_hash.0.as_str())
    .bind(session.user_id.as_str())
    .bind(session.auth_time)
    .bind(session.expires_at)
    .execute(pool)
    .await
    .map_err(rows::conflict("session"))?;
    Ok(())
}

pub(super) async fn get(
    pool: &AnyPool,
    session_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<SessionRecord>> {
    let Some(row) = sqlx::query(
        "SELECT user_id, auth_time, expires_at FROM sessions \
         WHERE session_hash = $1 AND expires_at > $2",
    )
    .bind(session_hash.0.as_str())
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

pub(super) async fn delete(pool: &AnyPool, session_hash: &SecretHash) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
        .bind(session_hash.0.as_str())
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}
