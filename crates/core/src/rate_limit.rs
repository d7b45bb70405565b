//! A small in-memory rate limiter: at most N events per key in any window of a given length
//! (a sliding window), with bounded memory. Pure: the caller passes the time, read from
//! whatever clock it trusts (a fake one in tests).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

/// The most keys remembered by default; see [`RateLimiter::with_max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// Counts events per key (typically the client's IP address, `None` when unknown) and refuses
/// the ones past `limit` in any `window`. Times are offsets from an origin the caller picks
/// once (the Unix epoch, the process start…) and keeps: what matters is their differences.
#[derive(Debug)]
pub struct RateLimiter<K> {
    limit: usize,
    window: Duration,
    max_keys: usize,
    events: Mutex<HashMap<K, VecDeque<Duration>>>,
}

impl<K: Eq + Hash> RateLimiter<K> {
    /// At most `limit` events per key in any `window` (a limit of 0 refuses every event).
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            max_keys: DEFAULT_MAX_KEYS,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// At most `limit` events per key in any minute.
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// Sets how many keys are remembered (default [`DEFAULT_MAX_KEYS`]). When a new key would
    /// pass it, keys with no event in the last window are forgotten, and if that is not
    /// enough, every key: memory stays bounded whatever the number of clients.
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// Records an event for `key` at `now`; `false` (and nothing recorded) when `key` already
    /// had `limit` events in the window ending at `now`. A clock that goes back is tolerated:
    /// events "in the future" count as recent.
    pub fn try_acquire(&self, key: K, now: Duration) -> bool {
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = self.window;
        let expired = |at: &Duration| now.checked_sub(*at).is_some_and(|age| age >= window);
        if events.len() >= self.max_keys && !events.contains_key(&key) {
            events.retain(|_, times| times.back().is_some_and(|last| !expired(last)));
            if events.len() >= self.max_keys {
                events.clear();
            }
        }
        let times = events.entry(key).or_default();
        while times.front().is_some_and(expired) {
            times.pop_front();
        }
        if times.len() >= self.limit {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn allows_the_limit_per_key_in_any_window() {
        let limiter = RateLimiter::per_minute(2);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let start = secs(1_700_000_000);
        assert!(limiter.try_acquire(a, start));
        assert!(limiter.try_acquire(a, start + secs(30)));
        assert!(!limiter.try_acquire(a, start + secs(59)));
        assert!(limiter.try_acquire(b, start + secs(59)));
        // The first event left the window; the second has not.
        assert!(limiter.try_acquire(a, start + secs(60)));
        assert!(!limiter.try_acquire(a, start + secs(61)));
        assert!(limiter.try_acquire(a, start + secs(90)));
    }

    #[test]
    fn unknown_clients_share_one_budget() {
        let limiter = RateLimiter::new(1, secs(60));
        assert!(limiter.try_acquire(None::<IpAddr>, secs(0)));
        assert!(!limiter.try_acquire(None, secs(1)));
    }

    #[test]
    fn a_limit_of_zero_refuses_everything() {
        let limiter = RateLimiter::per_minute(0);
        assert!(!limiter.try_acquire("a", secs(0)));
    }

    #[test]
    fn tolerates_a_clock_that_goes_back() {
        let limiter = RateLimiter::per_minute(1);
        assert!(limiter.try_acquire("a", secs(100)));
        assert!(!limiter.try_acquire("a", secs(50)));
        assert!(limiter.try_acquire("a", secs(160)));
    }

    #[test]
    fn forgets_idle_keys_first_and_stays_bounded() {
        let limiter = RateLimiter::per_minute(1).with_max_keys(2);
        assert!(limiter.try_acquire("idle", secs(0)));
        assert!(limiter.try_acquire("busy", secs(100)));
        // "idle" is forgotten to make room; "busy" is still limited.
        assert!(limiter.try_acquire("new", secs(110)));
        assert!(!limiter.try_acquire("busy", secs(120)));
        // All recent: everything is forgotten rather than growing past the bound.
        assert!(limiter.try_acquire("newer", secs(130)));
        assert!(limiter.try_acquire("busy", secs(140)));
        assert!(limiter.events.lock().unwrap().len() <= 2);
    }
}
