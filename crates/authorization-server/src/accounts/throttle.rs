//! Throttling of sign-in attempts (OWASP Authentication Cheat Sheet, "Login Throttling"; OWASP
//! "Slow Down Online Guessing Attacks with Device Cookies"), counted in the store
//! ([`LimitStore`]) so that it holds across every instance on one database.
//!
//! Failures are counted by counters, each a fixed window of [`LoginLimits::window`] that starts
//! at its first failure, within which at most its limit of failures is allowed; beyond that the
//! attempts it counts are refused with 429 before the password is looked at, until the window
//! ends. Which counters an attempt uses depends on the browser ([`Source`]):
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
//! ([`LoginThrottle::begin`]) and given back if it succeeds, so concurrent guesses, on one
//! instance or several, cannot all slip in under a limit. A success clears the counters of its
//! account-and-address and of its device cookie but only gives its attempt back to the account
//! and the address (an attacker with one valid account could otherwise reset their address's
//! count). Addresses are keyed by [`address_key`] (IPv6 clients per /64).
//!
//! Each counter is one row of the store, checked and counted by one statement: an attempt costs
//! one statement per counter it uses (three, or one with a device cookie). The store deletes
//! expired windows and keeps at most
//! [`MAX_LIMIT_COUNTERS_PER_KIND`](crate::store::MAX_LIMIT_COUNTERS_PER_KIND) counters of each
//! kind, dropping those whose window started first.
//!
//! [`address_key`]: crate::rate_limit::address_key

use std::sync::Arc;

use crate::config::LoginLimits;
use crate::store::{
    CountedHit, Hits, LimitCounter, LimitKind, LimitStore, SecretHash, StoreResult, UnixTime,
};

/// Who is trying to sign in, as far as the throttle is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A browser holding a valid device cookie of the account: the cookie's hash.
    Device(&'a SecretHash),
    /// Any other browser: the account (normalized e-mail) and the client address key.
    Untrusted {
        /// The account.
        account: &'a str,
        /// The client address key ([`crate::rate_limit::address_key`]).
        ip: &'a str,
    },
}

/// A sign-in attempt that has been counted; report a success with
/// [`LoginThrottle::succeeded`], or drop it for a failure.
#[must_use]
#[derive(Debug)]
pub(crate) struct Attempt {
    hits: Vec<CountedHit>,
}

/// Failed sign-in counters, in the store.
#[derive(Clone)]
pub(crate) struct LoginThrottle {
    limits: LoginLimits,
    store: Arc<dyn LimitStore>,
}

impl LoginThrottle {
    /// Counters with `limits`, in `store`.
    pub(crate) fn new(limits: LoginLimits, store: Arc<dyn LimitStore>) -> Self {
        Self { limits, store }
    }

    fn counter(&self, kind: LimitKind, key: String, limit: u32) -> LimitCounter {
        LimitCounter::new(kind, key, limit, self.limits.window)
    }

    fn counters(&self, source: Source<'_>) -> Vec<LimitCounter> {
        let limits = &self.limits;
        match source {
            Source::Device(hash) => vec![self.counter(
                LimitKind::SignInDevice,
                hash.as_str().to_owned(),
                limits.per_device,
            )],
            Source::Untrusted { account, ip } => vec![
                // An e-mail cannot hold a newline, so the pair cannot be forged from another.
                self.counter(
                    LimitKind::SignInAccountFromAddress,
                    format!("{account}\n{ip}"),
                    limits.per_account_and_ip,
                ),
                self.counter(
                    LimitKind::SignInAccount,
                    account.to_owned(),
                    limits.per_account,
                ),
                self.address_counter(ip),
            ],
        }
    }

    /// Counts a sign-in attempt from `source` as a failure, unless one of its counters is over
    /// its limit: then `Err(when the sign-in may be tried again)`.
    pub(crate) async fn begin(
        &self,
        source: Source<'_>,
        now: UnixTime,
    ) -> StoreResult<Result<Attempt, UnixTime>> {
        self.count(&self.counters(source), now).await
    }

    async fn count(
        &self,
        counters: &[LimitCounter],
        now: UnixTime,
    ) -> StoreResult<Result<Attempt, UnixTime>> {
        Ok(match self.store.count_hits(counters, now).await? {
            Hits::Counted(hits) => Ok(Attempt { hits }),
            Hits::Refused { retry_at } => Err(retry_at),
        })
    }

    /// Counts an attempt at the second step of `user_id`'s sign-in (a TOTP or recovery code)
    /// from `source` as a failure, on the counters a password attempt from there uses and on
    /// the user's own second-step counter ([`LimitKind::SecondFactor`], limited like an account
    /// at one address): signing in again with the password clears the former, never the
    /// latter, so a guesser who knows the password still gets only that many codes per window.
    pub(crate) async fn begin_second_factor(
        &self,
        source: Source<'_>,
        user_id: &str,
        now: UnixTime,
    ) -> StoreResult<Result<Attempt, UnixTime>> {
        let mut counters = self.counters(source);
        counters.push(self.counter(
            LimitKind::SecondFactor,
            user_id.to_owned(),
            self.limits.per_account_and_ip,
        ));
        self.count(&counters, now).await
    }

    /// The attempt signed in: the failures of its account-and-address, of its device cookie and
    /// (second step) of the user's codes are forgotten; the account and the address only get
    /// this attempt back.
    pub(crate) async fn succeeded(&self, attempt: Attempt) -> StoreResult<()> {
        for hit in &attempt.hits {
            match hit.kind {
                LimitKind::SignInAccountFromAddress
                | LimitKind::SignInDevice
                | LimitKind::SecondFactor => {
                    self.store.clear_limit_counter(hit.kind, &hit.key).await?;
                }
                _ => self.store.give_back_hit(hit).await?,
            }
        }
        Ok(())
    }

    fn address_counter(&self, ip: &str) -> LimitCounter {
        self.counter(LimitKind::SignInAddress, ip.to_owned(), self.limits.per_ip)
    }

    /// `Err(when to try again)` if `ip` is over its limit (sign-up checks this).
    pub(crate) async fn check_ip(
        &self,
        ip: &str,
        now: UnixTime,
    ) -> StoreResult<Result<(), UnixTime>> {
        let counter = self.address_counter(ip);
        Ok(match self.store.limit_reached_until(&counter, now).await? {
            Some(until) => Err(until),
            None => Ok(()),
        })
    }

    /// Counts a failure against `ip` alone, whatever its count (a sign-up for an e-mail that
    /// has an account: it reveals that the account exists, so probing is limited like sign-in
    /// guessing).
    pub(crate) async fn record_ip_failure(&self, ip: &str, now: UnixTime) -> StoreResult<()> {
        let counter = self.counter(LimitKind::SignInAddress, ip.to_owned(), u32::MAX);
        // With no limit to reach, the hit is always counted.
        let _counted = self.store.count_hits(&[counter], now).await?;
        Ok(())
    }
}
