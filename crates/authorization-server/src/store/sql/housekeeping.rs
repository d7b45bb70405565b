//! Deleting what expired.

use sqlx::{Any, Transaction};

use super::rows::db_error;
use crate::store::{StoreResult, UnixTime};

/// Expired rows of each table that has an expiry. A used code or refresh token goes too once
/// expired: presenting it afterwards is `Unknown` rather than a replay, which revokes nothing,
/// but it could not have been redeemed anyway.
const PURGES: [&str; 6] = [
    "DELETE FROM authorization_codes WHERE expires_at <= $1",
    "DELETE FROM refresh_tokens WHERE expires_at <= $1",
    "DELETE FROM access_tokens WHERE expires_at <= $1",
    "DELETE FROM sessions WHERE expires_at <= $1",
    "DELETE FROM device_cookies WHERE expires_at <= $1",
    "DELETE FROM upstream_logins WHERE expires_at <= $1",
];

/// Deletes every expired code, token, session, device cookie and upstream sign-in in one
/// transaction; the number of rows.
pub(super) async fn purge_expired(
    mut tx: Transaction<'static, Any>,
    now: UnixTime,
) -> StoreResult<u64> {
    let mut deleted = 0;
    for purge in PURGES {
        deleted += sqlx::query(purge)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    tx.commit().await.map_err(db_error)?;
    Ok(deleted)
}
