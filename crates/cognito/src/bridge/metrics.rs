//! What the registration bridge counts, for Prometheus, under the names the embedded
//! authorization server uses, so one alert rule serves both modes: registrations by outcome and
//! refusal reason, and the clients waiting for approval.
//!
//! Labels come from fixed sets (outcomes, the shared refusal reasons, the bridge's own Cognito
//! and registry faults): never a client id or an address.

use mcp_oauth_core::{ClientStatus, REGISTRATION_REFUSAL_REASONS};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry as MetricsRegistry;

use crate::registry::{BridgeEvent, BridgeEventKind, Registry};

/// The reason a registration that succeeded but waits for approval is recorded with: counted
/// as outcome `pending`, as the embedded server counts it.
pub(crate) const AWAITING_APPROVAL: &str = "awaiting_approval";

/// Refusal reasons only the bridge has: Cognito's faults and an unavailable registry.
const BRIDGE_REASONS: [&str; 7] = [
    "cognito_quota_exceeded",
    "cognito_throttled",
    "cognito_invalid_parameter",
    "cognito_client_not_found",
    "cognito_misconfigured",
    "cognito_unavailable",
    "temporarily_unavailable",
];

/// The labels of a registration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistrationLabels {
    outcome: &'static str,
    /// Why it was refused (`none` when it succeeded or waits for approval).
    reason: &'static str,
}

/// The bridge's counters; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct BridgeMetrics {
    registrations: Family<RegistrationLabels, Counter>,
    pending_clients: Gauge,
}

impl BridgeMetrics {
    /// Counts `event` if it is a registration (accepted, pending, refused or throttled).
    pub(crate) fn count(&self, event: &BridgeEvent) {
        if event.event != BridgeEventKind::ClientRegistered {
            return;
        }
        let labels = match event.reason.as_deref() {
            Some(AWAITING_APPROVAL) => RegistrationLabels {
                outcome: "pending",
                reason: "none",
            },
            reason => RegistrationLabels {
                outcome: event.outcome.as_str(),
                reason: reason.map_or("none", |reason| {
                    REGISTRATION_REFUSAL_REASONS
                        .iter()
                        .chain(BRIDGE_REASONS.iter())
                        .find(|known| **known == reason)
                        .copied()
                        .unwrap_or("other")
                }),
            },
        };
        self.registrations.get_or_create(&labels).inc();
    }

    /// Whether `event` left a client waiting for approval.
    pub(crate) fn leaves_pending(event: &BridgeEvent) -> bool {
        event.event == BridgeEventKind::ClientRegistered
            && event.reason.as_deref() == Some(AWAITING_APPROVAL)
    }

    /// Counts the clients of `registry` that wait for approval (a failure leaves the last
    /// count and is logged).
    pub async fn count_pending(&self, registry: &dyn Registry) {
        match registry.list(Some(ClientStatus::Pending)).await {
            Ok(pending) => {
                self.pending_clients
                    .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
            }
            Err(error) => tracing::warn!(%error, "cannot count the clients awaiting approval"),
        }
    }

    /// Adds the counters to `registry`. Register them once per process.
    pub fn register(&self, registry: &mut MetricsRegistry) {
        registry.register(
            "mcp_oauth_registrations",
            "Client registrations at the Cognito registration bridge, by outcome (succeeded, \
             pending: awaiting approval, refused, throttled) and refusal reason (the OAuth error \
             code, the governance rule: untrusted_redirect_uri, pending_limit, global_limit; a \
             Cognito fault: cognito_*; none)",
            self.registrations.clone(),
        );
        registry.register(
            "mcp_oauth_clients_pending",
            "Clients waiting for an operator's approval (`mcp-oauth admin --cognito-registry-… \
             clients list --pending`), as this instance last counted them: after each \
             registration it saw, and at every sweep",
            self.pending_clients.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use mcp_oauth_core::AuditOutcome;
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn exposition(metrics: &BridgeMetrics) -> String {
        let mut registry = MetricsRegistry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn counts_registrations_by_outcome_and_a_known_reason() {
        let metrics = BridgeMetrics::default();
        let event = |kind, outcome, reason: Option<&str>| {
            let event = BridgeEvent::new(0, kind, outcome, std::time::Duration::ZERO);
            match reason {
                Some(reason) => event.with_reason(reason),
                None => event,
            }
        };
        let registered = BridgeEventKind::ClientRegistered;
        metrics.count(&event(registered, AuditOutcome::Succeeded, None));
        metrics.count(&event(
            registered,
            AuditOutcome::Succeeded,
            Some(AWAITING_APPROVAL),
        ));
        metrics.count(&event(
            registered,
            AuditOutcome::Refused,
            Some("untrusted_redirect_uri"),
        ));
        metrics.count(&event(
            registered,
            AuditOutcome::Refused,
            Some("cognito_throttled"),
        ));
        metrics.count(&event(
            registered,
            AuditOutcome::Refused,
            Some("client-chosen junk"),
        ));
        metrics.count(&event(
            BridgeEventKind::ClientDeleted,
            AuditOutcome::Succeeded,
            None,
        ));
        let text = exposition(&metrics);
        for line in [
            r#"mcp_oauth_registrations_total{outcome="succeeded",reason="none"} 1"#,
            r#"mcp_oauth_registrations_total{outcome="pending",reason="none"} 1"#,
            r#"mcp_oauth_registrations_total{outcome="refused",reason="untrusted_redirect_uri"} 1"#,
            r#"mcp_oauth_registrations_total{outcome="refused",reason="cognito_throttled"} 1"#,
            r#"mcp_oauth_registrations_total{outcome="refused",reason="other"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(
            text.matches("mcp_oauth_registrations_total{").count(),
            5,
            "{text}"
        );
    }
}
