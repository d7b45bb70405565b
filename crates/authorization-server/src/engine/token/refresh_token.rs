//! The `refresh_token` grant (RFC 6749 §6, OAuth 2.1 §4.3), as a sequence of named checks:
//! the token is active (a rotated token presented again revokes its whole family, RFC 9700
//! §4.14.2), was issued to this client, presented with the certificate it is bound to (if any,
//! RFC 8705 §3), for this resource, and the scope may only narrow; then the new tokens are
//! signed, and the token rotates, storing the new access token's record in the same
//! transaction.

use std::net::IpAddr;

use mcp_oauth_core::{CeilingOutcome, OAuthErrorCode, ScopeHandling, ScopeSet};

use super::issuer::{Issue, TokenResponse};
use super::{TokenEndpoint, check_resource};
use crate::audit::{Grant, SecurityEvent};
use crate::engine::clients::RegisteredClient;
use crate::engine::fault::Fault;
use crate::secrets::RefreshToken;
use crate::store::{
    AccessTokenRecord, ActiveRefreshToken, GrantId, GrantRecord, RefreshRotation,
    RefreshTokenRecord, UnixTime,
};

/// What the token request presented.
pub(super) struct Presented<'a> {
    pub(super) refresh_token: &'a RefreshToken,
    pub(super) scope: Option<&'a ScopeSet>,
    pub(super) resource: Option<&'a str>,
    /// The `x5t#S256` thumbprint of the client certificate of the request's connection, if any.
    pub(super) certificate: Option<&'a str>,
    /// Where the request came from.
    pub(super) address: Option<IpAddr>,
}

/// The grant, check by check.
pub(super) async fn exchange(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    presented: Presented<'_>,
) -> Result<TokenResponse, Fault> {
    let now = endpoint.now();
    let ActiveRefreshToken {
        token: current,
        grant,
    } = check_active(endpoint, client, &presented, now).await?;
    check_client(client, &grant)?;
    let binding = check_binding(client, &current, presented.certificate)?;
    check_resource(presented.resource, &grant)?;
    let scope = check_scope(&current.scope, presented.scope)?;
    let scope = check_ceiling(&scope, endpoint.clients().ceiling_of(client))?;
    let (secret, next) = endpoint.issuer.new_refresh_token(&grant, &scope, binding);
    let signed = endpoint.issuer.sign(Issue {
        grant: &grant,
        client,
        scope: &scope,
        auth_time: grant.created_at,
        nonce: None,
        id_token: false,
        refresh_token: Some(secret),
        certificate_thumbprint: binding,
    })?;
    rotate(
        endpoint,
        client,
        &presented,
        &next,
        &signed.access_token,
        now,
    )
    .await?;
    let refreshed = SecurityEvent::TokensIssued {
        grant_type: Grant::RefreshToken,
        grant: &grant,
        scope: &scope,
    };
    endpoint.audit.record(refreshed, presented.address).await;
    Ok(signed.response)
}

/// The presented token must be active; one that was already rotated revokes its family.
async fn check_active(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    presented: &Presented<'_>,
    now: UnixTime,
) -> Result<ActiveRefreshToken, Fault> {
    let hash = presented.refresh_token.hash();
    if let Some(current) = endpoint
        .grants
        .find_active_refresh_token(&hash, now)
        .await?
    {
        return Ok(current);
    }
    if let RefreshRotation::ReuseDetected { grant_id } =
        endpoint.grants.revoke_grant_if_reused(&hash, now).await?
    {
        reused(endpoint, client, &grant_id, presented).await;
    }
    Err(Fault::invalid_grant(
        "the refresh token is invalid, expired or revoked",
    ))
}

/// The token must have been issued to this client (RFC 6749 §6).
fn check_client(client: &RegisteredClient, grant: &GrantRecord) -> Result<(), Fault> {
    if grant.client_id == *client.id() {
        Ok(())
    } else {
        Err(Fault::invalid_grant(
            "the refresh token was issued to another client",
        ))
    }
}

/// A token bound to a certificate (RFC 8705 §3) keeps its binding, and only with that
/// certificate; an unbound one binds the new tokens to the presented certificate when the client
/// asked for bound tokens. The binding of the new tokens, if any.
fn check_binding<'a>(
    client: &RegisteredClient,
    current: &'a RefreshTokenRecord,
    presented: Option<&'a str>,
) -> Result<Option<&'a str>, Fault> {
    match current.certificate_thumbprint.as_deref() {
        Some(bound) if presented == Some(bound) => Ok(Some(bound)),
        Some(_) => Err(Fault::invalid_grant(
            "the refresh token is bound to a client certificate this request did not present",
        )),
        None => Ok(presented.filter(|_| client.binds_tokens_to_certificate())),
    }
}

/// RFC 6749 §6: the scope asked for may only narrow what the token may obtain; without one,
/// the same scope.
fn check_scope(granted: &ScopeSet, asked: Option<&ScopeSet>) -> Result<ScopeSet, Fault> {
    match asked {
        None => Ok(granted.clone()),
        Some(asked) if granted.contains_all(asked) => Ok(asked.clone()),
        Some(_) => Err(Fault::new(
            OAuthErrorCode::InvalidScope,
            "a refresh may only narrow the scope",
        )),
    }
}

/// The client's ceiling may have shrunk since the grant (a new configuration): the scope is
/// narrowed to it, and a refresh with nothing left under it is refused.
fn check_ceiling(scope: &ScopeSet, ceiling: Option<&ScopeSet>) -> Result<ScopeSet, Fault> {
    CeilingOutcome::of(scope, ceiling)
        .granted(ScopeHandling::Narrow)
        .map_err(|_| {
            Fault::new(
                OAuthErrorCode::InvalidScope,
                "none of the token's scopes is allowed for this client any more",
            )
        })
}

/// Rotates the token atomically, storing the access token `issued` with the next one; a
/// concurrent rotation of the same token is a reuse.
async fn rotate(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    presented: &Presented<'_>,
    next: &RefreshTokenRecord,
    issued: &AccessTokenRecord,
    now: UnixTime,
) -> Result<(), Fault> {
    match endpoint
        .grants
        .rotate_refresh_token(&presented.refresh_token.hash(), next, issued, now)
        .await?
    {
        RefreshRotation::Rotated { .. } => Ok(()),
        RefreshRotation::ReuseDetected { grant_id } => {
            reused(endpoint, client, &grant_id, presented).await;
            Err(Fault::invalid_grant("the refresh token was already used"))
        }
        RefreshRotation::Inactive | RefreshRotation::Unknown => Err(Fault::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        )),
    }
}

/// Records that `client` presented a rotated refresh token of `grant_id` again: the family
/// was revoked.
async fn reused(
    endpoint: &TokenEndpoint,
    client: &RegisteredClient,
    grant_id: &GrantId,
    presented: &Presented<'_>,
) {
    let reused = SecurityEvent::RefreshTokenReused {
        client_id: client.id(),
        grant_id,
    };
    endpoint.audit.record(reused, presented.address).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_scope_only_narrows() {
        let granted = ScopeSet::parse("mcp:read mcp:write");
        assert_eq!(check_scope(&granted, None).unwrap(), granted);
        let narrower = ScopeSet::parse("mcp:read");
        assert_eq!(check_scope(&granted, Some(&narrower)).unwrap(), narrower);
        assert!(check_scope(&granted, Some(&ScopeSet::parse("mcp:read admin"))).is_err());
    }

    #[test]
    fn check_ceiling_narrows_to_the_current_ceiling() {
        let granted = ScopeSet::parse("mcp:read mcp:write");
        assert_eq!(check_ceiling(&granted, None).unwrap(), granted);
        let ceiling = ScopeSet::parse("mcp:read openid");
        assert_eq!(
            check_ceiling(&granted, Some(&ceiling)).unwrap(),
            ScopeSet::parse("mcp:read")
        );
        let error = check_ceiling(&granted, Some(&ScopeSet::parse("openid"))).unwrap_err();
        assert_eq!(error.code(), OAuthErrorCode::InvalidScope);
    }
}
