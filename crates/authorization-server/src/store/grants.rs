//! Grants and what they issue: [`GrantStore`], with authorization codes, refresh-token
//! families and access tokens.

use async_trait::async_trait;
use mcp_oauth_core::{CanonicalResource, ScopeSet};

use super::{ClientId, GrantId, SecretHash, StoreResult, UnixTime, UserId};

/// Grants, their codes and their tokens. Every operation that must be atomic says so;
/// implementations use one transaction (or one conditional statement) for it.
#[async_trait]
pub trait GrantStore: Send + Sync {
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
    /// Revokes a grant and every refresh and access token issued from it; `false` if there was
    /// none.
    async fn revoke_grant(&self, grant_id: &GrantId, now: UnixTime) -> StoreResult<bool>;

    /// Stores a refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Rotates a refresh token, atomically: if `presented` is current, unexpired and its grant
    /// not revoked, marks it used and stores `next` (same grant) and the access token `issued`
    /// with it, in one transaction; if it was already used, revokes the whole grant and reports
    /// reuse (and stores neither).
    async fn rotate_refresh_token(
        &self,
        presented: &SecretHash,
        next: &RefreshTokenRecord,
        issued: &AccessTokenRecord,
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
    /// The refresh token with `token_hash` and its grant, if the token is active (unused,
    /// unexpired, grant not revoked), read together.
    async fn find_active_refresh_token(
        &self,
        token_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<ActiveRefreshToken>>;

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
}

/// A grant: one authorization (user, client, scope, resource) and everything issued from it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantRecord {
    /// The grant's identifier.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user who authorised it.
    pub user_id: UserId,
    /// The scopes granted.
    pub scope: ScopeSet,
    /// The resource (RFC 8707) the grant is bound to: the access tokens' `aud`.
    pub resource: Option<CanonicalResource>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
}

impl GrantRecord {
    /// A grant made at `created_at`, not revoked.
    pub fn new(
        grant_id: GrantId,
        client_id: ClientId,
        user_id: UserId,
        scope: ScopeSet,
        resource: Option<CanonicalResource>,
        created_at: UnixTime,
    ) -> Self {
        Self {
            grant_id,
            client_id,
            user_id,
            scope,
            resource,
            created_at,
            revoked_at: None,
        }
    }
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The scopes granted.
    pub scope: ScopeSet,
    /// The resource the grant is bound to.
    pub resource: Option<CanonicalResource>,
    /// The PKCE `code_challenge` (always S256).
    pub code_challenge: String,
    /// The OIDC `nonce`, when the request carried one.
    pub nonce: Option<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the code expires.
    pub expires_at: UnixTime,
}

impl AuthorizationCodeRecord {
    /// The code whose hash is `code_hash`, of `grant` (its client, user, scope and resource),
    /// with the PKCE `code_challenge`, for a user who authenticated at `auth_time`; no
    /// `redirect_uri` named and no nonce (set them with the `with_…` setters).
    pub fn for_grant(
        code_hash: SecretHash,
        grant: &GrantRecord,
        code_challenge: impl Into<String>,
        auth_time: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            code_hash,
            grant_id: grant.grant_id.clone(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            redirect_uri: None,
            scope: grant.scope.clone(),
            resource: grant.resource.clone(),
            code_challenge: code_challenge.into(),
            nonce: None,
            auth_time,
            expires_at,
        }
    }

    /// Sets the `redirect_uri` the authorization request named.
    pub fn with_redirect_uri(mut self, redirect_uri: Option<String>) -> Self {
        self.redirect_uri = redirect_uri;
        self
    }

    /// Sets the OIDC `nonce` of the authorization request.
    pub fn with_nonce(mut self, nonce: Option<String>) -> Self {
        self.nonce = nonce;
        self
    }
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
#[non_exhaustive]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: SecretHash,
    /// The grant (family) it belongs to.
    pub grant_id: GrantId,
    /// The scopes it may obtain (may narrow with each rotation).
    pub scope: ScopeSet,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// The `x5t#S256` thumbprint of the client certificate it must be presented with (RFC 8705
    /// §3), if it is bound to one.
    pub certificate_thumbprint: Option<String>,
}

impl RefreshTokenRecord {
    /// The refresh token whose hash is `token_hash`, of `grant_id`, for `scope`, not bound to a
    /// certificate ([`RefreshTokenRecord::bound_to`]).
    pub fn new(
        token_hash: SecretHash,
        grant_id: GrantId,
        scope: ScopeSet,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            token_hash,
            grant_id,
            scope,
            created_at,
            expires_at,
            certificate_thumbprint: None,
        }
    }

    /// The same token, bound to the certificate with `thumbprint` (`x5t#S256`), if any.
    pub fn bound_to(mut self, thumbprint: Option<String>) -> Self {
        self.certificate_thumbprint = thumbprint;
        self
    }
}

/// An active refresh token with its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveRefreshToken {
    /// The token.
    pub token: RefreshTokenRecord,
    /// Its grant (not revoked).
    pub grant: GrantRecord,
}

/// What became of an attempt to rotate a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per token request: boxing would buy nothing
pub enum RefreshRotation {
    /// The presented token was current and its grant not revoked: it is now used, and the new
    /// one is stored.
    Rotated {
        /// The token that was presented.
        previous: RefreshTokenRecord,
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
#[non_exhaustive]
pub struct AccessTokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The grant it was issued from.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// When it expires.
    pub expires_at: UnixTime,
    /// The `x5t#S256` thumbprint of the client certificate it is bound to (its `cnf`, RFC 8705
    /// §3.1), if any.
    pub certificate_thumbprint: Option<String>,
}

impl AccessTokenRecord {
    /// The access token `jti` of `grant_id`, issued to `client_id`, not bound to a certificate
    /// ([`AccessTokenRecord::bound_to`]).
    pub fn new(
        jti: impl Into<String>,
        grant_id: GrantId,
        client_id: ClientId,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            jti: jti.into(),
            grant_id,
            client_id,
            expires_at,
            certificate_thumbprint: None,
        }
    }

    /// The same token, bound to the certificate with `thumbprint` (`x5t#S256`), if any.
    pub fn bound_to(mut self, thumbprint: Option<String>) -> Self {
        self.certificate_thumbprint = thumbprint;
        self
    }
}
