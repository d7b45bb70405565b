//! The `refresh_tokens` table: each grant's rotation family (part of
//! [`GrantStore`](crate::store::GrantStore)).

use sqlx::{Any, AnyPool, Executor, Transaction};

use super::dialect::Dialect;
use super::inline::{self, InlineError, InlineResult};
use super::rows::{self, StoredRow, db_error};
use super::{access, grants};
use crate::store::{
    AccessTokenRecord, ActiveRefreshToken, GrantId, RefreshRotation, RefreshTokenRecord,
    SecretHash, StoreError, StoreResult, UnixTime,
};

/// Stores a refresh token.
const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (token_hash, grant_id, scope, \
     created_at, expires_at, certificate_thumbprint) VALUES ($1, $2, $3, $4, $5, $6)";

/// Marks the refresh token `$1` used at `$2` if it is active, and returns it.
const MARK_USED: &str = "UPDATE refresh_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
       AND EXISTS (SELECT 1 FROM grants \
                   WHERE grants.grant_id = refresh_tokens.grant_id \
                     AND grants.revoked_at IS NULL) \
     RETURNING token_hash, grant_id, scope AS token_scope, \
               created_at AS token_created_at, expires_at AS token_expires_at, \
               certificate_thumbprint";

/// The refresh token `$1` if it is active at `$2`, with its grant.
const FIND_ACTIVE: &str = "SELECT refresh_tokens.token_hash, refresh_tokens.scope AS token_scope, \
            refresh_tokens.created_at AS token_created_at, \
            refresh_tokens.expires_at AS token_expires_at, \
            refresh_tokens.certificate_thumbprint, \
            grants.grant_id, grants.client_id, grants.user_id, grants.scope, \
            grants.resource, grants.created_at, grants.revoked_at \
     FROM refresh_tokens JOIN grants ON grants.grant_id = refresh_tokens.grant_id \
     WHERE refresh_tokens.token_hash = $1 AND refresh_tokens.used_at IS NULL \
       AND refresh_tokens.revoked_at IS NULL AND refresh_tokens.expires_at > $2 \
       AND grants.revoked_at IS NULL";

/// Stores a refresh token, on the pool or on a transaction.
pub(super) async fn insert<'e>(
    executor: impl Executor<'e, Database = Any>,
    token: &RefreshTokenRecord,
) -> StoreResult<()> {
    sqlx::query(INSERT_REFRESH_TOKEN)
        .bind(token.token_hash.as_str())
        .bind(token.grant_id.as_str())
        .bind(token.scope.to_string())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.certificate_thumbprint.as_deref())
        .execute(executor)
        .await
        .map_err(rows::conflict("refresh token"))?;
    Ok(())
}

/// Rotates `presented` on the writing transaction `tx`: a conditional `UPDATE` marks it used only
/// if it is active, so of concurrent rotations one wins and the others see a used token. A
/// used token's reuse revokes the grant, in the same transaction, before the answer. The grant
/// is locked first (see [`Dialect::lock_refresh_family`]).
pub(super) async fn rotate(
    mut tx: Transaction<'static, Any>,
    dialect: Dialect,
    presented: &SecretHash,
    next: &RefreshTokenRecord,
    issued: &AccessTokenRecord,
    now: UnixTime,
) -> StoreResult<RefreshRotation> {
    lock_family(&mut tx, dialect, presented).await?;
    let used = sqlx::query(MARK_USED)
        .bind(presented.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;

    let Some(row) = used else {
        let outcome = why_not_rotated(&mut tx, presented, now).await?;
        tx.commit().await.map_err(db_error)?;
        return Ok(outcome);
    };
    let previous = from_row(&row)?;
    if previous.grant_id != next.grant_id {
        // Dropping `tx` rolls the use back.
        return Err(another_grant());
    }
    insert(&mut *tx, next).await?;
    access::insert(&mut *tx, issued).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(RefreshRotation::Rotated { previous })
}

/// [`rotate`] on the inline writer, when the presented token is active; otherwise
/// [`InlineError::Fallback`], with nothing changed, for [`rotate`] to tell why.
pub(super) fn rotate_inline(
    connection: &rusqlite::Connection,
    presented: &SecretHash,
    next: &RefreshTokenRecord,
    issued: &AccessTokenRecord,
    now: UnixTime,
) -> InlineResult<RefreshRotation> {
    let previous =
        inline::query_optional(connection, MARK_USED, [&presented.as_str(), &now], |row| {
            from_row(row)
        })?
        .ok_or(InlineError::Fallback)?;
    if previous.grant_id != next.grant_id {
        return Err(InlineError::Failed(another_grant()));
    }
    let scope = next.scope.to_string();
    let values: [&dyn rusqlite::ToSql; 6] = [
        &next.token_hash.as_str(),
        &next.grant_id.as_str(),
        &scope,
        &next.created_at,
        &next.expires_at,
        &next.certificate_thumbprint.as_deref(),
    ];
    inline::execute(connection, INSERT_REFRESH_TOKEN, values)
        .map_err(inline::conflict("refresh token"))?;
    access::insert_inline(connection, issued)?;
    Ok(RefreshRotation::Rotated { previous })
}

/// A rotation whose next token is of another grant: a fault of the caller.
fn another_grant() -> StoreError {
    StoreError::database("the next refresh token belongs to another grant than the presented one")
}

/// [`why_not_rotated`] in a transaction of its own, under the same lock as a rotation.
pub(super) async fn revoke_grant_if_reused(
    mut tx: Transaction<'static, Any>,
    dialect: Dialect,
    presented: &SecretHash,
    now: UnixTime,
) -> StoreResult<RefreshRotation> {
    lock_family(&mut tx, dialect, presented).await?;
    let outcome = why_not_rotated(&mut tx, presented, now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(outcome)
}

/// Takes the dialect's lock on `presented`'s family, where it has one (PostgreSQL), so that
/// concurrent rotations and reuse checks of one family run one after the other.
async fn lock_family(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    presented: &SecretHash,
) -> StoreResult<()> {
    if let Some(lock) = dialect.lock_refresh_family() {
        sqlx::query(lock)
            .bind(presented.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Why a presented token could not be rotated; revokes its grant on reuse. A revoked token (or
/// grant) is inactive even if it was used: the family is already revoked.
async fn why_not_rotated(
    tx: &mut Transaction<'static, Any>,
    presented: &SecretHash,
    now: UnixTime,
) -> StoreResult<RefreshRotation> {
    let Some(row) = sqlx::query(
        "SELECT refresh_tokens.grant_id, refresh_tokens.used_at, refresh_tokens.revoked_at, \
                grants.revoked_at AS grant_revoked_at \
         FROM refresh_tokens JOIN grants ON grants.grant_id = refresh_tokens.grant_id \
         WHERE refresh_tokens.token_hash = $1",
    )
    .bind(presented.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?
    else {
        return Ok(RefreshRotation::Unknown);
    };
    let grant_id = GrantId(rows::get(&row, "grant_id")?);
    let revoked = rows::get::<Option<UnixTime>>(&row, "revoked_at")?.is_some()
        || rows::get::<Option<UnixTime>>(&row, "grant_revoked_at")?.is_some();
    if revoked {
        return Ok(RefreshRotation::Inactive);
    }
    if rows::get::<Option<UnixTime>>(&row, "used_at")?.is_some() {
        grants::revoke(tx, &grant_id, now).await?;
        return Ok(RefreshRotation::ReuseDetected { grant_id });
    }
    // Unused, unrevoked, yet not rotated: expired.
    Ok(RefreshRotation::Inactive)
}

/// The active refresh token with `token_hash` and its grant, in one statement.
pub(super) async fn find_active(
    pool: &AnyPool,
    token_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<ActiveRefreshToken>> {
    sqlx::query(FIND_ACTIVE)
        .bind(token_hash.as_str())
        .bind(now)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?
        .map(|row| active_from_row(&row))
        .transpose()
}

/// [`find_active`] on an inline reader.
pub(super) fn find_active_inline(
    connection: &rusqlite::Connection,
    token_hash: &SecretHash,
    now: UnixTime,
) -> InlineResult<Option<ActiveRefreshToken>> {
    inline::query_optional(
        connection,
        FIND_ACTIVE,
        [&token_hash.as_str(), &now],
        |row| active_from_row(row),
    )
}

/// A refresh token and its grant, from a row of [`FIND_ACTIVE`].
fn active_from_row(row: &impl StoredRow) -> StoreResult<ActiveRefreshToken> {
    Ok(ActiveRefreshToken {
        token: from_row(row)?,
        grant: grants::grant_from_row(row)?,
    })
}

/// A refresh token from a row that names its own columns `token_hash` and `grant_id`, and
/// the others `token_`-prefixed (`token_scope`, `token_created_at`, `token_expires_at`), so
/// that they can sit beside the grant's columns, and its `certificate_thumbprint`.
fn from_row(row: &impl StoredRow) -> StoreResult<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        token_hash: rows::hash(row, "token_hash")?,
        grant_id: GrantId(rows::get(row, "grant_id")?),
        scope: rows::scope(row, "token_scope")?,
        created_at: rows::get(row, "token_created_at")?,
        expires_at: rows::get(row, "token_expires_at")?,
        certificate_thumbprint: rows::get(row, "certificate_thumbprint")?,
    })
}
