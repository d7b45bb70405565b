//! Browser sessions: the `mcp_oauth_session` cookie holds a random [`BrowserSecret`]; the
//! store keeps only its SHA-256 ([`SessionRecord`]), so a copy of the database cannot be
//! replayed as a cookie. The cookie is `HttpOnly`, `SameSite=Lax` (it must come along when a
//! client application sends the browser to `/authorize`), `Path=/`, `Secure` when the issuer is
//! https, and expires with the session (`session_ttl`).

use std::sync::Arc;

use axum::response::Response;
use cookie::SameSite;
use http::{HeaderMap, HeaderValue};

use super::pages::{see_other, unavailable};
use super::{cookies, return_to};
use crate::clock::{Clock, seconds};
use crate::config::AuthorizationServerConfig;
use crate::secrets::BrowserSecret;
use crate::store::{
    AccountStore, SessionRecord, SessionStore, Store, StoreError, UnixTime, UserId,
};
use crate::users::SignedIn;

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "mcp_oauth_session";

/// The sessions of signed-in browsers: a sub-state of every route that asks who is signed in
/// or signs someone in.
#[derive(Clone)]
pub(crate) struct Sessions {
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn AccountStore>,
    secure_cookies: bool,
    ttl: UnixTime,
    clock: Clock,
}

impl Sessions {
    /// The sessions kept in `store`, as `config` says.
    pub(crate) fn new(
        store: &Arc<dyn Store>,
        config: &AuthorizationServerConfig,
        clock: Clock,
    ) -> Self {
        Self {
            sessions: store.clone(),
            users: store.clone(),
            secure_cookies: config.secure_cookies(),
            ttl: seconds(config.session_ttl),
            clock,
        }
    }

    /// Whether cookies are `Secure` (the issuer is https).
    pub(crate) fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// The current time.
    pub(crate) fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Who is signed in on the browser that sent `headers`: the session cookie names an
    /// unexpired session of an existing user. Store failures are logged and count as "nobody".
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Option<SignedIn> {
        let now = self.now();
        for value in cookies::values(headers, SESSION_COOKIE)
            .filter(|value| cookies::looks_like_secret(value))
        {
            let hash = BrowserSecret::from_presented(value).hash();
            let session = match self.sessions.get_session(&hash, now).await {
                Ok(Some(session)) if session.expires_at > now => session,
                Ok(_) => continue,
                Err(error) => {
                    tracing::error!(%error, "cannot read a session");
                    return None;
                }
            };
            return match self.users.get_user(&session.user_id).await {
                Ok(Some(user)) => Some(SignedIn {
                    user,
                    auth_time: session.auth_time,
                }),
                Ok(None) => None,
                Err(error) => {
                    tracing::error!(%error, "cannot read the user of a session");
                    None
                }
            };
        }
        None
    }

    /// Replaces the browser's session (if any) by a new one for `user_id`, and sends the
    /// browser to `target` (accepted by [`return_to::accept`]) or home (federated sign-in;
    /// local sign-ins may have a second step, see `accounts::mfa`).
    #[cfg_attr(not(feature = "federation"), expect(dead_code))]
    pub(crate) async fn sign_in(
        &self,
        headers: &HeaderMap,
        user_id: &UserId,
        target: Option<&str>,
    ) -> Response {
        match self.replace(headers, user_id).await {
            Ok(cookie) => see_other(target.unwrap_or(return_to::HOME), cookie),
            Err(error) => {
                tracing::error!(%error, "cannot start a session");
                unavailable()
            }
        }
    }

    /// Replaces the browser's session (if any) by a new one for `user_id`; the `Set-Cookie`
    /// value to send with whatever page comes next.
    pub(crate) async fn replace(
        &self,
        headers: &HeaderMap,
        user_id: &UserId,
    ) -> Result<HeaderValue, StoreError> {
        if let Err(error) = self.end(headers).await {
            tracing::warn!(%error, "cannot end the previous session");
        }
        self.start(user_id).await
    }

    /// Starts a session for `user_id`, authenticated now; the `Set-Cookie` value to send.
    async fn start(&self, user_id: &UserId) -> Result<HeaderValue, StoreError> {
        let secret = BrowserSecret::generate();
        let now = self.now();
        self.sessions
            .insert_session(&SessionRecord::new(
                secret.hash(),
                user_id.clone(),
                now,
                now.saturating_add(self.ttl),
            ))
            .await?;
        Ok(cookies::set_cookie(
            SESSION_COOKIE,
            secret.expose(),
            SameSite::Lax,
            self.secure_cookies,
            Some(self.ttl),
        ))
    }

    /// Ends the sessions named by the browser's cookies (sign-out, or a new sign-in replacing
    /// them); the `Set-Cookie` value that clears the cookie.
    pub(crate) async fn end(&self, headers: &HeaderMap) -> Result<HeaderValue, StoreError> {
        for value in cookies::values(headers, SESSION_COOKIE)
            .filter(|value| cookies::looks_like_secret(value))
        {
            self.sessions
                .delete_session(&BrowserSecret::from_presented(value).hash())
                .await?;
        }
        Ok(cookies::set_cookie(
            SESSION_COOKIE,
            "",
            SameSite::Lax,
            self.secure_cookies,
            Some(0),
        ))
    }
}
