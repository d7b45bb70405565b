//! Counters of the sign-in throttle and the rate limits: [`LimitStore`], its
//! [`LimitCounter`]s and the [`Hits`] they answer with. Kept in the store so that every
//! authorization-server instance on one database counts together: N instances allow what one
//! allows, not N times as much.

use std::time::Duration;

use async_trait::async_trait;

use super::{StoreResult, UnixTime};

/// The most counters of one [`LimitKind`] the store keeps: past it, the purge
/// ([`Store::purge_expired`](super::Store::purge_expired)) deletes those whose window started
/// first, so guessing from endless accounts or addresses cannot grow the table without bound.
pub const MAX_LIMIT_COUNTERS_PER_KIND: u32 = 100_000;

/// Counters of events (failed sign-ins, registrations…) in fixed windows, shared by every
/// instance on the store.
///
/// A counter is a row `(kind, key, window start, window end, hits)`: its window starts at its
/// first hit and lasts the counter's window; at most its limit of hits is counted in it, and
/// the hits past that are refused until the window ends. Every check-and-count is one
/// conditional statement on the counter's row, so instances counting at once can never
/// together count past a limit.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts one hit on each of `counters` at `now`, unless one of them has already reached its
    /// limit in its current window: then it is [`Hits::Refused`] with the latest end of those
    /// windows, and nothing it counted stays counted. A counter whose window has ended starts a
    /// new one at `now`.
    ///
    /// Each counter is checked and counted by one statement, in the order given; a refusal
    /// gives back what was counted before it (meanwhile, a concurrent attempt may find those
    /// hits counted: it errs on the side of refusing).
    async fn count_hits(&self, counters: &[LimitCounter], now: UnixTime) -> StoreResult<Hits>;

    /// Gives a counted hit back to its counter, if the counter is still in the window it was
    /// counted in.
    async fn give_back_hit(&self, hit: &CountedHit) -> StoreResult<()>;

    /// Forgets the counter `key` of `kind`, with every hit of its window.
    async fn clear_limit_counter(&self, kind: LimitKind, key: &str) -> StoreResult<()>;

    /// `Some(the end of its window)` if `counter` has reached its limit at `now`; counts nothing.
    async fn limit_reached_until(
        &self,
        counter: &LimitCounter,
        now: UnixTime,
    ) -> StoreResult<Option<UnixTime>>;
}

/// What a counter counts. Its name is stored (`limit_counters.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LimitKind {
    /// Failed sign-ins at one account from one client address (browsers without a device
    /// cookie of the account).
    SignInAccountFromAddress,
    /// Failed sign-ins at one account from every address together.
    SignInAccount,
    /// Failed sign-ins from one client address, whatever the account, and sign-ups for taken
    /// e-mail addresses.
    SignInAddress,
    /// Failed sign-ins from one browser holding a device cookie of the account.
    SignInDevice,
    /// Client registrations (RFC 7591) from one client address.
    Registration,
    /// Sign-ins started at an upstream provider from one client address.
    UpstreamSignIn,
    /// Wrong codes at the second step of one user's sign-ins (two-step verification), from
    /// every browser and address together; a password cannot reset it.
    SecondFactor,
}

impl LimitKind {
    /// Every kind.
    pub const ALL: [LimitKind; 7] = [
        LimitKind::SignInAccountFromAddress,
        LimitKind::SignInAccount,
        LimitKind::SignInAddress,
        LimitKind::SignInDevice,
        LimitKind::Registration,
        LimitKind::UpstreamSignIn,
        LimitKind::SecondFactor,
    ];

    /// The kind's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::SignInAccountFromAddress => "sign_in_account_address",
            LimitKind::SignInAccount => "sign_in_account",
            LimitKind::SignInAddress => "sign_in_address",
            LimitKind::SignInDevice => "sign_in_device",
            LimitKind::Registration => "registration",
            LimitKind::UpstreamSignIn => "upstream_sign_in",
            LimitKind::SecondFactor => "second_factor",
        }
    }
}

/// One counter, as an attempt asks for it: what it counts, its key, its limit and its window.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitCounter {
    /// What it counts.
    pub kind: LimitKind,
    /// Whose hits it counts: an account, an address key, a device cookie's hash…
    pub key: String,
    /// The hits counted in one window; `0` refuses every hit, `u32::MAX` counts every one.
    pub limit: u32,
    /// How long a window lasts, from its first hit (whole seconds; at least one).
    pub window: Duration,
}

impl LimitCounter {
    /// The counter `key` of `kind`, counting at most `limit` hits per `window`.
    pub fn new(kind: LimitKind, key: impl Into<String>, limit: u32, window: Duration) -> Self {
        Self {
            kind,
            key: key.into(),
            limit,
            window,
        }
    }

    /// The window in whole seconds, at least one.
    pub fn window_secs(&self) -> UnixTime {
        UnixTime::try_from(self.window.as_secs())
            .unwrap_or(UnixTime::MAX / 4)
            .max(1)
    }
}

/// A hit counted by [`LimitStore::count_hits`]: its counter, and the window it was counted in
/// (to give it back there, and nowhere else).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CountedHit {
    /// What the counter counts.
    pub kind: LimitKind,
    /// The counter's key.
    pub key: String,
    /// When the window it was counted in started.
    pub window_start: UnixTime,
}

impl CountedHit {
    /// A hit on the counter `key` of `kind`, counted in the window that started at
    /// `window_start`.
    pub fn new(kind: LimitKind, key: impl Into<String>, window_start: UnixTime) -> Self {
        Self {
            kind,
            key: key.into(),
            window_start,
        }
    }
}

/// The answer of [`LimitStore::count_hits`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Hits {
    /// Every counter counted one hit: these, in the order of the counters.
    Counted(Vec<CountedHit>),
    /// A counter had reached its limit: nothing stays counted; the attempt may be made again
    /// at `retry_at` (the latest end of the windows that refused it).
    Refused {
        /// When the windows that refused it end.
        retry_at: UnixTime,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name_which_the_table_accepts() {
        // 0009 widened the table's list of kinds.
        let migrations = [
            include_str!("../../migrations/sqlite/0009_mfa.sql"),
            include_str!("../../migrations/postgres/0009_mfa.sql"),
        ];
        let mut names: Vec<&str> = LimitKind::ALL.iter().map(|kind| kind.as_str()).collect();
        for name in &names {
            for migration in migrations {
                assert!(migration.contains(&format!("'{name}'")), "{name}");
            }
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LimitKind::ALL.len());
    }
}
