//! Users, without HTTP: e-mail addresses as account names ([`email`]), the password policy and
//! Argon2id hashing ([`password`]), [`create_user`], which the sign-up page and the admin API
//! share, and [`SignedIn`], the person a browser session names.

pub(crate) mod email;
pub(crate) mod password;

use thiserror::Error;
use zeroize::Zeroizing;

use crate::secrets::random_id;
use crate::store::{AccountStore, StoreError, UnixTime, UserId, UserRecord};

/// The person signed in on a browser: their account, and when they authenticated.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// Their account.
    pub(crate) user: UserRecord,
    /// When they authenticated (OIDC `auth_time`).
    pub(crate) auth_time: UnixTime,
}

/// Why an account could not be created.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The e-mail address is not plausible.
    #[error("`{0}` is not a valid e-mail address")]
    InvalidEmail(String),
    /// The password does not meet the policy (at least 10 and at most 128 characters, not the
    /// e-mail address).
    #[error("the password does not meet the policy: {0}")]
    WeakPassword(String),
    /// An account with this e-mail address exists.
    #[error("a user with e-mail {0} already exists")]
    AlreadyExists(String),
    /// The password could not be hashed; the detail is for logs.
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a local user with `email` (trimmed and lower-cased) and `password`, checking the
/// e-mail syntax and the password policy (NIST SP 800-63B §3.1.1.2), and storing the password
/// as an Argon2id PHC string.
///
/// Errors: [`AccountError::InvalidEmail`], [`AccountError::WeakPassword`],
/// [`AccountError::AlreadyExists`] when the e-mail is taken, [`AccountError::Hashing`] and
/// [`AccountError::Store`] for faults.
pub(crate) async fn create_user(
    users: &dyn AccountStore,
    email: &str,
    password: &str,
    now: UnixTime,
) -> Result<UserRecord, AccountError> {
    let email = email::normalize(email);
    if !email::is_plausible(&email) {
        return Err(AccountError::InvalidEmail(email));
    }
    let problems = password::policy_problems(&email, password);
    if !problems.is_empty() {
        return Err(AccountError::WeakPassword(problems.join(" ")));
    }
    let hash = password::hash(Zeroizing::new(password.to_owned()))
        .await
        .map_err(|failure| AccountError::Hashing(failure.0))?;
    let user = UserRecord::new(UserId(random_id()), email, Some(hash), now);
    match users.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AccountError::AlreadyExists(user.email)),
        Err(error) => Err(AccountError::Store(error)),
    }
}
