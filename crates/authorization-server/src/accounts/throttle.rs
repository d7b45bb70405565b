//! Throttling of sign-in attempts, in memory (OWASP Authentication Cheat Sheet, "Login
//! Throttling"; OWASP "Slow Down Online Guessing Attacks with Device Cookies").
//!
//! Failures are counted by [`Counter`]s, each a fixed window of [`LoginLimits::window`] that
//! starts at its first failure, within which at most its limit of failures is allowed; beyond
//! that the attempts it counts are refused with 429 before the password is looked at, until the
//! window ends. Which counters an attempt uses depends on the browser ([`Source`]):
//!
//! - a browser holding a **device cookie** of the account (see [`super::device`]): only its
//!   cookie's counter ([`LoginLimits::per_device`]). Others' failures on the account or from the
//!   same address never lock it out, so an attacker who knows an e-mail address cannot keep its
//!   owner out; a cookie used for many failures is locked on its own.
//! - any other browser: the account from this address ([`LoginLimits::per_account_and_ip`]), the
//!   account from all addresses together ([`LoginLimits::per_account`], the cap on guessing
//!   spread over many addresses) and the address whatever the account
//!   ([`LoginLimits::per_ip`], password spraying). A guesser at one address so locks only
//!   itself out of the account; the owner elsewhere still signs in, and with a device cookie
//!   even once the account's own cap is reached.
//!
//! Accounts are counted by their normalized e-mail whether or not they exist, so the throttle
//! says nothing about which exist. An attempt is counted as a failure when it begins
//! ([`LoginThrottle::begin`]) and given back if it succeeds, so concurrent guesses cannot all
//! slip in under a limit. A success clears the counters of its account-and-address and of its
//! device cookie but only gives its attempt back to the account and the address (an attacker
//! with one valid account could otherwise reset their address's count). IPv6 clients are counted
//! per /64, the block one subscriber usually holds.
//!
//! The state is a set of rows `(counter, window start, failures)`, and each operation touches
//! the few rows of one attempt (check-and-count, give back, clear), so it can move into the
//! store (for several instances) as one table and a conditional update per row. Memory is
//! bounded: expired windows are swept once per window, and each kind of counter holds at most
//! [`MAX_ENTRIES`] keys; when full, expired entries go first, then the oldest.
//!
//! The client IP comes from axum's `ConnectInfo<SocketAddr>`: serve the router with
//! `into_make_service_with_connect_info::<SocketAddr>()`. Without it every client shares one
//! address (logged once as a warning). Behind a reverse proxy that is the proxy's address;
//! `X-Forwarded-For` is deliberately not trusted.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::config::LoginLimits;
use crate::store::{SecretHash, UnixTime};

/// The most keys each kind of counter holds.
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

/// Who is trying to sign in, as far as the throttle is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A browser holding a valid device cookie of the account: the cookie's hash.
    Device(&'a SecretHash),
    /// Any other browser: the account (normalized e-mail) and the client IP key.
    Untrusted {
        /// The account.
        account: &'a str,
        /// The client IP key ([`client_key`]).
        ip: &'a str,
    },
}

/// What failures are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An account, from one address (untrusted browsers).
    AccountFromIp,
    /// An account, from every address (untrusted browsers).
    Account,
    /// An address, whatever the account (untrusted browsers and sign-up probes).
    Ip,
    /// A device cookie.
    Device,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::AccountFromIp, Kind::Account, Kind::Ip, Kind::Device];

    fn index(self) -> usize {
        self as usize
    }
}

/// One counter: its kind and key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    kind: Kind,
    key: String,
}

impl Counter {
    fn of(source: Source<'_>) -> Vec<Counter> {
        let counter = |kind, key: String| Counter { kind, key };
        match source {
            Source::Device(hash) => vec![counter(Kind::Device, hash.as_str().to_owned())],
            Source::Untrusted { account, ip } => vec![
                // An e-mail cannot hold a newline, so the pair cannot be forged from another.
                counter(Kind::AccountFromIp, format!("{account}\n{ip}")),
                counter(Kind::Account, account.to_owned()),
                counter(Kind::Ip, ip.to_owned()),
            ],
        }
    }
}

/// A sign-in attempt that has been counted; report a success with
/// [`LoginThrottle::succeeded`], or drop it for a failure.
#[must_use]
#[derive(Debug)]
pub(crate) struct Attempt {
    counters: Vec<Counter>,
}

/// Failed sign-in counters.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    limits: LoginLimits,
    window: i64,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    tables: [Table; Kind::ALL.len()],
    next_sweep: UnixTime,
}

impl Counters {
    fn table(&mut self, kind: Kind) -> &mut Table {
        &mut self.tables[kind.index()]
    }
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
    /// Counters with `limits`.
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            window: i64::try_from(limits.window.as_secs()).unwrap_or(i64::MAX / 2),
            counters: Mutex::default(),
        }
    }

    fn limit(&self, kind: Kind) -> u32 {
        match kind {
            Kind::AccountFromIp => self.limits.per_account_and_ip,
            Kind::Account => self.limits.per_account,
            Kind::Ip => self.limits.per_ip,
            Kind::Device => self.limits.per_device,
        }
    }

    fn counters(&self, now: UnixTime) -> MutexGuard<'_, Counters> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= counters.next_sweep {
            for table in &mut counters.tables {
                table.sweep(now, self.window);
            }
            counters.next_sweep = now.saturating_add(self.window.max(1));
        }
        counters
    }

    /// Counts a sign-in attempt from `source` as a failure, unless one of its counters is over
    /// its limit: then `Err(when the sign-in may be tried again)`.
    pub(crate) fn begin(&self, source: Source<'_>, now: UnixTime) -> Result<Attempt, UnixTime> {
        let counters_of_attempt = Counter::of(source);
        let mut counters = self.counters(now);
        let blocked_until = counters_of_attempt
            .iter()
            .filter_map(|counter| {
                counters.table(counter.kind).blocked(
                    &counter.key,
                    self.limit(counter.kind),
                    now,
                    self.window,
                )
            })
            .max();
        if let Some(until) = blocked_until {
            return Err(until);
        }
        for counter in &counters_of_attempt {
            counters
                .table(counter.kind)
                .add_failure(&counter.key, now, self.window);
        }
        Ok(Attempt {
            counters: counters_of_attempt,
        })
    }

    /// The attempt signed in: the failures of its account-and-address and of its device cookie
    /// are forgotten; the account and the address only get this attempt back.
    pub(crate) fn succeeded(&self, attempt: Attempt, now: UnixTime) {
        let mut counters = self.counters(now);
        for counter in attempt.counters {
            let table = counters.table(counter.kind);
            match counter.kind {
                Kind::AccountFromIp | Kind::Device => {
                    table.0.remove(&counter.key);
                }
                Kind::Account | Kind::Ip => table.give_back(&counter.key),
            }
        }
    }

    /// `Err(when to try again)` if `ip` is over its limit (sign-up checks this).
    pub(crate) fn check_ip(&self, ip: &str, now: UnixTime) -> Result<(), UnixTime> {
        match self
            .counters(now)
            .table(Kind::Ip)
            .blocked(ip, self.limits.per_ip, now, self.window)
        {
            Some(until) => Err(until),
            None => Ok(()),
        }
    }

    /// Counts a failure against `ip` alone (a sign-up for an e-mail that has an account: it
    /// reveals that the account exists, so probing is limited like sign-in guessing).
    pub(crate) fn record_ip_failure(&self, ip: &str, now: UnixTime) {
        self.counters(now)
            .table(Kind::Ip)
            .add_failure(ip, now, self.window);
    }

    #[cfg(test)]
    fn sizes(&self) -> [usize; Kind::ALL.len()] {
        let counters = self.counters.lock().unwrap();
        counters.tables.each_ref().map(|table| table.0.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const WINDOW: u64 = 60;

    fn throttle(per_account_and_ip: u32, per_account: u32, per_ip: u32) -> LoginThrottle {
        LoginThrottle::new(
            LoginLimits::default()
                .with_per_account_and_ip(per_account_and_ip)
                .with_per_account(per_account)
                .with_per_ip(per_ip)
                .with_per_device(2)
                .with_window(Duration::from_secs(WINDOW)),
        )
    }

    fn untrusted<'a>(account: &'a str, ip: &'a str) -> Source<'a> {
        Source::Untrusted { account, ip }
    }

    #[test]
    fn blocks_an_account_from_one_address_but_not_from_others() {
        let throttle = throttle(3, 100, 100);
        for second in 0..3 {
            let _failed = throttle
                .begin(untrusted("a@b.c", "10.0.0.1"), 1000 + second)
                .unwrap();
        }
        assert_eq!(
            throttle
                .begin(untrusted("a@b.c", "10.0.0.1"), 1010)
                .unwrap_err(),
            1060
        );
        assert!(throttle.begin(untrusted("a@b.c", "10.0.0.2"), 1010).is_ok());
        assert!(throttle.begin(untrusted("b@b.c", "10.0.0.1"), 1010).is_ok());
        assert!(
            throttle.begin(untrusted("a@b.c", "10.0.0.1"), 1060).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn blocks_an_account_guessed_from_many_addresses_for_untrusted_browsers_only() {
        let throttle = throttle(100, 3, 100);
        for n in 0..3 {
            let _ = throttle
                .begin(untrusted("a@b.c", &format!("10.0.0.{n}")), 0)
                .unwrap();
        }
        assert_eq!(
            throttle
                .begin(untrusted("a@b.c", "10.0.0.9"), 1)
                .unwrap_err(),
            60
        );
        let device = SecretHash::of("d");
        assert!(throttle.begin(Source::Device(&device), 1).is_ok());
    }

    #[test]
    fn blocks_an_ip_after_its_limit_whatever_the_account_but_not_a_device() {
        let throttle = throttle(100, 100, 2);
        let _ = throttle.begin(untrusted("a@b.c", "10.0.0.1"), 0).unwrap();
        let _ = throttle.begin(untrusted("b@b.c", "10.0.0.1"), 1).unwrap();
        assert_eq!(
            throttle
                .begin(untrusted("c@b.c", "10.0.0.1"), 2)
                .unwrap_err(),
            60
        );
        assert_eq!(throttle.check_ip("10.0.0.1", 2), Err(60));
        assert!(throttle.begin(untrusted("c@b.c", "10.0.0.2"), 2).is_ok());
        let device = SecretHash::of("d");
        assert!(throttle.begin(Source::Device(&device), 2).is_ok());
    }

    #[test]
    fn a_device_cookie_is_locked_on_its_own() {
        let throttle = throttle(100, 100, 100);
        let device = SecretHash::of("d");
        let other = SecretHash::of("e");
        for _ in 0..2 {
            let _ = throttle.begin(Source::Device(&device), 0).unwrap();
        }
        assert_eq!(throttle.begin(Source::Device(&device), 1).unwrap_err(), 60);
        assert!(throttle.begin(Source::Device(&other), 1).is_ok());
        assert!(throttle.begin(untrusted("a@b.c", "10.0.0.1"), 1).is_ok());
    }

    #[test]
    fn success_clears_the_account_from_its_address_but_not_the_address() {
        let throttle = throttle(2, 100, 3);
        let _ = throttle.begin(untrusted("a@b.c", "ip"), 0).unwrap();
        let ok = throttle.begin(untrusted("a@b.c", "ip"), 1).unwrap();
        throttle.succeeded(ok, 1);
        let _ = throttle.begin(untrusted("a@b.c", "ip"), 2).unwrap();
        let _ = throttle
            .begin(untrusted("a@b.c", "ip"), 3)
            .expect("the account from this address was cleared");
        assert_eq!(
            throttle.check_ip("ip", 3),
            Err(60),
            "the address keeps its failure from before the success"
        );
    }

    #[test]
    fn success_clears_the_device_cookie() {
        let throttle = throttle(100, 100, 100);
        let device = SecretHash::of("d");
        let _ = throttle.begin(Source::Device(&device), 0).unwrap();
        let ok = throttle.begin(Source::Device(&device), 0).unwrap();
        throttle.succeeded(ok, 0);
        let _ = throttle.begin(Source::Device(&device), 0).unwrap();
        assert!(throttle.begin(Source::Device(&device), 0).is_ok());
    }

    #[test]
    fn sign_up_probes_count_against_the_ip() {
        let throttle = throttle(5, 5, 2);
        throttle.record_ip_failure("ip", 0);
        assert!(throttle.check_ip("ip", 0).is_ok());
        throttle.record_ip_failure("ip", 0);
        assert!(throttle.check_ip("ip", 0).is_err());
        assert!(throttle.begin(untrusted("a@b.c", "ip"), 0).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = throttle(5, 5, u32::MAX);
        for n in 0..MAX_ENTRIES + 10 {
            let _ = throttle
                .begin(untrusted(&format!("user{n}@b.c"), "ip"), 0)
                .unwrap();
        }
        assert_eq!(throttle.sizes(), [MAX_ENTRIES, MAX_ENTRIES, 1, 0]);
        let _ = throttle.begin(untrusted("late@b.c", "ip"), 61).unwrap();
        assert_eq!(throttle.sizes(), [1, 1, 1, 0], "expired windows were swept");
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
