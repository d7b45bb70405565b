//! Where to send the browser after signing in: only back into an authorization request.
//!
//! The authorization endpoint sends people to `/login?return_to=<urlencoded /authorize?…>`.
//! Anything else — absolute URLs, scheme-relative `//host`, `/\host` (browsers read `\` as
//! `/`), other paths, control characters — would make the sign-in page an open redirector,
//! so it is dropped and the browser goes home (`/`).

use serde::Deserialize;

/// The `?return_to=` of a sign-in page (empty when absent or unreadable).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReturnQuery {
    /// The candidate, to go through [`accept`].
    pub(crate) return_to: String,
}

/// Where the browser goes when there is no acceptable `return_to`.
pub(crate) const HOME: &str = "/";

/// The only prefix a `return_to` may have: the authorization endpoint, with a query.
const PREFIX: &str = crate::engine::RETURN_PREFIX;

/// Long enough for any authorization request (a CIMD `client_id` URL, PKCE, state, scopes).
const MAX_LEN: usize = 8 * 1024;

/// `candidate` if it is a root-relative URL of the authorization endpoint with a query, made
/// only of visible ASCII (so it is a valid `Location` header and cannot smuggle whitespace).
pub(crate) fn accept(candidate: &str) -> Option<&str> {
    let acceptable = candidate.starts_with(PREFIX)
        && candidate.len() <= MAX_LEN
        && candidate
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'\\');
    acceptable.then_some(candidate)
}

/// `?return_to=<candidate, urlencoded>` to carry an accepted target to another page, or "".
pub(crate) fn query(accepted: Option<&str>) -> String {
    accepted.map_or_else(String::new, |target| {
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        format!("?return_to={encoded}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_authorization_requests() {
        let target =
            "/authorize?response_type=code&client_id=abc&code_challenge=x%2By&state=%2F%2F";
        assert_eq!(accept(target), Some(target));
    }

    #[test]
    fn rejects_everything_else() {
        for hostile in [
            "",
            "/",
            "/authorize",
            "/authorizex?a=b",
            "/token?x=1",
            "//evil.example/authorize?x",
            "/\\evil.example",
            "https://evil.example/authorize?x",
            "javascript:alert(1)",
            " /authorize?x",
            "/authorize?x=1\r\nSet-Cookie: a=b",
            "/authorize?x=1 y",
            "/authorize?x=\\evil",
            "/authorize?x=é",
        ] {
            assert_eq!(accept(hostile), None, "{hostile:?}");
        }
        assert_eq!(accept(&format!("/authorize?{}", "a".repeat(MAX_LEN))), None);
    }

    #[test]
    fn carries_the_target_urlencoded() {
        assert_eq!(query(None), "");
        assert_eq!(
            query(Some("/authorize?a=b&c=d")),
            "?return_to=%2Fauthorize%3Fa%3Db%26c%3Dd"
        );
    }
}
