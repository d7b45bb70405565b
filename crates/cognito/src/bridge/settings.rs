//! The registration settings a deployment chooses: how long unused registrations live, the
//! initial access token, the rate limit, how long the bridge's events are kept, and the
//! registration governance (approval, trusted redirect hosts, scope ceilings, limits).

use std::time::Duration;

use mcp_oauth_core::{ClientStatus, RegistrationGovernance};

/// How the registration bridge admits and keeps registrations. The `Default` keeps an unused
/// registration 24 hours, needs no initial access token, accepts 10 registrations per client
/// address per minute and keeps events 90 days; change it with the `with_…` setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct RegistrationSettings {
    /// How long a registration lives if no token of it ever reaches the MCP server
    /// (default 24 hours).
    pub unused_lifetime: Duration,
    /// A token `POST /register` requires as `Authorization: Bearer` (RFC 7591 §3), if any.
    pub initial_access_token: Option<String>,
    /// Registrations accepted per client address per minute (default 10). Every attempt
    /// counts, refused ones too; behind a proxy, clients share the proxy's address.
    pub registrations_per_minute: u32,
    /// How long the registry keeps the bridge's events (registrations created, refused and
    /// deleted; default 90 days).
    pub event_retention: Duration,
    /// The operator's policies for registered clients (default: none).
    pub governance: RegistrationGovernance,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            unused_lifetime: Duration::from_secs(24 * 3600),
            initial_access_token: None,
            registrations_per_minute: 10,
            event_retention: Self::DEFAULT_EVENT_RETENTION,
            governance: RegistrationGovernance::default(),
        }
    }
}

impl RegistrationSettings {
    /// How long events are kept unless set otherwise: 90 days.
    pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

    /// Sets how long an unused registration lives.
    pub fn with_unused_lifetime(mut self, lifetime: Duration) -> Self {
        self.unused_lifetime = lifetime;
        self
    }

    /// Requires `token` to register.
    pub fn with_initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    /// Sets the registrations accepted per address per minute.
    pub fn with_registrations_per_minute(mut self, limit: u32) -> Self {
        self.registrations_per_minute = limit;
        self
    }

    /// Sets how long the bridge's events are kept.
    pub fn with_event_retention(mut self, retention: Duration) -> Self {
        self.event_retention = retention;
        self
    }

    /// Sets the registration governance.
    pub fn with_governance(mut self, governance: RegistrationGovernance) -> Self {
        self.governance = governance;
        self
    }

    /// How long a registration lives unused from `status` on: a client waiting for approval
    /// waits the longer of the unused lifetime and the governance's pending time.
    pub(crate) fn unused_lifetime_when(&self, status: ClientStatus) -> Duration {
        match status {
            ClientStatus::Pending => self
                .unused_lifetime
                .max(Duration::from_secs(self.governance.pending_ttl_secs)),
            _ => self.unused_lifetime,
        }
    }

    /// Every setting the bridge cannot work with, described.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.registrations_per_minute == 0 {
            problems.push("registrations per minute must be positive".to_owned());
        }
        if self.unused_lifetime.is_zero() {
            problems.push("the unused-registration lifetime must be positive".to_owned());
        }
        if self.event_retention.is_zero() {
            problems.push("the event retention must be positive".to_owned());
        }
        problems
    }
}

impl std::fmt::Debug for RegistrationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationSettings")
            .field("unused_lifetime", &self.unused_lifetime)
            .field(
                "initial_access_token",
                &self.initial_access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("registrations_per_minute", &self.registrations_per_minute)
            .field("event_retention", &self.event_retention)
            .field("governance", &self.governance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_initial_access_token() {
        let settings = RegistrationSettings::default().with_initial_access_token("let-me-in");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("let-me-in"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn reports_a_zero_rate_lifetime_and_retention_together() {
        let settings = RegistrationSettings::default()
            .with_registrations_per_minute(0)
            .with_unused_lifetime(Duration::ZERO)
            .with_event_retention(Duration::ZERO);
        assert_eq!(settings.problems().len(), 3);
        assert!(RegistrationSettings::default().problems().is_empty());
    }
}
