//! Throttling of sign-in attempts, per account and per client IP, in memory.
//!
//! Each account (its normalized e-mail, whether or not it exists) and each client IP has a
//! fixed window of `login_window` that starts at its first failure; within it at most
//! `login_failures_per_account` / `login_failures_per_ip` failures are allowed. Beyond that the
//! sign-in is refused with 429 before the password is looked at, until the window ends.
//!
//! An attempt is counted as a failure when it begins ([`LoginThrottle::begin`]) and given back
//! if it succeeds, so concurrent guesses cannot all slip in under the limit. A success clears
//! the account's counter but not the IP's (an attacker with one valid account could
//! otherwise reset their IP's count). IPv6 clients are counted per /64, the block one
//! subscriber usually holds.
//!
//! Memory is bounded: expired windows are swept once per window, and each table holds at most
//! [`MAX_ENTRIES`] keys; when full, expired entries go first, then the oldest.
//!
//! The client IP comes from axum's `ConnectInfo<SocketAddr>`: serve the router with
//! `into_make_service_with_connect_info::<SocketAddr>()`. Without it every client shares one
//! counter (logged once as a warning). Behind a reverse proxy that is the proxy's address;
//! `X-Forwarded-For` is deliberately not trusted.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::config::AuthorizationServerConfig;
use crate::store::UnixTime;

/// The most keys each table (accounts, IPs) holds.
pub(crate) const MAX_ENTRIES: usize = 100_000;

/// The key of the client IP for `peer`, or a shared key when the address is unknown.
pub(crate) fn client_key(peer: Option<SocketAddr>) -> String {
    match peer.map(|peer| peer.ip().to_canonical()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the client address is unknown (serve the router with \
                     into_make_service_with_connect_info::<SocketAddr>()); \
                     all clients share one sign-in throttle"
                );
            }
            "unknown".to_owned()
        }
    }
}

/// A sign-in attempt that has been counted; report how it ended with
/// [`LoginThrottle::succeeded`] or [`LoginThrottle::abandoned`], or drop it for a failure.
#[must_use]
#[derive(Debug)]
pub(crate) struct Attempt {
    account: String,
    ip: String,
}

/// Failed sign-in counters.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    per_account: u32,
    per_ip: u32,
    window: i64,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    accounts: Table,
    ips: Table,
    next_sweep: UnixTime,
}

#[derive(Debug, Default)]
struct Table(HashMap<String, Window>);

#[derive(Debug, Clone, Copy)]
struct Window {
    started: UnixTime,
    failures: u32,
}

impl Table {
    /// Failures of `key` in its current window, and when that window ends.
    fn current(&self, key: &str, now: UnixTime, window: i64) -> Option<Window> {
        self.0
            .get(key)
            .copied()
            .filter(|entry| now < entry.started.saturating_add(window))
    }

    /// `Some(window end)` if `key` has used up `limit`.
    fn blocked(&self, key: &str, limit: u32, now: UnixTime, window: i64) -> Option<UnixTime> {
        self.current(key, now, window)
            .filter(|entry| entry.failures >= limit)
            .map(|entry| entry.started.saturating_add(window))
    }

    fn add_failure(&mut self, key: &str, now: UnixTime, window: i64) {
        let next = match self.current(key, now, window) {
            Some(entry) => Window {
                failures: entry.failures.saturating_add(1),
                ..entry
            },
            None => Window {
                started: now,
                failures: 1,
            },
        };
        if !self.0.contains_key(key) && self.0.len() >= MAX_ENTRIES {
            self.make_room(now, window);
        }
        self.0.insert(key.to_owned(), next);
    }

    fn give_back(&mut self, key: &str) {
        if let Some(entry) = self.0.get_mut(key) {
            entry.failures = entry.failures.saturating_sub(1);
        }
    }

    fn sweep(&mut self, now: UnixTime, window: i64) {
        self.0
            .retain(|_, entry| now < entry.started.saturating_add(window));
    }

    fn make_room(&mut self, now: UnixTime, window: i64) {
        self.sweep(now, window);
        if self.0.len() >= MAX_ENTRIES {
            let oldest = self
                .0
                .iter()
                .min_by_key(|(_, entry)| entry.started)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.0.remove(&oldest);
            }
        }
    }
}

impl LoginThrottle {
    /// Counters with the limits of `config`.
    pub(crate) fn new(config: &AuthorizationServerConfig) -> Self {
        Self {
            per_account: config.login_failures_per_account,
            per_ip: config.login_failures_per_ip,
            window: i64::try_from(config.login_window.as_secs()).unwrap_or(i64::MAX / 2),
            counters: Mutex::default(),
        }
    }

    fn counters(&self, now: UnixTime) -> std::sync::MutexGuard<'_, Counters> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= counters.next_sweep {
            counters.accounts.sweep(now, self.window);
            counters.ips.sweep(now, self.window);
            counters.next_sweep = now.saturating_add(self.window.max(1));
        }
        counters
    }

    /// Counts a sign-in attempt for `account` from `ip` as a failure, unless either is over its
    /// limit: then `Err(when the sign-in may be tried again)`.
    pub(crate) fn begin(
        &self,
        account: &str,
        ip: &str,
        now: UnixTime,
    ) -> Result<Attempt, UnixTime> {
        let mut counters = self.counters(now);
        let blocked_until = [
            counters
                .accounts
                .blocked(account, self.per_account, now, self.window),
            counters.ips.blocked(ip, self.per_ip, now, self.window),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = blocked_until {
            return Err(until);
        }
        counters.accounts.add_failure(account, now, self.window);
        counters.ips.add_failure(ip, now, self.window);
        Ok(Attempt {
            account: account.to_owned(),
            ip: ip.to_owned(),
        })
    }

    /// The attempt signed in: the account's failures are forgotten, the IP's attempt given back.
    pub(crate) fn succeeded(&self, attempt: Attempt, now: UnixTime) {
        let mut counters = self.counters(now);
        counters.accounts.0.remove(&attempt.account);
        counters.ips.give_back(&attempt.ip);
    }

    /// The attempt could not be judged (the store failed): it does not count.
    pub(crate) fn abandoned(&self, attempt: Attempt, now: UnixTime) {
        let mut counters = self.counters(now);
        counters.accounts.give_back(&attempt.account);
        counters.ips.give_back(&attempt.ip);
    }

    /// `Err(when to try again)` if `ip` is over its limit (sign-up checks this).
    pub(crate) fn check_ip(&self, ip: &str, now: UnixTime) -> Result<(), UnixTime> {
        match self
            .counters(now)
            .ips
            .blocked(ip, self.per_ip, now, self.window)
        {
            Some(until) => Err(until),
            None => Ok(()),
        }
    }

    /// Counts a failure against `ip` alone (a sign-up for an e-mail that has an account: it
    /// reveals that the account exists, so probing is limited like sign-in guessing).
    pub(crate) fn record_ip_failure(&self, ip: &str, now: UnixTime) {
        self.counters(now).ips.add_failure(ip, now, self.window);
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let counters = self.counters.lock().unwrap();
        (counters.accounts.0.len(), counters.ips.0.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn throttle(per_account: u32, per_ip: u32, window_secs: u64) -> LoginThrottle {
        let config =
            AuthorizationServerConfig::new("http://localhost:9000", "http://localhost:3001/mcp")
                .unwrap()
                .with_login_throttle(per_account, per_ip, Duration::from_secs(window_secs));
        LoginThrottle::new(&config)
    }

    #[test]
    fn blocks_an_account_after_its_limit_until_the_window_ends() {
        let throttle = throttle(3, 100, 60);
        for second in 0..3 {
            let _failed = throttle
                .begin("a@b.c", &format!("10.0.0.{second}"), 1000 + second)
                .unwrap();
        }
        assert_eq!(throttle.begin("a@b.c", "10.0.0.9", 1010).unwrap_err(), 1060);
        assert!(throttle.begin("other@b.c", "10.0.0.9", 1010).is_ok());
        assert!(
            throttle.begin("a@b.c", "10.0.0.9", 1060).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn blocks_an_ip_after_its_limit_whatever_the_account() {
        let throttle = throttle(100, 2, 60);
        let _ = throttle.begin("a@b.c", "10.0.0.1", 0).unwrap();
        let _ = throttle.begin("b@b.c", "10.0.0.1", 1).unwrap();
        assert_eq!(throttle.begin("c@b.c", "10.0.0.1", 2).unwrap_err(), 60);
        assert_eq!(throttle.check_ip("10.0.0.1", 2), Err(60));
        assert!(throttle.begin("c@b.c", "10.0.0.2", 2).is_ok());
    }

    #[test]
    fn success_clears_the_account_but_not_other_ip_failures() {
        let throttle = throttle(2, 3, 60);
        let _ = throttle.begin("a@b.c", "ip", 0).unwrap();
        let ok = throttle.begin("a@b.c", "ip", 1).unwrap();
        throttle.succeeded(ok, 1);
        let _ = throttle.begin("a@b.c", "ip", 2).unwrap();
        assert!(
            throttle.begin("a@b.c", "ip", 3).is_ok(),
            "account was cleared"
        );
        assert!(
            throttle.begin("a@b.c", "ip", 4).is_err(),
            "ip: 3 failures kept"
        );
    }

    #[test]
    fn abandoned_attempts_do_not_count() {
        let throttle = throttle(1, 1, 60);
        let attempt = throttle.begin("a@b.c", "ip", 0).unwrap();
        throttle.abandoned(attempt, 0);
        assert!(throttle.begin("a@b.c", "ip", 0).is_ok());
    }

    #[test]
    fn sign_up_probes_count_against_the_ip() {
        let throttle = throttle(5, 2, 60);
        throttle.record_ip_failure("ip", 0);
        assert!(throttle.check_ip("ip", 0).is_ok());
        throttle.record_ip_failure("ip", 0);
        assert!(throttle.check_ip("ip", 0).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = throttle(5, u32::MAX, 60);
        for n in 0..MAX_ENTRIES + 10 {
            let _ = throttle.begin(&format!("user{n}@b.c"), "ip", 0).unwrap();
        }
        assert_eq!(throttle.sizes(), (MAX_ENTRIES, 1));
        let _ = throttle.begin("late@b.c", "ip", 61).unwrap();
        assert_eq!(throttle.sizes(), (1, 1), "expired windows were swept");
    }

    #[test]
    fn keys_ipv6_clients_by_their_64_and_unwraps_mapped_ipv4() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:443".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:bbbb::2]:80".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_eq!(client_key(Some(a)), "2001:db8:1:2::/64");
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:1".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "10.1.2.3");
        assert_eq!(client_key(None), "unknown");
    }
}
