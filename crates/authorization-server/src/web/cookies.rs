//! Reading and writing the cookies of the sign-in pages, through the `cookie` crate.

use cookie::time::Duration;
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

/// The values of every cookie called `name` the browser sent, in order (a browser may send
/// several with one name, for different paths or domains), without surrounding quotes.
pub(crate) fn values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(move |cookie| cookie.name() == name)
        .filter_map(|cookie| cookie.value_raw())
        .map(without_quotes)
}

/// `value` without a pair of surrounding double quotes (RFC 6265 §4.1.1 allows them).
fn without_quotes(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// Whether `value` has the shape of a [`BrowserSecret`](crate::secrets::BrowserSecret): 43
/// base64url characters.
pub(crate) fn looks_like_secret(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// A `Set-Cookie` value: `HttpOnly`, `Path=/`, the given `SameSite`, `Secure` when asked,
/// and `Max-Age` when given (otherwise the cookie lasts as long as the browser session).
pub(crate) fn set_cookie(
    name: &'static str,
    value: &str,
    same_site: SameSite,
    secure: bool,
    max_age_secs: Option<i64>,
) -> HeaderValue {
    let mut cookie = Cookie::build((name, value))
        .http_only(true)
        .same_site(same_site)
        .path("/")
        .secure(secure);
    if let Some(seconds) = max_age_secs {
        cookie = cookie.max_age(Duration::seconds(seconds));
    }
    // Names are constants and values are base64url (or empty): always a valid header value.
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_cookie_with_the_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sid=two; b=3"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("sid=\"three\""));
        assert_eq!(
            values(&headers, "sid").collect::<Vec<_>>(),
            ["two", "three"]
        );
        assert_eq!(values(&headers, "none").count(), 0);
    }

    #[test]
    fn skips_what_is_not_a_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("garbage; =nameless; sid=one;;  ; sidx=no"),
        );
        assert_eq!(values(&headers, "sid").collect::<Vec<_>>(), ["one"]);
    }

    #[test]
    fn writes_http_only_root_cookies() {
        let value = set_cookie("n", "v", SameSite::Lax, true, Some(60));
        let text = value.to_str().unwrap();
        for attribute in [
            "n=v",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(text.contains(attribute), "{text}");
        }
        let plain = set_cookie("n", "v", SameSite::Strict, false, None);
        let text = plain.to_str().unwrap();
        assert!(
            !text.contains("Secure")
                && !text.contains("Max-Age")
                && text.contains("SameSite=Strict")
        );
    }
}
