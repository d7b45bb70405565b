//! The vocabulary of the audit trail that the servers share: the `tracing` target of their
//! audit log lines, and what became of the request a security event records. The embedded
//! authorization server and the Cognito registration bridge both write their events with it,
//! so one log query (`target == "mcp_oauth::audit"`, `outcome == "refused"`) reads them all.

use std::fmt;
use std::str::FromStr;

/// The `tracing` target of every audit log line: route or filter the audit trail by it
/// (`RUST_LOG=info,mcp_oauth::audit=info`).
pub const AUDIT_LOG_TARGET: &str = "mcp_oauth::audit";

/// The most characters an audit record keeps of a value a request chose (a client id it named,
/// an e-mail address it typed): see [`bounded_audit_text`].
pub const MAX_AUDIT_TEXT_CHARS: usize = 256;

/// `text` as an audit record keeps it: cut to [`MAX_AUDIT_TEXT_CHARS`] characters (and `…`),
/// so that junk a request sends cannot bloat the trail.
pub fn bounded_audit_text(text: &str) -> String {
    match text.char_indices().nth(MAX_AUDIT_TEXT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// What became of the request a security event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AuditOutcome {
    /// It did what was asked (a sign-in, a registration, tokens issued…).
    Succeeded,
    /// Credentials were wrong or could not be verified (a failed sign-in).
    Failed,
    /// The server refused it: invalid, not allowed, or a detected attack (a reused refresh
    /// token).
    Refused,
    /// Too many attempts: refused by a throttle or rate limit before being looked at.
    Throttled,
    /// Accepted, but waiting for an operator's decision (a registration awaiting approval), or
    /// for the person's second factor (a right password when two-step verification follows).
    Pending,
}

impl AuditOutcome {
    /// Every outcome.
    pub const ALL: [AuditOutcome; 5] = [
        AuditOutcome::Succeeded,
        AuditOutcome::Failed,
        AuditOutcome::Refused,
        AuditOutcome::Throttled,
        AuditOutcome::Pending,
    ];

    /// The outcome's name in records and log lines: `succeeded`, `failed`, `refused`,
    /// `throttled`, `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Refused => "refused",
            AuditOutcome::Throttled => "throttled",
            AuditOutcome::Pending => "pending",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`AuditOutcome`]'s; the message lists the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {0:?}: expected one of succeeded, failed, refused, throttled, pending")]
pub struct UnknownAuditOutcome(pub String);

impl FromStr for AuditOutcome {
    type Err = UnknownAuditOutcome;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == name)
            .ok_or_else(|| UnknownAuditOutcome(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        assert_eq!(bounded_audit_text("short"), "short");
        let long = "é".repeat(MAX_AUDIT_TEXT_CHARS + 10);
        let cut = bounded_audit_text(&long);
        assert_eq!(cut.chars().count(), MAX_AUDIT_TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn outcomes_read_back_by_name_and_nothing_else_does() {
        for outcome in AuditOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<AuditOutcome>(), Ok(outcome));
        }
        for other in ["", "Succeeded", "success", "refused "] {
            assert!(other.parse::<AuditOutcome>().is_err(), "{other:?}");
        }
    }
}
