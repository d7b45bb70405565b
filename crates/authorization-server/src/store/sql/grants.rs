//! [`GrantStore`] on the `grants` and `authorization_codes` tables (refresh tokens in
//! [`refresh`], access tokens in [`access`]), and revoking a
//! grant with everything issued from it.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

use super::rows::{self, StoredRow, db_error};
use super::{SqlStore, access, refresh};
use crate::store::{
    AccessTokenRecord, ActiveRefreshToken, AuthorizationCodeRecord, ClientId, CodeRedemption,
    GrantId, GrantRecord, GrantStore, RefreshRotation, RefreshTokenRecord, SecretHash, StoreError,
    StoreResult, UnixTime, UserId,
};

#[async_trait]
impl GrantStore for SqlStore {
    async fn insert_grant_with_code(
        &self,
        grant: &GrantRecord,
        code: &AuthorizationCodeRecord,
    ) -> StoreResult<()> {
        insert_with_code(self.begin_write().await?, grant, code).await
    }

    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<CodeRedemption> {
        redeem_code(&self.writer, code_hash, now).await
    }

    async fn get_grant(&self, grant_id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        get(&self.pool, grant_id).await
    }

    async fn revoke_grant(&self, grant_id: &GrantId, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let found = revoke(&mut tx, grant_id, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        refresh::insert(&self.writer, token).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &SecretHash,
        next: &RefreshTokenRecord,
        issued: &AccessTokenRecord,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation> {
        let inline = |connection: &rusqlite::Connection| {
            refresh::rotate_inline(connection, presented, next, issued, now)
        };
        if let Some(rotated) = self.inline(|store| store.write(inline)) {
            return rotated;
        }
        refresh::rotate(
            self.begin_write().await?,
            self.dialect,
            presented,
            next,
            issued,
            now,
        )
        .await
    }

    async fn revoke_grant_if_reused(
        &self,
        presented: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation> {
        refresh::revoke_grant_if_reused(self.begin_write().await?, self.dialect, presented, now)
            .await
    }

    async fn find_active_refresh_token(
        &self,
        token_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<ActiveRefreshToken>> {
        let inline = |connection: &rusqlite::Connection| {
            refresh::find_active_inline(connection, token_hash, now)
        };
        if let Some(found) = self.inline(|store| store.read(inline)) {
            return found;
        }
        refresh::find_active(&self.pool, token_hash, now).await
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()> {
        let inline = |connection: &rusqlite::Connection| access::insert_inline(connection, token);
        if let Some(done) = self.inline(|store| store.write(inline)) {
            return done;
        }
        access::insert(&self.writer, token).await
    }

    async fn find_active_access_token(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        access::find_active(&self.pool, jti, now).await
    }

    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<bool> {
        access::revoke(&self.writer, jti, now).await
    }
}

/// Stores a grant and its code in one transaction: both or neither.
async fn insert_with_code(
    mut tx: Transaction<'static, Any>,
    grant: &GrantRecord,
    code: &AuthorizationCodeRecord,
) -> StoreResult<()> {
    check_code_matches_grant(grant, code)?;
    sqlx::query(
        "INSERT INTO grants (grant_id, client_id, user_id, scope, resource, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(grant.grant_id.as_str())
    .bind(grant.client_id.as_str())
    .bind(grant.user_id.as_str())
    .bind(grant.scope.to_string())
    .bind(grant.resource.as_ref().map(|resource| resource.as_str()))
    .bind(grant.created_at)
    .bind(grant.revoked_at)
    .execute(&mut *tx)
    .await
    .map_err(rows::conflict("grant"))?;
    sqlx::query(
        "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, \
                                          scope, resource, code_challenge, nonce, auth_time, \
                                          expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(code.code_hash.as_str())
    .bind(code.grant_id.as_str())
    .bind(code.client_id.as_str())
    .bind(code.user_id.as_str())
    // The column is NOT NULL: an empty string stands for "the request named none".
    .bind(code.redirect_uri.as_deref().unwrap_or_default())
    .bind(code.scope.to_string())
    .bind(code.resource.as_ref().map(|resource| resource.as_str()))
    .bind(code.code_challenge.as_str())
    .bind(code.nonce.as_deref())
    .bind(code.auth_time)
    .bind(code.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(rows::conflict("authorization code"))?;
    tx.commit().await.map_err(db_error)
}

/// The code record repeats its grant's client, user, scope and resource; a code that disagrees
/// with its grant is a bug of the caller, refused before anything is written.
fn check_code_matches_grant(
    grant: &GrantRecord,
    code: &AuthorizationCodeRecord,
) -> StoreResult<()> {
    let mismatch = [
        (
            "grant_id",
            code.grant_id.as_str() == grant.grant_id.as_str(),
        ),
        ("client_id", code.client_id == grant.client_id),
        ("user_id", code.user_id == grant.user_id),
        ("scope", code.scope == grant.scope),
        ("resource", code.resource == grant.resource),
    ]
    .into_iter()
    .find(|(_, same)| !same);
    match mismatch {
        Some((field, _)) => Err(StoreError::database(format!(
            "the authorization code's {field} differs from its grant's"
        ))),
        None => Ok(()),
    }
}

/// Redeems a code with one conditional `UPDATE`: of concurrent redemptions only one can see
/// `used_at IS NULL`. When it matches nothing, the code's row (if any) tells why; a code's
/// state only moves forward (unused → used, unexpired → expired), so that answer is sound.
async fn redeem_code(
    pool: &AnyPool,
    code_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<CodeRedemption> {
    let redeemed = sqlx::query(
        "UPDATE authorization_codes SET used_at = $2 \
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING code_hash, grant_id, client_id, user_id, redirect_uri, scope, resource, \
                   code_challenge, nonce, auth_time, expires_at",
    )
    .bind(code_hash.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    if let Some(row) = redeemed {
        return Ok(CodeRedemption::Redeemed(code_from_row(&row)?));
    }
    let Some(row) =
        sqlx::query("SELECT grant_id, used_at FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash.as_str())
            .fetch_optional(pool)
            .await
            .map_err(db_error)?
    else {
        return Ok(CodeRedemption::Unknown);
    };
    // Not redeemed although it exists: used already, or else expired.
    Ok(match rows::get::<Option<UnixTime>>(&row, "used_at")? {
        Some(_) => CodeRedemption::AlreadyRedeemed {
            grant_id: GrantId(rows::get(&row, "grant_id")?),
        },
        None => CodeRedemption::Expired,
    })
}

fn code_from_row(row: &AnyRow) -> StoreResult<AuthorizationCodeRecord> {
    Ok(AuthorizationCodeRecord {
        code_hash: rows::hash(row, "code_hash")?,
        grant_id: GrantId(rows::get(row, "grant_id")?),
        client_id: ClientId(rows::get(row, "client_id")?),
        user_id: UserId(rows::get(row, "user_id")?),
        redirect_uri: Some(rows::get::<String>(row, "redirect_uri")?)
            .filter(|named| !named.is_empty()),
        scope: rows::scope(row, "scope")?,
        resource: rows::optional_resource(row, "resource")?,
        code_challenge: rows::get(row, "code_challenge")?,
        nonce: rows::get(row, "nonce")?,
        auth_time: rows::get(row, "auth_time")?,
        expires_at: rows::get(row, "expires_at")?,
    })
}

/// The grant with `grant_id`, on the pool or on a transaction.
pub(super) async fn get<'e>(
    executor: impl Executor<'e, Database = Any>,
    grant_id: &GrantId,
) -> StoreResult<Option<GrantRecord>> {
    sqlx::query(
        "SELECT grant_id, client_id, user_id, scope, resource, created_at, revoked_at \
         FROM grants WHERE grant_id = $1",
    )
    .bind(grant_id.as_str())
    .fetch_optional(executor)
    .await
    .map_err(db_error)?
    .map(|row| grant_from_row(&row))
    .transpose()
}

/// A grant from a row with its columns under their own names.
pub(super) fn grant_from_row(row: &impl StoredRow) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        grant_id: GrantId(rows::get(row, "grant_id")?),
        client_id: ClientId(rows::get(row, "client_id")?),
        user_id: UserId(rows::get(row, "user_id")?),
        scope: rows::scope(row, "scope")?,
        resource: rows::optional_resource(row, "resource")?,
        created_at: rows::get(row, "created_at")?,
        revoked_at: rows::get(row, "revoked_at")?,
    })
}

/// Revokes a grant and every refresh and access token issued from it, on the caller's
/// transaction; `false` if there is no such grant. A grant keeps its first revocation time, and
/// so do tokens revoked before.
pub(super) async fn revoke(
    conn: &mut AnyConnection,
    grant_id: &GrantId,
    now: UnixTime,
) -> StoreResult<bool> {
    let found =
        sqlx::query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE grant_id = $1")
            .bind(grant_id.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected()
            > 0;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
    )
    .bind(grant_id.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "UPDATE access_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
    )
    .bind(grant_id.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(found)
}
