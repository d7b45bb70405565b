//! The client library's collaborators as a web application needs them: a credential store
//! that keeps registrations but never tokens (tokens live in each browser's session), an
//! authorization driver that never runs (a browser is sent to the authorization server by a
//! redirect, not by the library), and the Client ID Metadata Document.

use std::sync::Arc;

use async_trait::async_trait;
use mcp_oauth_client::{
    AuthorizationDriver, ClientRegistration, CredentialStore, DriverError, IssuerCredentials,
    StoreError, TokenSet,
};
use serde_json::{Value, json};
use url::Url;

use super::config::WebClientConfig;

/// Keeps the registrations of `inner`; tokens are never written to it and never read from
/// it, so one browser's tokens cannot reach another browser or a file.
pub(crate) struct RegistrationsOnly {
    inner: Arc<dyn CredentialStore>,
}

impl RegistrationsOnly {
    pub(crate) fn new(inner: Arc<dyn CredentialStore>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl CredentialStore for RegistrationsOnly {
    async fn load(&self, issuer: &str) -> Result<IssuerCredentials, StoreError> {
        let mut credentials = self.inner.load(issuer).await?;
        credentials.tokens.clear();
        Ok(credentials)
    }

    async fn store_registration(
        &self,
        issuer: &str,
        registration: Option<&ClientRegistration>,
    ) -> Result<(), StoreError> {
        self.inner.store_registration(issuer, registration).await
    }

    async fn store_tokens(
        &self,
        _issuer: &str,
        _resource: &str,
        _tokens: Option<&TokenSet>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn remove(&self, issuer: &str) -> Result<(), StoreError> {
        self.inner.remove(issuer).await
    }
}

/// The message of [`SignInAgain`]'s refusal.
pub(crate) const SIGN_IN_AGAIN: &str = "the tokens of this session can no longer be used";

/// Refuses every authorization the library would start by itself (after a refused refresh,
/// or for more scope): the person has to press "Log in" again.
pub(crate) struct SignInAgain;

#[async_trait]
impl AuthorizationDriver for SignInAgain {
    async fn authorize(
        &self,
        _authorization_url: &Url,
        _redirect_uri: &Url,
    ) -> Result<Url, DriverError> {
        Err(DriverError::new(SIGN_IN_AGAIN))
    }
}

/// The Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document §4.1): the
/// client's registration, published at its own `client_id` URL. A public client: PKCE and no
/// secret.
pub(crate) fn metadata_document(config: &WebClientConfig, client_name: &str) -> Value {
    json!({
        "client_id": config.metadata_document_url(),
        "client_name": client_name,
        "client_uri": config.url(""),
        "redirect_uris": [config.redirect_uri()],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}
