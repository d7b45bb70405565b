//! Removes registrations that were never used: their Cognito app client, then their record.

use std::sync::Arc;
use std::time::Duration;

use crate::bridge::{AppClients, unix_now};
use crate::registry::{Registry, RegistryError, UnixTime};

/// The most registrations removed per sweep.
const BATCH: usize = 100;

/// Deletes expired, unused registrations (see [`Registry`] on expiry).
#[derive(Clone)]
pub struct Sweeper {
    app_clients: AppClients,
    registry: Arc<dyn Registry>,
}

impl Sweeper {
    /// A sweeper of `registry`'s registrations, whose app clients `app_clients` deletes.
    pub fn new(app_clients: AppClients, registry: Arc<dyn Registry>) -> Self {
        Self {
            app_clients,
            registry,
        }
    }

    /// Removes up to 100 registrations expired at `now`: each app client first (one already
    /// gone counts as removed), then the record. A registration whose app client cannot be
    /// deleted is kept for the next sweep. Returns the client ids removed.
    pub async fn sweep(&self, now: UnixTime) -> Result<Vec<String>, RegistryError> {
        let mut removed = Vec::new();
        for registration in self.registry.expired(now, BATCH).await? {
            let client_id = registration.client_id;
            if let Err(fault) = self.app_clients.delete(&client_id).await {
                tracing::warn!(%client_id, %fault, "cannot delete an expired app client; will retry");
                continue;
            }
            self.registry.delete(&client_id).await?;
            tracing::info!(%client_id, "removed an unused registration");
            removed.push(client_id);
        }
        Ok(removed)
    }

    /// Sweeps every `interval`, forever (spawn it).
    pub async fn run(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.sweep(unix_now()).await {
                tracing::warn!(%error, "sweep of unused registrations failed; will retry");
            }
        }
    }
}
