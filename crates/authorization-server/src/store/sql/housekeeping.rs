//! Deleting what expired.

use sqlx::{Any, Transaction};

use super::limits;
use super::rows::db_error;
use crate::store::{Purged, StoreResult, UnixTime};

/// Expired rows of each table that has an expiry. A used code or refresh token goes too once
/// expired: presenting it afterwards is `Unknown` rather than a replay, which revokes nothing,
/// but it could not have been redeemed anyway. Each is named by its table.
const PURGES: [(&str, &str); 7] = [
    (
        "authorization_codes",
        "DELETE FROM authorization_codes WHERE expires_at <= $1",
    ),
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE expires_at <= $1",
    ),
    (
        "access_tokens",
        "DELETE FROM access_tokens WHERE expires_at <= $1",
    ),
    ("sessions", "DELETE FROM sessions WHERE expires_at <= $1"),
    (
        "device_cookies",
        "DELETE FROM device_cookies WHERE expires_at <= $1",
    ),
    (
        "upstream_logins",
        "DELETE FROM upstream_logins WHERE expires_at <= $1",
    ),
    (
        "mfa_pending_sign_ins",
        "DELETE FROM mfa_pending_sign_ins WHERE expires_at <= $1",
    ),
];

/// Deletes every expired code, token, session, device cookie, upstream sign-in, sign-in waiting
/// for its second factor and limit counter
/// (and the counters past the most kept per kind) in one transaction; the number of rows of
/// each table.
pub(super) async fn purge_expired(
    mut tx: Transaction<'static, Any>,
    now: UnixTime,
) -> StoreResult<Purged> {
    let mut deleted = Purged::default();
    for (table, purge) in PURGES {
        let rows = sqlx::query(purge)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        deleted.add(table, rows);
    }
    deleted.add("limit_counters", limits::purge(&mut tx, now).await?);
    tx.commit().await.map_err(db_error)?;
    Ok(deleted)
}
