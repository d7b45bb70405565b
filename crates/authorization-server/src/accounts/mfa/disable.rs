//! `POST /account/two-step/disable`: the signed-in person turns two-step verification off,
//! proving it with a current TOTP code (a recovery code does not do: whoever lost the app
//! asks the operator, `mcp-oauth admin users reset-mfa`). Refused when the policy requires it.
//! Wrong codes are throttled as at sign-in.

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Extension, Form, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use super::super::Accounts;
use super::super::pages::{throttled, too_many};
use super::verify::{self, Verdict};
use super::{CodeForm, posted_code, turned_off};
use crate::audit::{Actor, SecurityEvent};
use crate::config::MfaPolicy;
use crate::store::UserRecord;
use crate::web::pages::{error_page, unavailable};
use crate::web::return_to;

/// `POST /account/two-step/disable`: policy, CSRF token, the session, the credential, the
/// throttle and the code; then the credential and recovery codes are removed.
pub(super) async fn submit(
    State(accounts): State<Accounts>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    if !accounts.mfa_policy.enabled() {
        return turned_off();
    }
    let code = match posted_code(&headers, form) {
        Ok(code) => code,
        Err(refused) => return *refused,
    };
    if accounts.mfa_policy == MfaPolicy::Required {
        return error_page(
            StatusCode::FORBIDDEN,
            "Two-step verification is required",
            "This server requires two-step verification for every account, so it cannot be turned off.",
            "mfa_required",
        );
    }
    let Some(signed_in) = accounts.sessions.signed_in(&headers).await else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "Sign in again, then turn two-step verification off from your account page.",
            "login_required",
        );
    };
    let user = signed_in.user;
    let credential = match accounts.mfa.totp_credential(&user.user_id).await {
        Ok(Some(credential)) if credential.is_confirmed() => credential,
        Ok(_) => return back_home(),
        Err(error) => {
            tracing::error!(%error, "cannot read a TOTP credential");
            return unavailable();
        }
    };
    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let verdict = verify::check(
        &accounts,
        &headers,
        address,
        &user,
        &credential,
        &code,
        false,
    )
    .await;
    match verdict {
        Err(error) => {
            tracing::error!(%error, "cannot check a code");
            unavailable()
        }
        Ok(Verdict::Throttled { retry_at }) => {
            let now = accounts.now();
            let response = refused(
                StatusCode::TOO_MANY_REQUESTS,
                &too_many(retry_at, now),
                "too_many_attempts",
            );
            throttled(response, retry_at, now)
        }
        Ok(Verdict::Failed { message, .. }) => {
            refused(StatusCode::BAD_REQUEST, message, "invalid_code")
        }
        Ok(Verdict::Passed { .. }) => remove(&accounts, &user, address).await,
    }
}

async fn remove(
    accounts: &Accounts,
    user: &UserRecord,
    address: Option<std::net::IpAddr>,
) -> Response {
    match accounts.mfa.remove_mfa(&user.user_id).await {
        Ok(_) => {
            let event = SecurityEvent::MfaRemoved {
                by: Actor::Person(&user.email),
                user,
            };
            accounts.audit.record(event, address).await;
            back_home()
        }
        Err(error) => {
            tracing::error!(%error, "cannot remove a TOTP credential");
            unavailable()
        }
    }
}

fn refused(status: StatusCode, message: &str, code: &str) -> Response {
    error_page(
        status,
        "Two-step verification is still on",
        &format!("{message} Nothing was changed; go back to your account page to try again."),
        code,
    )
}

/// 303 to the account page.
fn back_home() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(http::header::LOCATION, return_to::HOME)],
    )
        .into_response()
}
