//! Starting an upstream sign-in, and finding it again at the callback.
//!
//! Each sign-in has a random `state` (sent to the provider; stored only as a hash, with the
//! `return_to` and the provider, in `upstream_logins`) and is bound to the browser by the
//! `mcp_oauth_upstream` cookie: a random value the browser keeps (`HttpOnly`, `SameSite=Lax`
//! so it comes back on the provider's redirect, as long as an attempt lives) and the store
//! knows only by hash. The PKCE verifier (RFC 7636) and the `nonce` are derived from the cookie
//! and the state, so neither is stored: only the browser that started the sign-in, coming back
//! with its state, can finish it, once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::SameSite;
use http::{HeaderMap, HeaderValue};
use mcp_oauth_core::challenge_s256;
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use super::discovery::ProviderMetadata;
use super::{Federation, Upstream};
use crate::secrets::BrowserSecret;
use crate::store::{StoreError, UnixTime, UpstreamLoginRecord};
use crate::web::cookies;

/// The browser-binding cookie.
pub(super) const BINDING_COOKIE: &str = "mcp_oauth_upstream";

/// The path of the redirect URI registered at every provider.
pub(super) const CALLBACK_PATH: &str = "/login/callback";

/// A sign-in sent to the provider: where the browser goes, and the cookie to set.
pub(super) struct Started {
    pub(super) authorization_url: Url,
    pub(super) set_cookie: HeaderValue,
}

/// The secrets of one sign-in, derived from the browser's cookie and the state.
pub(super) struct Derived {
    pub(super) verifier: Zeroizing<String>,
    pub(super) nonce: String,
}

impl Derived {
    fn new(binding: &str, state: &str) -> Self {
        let derive = |label: &str| {
            let mut digest = Sha256::new();
            for part in [label, binding, state] {
                digest.update((part.len() as u64).to_be_bytes());
                digest.update(part.as_bytes());
            }
            URL_SAFE_NO_PAD.encode(digest.finalize())
        };
        Self {
            // 43 base64url characters: a valid code verifier (RFC 7636 §4.1).
            verifier: Zeroizing::new(derive("mcp-oauth upstream pkce verifier")),
            nonce: derive("mcp-oauth upstream nonce"),
        }
    }
}

/// Records a new sign-in at `upstream` for the browser of `headers`, returning to `return_to`.
/// The browser keeps its binding cookie if it has one (several tabs may sign in at once).
/// The error is for logs.
pub(super) async fn start(
    federation: &Federation,
    headers: &HeaderMap,
    upstream: &Upstream,
    metadata: &ProviderMetadata,
    return_to: &str,
) -> Result<Started, String> {
    let binding = cookies::values(headers, BINDING_COOKIE)
        .find(|value| cookies::looks_like_secret(value))
        .map_or_else(BrowserSecret::generate, BrowserSecret::from_presented);
    let ttl = federation.login_ttl;
    // Sent again with every start: the cookie lives as long as the newest attempt.
    let set_cookie = cookies::set_cookie(
        BINDING_COOKIE,
        binding.expose(),
        SameSite::Lax,
        federation.sessions.secure_cookies(),
        Some(ttl),
    );
    let mut authorization_url = Url::parse(&metadata.authorization_endpoint)
        .map_err(|error| format!("authorization_endpoint: {error}"))?;
    let request_state = BrowserSecret::generate();
    let derived = Derived::new(binding.expose(), request_state.expose());
    let now: UnixTime = federation.now();
    federation
        .store
        .insert_upstream_login(&UpstreamLoginRecord::new(
            request_state.hash(),
            binding.hash(),
            upstream.config.issuer.clone(),
            return_to,
            now.saturating_add(ttl),
        ))
        .await
        .map_err(|error| error.to_string())?;
    authorization_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &upstream.config.client_id)
        .append_pair("redirect_uri", &federation.redirect_uri)
        .append_pair("scope", &upstream.config.scopes.join(" "))
        .append_pair("state", request_state.expose())
        .append_pair("nonce", &derived.nonce)
        .append_pair("code_challenge", &challenge_s256(&derived.verifier))
        .append_pair("code_challenge_method", "S256");
    Ok(Started {
        authorization_url,
        set_cookie,
    })
}

/// Why a callback's state leads to no sign-in.
#[derive(Debug)]
pub(super) enum Unmatched {
    /// Unknown, expired, or already used.
    UnknownState,
    /// Started by another browser (or the cookie is gone).
    OtherBrowser,
    /// The store failed.
    Store(StoreError),
}

/// Takes the sign-in `request_state` names, if the browser of `headers` started it; with the
/// secrets derived for it.
pub(super) async fn take(
    federation: &Federation,
    headers: &HeaderMap,
    request_state: &str,
) -> Result<(UpstreamLoginRecord, Derived), Unmatched> {
    let login = federation
        .store
        .take_upstream_login(
            &BrowserSecret::from_presented(request_state).hash(),
            federation.now(),
        )
        .await
        .map_err(Unmatched::Store)?
        .ok_or(Unmatched::UnknownState)?;
    let binding = cookies::values(headers, BINDING_COOKIE)
        .filter(|value| cookies::looks_like_secret(value))
        .map(BrowserSecret::from_presented)
        .find(|binding| binding.matches(&login.browser_hash))
        .ok_or(Unmatched::OtherBrowser)?;
    let derived = Derived::new(binding.expose(), request_state);
    Ok((login, derived))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_secrets_depend_on_both_the_browser_and_the_state() {
        let one = Derived::new("browser-a", "state-1");
        assert_eq!(one.verifier.len(), 43);
        mcp_oauth_core::validate_code_verifier(&one.verifier).unwrap();
        assert_ne!(*one.verifier, one.nonce);
        for other in [
            Derived::new("browser-b", "state-1"),
            Derived::new("browser-a", "state-2"),
        ] {
            assert_ne!(*one.verifier, *other.verifier);
            assert_ne!(one.nonce, other.nonce);
        }
        let again = Derived::new("browser-a", "state-1");
        assert_eq!((*one.verifier).clone(), (*again.verifier).clone());
    }
}
