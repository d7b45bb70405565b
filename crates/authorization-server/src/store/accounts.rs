//! User accounts: [`AccountStore`] and [`UserRecord`].

use async_trait::async_trait;

use super::{StoreResult, UnixTime, UserId};

/// Local user accounts, and the users of upstream identities (see `FederationStore`, feature
/// `federation`).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Adds a user; `Conflict("user")` if the id or the e-mail is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// The user with `email` (lower-cased by the caller).
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// The user with `user_id`.
    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// All users, oldest first (admin listing).
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;
}

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserRecord {
    /// The user's identifier (the `sub` of their tokens).
    pub user_id: UserId,
    /// The e-mail address, lower-cased; unique.
    pub email: String,
    /// The Argon2id PHC string of the password; `None` for users who sign in upstream.
    pub password_hash: Option<String>,
    /// When the account was created.
    pub created_at: UnixTime,
}

impl UserRecord {
    /// A user created at `created_at`.
    pub fn new(
        user_id: UserId,
        email: impl Into<String>,
        password_hash: Option<String>,
        created_at: UnixTime,
    ) -> Self {
        Self {
            user_id,
            email: email.into(),
            password_hash,
            created_at,
        }
    }
}
