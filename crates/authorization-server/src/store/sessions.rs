//! Browser state: [`SessionStore`], with sessions and device cookies.

use async_trait::async_trait;

use super::{SecretHash, StoreResult, UnixTime, UserId};

/// What the server remembers of browsers: the sessions of signed-in users, and the device
/// cookies of browsers in which a user signed in.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session; `Conflict("session")` if its hash exists.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with `session_hash`, if unexpired.
    async fn get_session(
        &self,
        session_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Deletes a session (sign-out).
    async fn delete_session(&self, session_hash: &SecretHash) -> StoreResult<()>;

    /// Stores a device cookie; `Conflict("device cookie")` if its hash exists.
    async fn insert_device_cookie(&self, cookie: &DeviceCookieRecord) -> StoreResult<()>;
    /// The device cookie with `cookie_hash`, if unexpired.
    async fn get_device_cookie(
        &self,
        cookie_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceCookieRecord>>;
    /// Deletes a device cookie (replaced by a new one).
    async fn delete_device_cookie(&self, cookie_hash: &SecretHash) -> StoreResult<()>;
}

/// A browser session of a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// SHA-256 of the session cookie's value.
    pub session_hash: SecretHash,
    /// The signed-in user.
    pub user_id: UserId,
    /// When the user authenticated (OIDC `auth_time`).
    pub auth_time: UnixTime,
    /// When the session ends.
    pub expires_at: UnixTime,
}

impl SessionRecord {
    /// The session whose cookie hashes to `session_hash`.
    pub fn new(
        session_hash: SecretHash,
        user_id: UserId,
        auth_time: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            session_hash,
            user_id,
            auth_time,
            expires_at,
        }
    }
}

/// A device cookie: a browser in which a user signed in with their password (OWASP
/// "Slow Down Online Guessing Attacks with Device Cookies"). Sign-ins of that user from that
/// browser are not locked out by others' failures on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceCookieRecord {
    /// SHA-256 of the cookie's value.
    pub cookie_hash: SecretHash,
    /// The user the cookie was issued to, the only account it vouches for.
    pub user_id: UserId,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

impl DeviceCookieRecord {
    /// The device cookie whose value hashes to `cookie_hash`.
    pub fn new(
        cookie_hash: SecretHash,
        user_id: UserId,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            cookie_hash,
            user_id,
            created_at,
            expires_at,
        }
    }
}
