//! Two-step verification: [`MfaStore`], with each user's TOTP credential (RFC 6238), the hashes
//! of their recovery codes, and the sign-ins that wait for their second step.
//!
//! A TOTP secret is the HMAC key both sides share, so it cannot be stored as a hash: the store
//! keeps it sealed with AES-256-GCM under the key encryption key when one is given (the format
//! of the signing keys, with `totp:<user id>` as the additional data, so a sealed secret cannot
//! be moved to another user), in clear otherwise. Recovery codes and the cookies of pending
//! sign-ins are kept only as [`SecretHash`]es.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{SecretHash, StoreResult, UnixTime, UserId};

/// What the server remembers of two-step verification.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The TOTP credential of `user_id`, confirmed or pending, with its secret opened.
    async fn totp_credential(&self, user_id: &UserId) -> StoreResult<Option<TotpCredential>>;

    /// Stores `secret` as the pending credential of `user_id` (replacing a pending one); `false`,
    /// and nothing changed, if the user has a confirmed credential.
    async fn begin_totp_enrolment(
        &self,
        user_id: &UserId,
        secret: &TotpSecret,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// Confirms the pending credential of `user_id` whose code of time step `step` was just
    /// checked against `secret` (the one shown), and replaces the user's recovery codes by
    /// `recovery_codes`, in one transaction; `false`, and nothing changed, if the user has no
    /// pending credential with that secret (it was confirmed already, or replaced).
    async fn confirm_totp_enrolment(
        &self,
        user_id: &UserId,
        secret: &TotpSecret,
        step: i64,
        recovery_codes: &[SecretHash],
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// Records `step` as the last time step accepted from `user_id`'s confirmed credential, if
    /// it is later than the last one; `false` if it is not (the code was used already: a
    /// replay) or there is no confirmed credential. One conditional statement, so two
    /// instances cannot both accept one code.
    async fn accept_totp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool>;

    /// Uses up the recovery code of `user_id` with `code_hash`: `Some(how many are left)` if it
    /// was there (it is deleted), `None` if not.
    async fn use_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &SecretHash,
    ) -> StoreResult<Option<u64>>;

    /// Removes `user_id`'s TOTP credential (confirmed or pending), recovery codes and pending
    /// sign-ins; whether there was a confirmed credential.
    async fn remove_mfa(&self, user_id: &UserId) -> StoreResult<bool>;

    /// Stores a pending sign-in, deleting the expired ones (`now`) on the way;
    /// `Conflict("pending sign-in")` if its hash exists.
    async fn insert_pending_sign_in(
        &self,
        pending: &PendingSignInRecord,
        now: UnixTime,
    ) -> StoreResult<()>;

    /// The pending sign-in with `pending_hash`, if unexpired.
    async fn get_pending_sign_in(
        &self,
        pending_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingSignInRecord>>;

    /// Deletes a pending sign-in; whether it was there (only one request can finish it).
    async fn delete_pending_sign_in(&self, pending_hash: &SecretHash) -> StoreResult<bool>;
}

/// A TOTP secret (RFC 6238 §5.1: the key shared with the authenticator app). Zeroized on drop,
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// The secret `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// A user's TOTP credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TotpCredential {
    /// Whose it is.
    pub user_id: UserId,
    /// The shared secret.
    pub secret: TotpSecret,
    /// When the set-up page made it.
    pub created_at: UnixTime,
    /// When a correct code confirmed it; `None` while it is pending (not asked at sign-in).
    pub confirmed_at: Option<UnixTime>,
    /// The last time step (RFC 6238 §4.2: T) accepted; codes of it and earlier ones are refused.
    pub last_step: Option<i64>,
}

impl TotpCredential {
    /// Whether it is confirmed, so asked for at sign-in.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// A sign-in whose password was right and that waits for its second step (a code, or the
/// set-up of one when the policy requires it). It is not a session: its cookie lets the
/// browser do nothing but finish this sign-in, for a few minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingSignInRecord {
    /// SHA-256 of its cookie's value.
    pub pending_hash: SecretHash,
    /// Who proved their password.
    pub user_id: UserId,
    /// The authorization request to return to once signed in.
    pub return_to: Option<String>,
    /// When it can no longer be finished.
    pub expires_at: UnixTime,
}

impl PendingSignInRecord {
    /// The pending sign-in whose cookie hashes to `pending_hash`.
    pub fn new(
        pending_hash: SecretHash,
        user_id: UserId,
        return_to: Option<String>,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            pending_hash,
            user_id,
            return_to,
            expires_at,
        }
    }
}
