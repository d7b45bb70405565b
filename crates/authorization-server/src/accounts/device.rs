//! Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser in
//! which a user signed in with their password gets an `mcp_oauth_device` cookie bound to that
//! account, and the sign-in throttle ([`super::throttle`]) counts that browser's attempts on
//! the account by its cookie alone, so others' failures cannot lock the owner out.
//!
//! The cookie holds a random [`BrowserSecret`]; the store keeps only its SHA-256 with the user it was
//! issued to and its expiry ([`DeviceCookieRecord`]). So it cannot be forged or guessed, it
//! vouches for its own account only, and a copy of the database cannot be replayed as a cookie.
//! It is `HttpOnly`, `SameSite=Strict` (only the sign-in form, posted from this site's own page,
//! needs it), `Path=/`, `Secure` when the issuer is https, and expires after
//! [`LoginLimits::device_cookie_ttl`](crate::LoginLimits::device_cookie_ttl) (the cookie's
//! `Max-Age` and the stored expiry). Each sign-in with a password replaces the browser's device
//! cookie; signing out keeps it (it names the browser, not a session).

use cookie::SameSite;
use http::{HeaderMap, HeaderValue};

use super::Accounts;
use crate::secrets::BrowserSecret;
use crate::store::{DeviceCookieRecord, SecretHash, StoreError, UserId};
use crate::web::cookies;

/// The name of the device cookie.
pub(super) const DEVICE_COOKIE: &str = "mcp_oauth_device";

/// The most device cookie values of one request that are looked up (a browser sends one).
const MAX_PRESENTED: usize = 3;

/// The hashes of the well-formed device cookies the browser sent, at most [`MAX_PRESENTED`].
fn presented(headers: &HeaderMap) -> Vec<SecretHash> {
    cookies::values(headers, DEVICE_COOKIE)
        .filter(|value| cookies::looks_like_secret(value))
        .take(MAX_PRESENTED)
        .map(|value| BrowserSecret::from_presented(value).hash())
        .collect()
}

/// The hash of the device cookie, sent with `headers`, that vouches for `user`: issued by this
/// server to that user and unexpired. Every presented cookie is looked up, whether or not
/// there is a `user`, so the time taken does not depend on whether the account exists.
pub(super) async fn vouching_for(
    accounts: &Accounts,
    headers: &HeaderMap,
    user: Option<&UserId>,
) -> Result<Option<SecretHash>, StoreError> {
    let now = accounts.now();
    let mut vouching = None;
    for hash in presented(headers) {
        let record = accounts.devices.get_device_cookie(&hash, now).await?;
        if vouching.is_none() && record.is_some_and(|record| Some(&record.user_id) == user) {
            vouching = Some(hash);
        }
    }
    Ok(vouching)
}

/// Issues a new device cookie for `user_id` in place of the ones the browser sent (which are
/// deleted); the `Set-Cookie` value to send.
pub(super) async fn issue(
    accounts: &Accounts,
    headers: &HeaderMap,
    user_id: &UserId,
) -> Result<HeaderValue, StoreError> {
    for hash in presented(headers) {
        accounts.devices.delete_device_cookie(&hash).await?;
    }
    let secret = BrowserSecret::generate();
    let now = accounts.now();
    let ttl = accounts.device_cookie_ttl;
    accounts
        .devices
        .insert_device_cookie(&DeviceCookieRecord::new(
            secret.hash(),
            user_id.clone(),
            now,
            now.saturating_add(ttl),
        ))
        .await?;
    Ok(cookies::set_cookie(
        DEVICE_COOKIE,
        secret.expose(),
        SameSite::Strict,
        accounts.sessions.secure_cookies(),
        Some(ttl),
    ))
}
