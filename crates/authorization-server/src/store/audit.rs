//! The audit trail: [`AuditStore`], its [`AuditRecord`]s (one per security event) and the
//! [`AuditFilter`] they are read back with.
//!
//! A record never holds a secret: no password, token, code, client secret or registration
//! access token, not even hashed. Who acted is an e-mail address, `admin`, or a client
//! (`client:<client_id>`); what happened is an [`AuditEventKind`] with an
//! [`AuditOutcome`], a short reason code and a few event-specific details.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
pub use mcp_oauth_core::AuditOutcome;
use serde_json::{Map, Value};

use super::{ClientId, StoreResult, UnixTime, UserId};

/// The durable audit trail: security events appended as they happen, read back by the
/// operator (`mcp-oauth admin audit`), and deleted once older than the retention period.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `record` (its [`AuditRecord::id`] is ignored: the store numbers records in the
    /// order they are appended).
    async fn append_audit_record(&self, record: &AuditRecord) -> StoreResult<()>;

    /// The newest records that match `filter` (at most its limit), oldest first.
    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;

    /// Deletes the records that occurred before `before`; how many went.
    async fn purge_audit_records(&self, before: UnixTime) -> StoreResult<u64>;
}

/// What kind of security event a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AuditEventKind {
    /// A sign-in with a password, or at an upstream provider (federated), or its second step
    /// (a TOTP or recovery code): succeeded, failed or throttled.
    SignIn,
    /// An account was created (sign-up, first federated sign-in, `admin users add`), or a
    /// sign-up was refused.
    AccountCreated,
    /// A person answered the consent page: allowed (succeeded) or denied (refused).
    Consent,
    /// A client was registered (RFC 7591, or `admin clients add`), or a registration refused.
    ClientRegistered,
    /// A client's registration was updated (RFC 7592 §2.2), or the update refused.
    ClientUpdated,
    /// A client was deleted (RFC 7592 §2.3, or `admin clients delete`), or the deletion refused.
    ClientDeleted,
    /// An operator approved, suspended or rejected a client (registration governance).
    ClientStatusChanged,
    /// An authorization code was issued (RFC 6749 §4.1.2).
    CodeIssued,
    /// A token request was answered with tokens, or refused (RFC 6749 §5).
    TokensIssued,
    /// An authorization code was presented again: what it issued was revoked.
    CodeReplayed,
    /// A rotated refresh token was presented again: its whole family was revoked
    /// (RFC 9700 §4.14.2).
    RefreshTokenReused,
    /// A client revoked a token (RFC 7009).
    TokenRevoked,
    /// An introspection request (RFC 7662) was refused.
    Introspection,
    /// The signing keys were rotated.
    KeysRotated,
    /// A person set up two-step verification (TOTP, RFC 6238) on their account.
    MfaEnrolled,
    /// A person turned two-step verification off on their account.
    MfaDisabled,
    /// An operator removed a person's two-step verification (`admin users reset-mfa`).
    MfaReset,
    /// A recovery code was used at the second step of a sign-in (each works once).
    RecoveryCodeUsed,
}

impl AuditEventKind {
    /// Every kind.
    pub const ALL: [AuditEventKind; 18] = [
        AuditEventKind::SignIn,
        AuditEventKind::AccountCreated,
        AuditEventKind::Consent,
        AuditEventKind::ClientRegistered,
        AuditEventKind::ClientUpdated,
        AuditEventKind::ClientDeleted,
        AuditEventKind::ClientStatusChanged,
        AuditEventKind::CodeIssued,
        AuditEventKind::TokensIssued,
        AuditEventKind::CodeReplayed,
        AuditEventKind::RefreshTokenReused,
        AuditEventKind::TokenRevoked,
        AuditEventKind::Introspection,
        AuditEventKind::KeysRotated,
        AuditEventKind::MfaEnrolled,
        AuditEventKind::MfaDisabled,
        AuditEventKind::MfaReset,
        AuditEventKind::RecoveryCodeUsed,
    ];

    /// The kind's name in records, log lines and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEventKind::SignIn => "sign_in",
            AuditEventKind::AccountCreated => "account_created",
            AuditEventKind::Consent => "consent",
            AuditEventKind::ClientRegistered => "client_registered",
            AuditEventKind::ClientUpdated => "client_updated",
            AuditEventKind::ClientDeleted => "client_deleted",
            AuditEventKind::ClientStatusChanged => "client_status_changed",
            AuditEventKind::CodeIssued => "code_issued",
            AuditEventKind::TokensIssued => "tokens_issued",
            AuditEventKind::CodeReplayed => "code_replayed",
            AuditEventKind::RefreshTokenReused => "refresh_token_reused",
            AuditEventKind::TokenRevoked => "token_revoked",
            AuditEventKind::Introspection => "introspection",
            AuditEventKind::KeysRotated => "keys_rotated",
            AuditEventKind::MfaEnrolled => "mfa_enrolled",
            AuditEventKind::MfaDisabled => "mfa_disabled",
            AuditEventKind::MfaReset => "mfa_reset",
            AuditEventKind::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

impl fmt::Display for AuditEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`AuditEventKind`]'s; the message lists the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {name:?}: expected one of {}", AuditEventKind::ALL.map(AuditEventKind::as_str).join(", "))]
pub struct UnknownAuditEvent {
    /// The name given.
    pub name: String,
}

impl FromStr for AuditEventKind {
    type Err = UnknownAuditEvent;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownAuditEvent {
                name: name.to_owned(),
            })
    }
}

/// One security event, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The record's number, in the order records were appended (set by the store).
    pub id: i64,
    /// When it happened.
    pub occurred_at: UnixTime,
    /// What happened.
    pub event: AuditEventKind,
    /// What became of the request.
    pub outcome: AuditOutcome,
    /// Why it did not succeed (an OAuth error code or a short name such as
    /// `wrong_credentials`), when it did not.
    pub reason: Option<String>,
    /// Who acted: the person's e-mail address, `admin`, or `client:<client_id>`; `None` when
    /// nobody identified themselves (an anonymous registration).
    pub actor: Option<String>,
    /// The local user concerned, when known.
    pub user_id: Option<UserId>,
    /// The client concerned (as the request named it), when any.
    pub client_id: Option<ClientId>,
    /// The address the request came from, when it came over the network.
    pub address: Option<String>,
    /// A few event-specific facts (scope, resource, grant id, key id, upstream issuer…): a
    /// JSON object, never holding a secret.
    pub details: Map<String, Value>,
}

impl AuditRecord {
    /// A record of `event` with `outcome` at `occurred_at`, with nothing else known yet.
    pub fn new(occurred_at: UnixTime, event: AuditEventKind, outcome: AuditOutcome) -> Self {
        Self {
            id: 0,
            occurred_at,
            event,
            outcome,
            reason: None,
            actor: None,
            user_id: None,
            client_id: None,
            address: None,
            details: Map::new(),
        }
    }
}

/// Which records to read back: every condition set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Records that occurred at or after this time.
    pub since: Option<UnixTime>,
    /// Records that occurred before this time.
    pub until: Option<UnixTime>,
    /// Records of this kind.
    pub event: Option<AuditEventKind>,
    /// Records with this outcome.
    pub outcome: Option<AuditOutcome>,
    /// Records concerning this client.
    pub client_id: Option<ClientId>,
    /// Records whose actor, or whose user id, is this.
    pub actor: Option<String>,
    /// The most records returned: the newest that match (default 100).
    pub limit: u32,
}

impl AuditFilter {
    /// The default number of records returned.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// Every record (the newest [`AuditFilter::DEFAULT_LIMIT`]).
    pub fn new() -> Self {
        Self {
            since: None,
            until: None,
            event: None,
            outcome: None,
            client_id: None,
            actor: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Only records that occurred at or after `since`.
    pub fn with_since(mut self, since: UnixTime) -> Self {
        self.since = Some(since);
        self
    }

    /// Only records that occurred before `until`.
    pub fn with_until(mut self, until: UnixTime) -> Self {
        self.until = Some(until);
        self
    }

    /// Only records of `event`.
    pub fn with_event(mut self, event: AuditEventKind) -> Self {
        self.event = Some(event);
        self
    }

    /// Only records with `outcome`.
    pub fn with_outcome(mut self, outcome: AuditOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Only records concerning `client_id`.
    pub fn with_client_id(mut self, client_id: ClientId) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// Only records whose actor or user id is `actor`.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// At most `limit` records (the newest that match).
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_read_back_by_name_and_unknown_names_list_the_known_ones() {
        for kind in AuditEventKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditEventKind>(), Ok(kind));
        }
        let unknown = "login".parse::<AuditEventKind>().unwrap_err();
        let message = unknown.to_string();
        assert!(
            message.contains("\"login\"") && message.contains("sign_in"),
            "{message}"
        );
    }
}
