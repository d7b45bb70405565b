//! The account pages: sign-up, sign-in and sign-out (server-rendered HTML that works without
//! JavaScript), with sign-in throttling ([`throttle`]) and device cookies ([`device`]). The
//! accounts themselves are in `users`; sessions, CSRF and `return_to` in `web`.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | who is signed in, with a sign-out button; or links to sign in and sign up |
//! | `GET`, `POST /login` | the sign-in form; a success sets a new session and device cookie and redirects to `return_to` (only `/authorize?…`) or `/` ([`login_routes`], when people sign in here rather than upstream) |
//! | `GET`, `POST /signup` | the sign-up form with the password policy; signs the new user in like `/login` (404 when `allow_signup` is off, or people sign in upstream) |
//! | `POST /logout` | ends the session and clears its cookie |
//! | `/login/code`, `/account/two-step`… | two-step verification (TOTP), see [`mfa`] |
//!
//! Every POST needs the CSRF token and otherwise gets a 403 page and does nothing. Form
//! bodies are limited to [`FORM_LIMIT`] bytes. Pages are never cached and cannot be framed.
//! The throttle counts in the store, so it holds across instances, and needs the client
//! address: serve the router with `into_make_service_with_connect_info::<SocketAddr>()`;
//! browsers that signed in before carry a device cookie that keeps others' failures from
//! locking them out.
//!
//! Links and form actions are root-relative (`/login`): the router is served at the root of
//! the issuer's origin.

mod device;
mod mfa;
mod pages;
mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};

use crate::audit::Audit;
use crate::clock::{Clock, seconds};
use crate::config::{AuthorizationServerConfig, MfaPolicy};
use crate::store::{AccountStore, MfaStore, SessionStore, Store, UnixTime};
use crate::web::pages::{FORM_LIMIT, with_page_headers};
use crate::web::session::Sessions;

use self::throttle::LoginThrottle;

/// What the account pages need: a sub-state.
#[derive(Clone)]
pub(crate) struct Accounts {
    users: Arc<dyn AccountStore>,
    devices: Arc<dyn SessionStore>,
    mfa: Arc<dyn MfaStore>,
    mfa_policy: MfaPolicy,
    /// The issuer as authenticator apps name it (`mcp-oauth (host)`).
    totp_issuer: String,
    sessions: Sessions,
    throttle: LoginThrottle,
    audit: Audit,
    signup_open: bool,
    device_cookie_ttl: UnixTime,
    clock: Clock,
}

impl Accounts {
    /// The account pages over `store`, as `config` says, recording sign-ins and sign-ups in
    /// `audit`.
    pub(crate) fn new(
        store: &Arc<dyn Store>,
        sessions: Sessions,
        config: &AuthorizationServerConfig,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            users: store.clone(),
            devices: store.clone(),
            mfa: store.clone(),
            // People who sign in upstream have no password here, so no second step either.
            mfa_policy: if config.federated() {
                MfaPolicy::Off
            } else {
                config.mfa
            },
            totp_issuer: totp_issuer(&config.issuer),
            sessions,
            throttle: LoginThrottle::new(config.login_limits, store.clone()),
            audit,
            signup_open: config.signup_open(),
            device_cookie_ttl: seconds(config.login_limits.device_cookie_ttl),
            clock,
        }
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }
}

/// How authenticator apps name this server: `mcp-oauth (<the issuer's host and port>)`.
fn totp_issuer(issuer: &str) -> String {
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| issuer.to_owned());
    format!("mcp-oauth ({host})")
}

/// `/`, `/signup` and `/logout`.
pub(crate) fn routes<S>() -> Router<S>
where
    Accounts: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    pages_with_limit(
        Router::new()
            .route("/", get(pages::home))
            .route("/signup", get(pages::signup_form).post(pages::signup))
            .route("/logout", post(pages::logout)),
    )
}

/// `/login`, the local sign-in form (when people do not sign in upstream), with its second
/// step and the set-up of two-step verification ([`mfa`]).
pub(crate) fn login_routes<S>() -> Router<S>
where
    Accounts: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    pages_with_limit(
        Router::new()
            .route("/login", get(pages::login_form).post(pages::login))
            .merge(mfa::routes()),
    )
}

fn pages_with_limit<S>(pages: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    with_page_headers(pages.layer(DefaultBodyLimit::max(FORM_LIMIT)))
}
