//! Registrations per client address: at most N in a sliding minute, with bounded memory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most addresses remembered; past it, the oldest-idle addresses are forgotten.
const MAX_ADDRESSES: usize = 10_000;

/// A sliding-window limit of events per address.
pub(crate) struct RegistrationLimiter {
    per_window: usize,
    window: Duration,
    events: Mutex<HashMap<Option<IpAddr>, VecDeque<Instant>>>,
}

impl RegistrationLimiter {
    /// At most `per_minute` events per address in any minute.
    pub(crate) fn per_minute(per_minute: u32) -> Self {
        Self {
            per_window: usize::try_from(per_minute).unwrap_or(usize::MAX),
            window: Duration::from_secs(60),
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event from `address` (`None` when unknown) at `now`; `false` when the
    /// address already had its share in the last minute.
    pub(crate) fn try_acquire(&self, address: Option<IpAddr>, now: Instant) -> bool {
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = self.window;
        let recent = |times: &VecDeque<Instant>| {
            times
                .back()
                .is_some_and(|last| now.duration_since(*last) < window)
        };
        if events.len() >= MAX_ADDRESSES {
            events.retain(|_, times| recent(times));
        }
        let times = events.entry(address).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= window)
        {
            times.pop_front();
        }
        if times.len() >= self.per_window {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_per_address_in_any_minute() {
        let limiter = RegistrationLimiter::per_minute(2);
        let start = Instant::now();
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(limiter.try_acquire(a, start));
        assert!(limiter.try_acquire(a, start + Duration::from_secs(30)));
        assert!(!limiter.try_acquire(a, start + Duration::from_secs(59)));
        assert!(limiter.try_acquire(b, start + Duration::from_secs(59)));
        // The first event left the window; the second has not.
        assert!(limiter.try_acquire(a, start + Duration::from_secs(60)));
        assert!(!limiter.try_acquire(a, start + Duration::from_secs(61)));
    }
}
