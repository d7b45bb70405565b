//! `/account/two-step`: setting up two-step verification. The page makes a new secret (kept
//! as the user's pending credential) and shows it as a QR code of its `otpauth://` URI, drawn
//! as inline SVG (the pages' CSP allows no `data:` images), and as a key to type; a right code
//! from the app confirms it, and the recovery codes are shown, once. A form sent again after
//! that (or after another set-up page replaced the secret) changes nothing and gets 409.
//!
//! It is open to the signed-in person, and, when the policy requires two-step verification,
//! to a pending sign-in of someone without it: then confirming it also finishes the sign-in.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Extension, Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use qrcode::QrCode;
use qrcode::render::svg;
use zeroize::Zeroizing;

use super::super::Accounts;
use super::{
    CodeForm, expired, finish_pending_sign_in, pending, posted_code, recovery, totp, turned_off,
};
use crate::audit::{SecurityEvent, SignInMethod};
use crate::config::MfaPolicy;
use crate::store::{AuditOutcome, PendingSignInRecord, StoreError, TotpSecret, UserRecord};
use crate::web::csrf::{self, CsrfToken};
use crate::web::pages::{error_page, render, unavailable, with_cookie};
use crate::web::return_to;

#[derive(Template)]
#[template(path = "mfa_setup.html")]
struct SetupPage<'a> {
    qr_svg: &'a str,
    manual_key: &'a str,
    account: &'a str,
    error: Option<&'a str>,
    csrf_token: &'a str,
    during_sign_in: bool,
}

#[derive(Template)]
#[template(path = "mfa_recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: Vec<&'a str>,
    continue_href: &'a str,
    during_sign_in: bool,
}

/// Who is setting it up.
enum Subject {
    /// The signed-in person, from their account page.
    SignedIn(UserRecord),
    /// Someone whose password was right, when the policy requires two-step verification.
    SigningIn(PendingSignInRecord, UserRecord),
}

impl Subject {
    fn user(&self) -> &UserRecord {
        match self {
            Subject::SignedIn(user) | Subject::SigningIn(_, user) => user,
        }
    }
}

async fn subject(accounts: &Accounts, headers: &HeaderMap) -> Result<Option<Subject>, StoreError> {
    if let Some(signed_in) = accounts.sessions.signed_in(headers).await {
        return Ok(Some(Subject::SignedIn(signed_in.user)));
    }
    if accounts.mfa_policy != MfaPolicy::Required {
        return Ok(None);
    }
    let Some(pending) = pending::find(accounts, headers).await? else {
        return Ok(None);
    };
    Ok(accounts
        .users
        .get_user(&pending.user_id)
        .await?
        .map(|user| Subject::SigningIn(pending, user)))
}

/// `GET /account/two-step`: a new secret, as a QR code and a key, and the form.
pub(super) async fn form(State(accounts): State<Accounts>, headers: HeaderMap) -> Response {
    if !accounts.mfa_policy.enabled() {
        return turned_off();
    }
    let subject = match subject(&accounts, &headers).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return see_other_to_login(),
        Err(error) => {
            tracing::error!(%error, "cannot tell who is setting up two-step verification");
            return unavailable();
        }
    };
    let user = subject.user();
    let secret = totp::generate_secret();
    match accounts
        .mfa
        .begin_totp_enrolment(&user.user_id, &secret, accounts.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return already_set_up(),
        Err(error) => {
            tracing::error!(%error, "cannot store a pending TOTP credential");
            return unavailable();
        }
    }
    let (csrf, set_cookie) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let during_sign_in = matches!(subject, Subject::SigningIn(..));
    with_cookie(
        setup_page(&accounts, user, &secret, None, &csrf, during_sign_in),
        set_cookie,
    )
}

/// `POST /account/two-step`: CSRF token, who, their pending credential and the code; then the
/// credential is confirmed with new recovery codes, which are shown once (and, during a
/// sign-in, the sign-in finishes).
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
    let (csrf, _) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let subject = match subject(&accounts, &headers).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return expired(),
        Err(error) => {
            tracing::error!(%error, "cannot tell who is setting up two-step verification");
            return unavailable();
        }
    };
    let user = subject.user();
    let during_sign_in = matches!(subject, Subject::SigningIn(..));
    let pending_credential = match accounts.mfa.totp_credential(&user.user_id).await {
        Ok(Some(credential)) if !credential.is_confirmed() => credential,
        Ok(_) => return already_set_up(),
        Err(error) => {
            tracing::error!(%error, "cannot read a pending TOTP credential");
            return unavailable();
        }
    };
    let now = accounts.now();
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(step) = totp::matching_step(&pending_credential.secret, &compact, now) else {
        let problem = if totp::is_code_shaped(&compact) {
            "That code is not right. Check the key in your app and enter the code it shows now."
        } else {
            "Enter the 6-digit code your authenticator app shows."
        };
        let page = setup_page(
            &accounts,
            user,
            &pending_credential.secret,
            Some(problem),
            &csrf,
            during_sign_in,
        );
        return with_status(page, StatusCode::BAD_REQUEST);
    };
    let codes = recovery::generate();
    let hashes: Vec<_> = codes
        .iter()
        .filter_map(|code| recovery::hash(&user.user_id, code.as_str()))
        .collect();
    match accounts
        .mfa
        .confirm_totp_enrolment(
            &user.user_id,
            &pending_credential.secret,
            step,
            &hashes,
            now,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return already_set_up(),
        Err(error) => {
            tracing::error!(%error, "cannot confirm a TOTP credential");
            return unavailable();
        }
    }
    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    accounts
        .audit
        .record(SecurityEvent::MfaEnrolled { user }, address)
        .await;
    let shown: Vec<&str> = codes.iter().map(recovery::RecoveryCode::as_str).collect();
    match &subject {
        Subject::SignedIn(_) => render(
            StatusCode::OK,
            &RecoveryCodesPage {
                codes: shown,
                continue_href: return_to::HOME,
                during_sign_in: false,
            },
        ),
        Subject::SigningIn(pending_sign_in, user) => {
            finish_sign_in(&accounts, &headers, pending_sign_in, user, shown, address).await
        }
    }
}

/// Ends the pending sign-in of `user`, who just set up two-step verification, signs them in
/// and shows their recovery codes with a link back to the authorization request.
async fn finish_sign_in(
    accounts: &Accounts,
    headers: &HeaderMap,
    pending_sign_in: &PendingSignInRecord,
    user: &UserRecord,
    codes: Vec<&str>,
    address: Option<IpAddr>,
) -> Response {
    let (session, device) = match finish_pending_sign_in(accounts, headers, pending_sign_in).await {
        Ok(Some(cookies)) => cookies,
        Ok(None) => return expired(),
        Err(error) => {
            tracing::error!(%error, "cannot finish a sign-in");
            return unavailable();
        }
    };
    let event = SecurityEvent::SignIn {
        method: SignInMethod::Totp,
        outcome: AuditOutcome::Succeeded,
        reason: None,
        person: Some(&user.email),
        user_id: Some(&user.user_id),
    };
    accounts.audit.record(event, address).await;
    let target = pending_sign_in
        .return_to
        .as_deref()
        .and_then(return_to::accept)
        .unwrap_or(return_to::HOME);
    let page = RecoveryCodesPage {
        codes,
        continue_href: target,
        during_sign_in: true,
    };
    let mut response = with_cookie(render(StatusCode::OK, &page), device);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session);
    headers.append(header::SET_COOKIE, pending::cleared(accounts));
    response
}

fn setup_page(
    accounts: &Accounts,
    user: &UserRecord,
    secret: &TotpSecret,
    error: Option<&str>,
    csrf: &CsrfToken,
    during_sign_in: bool,
) -> Response {
    let uri = Zeroizing::new(totp::otpauth_uri(
        &accounts.totp_issuer,
        &user.email,
        secret,
    ));
    let qr_svg = match qr_svg(&uri) {
        Some(svg) => svg,
        None => {
            tracing::error!("cannot draw the QR code of a TOTP key");
            return unavailable();
        }
    };
    let manual_key = Zeroizing::new(totp::manual_key(secret));
    render(
        StatusCode::OK,
        &SetupPage {
            qr_svg: &qr_svg,
            manual_key: &manual_key,
            account: &user.email,
            error,
            csrf_token: csrf.as_str(),
            during_sign_in,
        },
    )
}

/// The QR code of `uri` as an `<svg>` element (without the XML declaration, to sit inline in
/// the page); `None` if `uri` is too long for a QR code (an e-mail address never makes it so).
fn qr_svg(uri: &str) -> Option<Zeroizing<String>> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let image = Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    );
    let start = image.find("<svg")?;
    Some(Zeroizing::new(image[start..].to_owned()))
}

fn with_status(mut response: Response, status: StatusCode) -> Response {
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}

fn see_other_to_login() -> Response {
    let mut response = error_page(
        StatusCode::SEE_OTHER,
        "Sign in first",
        "Sign in to set up two-step verification.",
        "login_required",
    );
    response
        .headers_mut()
        .insert(header::LOCATION, http::HeaderValue::from_static("/login"));
    response
}

fn already_set_up() -> Response {
    error_page(
        StatusCode::CONFLICT,
        "Two-step verification is already set up",
        "This set-up was already finished, or a newer set-up page replaced it. Nothing was \
         changed. Go to your account page to see where you are.",
        "mfa_already_set_up",
    )
}
