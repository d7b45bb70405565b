//! Storage of the authorization server behind one trait, [`Store`], with SQLite (one file,
//! the default) and PostgreSQL (several instances) backends that pass the same test suite.
//!
//! Secrets never reach the store in clear: client secrets, registration access tokens,
//! authorization codes, refresh tokens, session ids and device cookies are stored as SHA-256
//! hashes ([`SecretHash`]); passwords as Argon2id PHC strings. Times are Unix seconds ([`UnixTime`])
//! passed in by the caller, so tests control the clock.

mod key_encryption;
mod sql;

pub use key_encryption::KeyEncryptionKey;
pub use sql::{SqlStore, SqlStoreOptions};

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use thiserror::Error;
use zeroize::Zeroize;

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// An OAuth client identifier (RFC 6749 §2.2); for a CIMD client, its metadata URL.
    ClientId
);
id_newtype!(
    /// A user of the authorization server.
    UserId
);
id_newtype!(
    /// A grant: what one authorization code produced (its refresh-token family and access tokens).
    GrantId
);

/// The lowercase hex SHA-256 of a secret (64 characters): how secrets are stored and looked up.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(pub String);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.0[..self.0.len().min(8)])
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: ClientId,
    /// SHA-256 of the client secret, for confidential clients.
    pub secret_hash: Option<SecretHash>,
    /// The registered client metadata (RFC 7591 §2), as validated, in JSON.
    pub metadata: Value,
    /// SHA-256 of the registration access token (RFC 7592), for dynamically registered clients.
    pub registration_token_hash: Option<SecretHash>,
    /// How the client came to be.
    pub origin: ClientOrigin,
    /// The resources (canonical URIs) whose access tokens this client may introspect: it is
    /// their resource server (RFC 7662 §4). Empty for every client the operator did not allow;
    /// never set through registration.
    pub introspection_resources: Vec<String>,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it was last changed.
    pub updated_at: UnixTime,
}

/// How a client came to be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Added by configuration or an admin command.
    Static,
    /// Registered through RFC 7591 Dynamic Client Registration.
    Dynamic,
}

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Consent a user gave a client for one resource, remembered so they are not asked again for
/// it. Consent for one resource (MCP server) is never reused for another (MCP Security Best
/// Practices, "Confused Deputy Problem": consent is per client and per resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The user.
    pub user_id: UserId,
    /// The client.
    pub client_id: ClientId,
    /// The resource (RFC 8707) the consent is for, in its canonical form.
    pub resource: String,
    /// The scopes consented to, space-delimited and sorted.
    pub scope: String,
    /// When consent was (last) given.
    pub granted_at: UnixTime,
}

/// A grant: one authorization (user, client, scope, resource) and everything issued from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant's identifier.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user who authorised it.
    pub user_id: UserId,
    /// The scopes granted, space-delimited.
    pub scope: String,
    /// The resource (RFC 8707) the grant is bound to: the access tokens' `aud`.
    pub resource: Option<String>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    /// SHA-256 of the code.
    pub code_hash: SecretHash,
    /// The grant the code belongs to (created with the code).
    pub grant_id: GrantId,
    /// The client the code was issued to.
    pub client_id: ClientId,
    /// The user who authorised it.
    pub user_id: UserId,
    /// The `redirect_uri` the authorization request named, which the token request must
    /// repeat; `None` when it named none (the client's only registered URI was used).
    pub redirect_uri: Option<String>,
    /// The scopes granted, space-delimited.
    pub scope: String,
    /// The resource the grant is bound to.
    pub resource: Option<String>,
    /// The PKCE `code_challenge` (always S256).
    pub code_challenge: String,
    /// The OIDC `nonce`, when the request carried one.
    pub nonce: Option<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the code expires.
    pub expires_at: UnixTime,
}

/// What became of an attempt to redeem a code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per token request: boxing would buy nothing
pub enum CodeRedemption {
    /// First redemption of an unexpired code: it is now used.
    Redeemed(AuthorizationCodeRecord),
    /// The code was already redeemed: a replay. The caller revokes the grant.
    AlreadyRedeemed {
        /// The grant whose tokens must be revoked.
        grant_id: GrantId,
    },
    /// The code expired unused.
    Expired,
    /// No such code.
    Unknown,
}

/// A refresh token (stored by hash) in a grant's rotation family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: SecretHash,
    /// The grant (family) it belongs to.
    pub grant_id: GrantId,
    /// The scopes it may obtain, space-delimited (may narrow with each rotation).
    pub scope: String,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

/// What became of an attempt to rotate a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per token request: boxing would buy nothing
pub enum RefreshRotation {
    /// The presented token was current: it is now used, and the new one is stored.
    Rotated {
        /// The token that was presented.
        previous: RefreshTokenRecord,
        /// Its grant (not revoked).
        grant: GrantRecord,
    },
    /// The presented token had already been rotated: reuse. The store has revoked the whole
    /// grant (every refresh token and access token of the family) before answering.
    ReuseDetected {
        /// The revoked grant.
        grant_id: GrantId,
    },
    /// The token expired, was revoked, or its grant was revoked.
    Inactive,
    /// No such token.
    Unknown,
}

/// An access token (a JWT) remembered by its `jti`, so revocation and introspection know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The grant it was issued from.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// When it expires.
    pub expires_at: UnixTime,
}

/// The life stage of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens; exactly one key is current.
    Current,
    /// Signed tokens that may still be valid: still in the JWKS.
    Previous,
    /// Out of the JWKS; kept for the record.
    Retired,
}

/// A signing key.
#[derive(Clone, PartialEq)]
pub struct SigningKeyRecord {
    /// The key id (`kid`).
    pub kid: String,
    /// The JWS algorithm, e.g. `ES256`.
    pub algorithm: String,
    /// The private key, PKCS#8 DER. Zeroized on drop; never in `Debug`.
    pub private_key_der: Vec<u8>,
    /// The public JWK.
    pub public_jwk: Value,
    /// Its life stage.
    pub state: KeyState,
    /// When it was created.
    pub created_at: UnixTime,
}

impl Drop for SigningKeyRecord {
    fn drop(&mut self) {
        self.private_key_der.zeroize();
    }
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A browser session of a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A device cookie: a browser in which a user signed in with their password (OWASP
/// "Slow Down Online Guessing Attacks with Device Cookies"). Sign-ins of that user from that
/// browser are not locked out by others' failures on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A person's identity at an upstream OpenID provider, linked to a local user (federated
/// sign-in). The link is by `(issuer, subject)` only (OpenID Connect Core §5.7): the e-mail is
/// kept for information, never used to find the user.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// An upstream sign-in in progress: what the callback needs to finish it. Found by the hash of
/// the `state` sent to the provider, taken once, and bound to the browser that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Faults of the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same unique key exists (client id, user e-mail, key id, …).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database failed; the detail is for logs only.
    #[error("database error: {0}")]
    Database(String),
    /// The schema could not be migrated.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The data directory or a file in it could be read or replaced by others, and it is not
    /// ours to fix; the message names the command that does. Nothing was opened.
    #[error("{0}")]
    Exposed(String),
    /// The database file is not a usable database: not SQLite, or damaged. Nothing was changed.
    #[error("{0}")]
    Damaged(String),
    /// An existing database file holds no data of this store (an empty file, or a SQLite
    /// database without its tables): it is not made a new store unless the caller allows it
    /// ([`SqlStoreOptions::with_init_empty_database`]). Nothing was changed.
    #[error("{0}")]
    NotInitialised(String),
    /// The private signing keys cannot be encrypted or decrypted: encrypted but no key given,
    /// another key given, a damaged value, or a key encryption key that is not 32 bytes.
    #[error("{0}")]
    KeyEncryption(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the authorization server persists. Every operation that must be atomic says so;
/// implementations use one transaction (or one conditional statement) for it.
#[async_trait]
pub trait Store: Send + Sync {
    // --- clients
    /// Adds a client; `Conflict` if the id exists.
    async fn insert_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// The client with `client_id`.
    async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRecord>>;
    /// Replaces a client's metadata, secret hash and `updated_at`; `false` if there is no such client.
    async fn update_client(&self, client: &ClientRecord) -> StoreResult<bool>;
    /// Deletes a client with its consents, grants, codes and tokens; `false` if there was none.
    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool>;
    /// All clients, oldest first (admin listing).
    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>>;

    // --- users
    /// Adds a user; `Conflict` if the e-mail is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// The user with `email` (lower-cased by the caller).
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// The user with `user_id`.
    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// All users, oldest first (admin listing).
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;

    // --- consents
    /// Records (or replaces) a user's consent for a client and a resource.
    async fn upsert_consent(&self, consent: &ConsentRecord) -> StoreResult<()>;
    /// The consent a user gave a client for `resource`.
    async fn get_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        resource: &str,
    ) -> StoreResult<Option<ConsentRecord>>;

    // --- grants and codes
    /// Stores a new grant and its authorization code, atomically.
    async fn insert_grant_with_code(
        &self,
        grant: &GrantRecord,
        code: &AuthorizationCodeRecord,
    ) -> StoreResult<()>;
    /// Redeems a code, atomically: only the first redemption of an unexpired code succeeds.
    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<CodeRedemption>;
    /// The grant with `grant_id`.
    async fn get_grant(&self, grant_id: &GrantId) -> StoreResult<Option<GrantRecord>>;
    /// Revokes a grant and every refresh and access token issued from it; `false` if there was none.
    async fn revoke_grant(&self, grant_id: &GrantId, now: UnixTime) -> StoreResult<bool>;

    // --- refresh tokens
    /// Stores a refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Rotates a refresh token, atomically: if `presented` is current, unexpired and its grant
    /// not revoked, marks it used and stores `next` (same grant); if it was already used,
    /// revokes the whole grant and reports reuse.
    async fn rotate_refresh_token(
        &self,
        presented: &SecretHash,
        next: &RefreshTokenRecord,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation>;
    /// Checks `presented`, which is not active, for reuse, atomically: if it was already used
    /// (and neither it nor its grant is revoked), the whole grant is revoked before answering
    /// `ReuseDetected`; otherwise the answer is `Inactive` (expired or revoked; a token that
    /// is somehow still current is left alone and also reported `Inactive`) or `Unknown`.
    async fn revoke_grant_if_reused(
        &self,
        presented: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation>;
    /// The refresh token with `token_hash`, if it is active (unused, unexpired, grant not revoked).
    async fn find_active_refresh_token(
        &self,
        token_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>>;

    // --- access tokens
    /// Remembers an issued access token.
    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()>;
    /// The access token with `jti`, if it is active (unexpired, not revoked, grant not revoked).
    async fn find_active_access_token(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>>;
    /// Revokes one access token; `false` if there was none.
    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<bool>;

    // --- signing keys
    /// All signing keys that are current or previous, current first.
    async fn published_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Makes `key` current, atomically: the current key becomes previous, the previous retired.
    /// With no key yet, just stores it as current.
    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;

    // --- sessions
    /// Stores a session.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with `session_hash`, if unexpired.
    async fn get_session(
        &self,
        session_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Deletes a session (sign-out).
    async fn delete_session(&self, session_hash: &SecretHash) -> StoreResult<()>;

    // --- device cookies
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

    // --- federated sign-in
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

    // --- housekeeping
    /// Deletes expired codes, sessions, device cookies, upstream sign-ins and tokens; returns
    /// how many rows went.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}
