//! Periodic deletion of what expired in the store, so that sessions, codes, upstream sign-ins
//! and tokens do not pile up.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::server::Clock;
use crate::store::Store;

/// Purges expired rows at once and then every `interval`, forever. A purge that fails is
/// logged as a warning (the server keeps serving) and the next one is tried on time.
pub(crate) async fn purge_periodically(store: Arc<dyn Store>, clock: Clock, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.purge_expired(clock()).await {
            Ok(deleted) => tracing::debug!(deleted, "purged expired codes, sessions and tokens"),
            Err(error) => tracing::warn!(%error, "purging expired rows failed; retrying later"),
        }
    }
}
