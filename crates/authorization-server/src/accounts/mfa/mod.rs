//! Two-step verification of local sign-ins: a TOTP code (RFC 6238, [`totp`]) from an
//! authenticator app after the password, or one of the recovery codes ([`recovery`]) shown
//! when it was set up. The operator's [`MfaPolicy`](crate::MfaPolicy) says whether it is
//! offered (`optional`, the default), demanded (`required`) or neither (`off`).
//!
//! | route | what it does |
//! |---|---|
//! | `GET`, `POST /login/code` | the second step of a sign-in whose password was right ([`challenge`]) |
//! | `GET`, `POST /account/two-step` | setting it up: a QR code and the key, confirmed by a code; then the recovery codes, once ([`enrol`]) |
//! | `POST /account/two-step/disable` | turning it off with a current code (not when it is required; [`disable`]) |
//!
//! Between the password and the code the browser holds no session, only a pending sign-in
//! ([`pending`]) that can do nothing but finish. Wrong codes are throttled like passwords, on
//! the same counters plus one per user that signing in again does not clear ([`verify`]).
//! Every POST needs the CSRF token. Secrets, codes and recovery codes are never logged.

mod challenge;
mod disable;
mod enrol;
mod pending;
mod recovery;
mod totp;
mod verify;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRef};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode};

use serde::Deserialize;
use zeroize::Zeroizing;

use super::pages::unreadable_form;
use super::{Accounts, device};
use crate::config::MfaPolicy;
use crate::store::{PendingSignInRecord, StoreError, UserId, UserRecord};
use crate::web::csrf;
use crate::web::pages::{error_page, see_other, unavailable};

/// The second step of a sign-in.
const CODE_PATH: &str = "/login/code";
/// The set-up page.
const SETUP_PATH: &str = "/account/two-step";
/// Turning it off.
const DISABLE_PATH: &str = "/account/two-step/disable";

/// The two-step verification pages (mounted with the local sign-in form).
pub(super) fn routes<S>() -> Router<S>
where
    Accounts: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(CODE_PATH, get(challenge::form).post(challenge::submit))
        .route(SETUP_PATH, get(enrol::form).post(enrol::submit))
        .route(DISABLE_PATH, post(disable::submit))
}

/// What the account page says about two-step verification (only when the policy offers it).
pub(super) struct AccountMfa {
    /// Whether it is set up.
    pub(super) enrolled: bool,
    /// Whether the person may turn it off (not when it is required).
    pub(super) can_disable: bool,
}

/// Two-step verification as `user`'s account page shows it; `None` when the policy is off.
pub(super) async fn account_status(
    accounts: &Accounts,
    user: &UserRecord,
) -> Result<Option<AccountMfa>, StoreError> {
    if !accounts.mfa_policy.enabled() {
        return Ok(None);
    }
    let enrolled = accounts
        .mfa
        .totp_credential(&user.user_id)
        .await?
        .is_some_and(|credential| credential.is_confirmed());
    Ok(Some(AccountMfa {
        enrolled,
        can_disable: accounts.mfa_policy != MfaPolicy::Required,
    }))
}

/// What follows a right password for `user`: `None` to sign in now, or the redirect to the
/// second step (a code, or setting one up when the policy requires it) with the cookie of the
/// pending sign-in, which returns to `target` once finished.
pub(super) async fn after_password(
    accounts: &Accounts,
    user: &UserRecord,
    target: Option<&str>,
) -> Option<Response> {
    if !accounts.mfa_policy.enabled() {
        return None;
    }
    let credential = match accounts.mfa.totp_credential(&user.user_id).await {
        Ok(credential) => credential,
        Err(error) => {
            tracing::error!(%error, "cannot read a TOTP credential");
            return Some(unavailable());
        }
    };
    let next = match credential {
        Some(credential) if credential.is_confirmed() => CODE_PATH,
        _ if accounts.mfa_policy == MfaPolicy::Required => SETUP_PATH,
        _ => return None,
    };
    Some(
        match pending::begin(accounts, &user.user_id, target).await {
            Ok(cookie) => see_other(next, cookie),
            Err(error) => {
                tracing::error!(%error, "cannot start the second step of a sign-in");
                unavailable()
            }
        },
    )
}

/// Ends `pending` and signs its person in: the cookies of [`complete_sign_in`]; `None` if
/// another request ended it first (only one request finishes a sign-in).
async fn finish_pending_sign_in(
    accounts: &Accounts,
    headers: &HeaderMap,
    pending: &PendingSignInRecord,
) -> Result<Option<(HeaderValue, Option<HeaderValue>)>, StoreError> {
    if !pending::finish(accounts, pending).await? {
        return Ok(None);
    }
    complete_sign_in(accounts, headers, &pending.user_id)
        .await
        .map(Some)
}

/// The cookies of a finished sign-in of `user_id`: a new session and a new device cookie
/// (none if it cannot be stored: signing in matters more).
pub(super) async fn complete_sign_in(
    accounts: &Accounts,
    headers: &HeaderMap,
    user_id: &UserId,
) -> Result<(HeaderValue, Option<HeaderValue>), StoreError> {
    let session = accounts.sessions.replace(headers, user_id).await?;
    let device = match device::issue(accounts, headers, user_id).await {
        Ok(cookie) => Some(cookie),
        Err(error) => {
            tracing::warn!(%error, "cannot issue a device cookie");
            None
        }
    };
    Ok((session, device))
}

/// The page of a second step whose pending sign-in is gone (expired, finished, or never
/// there): 400, start again.
fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Your sign-in has expired",
        "This step of the sign-in took too long or was already finished. Nothing was changed. \
         Go back to the application and sign in again.",
        "sign_in_expired",
    )
}

/// A form that posts a code (of the authenticator app, or a recovery code) with its CSRF token:
/// the second step of a sign-in, the set-up page, turning it off. Every field defaults to
/// empty, so a form without a token reaches the CSRF check (and gets 403) instead of a parse
/// error.
#[derive(Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    code: String,
    csrf_token: String,
}

/// The code `form` posted, once the form is readable and its CSRF token right; otherwise the
/// answer to send (400, 403). The code is wiped from memory when dropped.
fn posted_code(
    headers: &HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Zeroizing<String>, Box<Response>> {
    let mut form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(Box::new(unreadable_form(&rejection))),
    };
    let code = Zeroizing::new(std::mem::take(&mut form.code));
    if !csrf::verify(headers, &form.csrf_token) {
        return Err(Box::new(csrf::rejected()));
    }
    Ok(code)
}

/// The page of a two-step page when two-step verification is off on this server: 404.
fn turned_off() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Two-step verification is off",
        "This server does not use two-step verification.",
        "mfa_disabled",
    )
}
