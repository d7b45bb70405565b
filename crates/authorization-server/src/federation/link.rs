//! The local user of an upstream identity: found by `(issuer, sub)`, or created with the link
//! on the first sign-in. The e-mail the provider asserts is informational: it names the new
//! user when no one has it yet, and never finds an existing user (that would let a provider,
//! or an account there with someone else's address, take over a local account).

use std::net::IpAddr;

use super::Federation;
use super::id_token::UpstreamIdentity;
use crate::audit::{Actor, SecurityEvent};
use crate::secrets::random_id;
use crate::store::{AuditOutcome, StoreError, UpstreamIdentityRecord, UserId, UserRecord};
use crate::users::email;

/// The e-mail address the provider asserts for `identity`, normalized, if plausible.
pub(super) fn asserted_email(identity: &UpstreamIdentity) -> Option<String> {
    identity
        .email
        .as_deref()
        .map(email::normalize)
        .filter(|email| email::is_plausible(email))
}

/// The user linked to `identity` at `issuer`, created (with the link) on first sign-in, which
/// the audit trail records (the sign-in came from `address`).
pub(super) async fn local_user(
    federation: &Federation,
    issuer: &str,
    identity: &UpstreamIdentity,
    address: Option<IpAddr>,
) -> Result<UserId, StoreError> {
    let store = &federation.store;
    let now = federation.now();
    let email = asserted_email(identity);
    if let Some(link) = store
        .find_upstream_identity(issuer, &identity.subject)
        .await?
    {
        store
            .record_upstream_sign_in(issuer, &identity.subject, email.as_deref(), now)
            .await?;
        return Ok(link.user_id);
    }
    // The e-mail names the user if it is free; otherwise a label no local account can have.
    let label = format!("{} at {issuer}", identity.subject);
    for name in email.iter().chain(std::iter::once(&label)) {
        let user = UserRecord::new(UserId(random_id()), name.clone(), None, now);
        let link = UpstreamIdentityRecord::new(
            issuer,
            identity.subject.clone(),
            user.user_id.clone(),
            email.clone(),
            now,
        );
        match store.insert_user_with_upstream_identity(&user, &link).await {
            Ok(()) => {
                let created = SecurityEvent::AccountCreated {
                    by: Actor::Person(&user.email),
                    outcome: AuditOutcome::Succeeded,
                    reason: None,
                    user: Some(&user),
                    issuer: Some(issuer),
                };
                federation.audit.record(created, address).await;
                return Ok(user.user_id);
            }
            Err(StoreError::Conflict("user")) => continue,
            // A concurrent first sign-in of the same person linked it first.
            Err(StoreError::Conflict("upstream identity")) => {
                if let Some(link) = store
                    .find_upstream_identity(issuer, &identity.subject)
                    .await?
                {
                    return Ok(link.user_id);
                }
            }
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Conflict("user"))
}
