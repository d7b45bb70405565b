//! [`AccountStore`] on the `users` table: local accounts and users who sign in upstream.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::SqlStore;
use super::rows::{self, db_error};
use crate::store::{AccountStore, StoreResult, UserId, UserRecord};

#[async_trait]
impl AccountStore for SqlStore {
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        insert(&self.writer, user).await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        sqlx::query("SELECT user_id, email, password_hash, created_at FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| from_row(&row))
            .transpose()
    }

    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>> {
        sqlx::query(
            "SELECT user_id, email, password_hash, created_at FROM users WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| from_row(&row))
        .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        sqlx::query(
            "SELECT user_id, email, password_hash, created_at FROM users \
             ORDER BY created_at, user_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(from_row)
        .collect()
    }
}

/// Adds a user, on the pool or on a transaction; a taken e-mail address (or user id) is
/// `Conflict("user")`.
pub(super) async fn insert<'e>(
    executor: impl Executor<'e, Database = Any>,
    user: &UserRecord,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (user_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user.user_id.as_str())
    .bind(user.email.as_str())
    .bind(user.password_hash.as_deref())
    .bind(user.created_at)
    .execute(executor)
    .await
    .map_err(rows::conflict("user"))?;
    Ok(())
}

fn from_row(row: &AnyRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        user_id: UserId(rows::get(row, "user_id")?),
        email: rows::get(row, "email")?,
        password_hash: rows::get(row, "password_hash")?,
        created_at: rows::get(row, "created_at")?,
    })
}
