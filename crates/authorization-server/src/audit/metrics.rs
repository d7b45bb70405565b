//! What the authorization server counts, for Prometheus: every security event by kind and
//! outcome, and by name the ones operators watch (registrations by outcome and reason,
//! sign-ins, consents, token requests by grant, revocations, refresh-token reuse and code
//! replay), rows purged by kind, failed writes of the audit trail, and the store's connection
//! pool, read at scrape time.
//!
//! Every label takes its values from a fixed set (kinds, outcomes, grants, OAuth error codes
//! this server sends, table names): never a client id, a user or an address.

use std::fmt;
use std::sync::Arc;

use mcp_oauth_core::{ClientStatus, REGISTRATION_REFUSAL_REASONS};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use super::event::{Grant, SecurityEvent};
use crate::store::{AuditOutcome, ClientStore, Purged, Store};

/// The labels of a count by outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The labels of a security event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
    outcome: &'static str,
}

/// The labels of a registration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistrationLabels {
    outcome: &'static str,
    /// Why it was refused (`none` when it succeeded).
    reason: &'static str,
}

/// The labels of a sign-in.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    /// `password`, `upstream`, `totp` or `recovery_code`.
    method: &'static str,
    outcome: &'static str,
}

/// The labels of a token request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    /// `authorization_code`, `refresh_token`, or `other` (refused).
    grant: &'static str,
    outcome: &'static str,
}

/// The label of a revoked token.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RevokedLabels {
    /// `refresh_token` or `access_token`.
    token: &'static str,
}

/// The label of purged rows.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurgeLabels {
    /// The table the rows were in.
    kind: &'static str,
}

/// The label of a connection count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    /// `idle` or `in_use`.
    state: &'static str,
}

/// The tables a purge deletes from, as labels; anything else is `other`.
const PURGE_KINDS: [&str; 10] = [
    "authorization_codes",
    "refresh_tokens",
    "access_tokens",
    "sessions",
    "device_cookies",
    "upstream_logins",
    "mfa_pending_sign_ins",
    "limit_counters",
    "audit_events",
    "pending_clients",
];

/// `value` if it is one of `known`, else `other`: a label from a fixed set.
fn label(known: &[&'static str], value: &str) -> &'static str {
    known
        .iter()
        .find(|known| **known == value)
        .copied()
        .unwrap_or("other")
}

/// The counters of one authorization server.
#[derive(Default)]
pub(crate) struct ServerMetrics {
    events: Family<EventLabels, Counter>,
    registrations: Family<RegistrationLabels, Counter>,
    sign_ins: Family<SignInLabels, Counter>,
    consents: Family<OutcomeLabels, Counter>,
    token_requests: Family<TokenLabels, Counter>,
    revocations: Family<RevokedLabels, Counter>,
    refresh_reuses: Counter,
    code_replays: Counter,
    purged: Family<PurgeLabels, Counter>,
    audit_write_failures: Counter,
    pending_clients: Gauge,
}

impl ServerMetrics {
    /// Counts `event` in the events by kind and outcome, and in its own family.
    pub(crate) fn count(&self, event: &SecurityEvent<'_>) {
        let outcome = event.outcome().as_str();
        self.events
            .get_or_create(&EventLabels {
                event: event.kind().as_str(),
                outcome,
            })
            .inc();
        match event {
            SecurityEvent::ClientRegistered { .. } => {
                let reason = event.reason().map_or("none", |reason| {
                    label(&REGISTRATION_REFUSAL_REASONS, reason)
                });
                self.registrations
                    .get_or_create(&RegistrationLabels { outcome, reason })
                    .inc();
            }
            SecurityEvent::SignIn { method, .. } => {
                let method = method.as_str();
                self.sign_ins
                    .get_or_create(&SignInLabels { method, outcome })
                    .inc();
            }
            SecurityEvent::Consent { .. } => {
                self.consents
                    .get_or_create(&OutcomeLabels { outcome })
                    .inc();
            }
            SecurityEvent::TokensIssued { grant_type, .. } => {
                self.token_request(Some(*grant_type), outcome)
            }
            SecurityEvent::TokenRequestRefused { grant_type, .. } => {
                self.token_request(*grant_type, outcome);
            }
            SecurityEvent::TokenRevoked { token, .. } => {
                let token = token.as_str();
                self.revocations
                    .get_or_create(&RevokedLabels { token })
                    .inc();
            }
            SecurityEvent::RefreshTokenReused { .. } => {
                self.refresh_reuses.inc();
            }
            SecurityEvent::CodeReplayed { .. } => {
                self.code_replays.inc();
            }
            _ => {}
        }
    }

    fn token_request(&self, grant: Option<Grant>, outcome: &'static str) {
        let grant = grant.map_or("other", Grant::as_str);
        self.token_requests
            .get_or_create(&TokenLabels { grant, outcome })
            .inc();
    }

    /// Counts the rows a purge deleted, by kind.
    pub(crate) fn purged(&self, purged: &Purged) {
        for (kind, rows) in purged.by_kind() {
            let kind = label(&PURGE_KINDS, kind);
            self.purged
                .get_or_create(&PurgeLabels { kind })
                .inc_by(*rows);
        }
    }

    /// Reads how many clients wait for approval in `store` into the gauge (after a
    /// registration, an operator's decision, a purge). A failed read is logged; the gauge
    /// keeps its last value.
    pub(crate) async fn count_pending_clients(&self, store: &dyn ClientStore) {
        match store.count_clients_with_status(ClientStatus::Pending).await {
            Ok(count) => {
                self.pending_clients
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
            Err(error) => tracing::warn!(%error, "cannot count the clients awaiting approval"),
        }
    }

    /// Counts a record the audit trail could not take.
    pub(crate) fn audit_write_failed(&self) {
        self.audit_write_failures.inc();
    }

    /// Adds the counters, and the connection pool of `store` (read at each scrape), to
    /// `registry`.
    pub(crate) fn register(&self, registry: &mut Registry, store: Arc<dyn Store>) {
        // The series operators look for exist from the start, at 0.
        let sign_in_outcomes = [
            AuditOutcome::Succeeded,
            AuditOutcome::Failed,
            AuditOutcome::Refused,
            AuditOutcome::Throttled,
        ];
        for outcome in sign_in_outcomes.map(AuditOutcome::as_str) {
            for method in ["password", "totp"] {
                drop(
                    self.sign_ins
                        .get_or_create(&SignInLabels { method, outcome }),
                );
            }
        }
        for grant in [Grant::AuthorizationCode, Grant::RefreshToken].map(Grant::as_str) {
            for outcome in
                [AuditOutcome::Succeeded, AuditOutcome::Refused].map(AuditOutcome::as_str)
            {
                drop(
                    self.token_requests
                        .get_or_create(&TokenLabels { grant, outcome }),
                );
            }
        }
        registry.register(
            "mcp_oauth_audit_events",
            "Security events recorded in the audit trail, by event and outcome (succeeded, \
             failed, refused, throttled)",
            self.events.clone(),
        );
        registry.register(
            "mcp_oauth_registrations",
            "Client registrations (RFC 7591 and admin), by outcome (succeeded, pending: awaiting \
             approval, refused, throttled) and refusal reason (the OAuth error code or the \
             governance rule: untrusted_redirect_uri, pending_limit, global_limit; none)",
            self.registrations.clone(),
        );
        registry.register(
            "mcp_oauth_sign_ins",
            "Sign-ins, by method (password, upstream, and the second step: totp, recovery_code) and \
             outcome (succeeded, failed, throttled)",
            self.sign_ins.clone(),
        );
        registry.register(
            "mcp_oauth_consents",
            "Answers on the consent page, by outcome (succeeded: allowed, refused: denied)",
            self.consents.clone(),
        );
        registry.register(
            "mcp_oauth_token_requests",
            "Token requests, by grant (authorization_code: tokens issued, refresh_token: tokens \
             refreshed, other) and outcome (succeeded, refused)",
            self.token_requests.clone(),
        );
        registry.register(
            "mcp_oauth_tokens_revoked",
            "Tokens revoked by their client (RFC 7009), by token (refresh_token with its whole \
             grant, access_token)",
            self.revocations.clone(),
        );
        registry.register(
            "mcp_oauth_refresh_token_reuses",
            "Rotated refresh tokens presented again: each revoked its whole family",
            self.refresh_reuses.clone(),
        );
        registry.register(
            "mcp_oauth_code_replays",
            "Used authorization codes presented again: each revoked what the code issued",
            self.code_replays.clone(),
        );
        registry.register(
            "mcp_oauth_purged_rows",
            "Rows deleted by the housekeeping, by kind (the table: expired codes, tokens, \
             sessions, device cookies, upstream sign-ins; audit events past the retention; \
             pending_clients: clients that waited for approval too long)",
            self.purged.clone(),
        );
        registry.register(
            "mcp_oauth_audit_write_failures",
            "Security events the store could not record (each was logged at error level)",
            self.audit_write_failures.clone(),
        );
        registry.register(
            "mcp_oauth_clients_pending",
            "Clients waiting for an operator's approval (`mcp-oauth admin clients list \
             --pending`), as this instance last counted them: after each registration and \
             decision it saw, and at every purge",
            self.pending_clients.clone(),
        );
        registry.register_collector(Box::new(PoolCollector(store)));
    }
}

/// The store's connection pool, read at each scrape.
struct PoolCollector(Arc<dyn Store>);

impl fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let pool = self.0.connection_use();
        let mut connections = encoder.encode_descriptor(
            "mcp_oauth_database_connections",
            "Open connections of the store's pool, by state (idle, in_use)",
            None,
            MetricType::Gauge,
        )?;
        for (state, count) in [("idle", pool.idle), ("in_use", pool.in_use())] {
            let gauge = ConstGauge::new(i64::from(count));
            gauge.encode(connections.encode_family(&ConnectionLabels { state })?)?;
        }
        let max = ConstGauge::new(i64::from(pool.max));
        let descriptor = encoder.encode_descriptor(
            "mcp_oauth_database_connections_max",
            "The most connections the store's pool opens",
            None,
            max.metric_type(),
        )?;
        max.encode(descriptor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(
            label(&REGISTRATION_REFUSAL_REASONS, "invalid_redirect_uri"),
            "invalid_redirect_uri"
        );
        assert_eq!(
            label(&REGISTRATION_REFUSAL_REASONS, "client-chosen junk"),
            "other"
        );
        assert_eq!(label(&PURGE_KINDS, "sessions"), "sessions");
        assert_eq!(label(&PURGE_KINDS, "grants"), "other");
    }
}
