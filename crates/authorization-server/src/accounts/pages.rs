//! The handlers of the account pages; each POST is a sequence of named checks.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Extension, Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::throttle::Source;
use super::{Accounts, device, mfa};
use crate::audit::{Actor, SecurityEvent, SignInMethod};
use crate::rate_limit::address_key;
use crate::store::{AuditOutcome, SecretHash, StoreError, UnixTime, UserRecord};
use crate::users::{AccountError, create_user, email, password};
use crate::web::csrf::{self, CsrfToken};
use crate::web::pages::{error_page, render, see_other, unavailable, with_cookie};
use crate::web::return_to::{self, ReturnQuery};

/// The message for every failed sign-in: it never says which of the two was wrong.
const WRONG_CREDENTIALS: &str = "Wrong e-mail or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    email: &'a str,
    error: Option<String>,
    csrf_token: &'a str,
    return_to: Option<&'a str>,
    signup_href: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    email: &'a str,
    errors: Vec<String>,
    policy: &'static str,
    min_chars: usize,
    max_chars: usize,
    csrf_token: &'a str,
    return_to: Option<&'a str>,
    login_href: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    email: Option<&'a str>,
    csrf_token: &'a str,
    signup: bool,
    mfa: Option<mfa::AccountMfa>,
}

/// The sign-in form. Every field defaults to empty, so a form without a token reaches the
/// CSRF check (and gets 403) instead of a parse error.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    csrf_token: String,
    return_to: String,
}

/// The sign-up form.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct SignupForm {
    email: String,
    password: String,
    password_confirm: String,
    csrf_token: String,
    return_to: String,
}

/// The sign-out form.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct LogoutForm {
    csrf_token: String,
}

/// `GET /`: who is signed in.
pub(super) async fn home(State(accounts): State<Accounts>, headers: HeaderMap) -> Response {
    let signed_in = accounts.sessions.signed_in(&headers).await;
    let mfa = match &signed_in {
        Some(signed_in) => match mfa::account_status(&accounts, &signed_in.user).await {
            Ok(status) => status,
            Err(error) => {
                tracing::error!(%error, "cannot read the two-step verification of an account");
                return unavailable();
            }
        },
        None => None,
    };
    let (csrf, set_cookie) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let page = HomePage {
        email: signed_in
            .as_ref()
            .map(|signed_in| signed_in.user.email.as_str()),
        csrf_token: csrf.as_str(),
        signup: accounts.signup_open,
        mfa,
    };
    with_cookie(render(StatusCode::OK, &page), set_cookie)
}

/// `GET /login`.
pub(super) async fn login_form(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    query: Result<Query<ReturnQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let (csrf, set_cookie) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let page = login_page(
        &accounts,
        "",
        None,
        &csrf,
        return_to::accept(&query.return_to),
    );
    with_cookie(render(StatusCode::OK, &page), set_cookie)
}

/// `POST /login`: CSRF token, the account and the browser's device cookie, throttle, password,
/// then a new session, a new device cookie and the redirect.
pub(super) async fn login(
    State(accounts): State<Accounts>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let mut form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    let password = Zeroizing::new(std::mem::take(&mut form.password));
    if !csrf::verify(&headers, &form.csrf_token) {
        return csrf::rejected();
    }
    let (csrf, _) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let target = return_to::accept(&form.return_to);
    let email = email::normalize(&form.email);
    let now = accounts.now();

    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let ip = address_key(address);
    // No account has an implausible address: such attempts share one account counter, so
    // junk cannot fill the table with long keys (they still count against the IP).
    let plausible = email::is_plausible(&email);
    let (user, device) = match account_and_device(&accounts, &headers, plausible, &email).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "cannot look up the account or the device cookie");
            return unavailable();
        }
    };
    let source = match &device {
        Some(cookie) => Source::Device(cookie),
        None => Source::Untrusted {
            account: if plausible { email.as_str() } else { "" },
            ip: &ip,
        },
    };
    let attempt = match accounts.throttle.begin(source, now).await {
        Ok(Ok(attempt)) => attempt,
        Err(error) => {
            tracing::error!(%error, "cannot count the sign-in attempt");
            return unavailable();
        }
        Ok(Err(retry_at)) => {
            tracing::debug!(%ip, trusted_device = device.is_some(), "sign-in throttled");
            let event = password_sign_in(AuditOutcome::Throttled, plausible, &email, user.as_ref());
            accounts.audit.record(event, address).await;
            let page = login_page(
                &accounts,
                &email,
                Some(too_many(retry_at, now)),
                &csrf,
                target,
            );
            return throttled(render(StatusCode::TOO_MANY_REQUESTS, &page), retry_at, now);
        }
    };

    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    match (password::verify(stored, password).await, user) {
        (true, Some(user)) => {
            if let Err(error) = accounts.throttle.succeeded(attempt).await {
                // The sign-in stands; its attempt just stays counted as a failure.
                tracing::warn!(%error, "cannot give a successful sign-in back to the throttle");
            }
            // Recorded once it is known whether a second step follows: then the sign-in is not
            // done, and its record says so (`pending`).
            let second_step = mfa::after_password(&accounts, &user, target).await;
            let outcome = match second_step {
                Some(_) => AuditOutcome::Pending,
                None => AuditOutcome::Succeeded,
            };
            let event = password_sign_in(outcome, true, &user.email, Some(&user));
            accounts.audit.record(event, address).await;
            match second_step {
                Some(second_step) => second_step,
                None => start_session(&accounts, &headers, &user, target).await,
            }
        }
        (_, user) => {
            drop(attempt); // counted as a failure
            tracing::debug!(%ip, trusted_device = device.is_some(), "failed sign-in");
            let event = password_sign_in(AuditOutcome::Failed, plausible, &email, user.as_ref());
            accounts.audit.record(event, address).await;
            let page = login_page(
                &accounts,
                &email,
                Some(WRONG_CREDENTIALS.to_owned()),
                &csrf,
                target,
            );
            render(StatusCode::BAD_REQUEST, &page)
        }
    }
}

/// `GET /signup`.
pub(super) async fn signup_form(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    query: Result<Query<ReturnQuery>, QueryRejection>,
) -> Response {
    if !accounts.signup_open {
        return signup_disabled();
    }
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let (csrf, set_cookie) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let page = signup_page("", Vec::new(), &csrf, return_to::accept(&query.return_to));
    with_cookie(render(StatusCode::OK, &page), set_cookie)
}

/// `POST /signup`: sign-up allowed, CSRF token, IP throttle, e-mail and policy, then the
/// account, a session and the redirect.
pub(super) async fn signup(
    State(accounts): State<Accounts>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<SignupForm>, FormRejection>,
) -> Response {
    if !accounts.signup_open {
        return signup_disabled();
    }
    let mut form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    let password = Zeroizing::new(std::mem::take(&mut form.password));
    let confirmation = Zeroizing::new(std::mem::take(&mut form.password_confirm));
    if !csrf::verify(&headers, &form.csrf_token) {
        return csrf::rejected();
    }
    let (csrf, _) = csrf::for_form(&headers, accounts.sessions.secure_cookies());
    let target = return_to::accept(&form.return_to);
    let email = email::normalize(&form.email);
    let now = accounts.now();

    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let ip = address_key(address);
    let throttled_until = match accounts.throttle.check_ip(&ip, now).await {
        Ok(checked) => checked,
        Err(error) => {
            tracing::error!(%error, "cannot read the sign-up throttle");
            return unavailable();
        }
    };
    if let Err(retry_at) = throttled_until {
        let event = sign_up_refused(AuditOutcome::Throttled, "too_many_attempts", &email);
        accounts.audit.record(event, address).await;
        let page = signup_page(&email, vec![too_many(retry_at, now)], &csrf, target);
        return throttled(render(StatusCode::TOO_MANY_REQUESTS, &page), retry_at, now);
    }

    let mut problems = Vec::new();
    if !email::is_plausible(&email) {
        problems.push("Enter an e-mail address such as name@example.com.".to_owned());
    }
    problems.extend(
        password::policy_problems(&email, &password)
            .into_iter()
            .map(str::to_owned),
    );
    if *password != *confirmation {
        problems.push("The two passwords differ.".to_owned());
    }
    if !problems.is_empty() {
        return render(
            StatusCode::BAD_REQUEST,
            &signup_page(&email, problems, &csrf, target),
        );
    }

    match create_user(accounts.users.as_ref(), &email, &password, now).await {
        Ok(user) => {
            let created = SecurityEvent::AccountCreated {
                by: Actor::Person(&user.email),
                outcome: AuditOutcome::Succeeded,
                reason: None,
                user: Some(&user),
                issuer: None,
            };
            accounts.audit.record(created, address).await;
            sign_in_with_password(&accounts, &headers, &user, target).await
        }
        Err(AccountError::AlreadyExists(_)) => {
            if let Err(error) = accounts.throttle.record_ip_failure(&ip, now).await {
                tracing::warn!(%error, "cannot count a sign-up for a taken address");
            }
            let event = sign_up_refused(AuditOutcome::Refused, "email_taken", &email);
            accounts.audit.record(event, address).await;
            let problem =
                "An account with this e-mail address already exists: sign in instead.".to_owned();
            render(
                StatusCode::CONFLICT,
                &signup_page(&email, vec![problem], &csrf, target),
            )
        }
        Err(error) => {
            tracing::error!(%error, "cannot create an account");
            unavailable()
        }
    }
}

/// `POST /logout`: CSRF token, then the session ends and its cookie is cleared.
pub(super) async fn logout(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&rejection),
    };
    if !csrf::verify(&headers, &form.csrf_token) {
        return csrf::rejected();
    }
    match accounts.sessions.end(&headers).await {
        Ok(clear) => see_other(return_to::HOME, clear),
        Err(error) => {
            tracing::error!(%error, "cannot end a session");
            unavailable()
        }
    }
}

/// The account with the (normalized) `email`, if it is `plausible` and exists, and the hash of
/// the browser's device cookie that vouches for it, if any. The browser's device cookies are
/// looked up whether or not the account exists.
async fn account_and_device(
    accounts: &Accounts,
    headers: &HeaderMap,
    plausible: bool,
    email: &str,
) -> Result<(Option<UserRecord>, Option<SecretHash>), StoreError> {
    let user = if plausible {
        accounts.users.find_user_by_email(email).await?
    } else {
        None
    };
    let device =
        device::vouching_for(accounts, headers, user.as_ref().map(|user| &user.user_id)).await?;
    Ok((user, device))
}

/// The record of a password sign-in for `email`, the account (if any) of that address; the
/// address is kept only when `plausible` (a password typed into the e-mail field is not).
fn password_sign_in<'a>(
    outcome: AuditOutcome,
    plausible: bool,
    email: &'a str,
    user: Option<&'a UserRecord>,
) -> SecurityEvent<'a> {
    let reason = match outcome {
        AuditOutcome::Failed => Some("wrong_credentials"),
        AuditOutcome::Throttled => Some("too_many_attempts"),
        AuditOutcome::Pending => Some("second_factor_required"),
        _ => None,
    };
    SecurityEvent::SignIn {
        method: SignInMethod::Password,
        outcome,
        reason,
        person: plausible.then_some(email),
        user_id: user.map(|user| &user.user_id),
    }
}

/// The record of a sign-up for `email` refused for `reason` (kept only when plausible).
fn sign_up_refused<'a>(
    outcome: AuditOutcome,
    reason: &'a str,
    email: &'a str,
) -> SecurityEvent<'a> {
    let by = if email::is_plausible(email) {
        Actor::Person(email)
    } else {
        Actor::Anonymous
    };
    SecurityEvent::AccountCreated {
        by,
        outcome,
        reason: Some(reason),
        user: None,
        issuer: None,
    }
}

/// What follows a proved password (sign-in or sign-up): the second step when two-step
/// verification asks for one ([`mfa::after_password`]), otherwise a new session and device
/// cookie ([`mfa::complete_sign_in`]) and the redirect to `target` or home.
async fn sign_in_with_password(
    accounts: &Accounts,
    headers: &HeaderMap,
    user: &UserRecord,
    target: Option<&str>,
) -> Response {
    match mfa::after_password(accounts, user, target).await {
        Some(second_step) => second_step,
        None => start_session(accounts, headers, user, target).await,
    }
}

/// A signed-in person's new session and device cookie ([`mfa::complete_sign_in`]), and the
/// redirect to `target` or home.
async fn start_session(
    accounts: &Accounts,
    headers: &HeaderMap,
    user: &UserRecord,
    target: Option<&str>,
) -> Response {
    match mfa::complete_sign_in(accounts, headers, &user.user_id).await {
        Ok((session, device)) => with_cookie(
            see_other(target.unwrap_or(return_to::HOME), session),
            device,
        ),
        Err(error) => {
            tracing::error!(%error, "cannot start a session");
            unavailable()
        }
    }
}

fn login_page<'a>(
    accounts: &Accounts,
    email: &'a str,
    error: Option<String>,
    csrf: &'a CsrfToken,
    target: Option<&'a str>,
) -> LoginPage<'a> {
    LoginPage {
        email,
        error,
        csrf_token: csrf.as_str(),
        return_to: target,
        signup_href: accounts
            .signup_open
            .then(|| format!("/signup{}", return_to::query(target))),
    }
}

fn signup_page<'a>(
    email: &'a str,
    errors: Vec<String>,
    csrf: &'a CsrfToken,
    target: Option<&'a str>,
) -> SignupPage<'a> {
    SignupPage {
        email,
        errors,
        policy: password::POLICY,
        min_chars: password::MIN_CHARS,
        max_chars: password::MAX_CHARS,
        csrf_token: csrf.as_str(),
        return_to: target,
        login_href: format!("/login{}", return_to::query(target)),
    }
}

/// "Too many failed attempts", with when to try again.
pub(super) fn too_many(retry_at: UnixTime, now: UnixTime) -> String {
    let wait = (retry_at - now).max(1);
    let wait = if wait < 60 {
        format!("{wait} seconds")
    } else {
        let minutes = (wait + 59) / 60;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    };
    format!("Too many failed sign-in attempts. Try again in {wait}.")
}

pub(super) fn throttled(mut response: Response, retry_at: UnixTime, now: UnixTime) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from((retry_at - now).max(1)),
    );
    response
}

pub(super) fn unreadable_form(rejection: &FormRejection) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "The form is too large."
    } else {
        "The form could not be read."
    };
    error_page(
        status,
        "The form could not be read",
        message,
        "invalid_form",
    )
}

fn signup_disabled() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Sign-up is disabled",
        "This server does not let people create accounts themselves. Ask its administrator to create one for you.",
        "signup_disabled",
    )
}
