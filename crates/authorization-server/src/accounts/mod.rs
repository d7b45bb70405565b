//! Local user accounts: sign-up, sign-in and sign-out pages (server-rendered HTML that works
//! without JavaScript), browser sessions, CSRF protection, sign-in throttling with device
//! cookies, and the admin API that creates users.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | who is signed in, with a sign-out button; or links to sign in and sign up |
//! | `GET`, `POST /login` | the sign-in form; a success sets a new session and device cookie and redirects to `return_to` (only `/authorize?…`) or `/` |
//! | `GET`, `POST /signup` | the sign-up form with the password policy; signs the new user in like `/login` (404 when `allow_signup` is off) |
//! | `POST /logout` | ends the session and clears its cookie |
//!
//! Every POST needs the CSRF token ([`csrf`]) and otherwise gets a 403 page and does nothing.
//! Other pages use the same pieces: [`session::signed_in`] says who is signed in, and
//! [`csrf::for_form`], [`csrf::verify`] and [`csrf::rejected`] protect their forms.
//! Form bodies are limited to [`FORM_LIMIT`] bytes. Pages are never cached and cannot be
//! framed. The throttle ([`throttle`]) needs the client address: serve the router with
//! `into_make_service_with_connect_info::<SocketAddr>()`; browsers that signed in before
//! carry a device cookie ([`device`]) that keeps others' failures from locking them out.
//!
//! Links and form actions are root-relative (`/login`): the router is served at the root of
//! the issuer's origin.

pub(crate) mod cookies;
pub(crate) mod csrf;
mod device;
pub(crate) mod email;
mod pages;
mod password;
pub(crate) mod return_to;
pub(crate) mod session;
pub(crate) mod throttle;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use thiserror::Error;
use zeroize::Zeroizing;

pub(crate) use pages::sign_in;
pub(crate) use throttle::LoginThrottle;

use crate::secrets::random_id;
use crate::server::AppState;
use crate::store::{Store, StoreError, UnixTime, UserId, UserRecord};

/// The largest form body accepted, in bytes (a `return_to` may hold a long authorization
/// request).
pub(crate) const FORM_LIMIT: usize = 16 * 1024;

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
/// e-mail syntax and the password policy, and storing the password as an Argon2id PHC string.
/// The admin command and the sign-up page both use it.
///
/// Errors: [`AccountError::InvalidEmail`], [`AccountError::WeakPassword`],
/// [`AccountError::AlreadyExists`] when the e-mail is taken, [`AccountError::Hashing`] and
/// [`AccountError::Store`] for faults.
pub async fn create_user(
    store: &dyn Store,
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
    let user = UserRecord {
        user_id: UserId(random_id()),
        email,
        password_hash: Some(hash),
        created_at: now,
    };
    match store.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AccountError::AlreadyExists(user.email)),
        Err(error) => Err(AccountError::Store(error)),
    }
}

/// The account pages.
pub(crate) fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/signup", get(pages::signup_form).post(pages::signup))
        .route("/logout", post(pages::logout))
        .layer(DefaultBodyLimit::max(FORM_LIMIT));
    crate::pages::with_page_headers(pages)
}
