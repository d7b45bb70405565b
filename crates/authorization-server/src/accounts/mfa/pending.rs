//! The state between the two steps of a sign-in: the password was right, the code is still to
//! come. It is not a session: an `mcp_oauth_mfa` cookie holds a random [`BrowserSecret`], the
//! store keeps only its SHA-256 with the user and the authorization request to return to
//! ([`PendingSignInRecord`]), and it lets the browser do one thing: finish this sign-in (with a
//! code, or by setting one up when the policy requires it) within [`TTL`] seconds. The cookie
//! is `HttpOnly`, `SameSite=Strict` (only this site's own pages post to it), `Path=/`,
//! `Secure` on https, and dies with the record.

use cookie::SameSite;
use http::{HeaderMap, HeaderValue};

use super::super::Accounts;
use crate::secrets::BrowserSecret;
use crate::store::{PendingSignInRecord, SecretHash, StoreError, UnixTime, UserId};
use crate::web::cookies;

/// The name of the cookie of a pending sign-in.
pub(crate) const PENDING_COOKIE: &str = "mcp_oauth_mfa";

/// How long the second step may take, in seconds.
pub(crate) const TTL: UnixTime = 5 * 60;

/// Starts the second step of `user_id`'s sign-in, to return to `target` once finished; the
/// `Set-Cookie` value to send.
pub(crate) async fn begin(
    accounts: &Accounts,
    user_id: &UserId,
    target: Option<&str>,
) -> Result<HeaderValue, StoreError> {
    let secret = BrowserSecret::generate();
    let now = accounts.now();
    let record = PendingSignInRecord::new(
        secret.hash(),
        user_id.clone(),
        target.map(str::to_owned),
        now.saturating_add(TTL),
    );
    accounts.mfa.insert_pending_sign_in(&record, now).await?;
    Ok(cookies::set_cookie(
        PENDING_COOKIE,
        secret.expose(),
        SameSite::Strict,
        accounts.sessions.secure_cookies(),
        Some(TTL),
    ))
}

/// The unexpired pending sign-in the browser's cookie names, if any.
pub(crate) async fn find(
    accounts: &Accounts,
    headers: &HeaderMap,
) -> Result<Option<PendingSignInRecord>, StoreError> {
    let now = accounts.now();
    for hash in presented(headers) {
        if let Some(record) = accounts.mfa.get_pending_sign_in(&hash, now).await? {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

fn presented(headers: &HeaderMap) -> impl Iterator<Item = SecretHash> + '_ {
    cookies::values(headers, PENDING_COOKIE)
        .filter(|value| cookies::looks_like_secret(value))
        .take(3)
        .map(|value| BrowserSecret::from_presented(value).hash())
}

/// Ends `pending` (it is deleted); `false` if another request ended it first, so only one
/// request can finish a sign-in.
pub(crate) async fn finish(
    accounts: &Accounts,
    pending: &PendingSignInRecord,
) -> Result<bool, StoreError> {
    accounts
        .mfa
        .delete_pending_sign_in(&pending.pending_hash)
        .await
}

/// The `Set-Cookie` value that clears the cookie.
pub(crate) fn cleared(accounts: &Accounts) -> HeaderValue {
    cookies::set_cookie(
        PENDING_COOKIE,
        "",
        SameSite::Strict,
        accounts.sessions.secure_cookies(),
        Some(0),
    )
}
