//! `/login/code`: the second step of a sign-in whose password was right. It takes a TOTP code
//! or a recovery code; a right one ends the pending sign-in and signs the browser in (a new
//! session and device cookie) on its way back to the authorization request.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Extension, Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use super::super::Accounts;
use super::super::pages::{throttled, too_many};
use super::verify::{self, Verdict};
use super::{CodeForm, expired, finish_pending_sign_in, pending, posted_code};
use crate::audit::{SecurityEvent, SignInMethod};
use crate::store::{AuditOutcome, PendingSignInRecord, StoreError, TotpCredential, UserRecord};
use crate::web::csrf;
use crate::web::pages::{render, see_other, unavailable, with_cookie};
use crate::web::return_to;

#[derive(Template)]
#[template(path = "mfa_code.html")]
struct CodePage<'a> {
    error: Option<&'a str>,
    csrf_token: &'a str,
}

/// `GET /login/code`: the form, while the sign-in is pending.
pub(super) async fn form(State(accounts): State<Accounts>, headers: HeaderMap) -> Response {
    match pending::find(&accounts, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return expired(),
        Err(error) => {
            tracing::error!(%error, "cannot read a pending sign-in");
            return unavailable();
        }
    }
    let (csrf, set_cookie) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let page = CodePage {
        error: None,
        csrf_token: csrf.as_str(),
    };
    with_cookie(render(StatusCode::OK, &page), set_cookie)
}

/// `POST /login/code`: CSRF token, the pending sign-in, its user and credential, the throttle
/// and the code; then the sign-in.
pub(super) async fn submit(
    State(accounts): State<Accounts>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let code = match posted_code(&headers, form) {
        Ok(code) => code,
        Err(refused) => return *refused,
    };
    let (csrf, _) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let (pending, user, credential) = match waiting(&accounts, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return expired(),
        Err(error) => {
            tracing::error!(%error, "cannot read a pending sign-in");
            return unavailable();
        }
    };
    let verdict = verify::check(
        &accounts,
        &headers,
        address,
        &user,
        &credential,
        &code,
        true,
    )
    .await;
    let page = |status, error: &str| {
        render(
            status,
            &CodePage {
                error: Some(error),
                csrf_token: csrf.as_str(),
            },
        )
    };
    let event = |method, outcome, reason| SecurityEvent::SignIn {
        method,
        outcome,
        reason,
        person: Some(&user.email),
        user_id: Some(&user.user_id),
    };
    match verdict {
        Err(error) => {
            tracing::error!(%error, "cannot check a code");
            unavailable()
        }
        Ok(Verdict::Throttled { retry_at }) => {
            let throttled_event = event(
                SignInMethod::Totp,
                AuditOutcome::Throttled,
                Some("too_many_attempts"),
            );
            accounts.audit.record(throttled_event, address).await;
            let now = accounts.now();
            let message = too_many(retry_at, now);
            throttled(page(StatusCode::TOO_MANY_REQUESTS, &message), retry_at, now)
        }
        Ok(Verdict::Failed {
            method,
            reason,
            message,
        }) => {
            let failed = event(method, AuditOutcome::Failed, Some(reason));
            accounts.audit.record(failed, address).await;
            page(StatusCode::BAD_REQUEST, message)
        }
        Ok(Verdict::Passed {
            method,
            recovery_codes_left,
        }) => {
            if let Some(left) = recovery_codes_left {
                let used = SecurityEvent::RecoveryCodeUsed { user: &user, left };
                accounts.audit.record(used, address).await;
            }
            let succeeded = event(method, AuditOutcome::Succeeded, None);
            finish(&accounts, &headers, &pending, succeeded, address).await
        }
    }
}

/// The pending sign-in the browser names, its user, and the user's confirmed credential; a
/// pending sign-in whose user or credential has gone since (removed by the operator) is
/// ended.
async fn waiting(
    accounts: &Accounts,
    headers: &HeaderMap,
) -> Result<Option<(PendingSignInRecord, UserRecord, TotpCredential)>, StoreError> {
    let Some(pending) = pending::find(accounts, headers).await? else {
        return Ok(None);
    };
    let user = accounts.users.get_user(&pending.user_id).await?;
    let credential = accounts.mfa.totp_credential(&pending.user_id).await?;
    match (user, credential) {
        (Some(user), Some(credential)) if credential.is_confirmed() => {
            Ok(Some((pending, user, credential)))
        }
        _ => {
            pending::finish(accounts, &pending).await?;
            Ok(None)
        }
    }
}

/// Ends `pending` and signs its person in, recording `succeeded`, then back to the
/// authorization request (or home). Only the first request to end a pending sign-in gets this
/// far.
async fn finish(
    accounts: &Accounts,
    headers: &HeaderMap,
    pending: &PendingSignInRecord,
    succeeded: SecurityEvent<'_>,
    address: Option<std::net::IpAddr>,
) -> Response {
    match finish_pending_sign_in(accounts, headers, pending).await {
        Ok(Some((session, device))) => {
            accounts.audit.record(succeeded, address).await;
            let target = pending.return_to.as_deref().and_then(return_to::accept);
            let mut response = with_cookie(
                see_other(target.unwrap_or(return_to::HOME), session),
                device,
            );
            response
                .headers_mut()
                .append(header::SET_COOKIE, pending::cleared(accounts));
            response
        }
        Ok(None) => expired(),
        Err(error) => {
            tracing::error!(%error, "cannot finish a sign-in");
            unavailable()
        }
    }
}
