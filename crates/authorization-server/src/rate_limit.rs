//! A small in-memory rate limiter: at most N events per key per window (fixed windows),
//! with bounded memory.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::ConnectInfo;
use http::Extensions;

use crate::store::UnixTime;

/// The most keys remembered; beyond it, windows that ended are forgotten first, then all.
const MAX_KEYS: usize = 100_000;

/// Counts events per key in fixed windows.
pub(crate) struct RateLimiter {
    limit: u32,
    window_secs: UnixTime,
    windows: Mutex<HashMap<String, (UnixTime, u32)>>,
}

impl RateLimiter {
    /// At most `limit` events per key per `window_secs`.
    pub(crate) fn new(limit: u32, window_secs: UnixTime) -> Self {
        Self {
            limit,
            window_secs: window_secs.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event for `key` at `now`; `false` when the limit is already reached.
    pub(crate) fn try_acquire(&self, key: &str, now: UnixTime) -> bool {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_KEYS {
            let window = self.window_secs;
            windows.retain(|_, (start, _)| now - *start < window);
            if windows.len() >= MAX_KEYS {
                windows.clear();
            }
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.window_secs {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return false;
        }
        entry.1 += 1;
        true
    }
}

/// The client's IP address, when the server was started with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>()`).
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_per_window() {
        let limiter = RateLimiter::new(2, 60);
        assert!(limiter.try_acquire("a", 0));
        assert!(limiter.try_acquire("a", 10));
        assert!(!limiter.try_acquire("a", 20));
        assert!(limiter.try_acquire("b", 20));
        assert!(limiter.try_acquire("a", 60));
    }
}
