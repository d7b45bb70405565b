//! What every HTML page and browser flow of the server shares, whatever it serves (the
//! authorization endpoint, the account pages, federated sign-in): rendering pages and their
//! headers ([`pages`]), cookies through the `cookie` crate ([`cookies`]), CSRF protection
//! ([`csrf`]), the browser session ([`session`]), where to go after signing in
//! ([`return_to`]), and the client's address ([`client_ip`]).
//!
//! Nothing here knows the account pages, federation or the OAuth endpoints: they all use it.
//! Of the engine it knows only where a sign-in returns to (an authorization request).

pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod pages;
pub(crate) mod return_to;
pub(crate) mod session;

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::Extensions;

/// The client's IP address, when the server was started with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>()`).
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}
