//! CSRF protection for every form: a double-submit cookie.
//!
//! A page with a form makes sure the browser holds a random `mcp_oauth_csrf` cookie
//! (`HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` on https; it lasts the browser session and
//! is reused by every form) and copies its value into the form's hidden `csrf_token` field
//! (every form names it so).
//! A POST acts only if the field equals the cookie (compared in constant time): another site
//! can make a browser send the cookie but can neither read it nor guess it, so it cannot fill
//! in the field. In addition a POST that the browser labels `Sec-Fetch-Site: cross-site` or
//! `same-site` is refused: that stops a sibling subdomain that planted its own cookie
//! ("cookie tossing"), the known weakness of plain double-submit, in browsers that send
//! Fetch Metadata. Requests without the header (older browsers, other clients) rely on the
//! token alone.

use std::fmt;

use axum::http::StatusCode;
use axum::response::Response;
use cookie::SameSite;
use http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::cookies;
use super::pages::error_page;
use crate::secrets::BrowserSecret;

/// The name of the CSRF cookie.
pub(crate) const CSRF_COOKIE: &str = "mcp_oauth_csrf";

/// The value a form must carry in its hidden `csrf_token` field.
#[derive(Clone)]
pub(crate) struct CsrfToken(String);

impl CsrfToken {
    /// The token's text, for the hidden field.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(<redacted>)")
    }
}

/// The token for a form on a page answering `headers`: the browser's CSRF cookie if it has a
/// well-formed one (then no `Set-Cookie` is needed), otherwise a new random token and the
/// `Set-Cookie` value to attach to the page (`Secure` when `secure`).
pub(crate) fn for_form(headers: &HeaderMap, secure: bool) -> (CsrfToken, Option<HeaderValue>) {
    if let Some(existing) =
        cookies::values(headers, CSRF_COOKIE).find(|value| cookies::looks_like_secret(value))
    {
        return (CsrfToken(existing.to_owned()), None);
    }
    let token = BrowserSecret::generate().expose().to_owned();
    let set_cookie = cookies::set_cookie(CSRF_COOKIE, &token, SameSite::Lax, secure, None);
    (CsrfToken(token), Some(set_cookie))
}

/// Whether a POST with `headers` and the form field `submitted` may act: not labelled
/// cross-site by the browser, and `submitted` equals the CSRF cookie.
pub(crate) fn verify(headers: &HeaderMap, submitted: &str) -> bool {
    let fetched_from_elsewhere = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site" || site.as_bytes() == b"same-site");
    if fetched_from_elsewhere || !cookies::looks_like_secret(submitted) {
        return false;
    }
    cookies::values(headers, CSRF_COOKIE)
        .filter(|value| cookies::looks_like_secret(value))
        .any(|cookie| bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes())))
}

/// The page answering a POST that failed [`verify`]: 403, and nothing was done.
pub(crate) fn rejected() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this site's page, or its security token is missing or out of date. \
         Nothing was changed. Go back, reload the page and try again.",
        "csrf_token_invalid",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn issues_a_cookie_once_then_reuses_it() {
        let (token, set_cookie) = for_form(&HeaderMap::new(), false);
        let set_cookie = set_cookie.expect("a new cookie");
        assert!(
            set_cookie
                .to_str()
                .unwrap()
                .starts_with(&format!("{CSRF_COOKIE}={}", token.as_str()))
        );
        let headers = with_cookie(&format!("{CSRF_COOKIE}={}", token.as_str()));
        let (again, none) = for_form(&headers, false);
        assert_eq!(again.as_str(), token.as_str());
        assert!(none.is_none());
        assert!(verify(&headers, token.as_str()));
    }

    #[test]
    fn refuses_missing_wrong_or_cross_site_tokens() {
        let (token, _) = for_form(&HeaderMap::new(), false);
        let mut headers = with_cookie(&format!("{CSRF_COOKIE}={}", token.as_str()));
        let (other, _) = for_form(&HeaderMap::new(), false);
        assert!(!verify(&headers, ""));
        assert!(!verify(&headers, other.as_str()));
        assert!(!verify(&HeaderMap::new(), token.as_str()));
        assert!(!verify(&with_cookie("mcp_oauth_csrf=short"), "short"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!verify(&headers, token.as_str()));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(verify(&headers, token.as_str()));
    }

    #[test]
    fn the_cookie_is_http_only_lax_root_and_secure_on_https() {
        let (_, cookie) = for_form(&HeaderMap::new(), true);
        let text = cookie.unwrap().to_str().unwrap().to_owned();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
            assert!(text.contains(attribute), "{text}");
        }
        let (_, cookie) = for_form(&HeaderMap::new(), false);
        assert!(!cookie.unwrap().to_str().unwrap().contains("Secure"));
    }
}
