//! The `access_tokens` table: issued JWTs remembered by `jti`, for revocation and introspection
//! (part of [`GrantStore`](crate::store::GrantStore)).

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor};

use super::inline::{self, InlineResult};
use super::rows::{self, db_error};
use crate::store::{AccessTokenRecord, ClientId, GrantId, StoreResult, UnixTime};

/// Remembers an issued access token.
const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (jti, grant_id, client_id, expires_at, \
     certificate_thumbprint) VALUES ($1, $2, $3, $4, $5)";

/// Remembers an issued access token, on the pool or on a transaction.
pub(super) async fn insert<'e>(
    executor: impl Executor<'e, Database = Any>,
    token: &AccessTokenRecord,
) -> StoreResult<()> {
    sqlx::query(INSERT_ACCESS_TOKEN)
        .bind(token.jti.as_str())
        .bind(token.grant_id.as_str())
        .bind(token.client_id.as_str())
        .bind(token.expires_at)
        .bind(token.certificate_thumbprint.as_deref())
        .execute(executor)
        .await
        .map_err(rows::conflict("access token"))?;
    Ok(())
}

/// [`insert`] on the inline writer.
pub(super) fn insert_inline(
    connection: &rusqlite::Connection,
    token: &AccessTokenRecord,
) -> InlineResult<()> {
    let values: [&dyn rusqlite::ToSql; 5] = [
        &token.jti.as_str(),
        &token.grant_id.as_str(),
        &token.client_id.as_str(),
        &token.expires_at,
        &token.certificate_thumbprint.as_deref(),
    ];
    inline::execute(connection, INSERT_ACCESS_TOKEN, values)
        .map_err(inline::conflict("access token"))?;
    Ok(())
}

pub(super) async fn find_active(
    pool: &AnyPool,
    jti: &str,
    now: UnixTime,
) -> StoreResult<Option<AccessTokenRecord>> {
    sqlx::query(
        "SELECT access_tokens.jti, access_tokens.grant_id, access_tokens.client_id, \
                access_tokens.expires_at, access_tokens.certificate_thumbprint \
         FROM access_tokens JOIN grants ON grants.grant_id = access_tokens.grant_id \
         WHERE access_tokens.jti = $1 AND access_tokens.revoked_at IS NULL \
           AND access_tokens.expires_at > $2 AND grants.revoked_at IS NULL",
    )
    .bind(jti)
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?
    .map(|row| from_row(&row))
    .transpose()
}

/// Revokes one token, keeping the first revocation time; `false` if there is no such token.
pub(super) async fn revoke(pool: &AnyPool, jti: &str, now: UnixTime) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE jti = $1",
    )
    .bind(jti)
    .bind(now)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected() > 0)
}

fn from_row(row: &AnyRow) -> StoreResult<AccessTokenRecord> {
    Ok(AccessTokenRecord {
        jti: rows::get(row, "jti")?,
        grant_id: GrantId(rows::get(row, "grant_id")?),
        client_id: ClientId(rows::get(row, "client_id")?),
        expires_at: rows::get(row, "expires_at")?,
        certificate_thumbprint: rows::get(row, "certificate_thumbprint")?,
    })
}
