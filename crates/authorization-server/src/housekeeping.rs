//! Periodic work beside serving: deleting what expired in the store, so that sessions, codes,
//! upstream sign-ins, tokens and the counters of the sign-in throttle and rate limits do not
//! pile up, with the audit records past their retention and the clients that waited for
//! approval too long,
//! and reading the signing keys again, so that a rotation made by another process is picked up.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::audit::ServerMetrics;
use crate::clock::{Clock, seconds};
use crate::keys::SigningKeys;
use crate::store::{KeyStore, Purged, Store, StoreResult, UnixTime};

/// What the purges delete.
pub(crate) struct Purges {
    /// The store purged.
    pub(crate) store: Arc<dyn Store>,
    /// Where the rows deleted are counted.
    pub(crate) metrics: Arc<ServerMetrics>,
    /// How long audit records are kept.
    pub(crate) audit_retention: Duration,
    /// How long a client waits for approval before it is deleted.
    pub(crate) pending_ttl: Duration,
}

impl Purges {
    /// Deletes what expired at `now`, the audit records older than the retention and the
    /// clients pending for longer than their time; counts the rows deleted by kind.
    pub(crate) async fn run(&self, now: UnixTime) -> StoreResult<Purged> {
        let mut purged = self.store.purge_expired(now).await?;
        let cutoff = now.saturating_sub(seconds(self.audit_retention));
        purged.add(
            "audit_events",
            self.store.purge_audit_records(cutoff).await?,
        );
        let pending_cutoff = now.saturating_sub(seconds(self.pending_ttl));
        purged.add(
            "pending_clients",
            self.store
                .delete_pending_clients_before(pending_cutoff)
                .await?,
        );
        self.metrics.purged(&purged);
        self.metrics
            .count_pending_clients(self.store.as_ref())
            .await;
        Ok(purged)
    }
}

/// Purges at once and then every `interval`, forever. A purge that fails is logged as a
/// warning (the server keeps serving) and the next one is tried on time.
pub(crate) async fn purge_periodically(purges: Purges, clock: Clock, interval: Duration) {
    let mut ticks = ticks(interval);
    loop {
        ticks.tick().await;
        match purges.run(clock()).await {
            Ok(purged) => tracing::debug!(
                deleted = purged.total(),
                "purged expired codes, sessions, tokens and old audit records"
            ),
            Err(error) => tracing::warn!(%error, "purging expired rows failed; retrying later"),
        }
    }
}

/// Reads the published signing keys from the store every `interval`, forever, and starts
/// signing with the current one. A read that fails is logged as a warning; the keys in
/// memory keep serving until the next one succeeds.
pub(crate) async fn reload_keys_periodically(
    keys: SigningKeys,
    store: Arc<dyn KeyStore>,
    interval: Duration,
) {
    let mut ticks = ticks(interval);
    // The first tick is immediate, and the keys were just loaded.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let before = keys.current_kid();
        match keys.reload(store.as_ref()).await {
            Ok(()) if keys.current_kid() != before => {
                tracing::info!(kid = %keys.current_kid(), "signing with a rotated key");
            }
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, "reading the signing keys failed; retrying later"),
        }
    }
}

/// Ticks every `interval`, the first at once; a late tick delays the next ones rather than
/// bunching up.
fn ticks(interval: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}
