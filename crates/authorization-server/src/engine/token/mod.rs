//! The token endpoint's logic (RFC 6749 §3.2, OAuth 2.1 §4.1.3, §4.3): a [`TokenRequest`] from
//! an authenticated client, answered by the chain of checks of its grant
//! ([`authorization_code`], [`refresh_token`]) and tokens from the [`TokenIssuer`].

mod authorization_code;
mod issuer;
mod refresh_token;

use std::net::IpAddr;
use std::sync::Arc;

use mcp_oauth_core::{ClientCertificate, OAuthErrorCode, ScopeSet};

pub(crate) use self::issuer::{TokenIssuer, TokenResponse};
use super::clients::{Clients, RegisteredClient};
use super::fault::Fault;
use crate::audit::{Audit, Grant, SecurityEvent};
use crate::clock::Clock;
use crate::params::Parameters;
use crate::secrets::{AuthorizationCode, RefreshToken};
use crate::store::{GrantRecord, GrantStore, UnixTime};

/// A token request, by grant, with what each grant requires.
#[derive(Debug)]
pub(crate) enum TokenRequest {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code.
        code: AuthorizationCode,
        /// The PKCE verifier.
        code_verifier: String,
        /// The `redirect_uri`, when the request repeats it.
        redirect_uri: Option<String>,
        /// The `resource` (RFC 8707 §2.2), when named.
        resource: Option<String>,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: RefreshToken,
        /// The narrower scope asked for, if any.
        scope: Option<ScopeSet>,
        /// The `resource` (RFC 8707 §2.2), when named.
        resource: Option<String>,
    },
}

impl TokenRequest {
    /// The request for `grant_type` from the form of `client`: the grant must be one this
    /// server offers (`unsupported_grant_type`) and the client registered
    /// (`unauthorized_client`), and its parameters must be there (`invalid_request`).
    pub(crate) fn read(
        client: &RegisteredClient,
        grant_type: &str,
        form: &Parameters,
    ) -> Result<Self, Fault> {
        let require = |name: &str| {
            form.get(name)
                .ok_or_else(|| Fault::invalid_request(format!("parameter `{name}` is missing")))
        };
        match grant_type {
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: AuthorizationCode::from_presented(require("code")?),
                code_verifier: require("code_verifier")?.to_owned(),
                redirect_uri: form.get("redirect_uri").map(str::to_owned),
                resource: form.get("resource").map(str::to_owned),
            }),
            "refresh_token" => {
                if !client.uses_refresh_tokens() {
                    return Err(Fault::new(
                        OAuthErrorCode::UnauthorizedClient,
                        "the client did not register the refresh_token grant",
                    ));
                }
                Ok(Self::RefreshToken {
                    refresh_token: RefreshToken::from_presented(require("refresh_token")?),
                    scope: form.get("scope").map(ScopeSet::parse),
                    resource: form.get("resource").map(str::to_owned),
                })
            }
            _ => Err(Fault::new(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
            )),
        }
    }
}

/// The token endpoint's engine: a sub-state of `/token`.
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    clients: Clients,
    grants: Arc<dyn GrantStore>,
    issuer: TokenIssuer,
    audit: Audit,
    clock: Clock,
}

impl TokenEndpoint {
    /// The engine over `clients` and `grants`, issuing with `issuer`, recording what it issues
    /// and refuses in `audit`.
    pub(crate) fn new(
        clients: Clients,
        grants: Arc<dyn GrantStore>,
        issuer: TokenIssuer,
        audit: Audit,
        clock: Clock,
    ) -> Self {
        Self {
            clients,
            grants,
            issuer,
            audit,
            clock,
        }
    }

    /// The clients, to authenticate the caller.
    pub(crate) fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Answers `request` from the authenticated `client` at `address`, on a connection that
    /// presented `certificate` (if any).
    pub(crate) async fn exchange(
        &self,
        client: &RegisteredClient,
        request: TokenRequest,
        certificate: Option<&ClientCertificate>,
        address: Option<IpAddr>,
    ) -> Result<TokenResponse, Fault> {
        let thumbprint = certificate.map(ClientCertificate::thumbprint_s256);
        let certificate = thumbprint.as_deref();
        match request {
            TokenRequest::AuthorizationCode {
                code,
                code_verifier,
                redirect_uri,
                resource,
            } => {
                let presented = authorization_code::Presented {
                    code: &code,
                    code_verifier: &code_verifier,
                    redirect_uri: redirect_uri.as_deref(),
                    resource: resource.as_deref(),
                    certificate,
                    address,
                };
                authorization_code::exchange(self, client, presented).await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                resource,
            } => {
                let presented = refresh_token::Presented {
                    refresh_token: &refresh_token,
                    scope: scope.as_ref(),
                    resource: resource.as_deref(),
                    certificate,
                    address,
                };
                refresh_token::exchange(self, client, presented).await
            }
        }
    }

    /// Records a token request refused with `fault`: of the grant `grant_type` names (if this
    /// server offers it), from the client the request named (if any), at `address`.
    pub(crate) async fn refused(
        &self,
        grant_type: Option<&str>,
        client_id: Option<&str>,
        fault: &Fault,
        address: Option<IpAddr>,
    ) {
        let code = fault.code();
        let refused = SecurityEvent::TokenRequestRefused {
            grant_type: grant_type.and_then(Grant::named),
            client_id,
            reason: code.as_str(),
        };
        self.audit.record(refused, address).await;
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }
}

/// The `resource` parameter, when present, must name the grant's resource (RFC 8707 §2.2).
fn check_resource(asked: Option<&str>, grant: &GrantRecord) -> Result<(), Fault> {
    match (asked, &grant.resource) {
        (None, _) => Ok(()),
        (Some(asked), Some(bound)) if bound.matches(asked) => Ok(()),
        _ => Err(Fault::new(
            OAuthErrorCode::InvalidTarget,
            "resource differs from the one authorized",
        )),
    }
}

#[cfg(test)]
mod tests {
    use mcp_oauth_core::CanonicalResource;

    use super::*;
    use crate::store::{ClientId, GrantId, UserId};

    #[test]
    fn check_resource_accepts_only_the_grants_resource() {
        let resource = CanonicalResource::parse("https://mcp.example/mcp").unwrap();
        let grant = GrantRecord::new(
            GrantId("g".into()),
            ClientId("c".into()),
            UserId("u".into()),
            ScopeSet::parse("mcp:read"),
            Some(resource),
            1,
        );
        assert!(check_resource(None, &grant).is_ok());
        assert!(check_resource(Some("https://MCP.example/mcp/"), &grant).is_ok());
        assert!(matches!(
            check_resource(Some("https://other.example/mcp"), &grant),
            Err(Fault::Refused {
                error: OAuthErrorCode::InvalidTarget,
                ..
            })
        ));
    }
}
