//! Storage of the authorization server: one small trait per domain, as Ory Hydra's persisters
//! ([`ClientStore`], [`AccountStore`], [`ConsentStore`], [`GrantStore`], [`KeyStore`],
//! [`SessionStore`], [`AuditStore`], [`LimitStore`] (the sign-in throttle and rate limits, shared
//! by every instance), [`MfaStore`] (two-step verification), and `FederationStore` with the `federation` feature),
//! composed into [`Store`]. [`SqlStore`] implements every one on SQLite (one file, the default)
//! and PostgreSQL (several instances; feature `postgres`); both pass the same test suite
//! (`tests/store.rs`), and `docs/storage-schema.md` describes each table. The schema is the same
//! whatever the features: a build without `federation` keeps its tables.
//!
//! Records are typed: scopes are [`ScopeSet`](mcp_oauth_core::ScopeSet)s, resources
//! [`CanonicalResource`](mcp_oauth_core::CanonicalResource)s and client metadata
//! [`RegisteredMetadata`], validated once more when read back. Secrets never reach the store
//! in clear: client secrets, registration access tokens, authorization codes, refresh tokens,
//! session ids, device cookies, recovery codes and pending sign-ins are stored as SHA-256 hashes
//! ([`SecretHash`]); passwords as Argon2id PHC strings; TOTP secrets (which must be read back)
//! sealed under the key encryption key when one is given. Times are Unix seconds ([`UnixTime`]) passed in by the caller, so
//! tests control the clock.

mod accounts;
mod audit;
mod clients;
mod consents;
mod error;
#[cfg(feature = "federation")]
mod federation;
mod grants;
mod ids;
mod key_encryption;
mod keys;
mod limits;
mod maintenance;
mod mfa;
mod sessions;
mod sql;

pub use accounts::{AccountStore, UserRecord};
pub use audit::{
    AuditEventKind, AuditFilter, AuditOutcome, AuditRecord, AuditStore, UnknownAuditEvent,
};
pub use clients::{ClientOrigin, ClientRecord, ClientStore, RegisteredMetadata};
pub use consents::{ConsentRecord, ConsentStore};
pub use error::{DatabaseError, StoreError, StoreResult};
#[cfg(feature = "federation")]
pub use federation::{FederationStore, UpstreamIdentityRecord, UpstreamLoginRecord};
pub use grants::{
    AccessTokenRecord, ActiveRefreshToken, AuthorizationCodeRecord, CodeRedemption, GrantRecord,
    GrantStore, RefreshRotation, RefreshTokenRecord,
};
pub use ids::{ClientId, GrantId, SecretHash, UnixTime, UserId};
pub use key_encryption::KeyEncryptionKey;
pub use keys::{KeyState, KeyStore, SigningKeyRecord};
pub use limits::{
    CountedHit, Hits, LimitCounter, LimitKind, LimitStore, MAX_LIMIT_COUNTERS_PER_KIND,
};
pub use maintenance::{ConnectionUse, Purged};
pub use mfa::{MfaStore, PendingSignInRecord, TotpCredential, TotpSecret};
pub use sessions::{DeviceCookieRecord, SessionRecord, SessionStore};
pub use sql::{SqlStore, SqlStoreOptions};

use async_trait::async_trait;

/// `Store` over the domain stores given: `FederationStore` is one only with its feature.
macro_rules! store_trait {
    ($($domain:ident),+) => {
        /// Everything the authorization server persists: every domain's store, and the
        /// housekeeping that spans them.
        #[async_trait]
        pub trait Store: $($domain +)+ {
            /// Deletes expired codes, sessions, device cookies, upstream sign-ins, tokens and
            /// limit counters (and those past [`MAX_LIMIT_COUNTERS_PER_KIND`]); returns how
            /// many rows of each went.
            async fn purge_expired(&self, now: UnixTime) -> StoreResult<Purged>;

            /// The connections of the store's pool right now (for metrics).
            fn connection_use(&self) -> ConnectionUse;
        }
    };
}

#[cfg(feature = "federation")]
store_trait!(
    ClientStore,
    AccountStore,
    ConsentStore,
    GrantStore,
    KeyStore,
    SessionStore,
    AuditStore,
    LimitStore,
    MfaStore,
    FederationStore
);
#[cfg(not(feature = "federation"))]
store_trait!(
    ClientStore,
    AccountStore,
    ConsentStore,
    GrantStore,
    KeyStore,
    SessionStore,
    AuditStore,
    LimitStore,
    MfaStore
);
