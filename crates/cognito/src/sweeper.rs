//! Removes registrations that were never used (their Cognito app client, then their record),
//! and the bridge's events past their retention.

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_core::AuditOutcome;

use crate::bridge::{AppClients, BridgeMetrics, RegistrationSettings, record_event, unix_now};
use crate::registry::{BridgeEvent, BridgeEventKind, Registry, RegistryError, UnixTime};

/// The most registrations removed per sweep.
const BATCH: usize = 100;

/// Deletes expired, unused registrations (see [`Registry`] on expiry) and events.
#[derive(Clone)]
pub struct Sweeper {
    app_clients: AppClients,
    registry: Arc<dyn Registry>,
    event_retention: Duration,
    metrics: Option<BridgeMetrics>,
}

impl Sweeper {
    /// A sweeper of `registry`'s registrations, whose app clients `app_clients` deletes; the
    /// deletions it records are kept for the default event retention.
    pub fn new(app_clients: AppClients, registry: Arc<dyn Registry>) -> Self {
        Self {
            app_clients,
            registry,
            event_retention: RegistrationSettings::DEFAULT_EVENT_RETENTION,
            metrics: None,
        }
    }

    /// Recounts the clients awaiting approval into `metrics` at each sweep (decisions made by
    /// `mcp-oauth admin` in another process show within a sweep interval).
    pub fn with_metrics(mut self, metrics: BridgeMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Keeps the deletions it records for `retention`.
    pub fn with_event_retention(mut self, retention: Duration) -> Self {
        self.event_retention = retention;
        self
    }

    /// Removes up to 100 registrations expired at `now`: each app client first (one already
    /// gone counts as removed), then the record, recording the deletion (by `sweeper`). A
    /// registration whose app client cannot be deleted is kept for the next sweep. Then
    /// deletes the events expired at `now`. Returns the client ids removed.
    pub async fn sweep(&self, now: UnixTime) -> Result<Vec<String>, RegistryError> {
        let mut removed = Vec::new();
        for registration in self.registry.expired(now, BATCH).await? {
            let client_id = registration.client_id;
            if let Err(fault) = self.app_clients.delete(&client_id).await {
                tracing::warn!(%client_id, %fault, "cannot delete an expired app client; will retry");
                continue;
            }
            self.registry.delete(&client_id).await?;
            let deleted = BridgeEvent::new(
                now,
                BridgeEventKind::ClientDeleted,
                AuditOutcome::Succeeded,
                self.event_retention,
            )
            .with_client_id(&client_id)
            .with_actor("sweeper")
            .with_reason("unused");
            record_event(self.registry.as_ref(), &deleted).await;
            removed.push(client_id);
        }
        let purged = self.registry.purge_events(now).await?;
        tracing::debug!(purged, "purged the bridge events past their retention");
        Ok(removed)
    }

    /// Sweeps every `interval`, forever (spawn it).
    pub async fn run(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.sweep_now().await;
        }
    }

    /// Sweeps once, at the current time; a failure is logged and left to the next sweep.
    pub async fn sweep_now(&self) {
        if let Err(error) = self.sweep(unix_now()).await {
            tracing::warn!(%error, "sweep of unused registrations failed; will retry");
        }
        if let Some(metrics) = &self.metrics {
            metrics.count_pending(self.registry.as_ref()).await;
        }
    }
}
