//! Rate limits per client address (registrations, upstream sign-ins): the limiter of
//! [`mcp_oauth_core::RateLimiter`], keyed by the client's IP, at the server's clock.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::Extensions;

use crate::store::UnixTime;

/// Events per client IP (`None` when the address is unknown) in a sliding window.
pub(crate) type IpRateLimiter = mcp_oauth_core::RateLimiter<Option<IpAddr>>;

/// The client's IP address, when the server was started with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>()`).
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// The server's time as the limiter takes it: the time since the Unix epoch.
pub(crate) fn limiter_time(now: UnixTime) -> Duration {
    Duration::from_secs(u64::try_from(now).unwrap_or(0))
}
