//! Browser sessions: the `mcp_oauth_session` cookie holds a random [`BrowserSecret`]; the store keeps
//! only its SHA-256 ([`SessionRecord`]), so a copy of the database cannot be replayed as a
//! cookie. The cookie is `HttpOnly`, `SameSite=Lax` (it must come along when a client
//! application sends the browser to `/authorize`), `Path=/`, `Secure` when the issuer is
//! https, and expires with the session (`session_ttl`).

use cookie::SameSite;
use http::{HeaderMap, HeaderValue};

use super::cookies;
use crate::secrets::BrowserSecret;
use crate::server::Inner;
use crate::store::{SessionRecord, StoreError, UnixTime, UserId, UserRecord};

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "mcp_oauth_session";

/// The person signed in on this browser.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// Their account.
    pub user: UserRecord,
    /// When they authenticated (OIDC `auth_time`).
    #[allow(dead_code, reason = "read by the authorization endpoint")]
    pub auth_time: UnixTime,
}

/// Who is signed in on the browser that sent `headers`: the session cookie names an unexpired
/// session of an existing user. Store failures are logged and count as "nobody".
pub(crate) async fn signed_in(state: &Inner, headers: &HeaderMap) -> Option<SignedIn> {
    let now = state.now();
    for value in
        cookies::values(headers, SESSION_COOKIE).filter(|value| cookies::looks_like_secret(value))
    {
        let hash = BrowserSecret::from_presented(value).hash();
        let session = match state.store.get_session(&hash, now).await {
            Ok(Some(session)) if session.expires_at > now => session,
            Ok(_) => continue,
            Err(error) => {
                tracing::error!(%error, "cannot read a session");
                return None;
            }
        };
        return match state.store.get_user(&session.user_id).await {
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

/// Starts a session for `user_id`, authenticated now; the `Set-Cookie` value to send.
pub(super) async fn start(state: &Inner, user_id: &UserId) -> Result<HeaderValue, StoreError> {
    let secret = BrowserSecret::generate();
    let now = state.now();
    let ttl = i64::try_from(state.config.session_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    state
        .store
        .insert_session(&SessionRecord {
            session_hash: secret.hash(),
            user_id: user_id.clone(),
            auth_time: now,
            expires_at: now.saturating_add(ttl),
        })
        .await?;
    Ok(cookies::set_cookie(
        SESSION_COOKIE,
        secret.expose(),
        SameSite::Lax,
        state.config.secure_cookies(),
        Some(ttl),
    ))
}

/// Ends the sessions named by the browser's cookies (sign-out, or a new sign-in replacing
/// them); the `Set-Cookie` value that clears the cookie.
pub(super) async fn end(state: &Inner, headers: &HeaderMap) -> Result<HeaderValue, StoreError> {
    for value in
        cookies::values(headers, SESSION_COOKIE).filter(|value| cookies::looks_like_secret(value))
    {
        state
            .store
            .delete_session(&BrowserSecret::from_presented(value).hash())
            .await?;
    }
    Ok(clear_cookie(state.config.secure_cookies()))
}

/// The `Set-Cookie` value that removes the session cookie.
pub(super) fn clear_cookie(secure: bool) -> HeaderValue {
    cookies::set_cookie(SESSION_COOKIE, "", SameSite::Lax, secure, Some(0))
}
