//! Federated sign-in: [`FederationStore`], with the links of upstream identities and the
//! upstream sign-ins in progress.

use async_trait::async_trait;

use super::{SecretHash, StoreResult, UnixTime, UserId, UserRecord};

/// Upstream identities linked to local users, and upstream sign-ins in progress.
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// The identity at `issuer` with `subject`, with the local user it is linked to.
    async fn find_upstream_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamIdentityRecord>>;
    /// Creates a local user and links it to an upstream identity, atomically: both or neither.
    /// `Conflict("user")` if the user's id or e-mail is taken, `Conflict("upstream identity")`
    /// if the identity is already linked (a concurrent first sign-in).
    async fn insert_user_with_upstream_identity(
        &self,
        user: &UserRecord,
        identity: &UpstreamIdentityRecord,
    ) -> StoreResult<()>;
    /// Records a sign-in through a linked identity: its `email` and `last_login_at`; `false`
    /// if there is no such identity.
    async fn record_upstream_sign_in(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Stores an upstream sign-in in progress; `Conflict("upstream login")` if its state exists.
    async fn insert_upstream_login(&self, login: &UpstreamLoginRecord) -> StoreResult<()>;
    /// Takes the upstream sign-in with `state_hash`, atomically: it is deleted, so of concurrent
    /// callers at most one gets it, and only if it has not expired.
    async fn take_upstream_login(
        &self,
        state_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLoginRecord>>;
}

/// A person's identity at an upstream OpenID provider, linked to a local user (federated
/// sign-in). The link is by `(issuer, subject)` only (OpenID Connect Core §5.7): the e-mail is
/// kept for information, never used to find the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamIdentityRecord {
    /// The upstream provider's issuer identifier (the ID token's `iss`).
    pub issuer: String,
    /// The person's identifier at that provider (the ID token's `sub`).
    pub subject: String,
    /// The local user it is linked to.
    pub user_id: UserId,
    /// The e-mail address the provider last asserted, if any; informational.
    pub email: Option<String>,
    /// When the link was made (the first upstream sign-in).
    pub created_at: UnixTime,
    /// When the person last signed in through this provider.
    pub last_login_at: UnixTime,
}

impl UpstreamIdentityRecord {
    /// The link of `subject` at `issuer` to `user_id`, made at the first sign-in, `now`.
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        user_id: UserId,
        email: Option<String>,
        now: UnixTime,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            user_id,
            email,
            created_at: now,
            last_login_at: now,
        }
    }
}

/// An upstream sign-in in progress: what the callback needs to finish it. Found by the hash of
/// the `state` sent to the provider, taken once, and bound to the browser that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamLoginRecord {
    /// SHA-256 of the `state` parameter sent to the provider.
    pub state_hash: SecretHash,
    /// SHA-256 of the browser-binding cookie of the browser that started the sign-in.
    pub browser_hash: SecretHash,
    /// The upstream provider's issuer identifier.
    pub issuer: String,
    /// Where the browser goes afterwards: the authorization request (`/authorize?…`).
    pub return_to: String,
    /// When the sign-in attempt expires.
    pub expires_at: UnixTime,
}

impl UpstreamLoginRecord {
    /// A sign-in at `issuer` started by the browser whose binding cookie hashes to
    /// `browser_hash`, with the `state` that hashes to `state_hash`.
    pub fn new(
        state_hash: SecretHash,
        browser_hash: SecretHash,
        issuer: impl Into<String>,
        return_to: impl Into<String>,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            state_hash,
            browser_hash,
            issuer: issuer.into(),
            return_to: return_to.into(),
            expires_at,
        }
    }
}
