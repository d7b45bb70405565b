//! Periodic work beside serving: deleting what expired in the store, so that sessions, codes,
//! upstream sign-ins and tokens do not pile up, and reading the signing keys again, so that a
//! rotation made by another process is picked up.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::clock::Clock;
use crate::keys::SigningKeys;
use crate::store::{KeyStore, Store};

/// Purges expired rows at once and then every `interval`, forever. A purge that fails is
/// logged as a warning (the server keeps serving) and the next one is tried on time.
pub(crate) async fn purge_periodically(store: Arc<dyn Store>, clock: Clock, interval: Duration) {
    let mut ticks = ticks(interval);
    loop {
        ticks.tick().await;
        match store.purge_expired(clock()).await {
            Ok(deleted) => tracing::debug!(deleted, "purged expired codes, sessions and tokens"),
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
