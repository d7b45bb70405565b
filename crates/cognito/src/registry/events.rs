//! The registration bridge's security events ([`BridgeEvent`]): registrations created,
//! refused and deleted, kept in the registry beside the registrations until they expire, and
//! logged as the embedded authorization server logs its own (target `mcp_oauth::audit`, the
//! same fields), so one log query reads both.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use mcp_oauth_core::{AUDIT_LOG_TARGET, AuditOutcome, bounded_audit_text as bounded};

use super::UnixTime;

/// What happened to a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BridgeEventKind {
    /// A client was registered (RFC 7591), or its registration refused or throttled.
    ClientRegistered,
    /// A client was deleted (RFC 7592 §2.3, or by the sweeper when unused), or its deletion
    /// refused.
    ClientDeleted,
    /// An operator approved or suspended a client (the new status is the reason).
    ClientStatusChanged,
}

impl BridgeEventKind {
    /// Every kind.
    pub const ALL: [BridgeEventKind; 3] = [
        BridgeEventKind::ClientRegistered,
        BridgeEventKind::ClientDeleted,
        BridgeEventKind::ClientStatusChanged,
    ];

    /// The kind's name in records and log lines (the authorization server's names).
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeEventKind::ClientRegistered => "client_registered",
            BridgeEventKind::ClientDeleted => "client_deleted",
            BridgeEventKind::ClientStatusChanged => "client_status_changed",
        }
    }
}

impl fmt::Display for BridgeEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BridgeEventKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| format!("unknown bridge event {name:?}"))
    }
}

/// One security event of the bridge. Never holds a secret: no client secret, registration or
/// initial access token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeEvent {
    /// When it happened.
    pub occurred_at: UnixTime,
    /// What happened.
    pub event: BridgeEventKind,
    /// What became of the request.
    pub outcome: AuditOutcome,
    /// Why it did not succeed (an OAuth error code, or a short name of the Cognito fault).
    pub reason: Option<String>,
    /// Who acted: `client:<client_id>` (with its registration access token), `sweeper`,
    /// `admin` (an operator's command), or `None` for an anonymous registration.
    pub actor: Option<String>,
    /// The client concerned, when known.
    pub client_id: Option<String>,
    /// The address the request came from.
    pub address: Option<String>,
    /// When the registry may forget it (`occurred_at` plus the retention).
    pub expires_at: UnixTime,
}

impl BridgeEvent {
    /// `event` with `outcome` at `occurred_at`, kept for `retention`.
    pub fn new(
        occurred_at: UnixTime,
        event: BridgeEventKind,
        outcome: AuditOutcome,
        retention: Duration,
    ) -> Self {
        Self {
            occurred_at,
            event,
            outcome,
            reason: None,
            actor: None,
            client_id: None,
            address: None,
            expires_at: occurred_at.saturating_add(retention.as_secs()),
        }
    }

    /// With why it did not succeed.
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = Some(bounded(reason));
        self
    }

    /// With who acted.
    pub fn with_actor(mut self, actor: &str) -> Self {
        self.actor = Some(bounded(actor));
        self
    }

    /// With the client concerned.
    pub fn with_client_id(mut self, client_id: &str) -> Self {
        self.client_id = Some(bounded(client_id));
        self
    }

    /// With the address the request came from.
    pub fn with_address(mut self, address: Option<IpAddr>) -> Self {
        self.address = address.map(|address| address.to_canonical().to_string());
        self
    }

    /// Writes the event's log line: `warn` for a refusal, `info` otherwise.
    pub fn log(&self) {
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: AUDIT_LOG_TARGET,
                    event = self.event.as_str(),
                    outcome = self.outcome.as_str(),
                    reason = self.reason.as_deref(),
                    actor = self.actor.as_deref(),
                    client_id = self.client_id.as_deref(),
                    address = self.address.as_deref(),
                    "security event"
                )
            };
        }
        match self.outcome {
            AuditOutcome::Succeeded => line!(info),
            _ => line!(warn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_by_name_and_long_values_are_cut() {
        for kind in BridgeEventKind::ALL {
            assert_eq!(kind.as_str().parse::<BridgeEventKind>(), Ok(kind));
        }
        assert!("sign_in".parse::<BridgeEventKind>().is_err());
        let event = BridgeEvent::new(
            10,
            BridgeEventKind::ClientRegistered,
            AuditOutcome::Refused,
            Duration::from_secs(5),
        )
        .with_client_id(&"x".repeat(5_000))
        .with_address(Some("::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(event.expires_at, 15);
        assert_eq!(
            event.client_id.unwrap().chars().count(),
            mcp_oauth_core::MAX_AUDIT_TEXT_CHARS + 1
        );
        assert_eq!(event.address.as_deref(), Some("192.0.2.1"));
    }
}
