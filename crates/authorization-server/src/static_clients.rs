//! Clients the operator registers (`mcp-oauth admin clients add`, `mcp-oauth dev`, through
//! [`Admin`](crate::Admin)), beside those that register themselves (RFC 7591) or are identified
//! by a metadata document: one way to build their records, so every caller gets the same
//! validation.

use mcp_oauth_core::{
    CanonicalResource, ClientMetadata, RegistrationPolicy, TokenEndpointAuthMethod,
};
use thiserror::Error;

use crate::secrets::{ClientSecret, random_id};
use crate::store::{
    ClientId, ClientOrigin, ClientRecord, RegisteredMetadata, StoreError, UnixTime,
};

/// A client the operator registers: an application people sign in to (it has redirect URIs),
/// a resource server that introspects the access tokens meant for it (RFC 7662 §4), or both.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaticClient {
    /// The client identifier.
    pub client_id: ClientId,
    /// The name people see on the consent page.
    pub name: String,
    /// Where authorization responses may go; empty for a client that only introspects.
    pub redirect_uris: Vec<String>,
    /// A public client: no secret, PKCE only (RFC 6749 §2.1).
    pub public: bool,
    /// The resources whose access tokens the client may introspect.
    pub introspection_resources: Vec<CanonicalResource>,
}

/// Why a static client cannot be registered.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StaticClientError {
    /// The description is not a usable client.
    #[error("invalid client: {0}")]
    Invalid(String),
    /// The store refused it: [`StoreError::Conflict`] when the id is taken.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StaticClient {
    /// A confidential client `client_id` named `name`, with no redirect URI and no
    /// introspection yet.
    pub fn new(client_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            client_id: ClientId(client_id.into()),
            name: name.into(),
            redirect_uris: Vec::new(),
            public: false,
            introspection_resources: Vec::new(),
        }
    }

    /// A confidential client with a random id (see [`StaticClient::new`]).
    pub fn with_random_id(name: impl Into<String>) -> Self {
        Self::new(random_id(), name)
    }

    /// Sets the redirect URIs.
    pub fn with_redirect_uris(mut self, uris: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Makes it a public client (no secret).
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// Lets it introspect the access tokens of `resources`.
    pub fn with_introspection_resources(
        mut self,
        resources: impl IntoIterator<Item = CanonicalResource>,
    ) -> Self {
        self.introspection_resources = resources.into_iter().collect();
        self
    }

    /// The registered metadata (RFC 7591 §2): validated as a registration would be when the
    /// client has redirect URIs; for a client that only introspects, no grant at all.
    fn metadata(&self) -> Result<RegisteredMetadata, StaticClientError> {
        let auth_method = if self.public {
            TokenEndpointAuthMethod::None
        } else {
            TokenEndpointAuthMethod::ClientSecretBasic
        };
        if self.redirect_uris.is_empty() {
            if self.introspection_resources.is_empty() {
                return Err(StaticClientError::Invalid(
                    "a client needs a redirect URI, or resources to introspect".to_owned(),
                ));
            }
            return Ok(RegisteredMetadata::Introspector {
                client_name: self.name.clone(),
                token_endpoint_auth_method: auth_method,
            });
        }
        let mut metadata = ClientMetadata::new(self.redirect_uris.iter().cloned());
        metadata.client_name = Some(self.name.clone());
        metadata.grant_types = Some(vec!["authorization_code".into(), "refresh_token".into()]);
        metadata.token_endpoint_auth_method = Some(auth_method.as_str().to_owned());
        let validated = metadata
            .validate(&RegistrationPolicy::default())
            .map_err(|error| StaticClientError::Invalid(error.to_string()))?;
        Ok(RegisteredMetadata::Application(validated))
    }

    /// The record of this client with `secret` (for a confidential client), registered `now`.
    pub(crate) fn record(
        &self,
        secret: Option<&ClientSecret>,
        now: UnixTime,
    ) -> Result<ClientRecord, StaticClientError> {
        if self.public && !self.introspection_resources.is_empty() {
            return Err(StaticClientError::Invalid(
                "a client that introspects must be confidential (RFC 7662 §2.1)".to_owned(),
            ));
        }
        Ok(ClientRecord::new(
            self.client_id.clone(),
            self.metadata()?,
            ClientOrigin::Static,
            now,
        )
        .with_secret_hash(secret.map(ClientSecret::hash))
        .with_introspection_resources(self.introspection_resources.iter().cloned()))
    }

    /// Whether `record` is this client as registered with `secret` (`None` for a public
    /// client): a caller that keeps the secret can then keep the registration.
    pub(crate) fn is_registered_as(
        &self,
        record: &ClientRecord,
        secret: Option<&ClientSecret>,
    ) -> bool {
        let secret_matches = match (&record.secret_hash, secret) {
            (Some(stored), Some(secret)) => secret.matches(stored),
            (None, None) => self.public,
            _ => false,
        };
        secret_matches
            && record.origin == ClientOrigin::Static
            && record.introspection_resources == self.introspection_resources
            && self
                .metadata()
                .is_ok_and(|metadata| metadata == record.metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> CanonicalResource {
        CanonicalResource::parse("http://localhost:3001/mcp").unwrap()
    }

    #[test]
    fn a_client_that_only_introspects_has_no_grant() {
        let client =
            StaticClient::new("rs", "MCP server").with_introspection_resources([resource()]);
        let record = client.record(Some(&ClientSecret::generate()), 1).unwrap();
        assert!(record.metadata.redirect_uris().is_empty());
        assert!(
            !record
                .metadata
                .allows_grant_type(mcp_oauth_core::GrantType::AuthorizationCode)
        );
        assert_eq!(record.introspection_resources, [resource()]);
    }

    #[test]
    fn refuses_clients_that_cannot_work() {
        let nothing = StaticClient::new("x", "X");
        let public_introspector = StaticClient::new("x", "X")
            .public()
            .with_introspection_resources([resource()]);
        let bad_redirect = StaticClient::new("x", "X").with_redirect_uris(["not a uri"]);
        for client in [nothing, public_introspector, bad_redirect] {
            assert!(
                matches!(client.record(None, 1), Err(StaticClientError::Invalid(_))),
                "{client:?}"
            );
        }
    }

    #[test]
    fn recognises_its_own_registration_only_with_its_secret() {
        let client =
            StaticClient::new("web", "Web").with_redirect_uris(["http://localhost:3000/callback"]);
        let secret = ClientSecret::generate();
        let record = client.record(Some(&secret), 1).unwrap();
        assert!(client.is_registered_as(&record, Some(&secret)));
        assert!(!client.is_registered_as(&record, Some(&ClientSecret::generate())));
        let moved = client
            .clone()
            .with_redirect_uris(["http://localhost:4000/callback"]);
        assert!(!moved.is_registered_as(&record, Some(&secret)));
        let introspecting = client.with_introspection_resources([resource()]);
        assert!(!introspecting.is_registered_as(&record, Some(&secret)));
    }
}
