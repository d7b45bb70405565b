//! Token introspection (RFC 7662) for resource servers. Only clients the operator allowed to
//! introspect (a confidential client with introspection resources, set by `mcp-oauth admin
//! clients add --introspect-for` or `dev`) may call it; others get `unauthorized_client`, so a
//! self-registered client cannot use it to test stolen tokens. An access token is described
//! only to the resource server it is meant for (its `aud` is one of the caller's resources,
//! RFC 7662 §4), a refresh token only to the client it was issued to. Inactive, unknown and
//! foreign tokens all answer `{"active": false}`.

use std::net::IpAddr;
use std::sync::Arc;

use mcp_oauth_core::{OAuthErrorCode, TokenEndpointAuthMethod};
use serde_json::{Value, json};

use super::clients::{Clients, RegisteredClient};
use super::fault::Fault;
use crate::audit::{Audit, SecurityEvent};
use crate::clock::Clock;
use crate::keys::SigningKeys;
use crate::secrets::RefreshToken;
use crate::store::{ActiveRefreshToken, GrantStore};

/// The introspection endpoint's engine: a sub-state of `/introspect`.
#[derive(Clone)]
pub(crate) struct Introspector {
    clients: Clients,
    grants: Arc<dyn GrantStore>,
    keys: SigningKeys,
    issuer: Arc<str>,
    audit: Audit,
    clock: Clock,
}

impl Introspector {
    /// The engine over `clients` and `grants`, verifying access tokens with `keys`, recording
    /// refusals in `audit`.
    pub(crate) fn new(
        clients: Clients,
        grants: Arc<dyn GrantStore>,
        keys: SigningKeys,
        issuer: &str,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            clients,
            grants,
            keys,
            issuer: Arc::from(issuer),
            audit,
            clock,
        }
    }

    /// Records an introspection request refused with `fault`, from the client the request
    /// named (if any) at `address`.
    pub(crate) async fn refused(
        &self,
        client_id: Option<&str>,
        fault: &Fault,
        address: Option<IpAddr>,
    ) {
        let code = fault.code();
        let refused = SecurityEvent::IntrospectionRefused {
            client_id,
            reason: code.as_str(),
        };
        self.audit.record(refused, address).await;
    }

    /// The clients, to authenticate the caller.
    pub(crate) fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Whether `client` may introspect: a confidential client (RFC 7662 §2.1) the operator
    /// allowed.
    pub(crate) fn admit(&self, client: &RegisteredClient) -> Result<(), Fault> {
        if client.auth_method() == TokenEndpointAuthMethod::None {
            return Err(Fault::invalid_client(
                "introspection needs a confidential client",
                false,
            ));
        }
        if client.introspection_resources().is_empty() {
            return Err(Fault::new(
                OAuthErrorCode::UnauthorizedClient,
                "this client may not introspect tokens: introspection is for the resource \
                 servers the operator allows",
            ));
        }
        Ok(())
    }

    /// What an active token is (RFC 7662 §2.2), or `{"active": false}`: also for a token that
    /// is active but not meant for `caller`.
    pub(crate) async fn describe(
        &self,
        caller: &RegisteredClient,
        token: &str,
    ) -> Result<Value, Fault> {
        let now = (self.clock)();
        if let Some(claims) = self.keys.verify(token, now)
            && claims.get("scope").is_some()
            && meant_for(caller, &claims)
            && let Some(jti) = claims["jti"].as_str()
            && let Some(record) = self.grants.find_active_access_token(jti, now).await?
        {
            let mut description = json!({
                "active": true,
                "token_type": "Bearer",
                "iss": claims["iss"],
                "sub": claims["sub"],
                "aud": claims["aud"],
                "client_id": claims["client_id"],
                "scope": claims["scope"],
                "exp": claims["exp"],
                "iat": claims["iat"],
                "jti": jti,
            });
            if let Some(thumbprint) = record.certificate_thumbprint {
                // RFC 8705 §3.2: the certificate the token is bound to.
                description["cnf"] = json!({ "x5t#S256": thumbprint });
            }
            return Ok(description);
        }
        let refresh = RefreshToken::from_presented(token);
        if let Some(ActiveRefreshToken {
            token: record,
            grant,
        }) = self
            .grants
            .find_active_refresh_token(&refresh.hash(), now)
            .await?
            && grant.client_id == *caller.id()
        {
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "iss": &*self.issuer,
                "sub": grant.user_id.as_str(),
                "aud": grant.resource.as_ref().map(|resource| resource.as_str()),
                "client_id": grant.client_id.as_str(),
                "scope": record.scope.to_string(),
                "exp": record.expires_at,
                "iat": record.created_at,
            }));
        }
        Ok(json!({"active": false}))
    }
}

/// Whether the access token with `claims` is meant for a resource `caller` serves: its `aud`
/// (a string or an array) names one of them.
fn meant_for(caller: &RegisteredClient, claims: &Value) -> bool {
    let serves = |audience: &str| {
        caller
            .introspection_resources()
            .iter()
            .any(|resource| resource.as_str() == audience)
    };
    match &claims["aud"] {
        Value::String(audience) => serves(audience),
        Value::Array(audiences) => audiences.iter().filter_map(Value::as_str).any(serves),
        _ => false,
    }
}
