//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant (the access
//! tokens issued from it too, §2.1); revoking an access token revokes that token. Tokens of
//! other clients, and unknown tokens, are left alone: the answer is the same (§2.2).

use std::net::IpAddr;
use std::sync::Arc;

use super::clients::{Clients, RegisteredClient};
use super::fault::Fault;
use crate::audit::{Audit, SecurityEvent, TokenKind};
use crate::clock::Clock;
use crate::keys::SigningKeys;
use crate::secrets::RefreshToken;
use crate::store::GrantStore;

/// The revocation endpoint's engine: a sub-state of `/revoke`.
#[derive(Clone)]
pub(crate) struct Revoker {
    clients: Clients,
    grants: Arc<dyn GrantStore>,
    keys: SigningKeys,
    audit: Audit,
    clock: Clock,
}

impl Revoker {
    /// The engine over `clients` and `grants`, verifying access tokens with `keys`, recording
    /// revocations in `audit`.
    pub(crate) fn new(
        clients: Clients,
        grants: Arc<dyn GrantStore>,
        keys: SigningKeys,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            clients,
            grants,
            keys,
            audit,
            clock,
        }
    }

    /// The clients, to authenticate the caller.
    pub(crate) fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Revokes `token` if `client` (at `address`) holds it.
    pub(crate) async fn revoke(
        &self,
        client: &RegisteredClient,
        token: &str,
        address: Option<IpAddr>,
    ) -> Result<(), Fault> {
        let now = (self.clock)();
        let presented = RefreshToken::from_presented(token);
        if let Some(refresh) = self
            .grants
            .find_active_refresh_token(&presented.hash(), now)
            .await?
        {
            let grant_id = &refresh.grant.grant_id;
            if refresh.grant.client_id == *client.id() {
                self.grants.revoke_grant(grant_id, now).await?;
                let revoked = SecurityEvent::TokenRevoked {
                    token: TokenKind::Refresh,
                    client_id: client.id(),
                    grant_id,
                };
                self.audit.record(revoked, address).await;
            }
            return Ok(());
        }
        if let Some(jti) = self
            .keys
            .verify(token, now)
            .and_then(|claims| claims["jti"].as_str().map(str::to_owned))
            && let Some(access) = self.grants.find_active_access_token(&jti, now).await?
            && access.client_id == *client.id()
        {
            self.grants.revoke_access_token(&jti, now).await?;
            let revoked = SecurityEvent::TokenRevoked {
                token: TokenKind::Access,
                client_id: client.id(),
                grant_id: &access.grant_id,
            };
            self.audit.record(revoked, address).await;
        }
        Ok(())
    }
}
