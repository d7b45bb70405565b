//! Rate limits per client address (registrations, upstream sign-ins): the limiter of
//! [`mcp_oauth_core::RateLimiter`], keyed by the client's IP, at the server's clock.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::UnixTime;

/// Events per client IP (`None` when the address is unknown) in a sliding window.
pub(crate) type IpRateLimiter = mcp_oauth_core::RateLimiter<Option<IpAddr>>;

/// The server's time as the limiter takes it: the time since the Unix epoch.
pub(crate) fn limiter_time(now: UnixTime) -> Duration {
    Duration::from_secs(u64::try_from(now).unwrap_or(0))
}
