//! [`SecurityEvent`]: what happened, one variant per kind of event with the facts that kind
//! records, as [`AuditRecord`]s keep them. The fields take identifiers, scopes and reason codes;
//! there is no field a password, token, code or secret could be passed in.

use std::net::IpAddr;

use mcp_oauth_core::{
    AuditOutcome, CanonicalResource, ClientStatus, ScopeSet, bounded_audit_text as bounded,
};
use serde_json::{Map, Value, json};

use crate::store::{
    AuditEventKind, AuditRecord, ClientId, GrantId, GrantRecord, UnixTime, UserId, UserRecord,
};

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Actor<'a> {
    /// A person: their (normalized) e-mail address, or a federated user's name.
    Person(&'a str),
    /// The operator: the admin commands, or the program embedding the server.
    Admin,
    /// A client, by the id it authenticated as (or claimed, when refused).
    Client(&'a str),
    /// Nobody identified themselves.
    Anonymous,
}

impl Actor<'_> {
    /// The actor as a record keeps it.
    fn text(self) -> Option<String> {
        match self {
            Actor::Person(name) => Some(bounded(name)),
            Actor::Admin => Some("admin".to_owned()),
            Actor::Client(client_id) => Some(format!("client:{}", bounded(client_id))),
            Actor::Anonymous => None,
        }
    }
}

/// How a person signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignInMethod<'a> {
    /// With their password, on the sign-in page.
    Password,
    /// At an upstream OpenID provider: `issuer`, once the sign-in it answers is known.
    #[cfg_attr(not(feature = "federation"), expect(dead_code))]
    Upstream(Option<&'a str>),
    /// The second step, with a TOTP code (RFC 6238).
    Totp,
    /// The second step, with a recovery code.
    RecoveryCode,
}

impl SignInMethod<'_> {
    /// `password`, `upstream`, `totp` or `recovery_code` (a metric label).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Upstream(_) => "upstream",
            SignInMethod::Totp => "totp",
            SignInMethod::RecoveryCode => "recovery_code",
        }
    }
}

/// The grant of a token request (RFC 6749 §4.1.3, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// `authorization_code`: tokens issued.
    AuthorizationCode,
    /// `refresh_token`: tokens refreshed.
    RefreshToken,
}

impl Grant {
    /// The grant a request's `grant_type` names, if it is one this server offers.
    pub(crate) fn named(grant_type: &str) -> Option<Self> {
        match grant_type {
            "authorization_code" => Some(Grant::AuthorizationCode),
            "refresh_token" => Some(Grant::RefreshToken),
            _ => None,
        }
    }

    /// The `grant_type`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
        }
    }
}

/// The kind of token a client revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A refresh token: its whole grant was revoked.
    Refresh,
    /// An access token.
    Access,
}

impl TokenKind {
    /// `refresh_token` or `access_token`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenKind::Refresh => "refresh_token",
            TokenKind::Access => "access_token",
        }
    }
}

/// A security event, as the code that saw it raises it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecurityEvent<'a> {
    /// A sign-in: succeeded, failed (`reason`) or throttled; `person` is the account it was
    /// for (a plausible e-mail address, or a federated user's name), when known.
    SignIn {
        method: SignInMethod<'a>,
        outcome: AuditOutcome,
        reason: Option<&'a str>,
        person: Option<&'a str>,
        user_id: Option<&'a UserId>,
    },
    /// An account created by `by` (`user`), or a sign-up refused or throttled (no `user`);
    /// `issuer` for a federated user's first sign-in.
    AccountCreated {
        by: Actor<'a>,
        outcome: AuditOutcome,
        reason: Option<&'a str>,
        user: Option<&'a UserRecord>,
        issuer: Option<&'a str>,
    },
    /// `user`'s answer on the consent page for `client_id`: allowed (`given`) or denied.
    Consent {
        user: &'a UserRecord,
        client_id: &'a ClientId,
        scope: &'a ScopeSet,
        resource: &'a CanonicalResource,
        given: bool,
    },
    /// A registration by `by`: `client_id` and `name` when it succeeded, `reason` when not.
    ClientRegistered {
        by: Actor<'a>,
        outcome: AuditOutcome,
        reason: Option<&'a str>,
        client_id: Option<&'a ClientId>,
        name: Option<&'a str>,
    },
    /// An update of the registration of `client_id` (RFC 7592 §2.2).
    ClientUpdated {
        client_id: &'a str,
        outcome: AuditOutcome,
        reason: Option<&'a str>,
    },
    /// A deletion of the client `client_id` by `by`.
    ClientDeleted {
        by: Actor<'a>,
        client_id: &'a str,
        outcome: AuditOutcome,
        reason: Option<&'a str>,
    },
    /// The client `client_id` made `status` by `by` (approved, suspended, or rejected when it
    /// is kept suspended); any status but active revoked its grants.
    ClientStatusChanged {
        by: Actor<'a>,
        client_id: &'a str,
        status: ClientStatus,
    },
    /// A code issued to `user` for `grant`.
    CodeIssued {
        user: &'a UserRecord,
        grant: &'a GrantRecord,
    },
    /// Tokens issued by `grant_type` from `grant`, for `scope`.
    TokensIssued {
        grant_type: Grant,
        grant: &'a GrantRecord,
        scope: &'a ScopeSet,
    },
    /// A token request refused (`reason`: its OAuth error code), from the client the request
    /// named, if any.
    TokenRequestRefused {
        grant_type: Option<Grant>,
        client_id: Option<&'a str>,
        reason: &'a str,
    },
    /// A used code presented again by `client_id`: `grant_id` was revoked.
    CodeReplayed {
        client_id: &'a ClientId,
        grant_id: &'a GrantId,
    },
    /// A rotated refresh token presented again by `client_id`: its family (`grant_id`) was
    /// revoked.
    RefreshTokenReused {
        client_id: &'a ClientId,
        grant_id: &'a GrantId,
    },
    /// A token of `grant_id` revoked by its client.
    TokenRevoked {
        token: TokenKind,
        client_id: &'a ClientId,
        grant_id: &'a GrantId,
    },
    /// An introspection request refused (`reason`: its OAuth error code), from the client the
    /// request named, if any.
    IntrospectionRefused {
        client_id: Option<&'a str>,
        reason: &'a str,
    },
    /// The signing keys rotated by `by`; `kid` is the new current key.
    KeysRotated { by: Actor<'a>, kid: &'a str },
    /// `user` set up two-step verification.
    MfaEnrolled { user: &'a UserRecord },
    /// `user`'s two-step verification removed: by themselves (`MfaDisabled`) or by the
    /// operator (`by` is [`Actor::Admin`]: `MfaReset`).
    MfaRemoved { by: Actor<'a>, user: &'a UserRecord },
    /// One of `user`'s recovery codes used up at sign-in; `left` remain.
    RecoveryCodeUsed { user: &'a UserRecord, left: u64 },
}

impl SecurityEvent<'_> {
    /// The kind of record this event makes.
    pub(crate) fn kind(&self) -> AuditEventKind {
        match self {
            SecurityEvent::SignIn { .. } => AuditEventKind::SignIn,
            SecurityEvent::AccountCreated { .. } => AuditEventKind::AccountCreated,
            SecurityEvent::Consent { .. } => AuditEventKind::Consent,
            SecurityEvent::ClientRegistered { .. } => AuditEventKind::ClientRegistered,
            SecurityEvent::ClientUpdated { .. } => AuditEventKind::ClientUpdated,
            SecurityEvent::ClientDeleted { .. } => AuditEventKind::ClientDeleted,
            SecurityEvent::ClientStatusChanged { .. } => AuditEventKind::ClientStatusChanged,
            SecurityEvent::CodeIssued { .. } => AuditEventKind::CodeIssued,
            SecurityEvent::TokensIssued { .. } | SecurityEvent::TokenRequestRefused { .. } => {
                AuditEventKind::TokensIssued
            }
            SecurityEvent::CodeReplayed { .. } => AuditEventKind::CodeReplayed,
            SecurityEvent::RefreshTokenReused { .. } => AuditEventKind::RefreshTokenReused,
            SecurityEvent::TokenRevoked { .. } => AuditEventKind::TokenRevoked,
            SecurityEvent::IntrospectionRefused { .. } => AuditEventKind::Introspection,
            SecurityEvent::KeysRotated { .. } => AuditEventKind::KeysRotated,
            SecurityEvent::MfaEnrolled { .. } => AuditEventKind::MfaEnrolled,
            SecurityEvent::MfaRemoved {
                by: Actor::Admin, ..
            } => AuditEventKind::MfaReset,
            SecurityEvent::MfaRemoved { .. } => AuditEventKind::MfaDisabled,
            SecurityEvent::RecoveryCodeUsed { .. } => AuditEventKind::RecoveryCodeUsed,
        }
    }

    /// What became of the request.
    pub(crate) fn outcome(&self) -> AuditOutcome {
        match self {
            SecurityEvent::SignIn { outcome, .. }
            | SecurityEvent::AccountCreated { outcome, .. }
            | SecurityEvent::ClientRegistered { outcome, .. }
            | SecurityEvent::ClientUpdated { outcome, .. }
            | SecurityEvent::ClientDeleted { outcome, .. } => *outcome,
            SecurityEvent::Consent { given, .. } => {
                if *given {
                    AuditOutcome::Succeeded
                } else {
                    AuditOutcome::Refused
                }
            }
            SecurityEvent::CodeIssued { .. }
            | SecurityEvent::ClientStatusChanged { .. }
            | SecurityEvent::TokensIssued { .. }
            | SecurityEvent::TokenRevoked { .. }
            | SecurityEvent::KeysRotated { .. }
            | SecurityEvent::MfaEnrolled { .. }
            | SecurityEvent::MfaRemoved { .. }
            | SecurityEvent::RecoveryCodeUsed { .. } => AuditOutcome::Succeeded,
            SecurityEvent::TokenRequestRefused { .. }
            | SecurityEvent::CodeReplayed { .. }
            | SecurityEvent::RefreshTokenReused { .. }
            | SecurityEvent::IntrospectionRefused { .. } => AuditOutcome::Refused,
        }
    }

    /// Why it did not succeed, when it did not.
    pub(crate) fn reason(&self) -> Option<&str> {
        match self {
            SecurityEvent::SignIn { reason, .. }
            | SecurityEvent::AccountCreated { reason, .. }
            | SecurityEvent::ClientRegistered { reason, .. }
            | SecurityEvent::ClientUpdated { reason, .. }
            | SecurityEvent::ClientDeleted { reason, .. } => *reason,
            SecurityEvent::Consent { given: false, .. } => Some("access_denied"),
            SecurityEvent::TokenRequestRefused { reason, .. }
            | SecurityEvent::IntrospectionRefused { reason, .. } => Some(reason),
            SecurityEvent::CodeReplayed { .. } | SecurityEvent::RefreshTokenReused { .. } => {
                Some("invalid_grant")
            }
            _ => None,
        }
    }

    /// The record of this event, which happened at `at`, from `address`.
    pub(crate) fn record(&self, at: UnixTime, address: Option<IpAddr>) -> AuditRecord {
        let mut record = AuditRecord::new(at, self.kind(), self.outcome());
        record.reason = self.reason().map(bounded);
        record.address = address.map(|address| address.to_canonical().to_string());
        let mut details = Map::new();
        let (actor, user_id, client_id) = match *self {
            SecurityEvent::SignIn {
                method,
                person,
                user_id,
                ..
            } => {
                details.insert("method".into(), json!(method.as_str()));
                if let SignInMethod::Upstream(Some(issuer)) = method {
                    details.insert("issuer".into(), json!(issuer));
                }
                (person.map(Actor::Person), user_id.cloned(), None)
            }
            SecurityEvent::AccountCreated {
                by, user, issuer, ..
            } => {
                if let Some(user) = user {
                    details.insert("email".into(), json!(user.email));
                }
                if let Some(issuer) = issuer {
                    details.insert("issuer".into(), json!(issuer));
                }
                (Some(by), user.map(|user| user.user_id.clone()), None)
            }
            SecurityEvent::Consent {
                user,
                client_id,
                scope,
                resource,
                ..
            } => {
                details.insert("scope".into(), json!(scope.to_string()));
                details.insert("resource".into(), json!(resource.as_str()));
                (
                    Some(Actor::Person(&user.email)),
                    Some(user.user_id.clone()),
                    Some(client_id.as_str()),
                )
            }
            SecurityEvent::ClientRegistered {
                by,
                client_id,
                name,
                ..
            } => {
                if let Some(name) = name {
                    details.insert("client_name".into(), json!(bounded(name)));
                }
                (Some(by), None, client_id.map(ClientId::as_str))
            }
            SecurityEvent::ClientUpdated { client_id, .. } => {
                (Some(Actor::Client(client_id)), None, Some(client_id))
            }
            SecurityEvent::ClientDeleted { by, client_id, .. } => (Some(by), None, Some(client_id)),
            SecurityEvent::ClientStatusChanged {
                by,
                client_id,
                status,
            } => {
                details.insert("status".into(), json!(status.as_str()));
                (Some(by), None, Some(client_id))
            }
            SecurityEvent::CodeIssued { user, grant } => {
                grant_details(&mut details, grant, &grant.scope);
                (
                    Some(Actor::Person(&user.email)),
                    Some(user.user_id.clone()),
                    Some(grant.client_id.as_str()),
                )
            }
            SecurityEvent::TokensIssued {
                grant_type,
                grant,
                scope,
            } => {
                details.insert("grant_type".into(), json!(grant_type.as_str()));
                grant_details(&mut details, grant, scope);
                (
                    Some(Actor::Client(grant.client_id.as_str())),
                    Some(grant.user_id.clone()),
                    Some(grant.client_id.as_str()),
                )
            }
            SecurityEvent::TokenRequestRefused {
                grant_type,
                client_id,
                ..
            } => {
                if let Some(grant_type) = grant_type {
                    details.insert("grant_type".into(), json!(grant_type.as_str()));
                }
                (client_id.map(Actor::Client), None, client_id)
            }
            SecurityEvent::CodeReplayed {
                client_id,
                grant_id,
            }
            | SecurityEvent::RefreshTokenReused {
                client_id,
                grant_id,
            } => {
                details.insert("grant_id".into(), json!(grant_id.as_str()));
                details.insert("grant_revoked".into(), json!(true));
                (
                    Some(Actor::Client(client_id.as_str())),
                    None,
                    Some(client_id.as_str()),
                )
            }
            SecurityEvent::TokenRevoked {
                token,
                client_id,
                grant_id,
            } => {
                details.insert("token_type".into(), json!(token.as_str()));
                details.insert("grant_id".into(), json!(grant_id.as_str()));
                (
                    Some(Actor::Client(client_id.as_str())),
                    None,
                    Some(client_id.as_str()),
                )
            }
            SecurityEvent::IntrospectionRefused { client_id, .. } => {
                (client_id.map(Actor::Client), None, client_id)
            }
            SecurityEvent::KeysRotated { by, kid } => {
                details.insert("kid".into(), json!(kid));
                (Some(by), None, None)
            }
            SecurityEvent::MfaEnrolled { user } => (
                Some(Actor::Person(&user.email)),
                Some(user.user_id.clone()),
                None,
            ),
            SecurityEvent::MfaRemoved { by, user } => {
                details.insert("email".into(), json!(user.email));
                (Some(by), Some(user.user_id.clone()), None)
            }
            SecurityEvent::RecoveryCodeUsed { user, left } => {
                details.insert("recovery_codes_left".into(), json!(left));
                (
                    Some(Actor::Person(&user.email)),
                    Some(user.user_id.clone()),
                    None,
                )
            }
        };
        record.actor = actor.and_then(Actor::text);
        record.user_id = user_id;
        record.client_id = client_id.map(|id| ClientId(bounded(id)));
        record.details = details;
        record
    }
}

/// The grant's id and resource, and the scope of what was issued.
fn grant_details(details: &mut Map<String, Value>, grant: &GrantRecord, scope: &ScopeSet) {
    details.insert("grant_id".into(), json!(grant.grant_id.as_str()));
    details.insert("scope".into(), json!(scope.to_string()));
    if let Some(resource) = &grant.resource {
        details.insert("resource".into(), json!(resource.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_a_request_chose_are_cut_to_a_bounded_length() {
        let long = "x".repeat(10_000);
        let record = SecurityEvent::TokenRequestRefused {
            grant_type: Grant::named("password"),
            client_id: Some(&long),
            reason: "invalid_client",
        }
        .record(1, None);
        let client_id = record.client_id.unwrap().0;
        assert_eq!(
            client_id.chars().count(),
            mcp_oauth_core::MAX_AUDIT_TEXT_CHARS + 1
        );
        assert!(record.actor.unwrap().len() < 300);
        assert!(
            record.details.is_empty(),
            "an unknown grant type is not kept"
        );
    }

    #[test]
    fn addresses_are_kept_in_canonical_form() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let record = SecurityEvent::KeysRotated {
            by: Actor::Admin,
            kid: "k1",
        }
        .record(1, Some(mapped));
        assert_eq!(record.address.as_deref(), Some("192.0.2.7"));
        assert_eq!(record.actor.as_deref(), Some("admin"));
        assert_eq!(record.details["kid"], "k1");
    }
}
