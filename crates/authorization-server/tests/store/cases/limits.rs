//! The counters of the sign-in throttle and the rate limits: the throttle's cases (each attempt
//! uses the counters the server gives it: account-and-address, account and address for an
//! untrusted browser, the device cookie's alone otherwise), the rate limits', what happens when
//! several stores (instances) count at once, and how the table is kept small.

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_authorization_server::store::{
    CountedHit, Hits, LimitCounter, LimitKind, LimitStore, MAX_LIMIT_COUNTERS_PER_KIND, SecretHash,
    SqlStore, Store, UnixTime,
};
use sqlx::AssertSqlSafe;
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::T0;

/// The window of every counter here.
const WINDOW: UnixTime = 60;

/// The limits of a sign-in throttle, as the server configures its counters.
#[derive(Clone, Copy)]
struct Throttle {
    per_account_and_ip: u32,
    per_account: u32,
    per_ip: u32,
    per_device: u32,
}

fn throttle(per_account_and_ip: u32, per_account: u32, per_ip: u32) -> Throttle {
    Throttle {
        per_account_and_ip,
        per_account,
        per_ip,
        per_device: 2,
    }
}

fn counter(kind: LimitKind, key: &str, limit: u32) -> LimitCounter {
    LimitCounter::new(kind, key, limit, Duration::from_secs(WINDOW as u64))
}

impl Throttle {
    /// The counters of a browser without a device cookie of `account`, at `ip`.
    fn untrusted(&self, account: &str, ip: &str) -> Vec<LimitCounter> {
        vec![
            counter(
                LimitKind::SignInAccountFromAddress,
                &format!("{account}\n{ip}"),
                self.per_account_and_ip,
            ),
            counter(LimitKind::SignInAccount, account, self.per_account),
            self.address(ip),
        ]
    }

    /// The counter of a browser holding the device cookie `cookie`.
    fn device(&self, cookie: &SecretHash) -> Vec<LimitCounter> {
        vec![counter(
            LimitKind::SignInDevice,
            cookie.as_str(),
            self.per_device,
        )]
    }

    fn address(&self, ip: &str) -> LimitCounter {
        counter(LimitKind::SignInAddress, ip, self.per_ip)
    }
}

/// An attempt counted as a failure, or `Err(when to retry)`.
async fn begin(
    store: &impl LimitStore,
    counters: Vec<LimitCounter>,
    now: UnixTime,
) -> Result<Vec<CountedHit>, UnixTime> {
    match store.count_hits(&counters, now).await.unwrap() {
        Hits::Counted(hits) => {
            assert_eq!(hits.len(), counters.len());
            Ok(hits)
        }
        Hits::Refused { retry_at } => Err(retry_at),
    }
}

/// A sign-in succeeded: its account-and-address and its device cookie are cleared, the
/// account and the address get the attempt back.
async fn succeeded(store: &impl LimitStore, attempt: Vec<CountedHit>) {
    for hit in &attempt {
        match hit.kind {
            LimitKind::SignInAccountFromAddress | LimitKind::SignInDevice => {
                store.clear_limit_counter(hit.kind, &hit.key).await.unwrap();
            }
            _ => store.give_back_hit(hit).await.unwrap(),
        }
    }
}

async fn reached(store: &impl LimitStore, counter: &LimitCounter, now: UnixTime) -> Option<i64> {
    store.limit_reached_until(counter, now).await.unwrap()
}

pub async fn throttle_blocks_an_account_from_one_address_but_not_from_others(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(3, 100, 100);
    for second in 0..3 {
        begin(&store, limits.untrusted("a@b.c", "10.0.0.1"), T0 + second)
            .await
            .unwrap();
    }
    assert_eq!(
        begin(&store, limits.untrusted("a@b.c", "10.0.0.1"), T0 + 10).await,
        Err(T0 + WINDOW)
    );
    assert!(
        begin(&store, limits.untrusted("a@b.c", "10.0.0.2"), T0 + 10)
            .await
            .is_ok()
    );
    assert!(
        begin(&store, limits.untrusted("b@b.c", "10.0.0.1"), T0 + 10)
            .await
            .is_ok()
    );
    assert!(
        begin(&store, limits.untrusted("a@b.c", "10.0.0.1"), T0 + WINDOW)
            .await
            .is_ok(),
        "a new window"
    );
}

pub async fn throttle_blocks_an_account_guessed_from_many_addresses_for_untrusted_browsers_only(
    db: &TestDb,
) {
    let store = db.open().await;
    let limits = throttle(100, 3, 100);
    for n in 0..3 {
        begin(
            &store,
            limits.untrusted("a@b.c", &format!("10.0.0.{n}")),
            T0,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        begin(&store, limits.untrusted("a@b.c", "10.0.0.9"), T0 + 1).await,
        Err(T0 + WINDOW)
    );
    let device = SecretHash::of("d");
    assert!(begin(&store, limits.device(&device), T0 + 1).await.is_ok());
}

pub async fn throttle_blocks_an_address_after_its_limit_whatever_the_account_but_not_a_device(
    db: &TestDb,
) {
    let store = db.open().await;
    let limits = throttle(100, 100, 2);
    begin(&store, limits.untrusted("a@b.c", "10.0.0.1"), T0)
        .await
        .unwrap();
    begin(&store, limits.untrusted("b@b.c", "10.0.0.1"), T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        begin(&store, limits.untrusted("c@b.c", "10.0.0.1"), T0 + 2).await,
        Err(T0 + WINDOW)
    );
    assert_eq!(
        reached(&store, &limits.address("10.0.0.1"), T0 + 2).await,
        Some(T0 + WINDOW)
    );
    assert!(
        begin(&store, limits.untrusted("c@b.c", "10.0.0.2"), T0 + 2)
            .await
            .is_ok()
    );
    let device = SecretHash::of("d");
    assert!(begin(&store, limits.device(&device), T0 + 2).await.is_ok());
}

pub async fn throttle_locks_a_device_cookie_on_its_own(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(100, 100, 100);
    let (device, other) = (SecretHash::of("d"), SecretHash::of("e"));
    for _ in 0..2 {
        begin(&store, limits.device(&device), T0).await.unwrap();
    }
    assert_eq!(
        begin(&store, limits.device(&device), T0 + 1).await,
        Err(T0 + WINDOW)
    );
    assert!(begin(&store, limits.device(&other), T0 + 1).await.is_ok());
    assert!(
        begin(&store, limits.untrusted("a@b.c", "10.0.0.1"), T0 + 1)
            .await
            .is_ok()
    );
}

pub async fn throttle_success_clears_the_account_from_its_address_but_not_the_address(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(2, 100, 3);
    begin(&store, limits.untrusted("a@b.c", "ip"), T0)
        .await
        .unwrap();
    let ok = begin(&store, limits.untrusted("a@b.c", "ip"), T0 + 1)
        .await
        .unwrap();
    succeeded(&store, ok).await;
    begin(&store, limits.untrusted("a@b.c", "ip"), T0 + 2)
        .await
        .unwrap();
    begin(&store, limits.untrusted("a@b.c", "ip"), T0 + 3)
        .await
        .expect("the account from this address was cleared");
    assert_eq!(
        reached(&store, &limits.address("ip"), T0 + 3).await,
        Some(T0 + WINDOW),
        "the address keeps its failure from before the success"
    );
}

pub async fn throttle_success_clears_the_device_cookie(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(100, 100, 100);
    let device = SecretHash::of("d");
    begin(&store, limits.device(&device), T0).await.unwrap();
    let ok = begin(&store, limits.device(&device), T0).await.unwrap();
    succeeded(&store, ok).await;
    begin(&store, limits.device(&device), T0).await.unwrap();
    assert!(begin(&store, limits.device(&device), T0).await.is_ok());
}

pub async fn throttle_counts_sign_up_probes_against_the_address(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(5, 5, 2);
    // A probe is counted whatever the address's count: a counter without a limit.
    let probe = counter(LimitKind::SignInAddress, "ip", u32::MAX);
    begin(&store, vec![probe.clone()], T0).await.unwrap();
    assert_eq!(reached(&store, &limits.address("ip"), T0).await, None);
    begin(&store, vec![probe.clone()], T0).await.unwrap();
    assert_eq!(
        reached(&store, &limits.address("ip"), T0).await,
        Some(T0 + WINDOW)
    );
    begin(&store, vec![probe], T0).await.unwrap();
    assert!(
        begin(&store, limits.untrusted("a@b.c", "ip"), T0)
            .await
            .is_err()
    );
}

pub async fn a_refused_attempt_counts_nothing(db: &TestDb) {
    let store = db.open().await;
    let limits = throttle(100, 100, 1);
    // The address is used up, from another account.
    begin(&store, limits.untrusted("a@b.c", "ip"), T0)
        .await
        .unwrap();
    // Refused by its last counter: the two before it give their hit back.
    for _ in 0..5 {
        assert_eq!(
            begin(&store, limits.untrusted("b@b.c", "ip"), T0 + 1).await,
            Err(T0 + WINDOW)
        );
    }
    let strict = throttle(1, 1, 100);
    assert!(
        begin(&store, strict.untrusted("b@b.c", "elsewhere"), T0 + 2)
            .await
            .is_ok(),
        "no refused attempt left a hit on the account"
    );
    // The retry time is the latest end among the counters that refuse.
    let later = counter(LimitKind::SignInAccount, "c@b.c", 1);
    begin(&store, vec![later.clone()], T0 + 30).await.unwrap();
    let both = vec![limits.address("ip"), later];
    assert_eq!(begin(&store, both, T0 + 31).await, Err(T0 + 30 + WINDOW));
}

pub async fn a_hit_is_given_back_only_in_its_window(db: &TestDb) {
    let store = db.open().await;
    let limit = counter(LimitKind::Registration, "10.0.0.1", 1);
    let old = begin(&store, vec![limit.clone()], T0).await.unwrap();
    // A new window: the old hit is not given back to it.
    begin(&store, vec![limit.clone()], T0 + WINDOW)
        .await
        .unwrap();
    store.give_back_hit(&old[0]).await.unwrap();
    assert_eq!(
        begin(&store, vec![limit.clone()], T0 + WINDOW + 1).await,
        Err(T0 + 2 * WINDOW)
    );
    // A limit of zero refuses everything.
    let closed = counter(LimitKind::Registration, "10.0.0.2", 0);
    assert_eq!(
        begin(&store, vec![closed.clone()], T0).await,
        Err(T0 + WINDOW)
    );
    assert_eq!(reached(&store, &closed, T0).await, Some(T0 + WINDOW));
}

/// Several stores on one database, as several server instances: at most the limit is counted
/// whichever store each attempt goes to, also when they all come at once, and the attempts
/// refused give back what they counted.
pub async fn instances_counting_at_once_never_count_past_a_limit(db: &TestDb) {
    const LIMIT: u32 = 5;
    const ATTEMPTS: usize = 24;
    let instances = [db.open().await, db.open().await];
    // One address guessing at many accounts: its counter, the last, refuses past the limit.
    let limits = throttle(1, 1, LIMIT);
    let barrier = Arc::new(Barrier::new(ATTEMPTS));
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|attempt| {
            let store: SqlStore = instances[attempt % 2].clone();
            let barrier = barrier.clone();
            let account = format!("user{attempt}@b.c");
            let counters = limits.untrusted(&account, "ip");
            tokio::spawn(async move {
                barrier.wait().await;
                let hits = store.count_hits(&counters, T0).await.unwrap();
                (account, hits)
            })
        })
        .collect();
    let mut counted = 0;
    for attempt in attempts {
        let (account, hits) = attempt.await.expect("the task ran");
        let on_account = counter(LimitKind::SignInAccount, &account, 1);
        let left = reached(&instances[1], &on_account, T0).await;
        match hits {
            Hits::Counted(_) => {
                counted += 1;
                assert_eq!(left, Some(T0 + WINDOW), "{account} counted");
            }
            Hits::Refused { .. } => assert_eq!(left, None, "{account} given back"),
        }
    }
    assert_eq!(counted, LIMIT as usize);
    let address = limits.address("ip");
    let one_more = counter(LimitKind::SignInAddress, "ip", LIMIT + 1);
    for instance in &instances {
        assert_eq!(reached(instance, &address, T0).await, Some(T0 + WINDOW));
        assert_eq!(reached(instance, &one_more, T0).await, None);
    }
}

/// Writes `count` counters of `kind` whose windows start one second apart from `T0 + 1`, all
/// ending at `end`, in one statement.
async fn write_counters(db: &TestDb, kind: LimitKind, count: u32, end: UnixTime) {
    let raw = db.raw().await;
    let insert = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO limit_counters (kind, counter_key, window_start, window_end, hits, counted) \
         SELECT '{}', 'key-' || i, {T0} + i, {end}, 1, 1 FROM n",
        kind.as_str()
    );
    sqlx::query(AssertSqlSafe(insert))
        .execute(&raw)
        .await
        .expect("write counters");
    raw.close().await;
}

async fn counters_of(db: &TestDb, kind: LimitKind) -> (i64, Option<i64>) {
    let raw = db.raw().await;
    let row: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(window_start) FROM limit_counters WHERE kind = $1")
            .bind(kind.as_str())
            .fetch_one(&raw)
            .await
            .expect("count counters");
    raw.close().await;
    row
}

pub async fn limit_counters_are_purged_when_expired_and_kept_to_a_bound_per_kind(db: &TestDb) {
    let store = db.open().await;
    let max = MAX_LIMIT_COUNTERS_PER_KIND;
    let far = T0 + 1_000_000;
    write_counters(db, LimitKind::SignInAccount, max + 10, far).await;
    write_counters(db, LimitKind::SignInAddress, 3, far).await;
    write_counters(db, LimitKind::Registration, 4, T0 + 100).await;
    let now = T0 + 100;

    let purged = store.purge_expired(now).await.unwrap();
    assert_eq!(
        purged.of("limit_counters"),
        4 + 10,
        "the expired registrations, and the oldest accounts past the bound"
    );
    assert_eq!(
        counters_of(db, LimitKind::SignInAccount).await,
        (i64::from(max), Some(T0 + 11)),
        "the newest are kept"
    );
    assert_eq!(
        counters_of(db, LimitKind::SignInAddress).await,
        (3, Some(T0 + 1))
    );
    assert_eq!(counters_of(db, LimitKind::Registration).await, (0, None));
    assert_eq!(store.purge_expired(now).await.unwrap().total(), 0);
}
