//! The audit trail: the one place where the server's security events go. The code that sees
//! one (a sign-in, a registration, a reused refresh token…) raises a typed [`SecurityEvent`]
//! with the client's address, and [`Audit::record`]
//!
//! 1. counts it in the server's metrics ([`ServerMetrics`], which also count purged rows and
//!    read the store's connection pool at each scrape),
//! 2. writes one structured log line (target `mcp_oauth::audit`, level `warn` for detected
//!    attacks, `info` otherwise) with the record's fields, and
//! 3. appends it to the store's audit trail ([`AuditStore`]), where `mcp-oauth admin audit`
//!    reads it and the housekeeping deletes it after the retention period.
//!
//! Recording never fails the request that raised it: a record the store cannot take is logged
//! at `error` and counted (`mcp_oauth_audit_write_failures_total`), and the request goes on.

mod event;
mod metrics;

use std::net::IpAddr;
use std::sync::Arc;

use mcp_oauth_core::AUDIT_LOG_TARGET;
use serde_json::Value;

pub(crate) use self::event::{Actor, Grant, SecurityEvent, SignInMethod, TokenKind};
pub(crate) use self::metrics::ServerMetrics;
use crate::clock::Clock;
use crate::store::{AuditEventKind, AuditRecord, AuditStore};

/// Where security events go: the store, the metrics and the log.
#[derive(Clone)]
pub(crate) struct Audit {
    store: Arc<dyn AuditStore>,
    metrics: Arc<ServerMetrics>,
    clock: Clock,
}

impl Audit {
    /// Records into `store`, counting in `metrics`, at `clock`.
    pub(crate) fn new(
        store: Arc<dyn AuditStore>,
        metrics: Arc<ServerMetrics>,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            metrics,
            clock,
        }
    }

    /// The clock records are dated by.
    pub(crate) fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// The metrics events are counted in.
    pub(crate) fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.metrics
    }

    /// Records `event`, raised by a request from `address` (`None` when it did not come over
    /// the network, or the address is unknown).
    pub(crate) async fn record(&self, event: SecurityEvent<'_>, address: Option<IpAddr>) {
        self.metrics.count(&event);
        let record = event.record((self.clock)(), address);
        log(&record);
        if let Err(error) = self.store.append_audit_record(&record).await {
            self.metrics.audit_write_failed();
            tracing::error!(
                %error,
                event = record.event.as_str(),
                "cannot write a record of the audit trail; the request goes on"
            );
        }
    }
}

/// The log line of `record`: the same fields as the record, under [`AUDIT_LOG_TARGET`].
fn log(record: &AuditRecord) {
    let details = Value::Object(record.details.clone());
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: AUDIT_LOG_TARGET,
                event = record.event.as_str(),
                outcome = record.outcome.as_str(),
                reason = record.reason.as_deref(),
                actor = record.actor.as_deref(),
                user_id = record.user_id.as_ref().map(|id| id.as_str()),
                client_id = record.client_id.as_ref().map(|id| id.as_str()),
                address = record.address.as_deref(),
                %details,
                "security event"
            )
        };
    }
    match record.event {
        AuditEventKind::CodeReplayed | AuditEventKind::RefreshTokenReused => line!(warn),
        _ => line!(info),
    }
}
