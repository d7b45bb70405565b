//! What an operator does with the bridge's registrations (issue 16): list them, approve a
//! client waiting for approval, suspend one, reject (delete) one. Each change reaches Cognito
//! (the app client's OAuth flows on or off, or the app client deleted) and the registry, and is
//! recorded as a [`BridgeEvent`] with the actor `admin`. Every gateway on the same registry
//! sees it at once: the allow list never caches a refusal, and Cognito holds the flows.

use std::sync::Arc;

use mcp_oauth_core::{AuditOutcome, CeilingOutcome, ClientStatus, ScopeSet};
use serde_json::Value;
use thiserror::Error;

use crate::bridge::{
    AppClients, CognitoFault, NewAppClient, RegistrationSettings, record_event, unix_now,
};
use crate::registry::{BridgeEvent, BridgeEventKind, Registration, Registry, RegistryError};

/// The actor operator actions are recorded with.
const ADMIN: &str = "admin";

/// Why an operator action failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryAdminError {
    /// No registration has this client id.
    #[error("no client {0} is registered through the bridge")]
    UnknownClient(String),
    /// The approved scope ceiling leaves the client none of its registered scopes.
    #[error(
        "client {client_id} registered only scopes above the approved ceiling ({scopes}); reject it instead"
    )]
    NoScopeLeft {
        /// The client.
        client_id: String,
        /// Its registered scopes.
        scopes: String,
    },
    /// The registry could not answer.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Cognito refused or could not be reached.
    #[error("Cognito: {0}")]
    Cognito(#[from] CognitoFault),
}

/// Operator actions on the registrations of one user pool.
#[derive(Clone)]
pub struct RegistryAdmin {
    app_clients: AppClients,
    registry: Arc<dyn Registry>,
    settings: RegistrationSettings,
}

impl RegistryAdmin {
    /// Actions on the app clients of `app_clients` recorded in `registry`, under `settings`
    /// (the unused lifetime an approved client starts with, the approved scope ceiling, the
    /// event retention).
    pub fn new(
        app_clients: AppClients,
        registry: Arc<dyn Registry>,
        settings: RegistrationSettings,
    ) -> Self {
        Self {
            app_clients,
            registry,
            settings,
        }
    }

    /// The registrations with `status` (all when `None`), oldest first.
    pub async fn list(
        &self,
        status: Option<ClientStatus>,
    ) -> Result<Vec<Registration>, RegistryAdminError> {
        Ok(self.registry.list(status).await?)
    }

    /// Approves `client_id`: its app client gets the code flow and its registered scopes
    /// (cut to the approved ceiling), and it is active from now, with the unused lifetime to
    /// get its first token. Approving an active client changes nothing.
    pub async fn approve(&self, client_id: &str) -> Result<Registration, RegistryAdminError> {
        let registration = self.registration(client_id).await?;
        if registration.status == ClientStatus::Active {
            return Ok(registration);
        }
        let registered = registered_scopes(&registration);
        let ceiling = self
            .settings
            .governance
            .ceilings
            .ceiling(registration.path, true);
        let scopes = match CeilingOutcome::of(&registered, ceiling) {
            CeilingOutcome::Within(scopes) | CeilingOutcome::Narrowed { kept: scopes, .. } => {
                scopes
            }
            CeilingOutcome::Refused(_) => {
                return Err(RegistryAdminError::NoScopeLeft {
                    client_id: client_id.to_owned(),
                    scopes: registered.to_string(),
                });
            }
        };
        self.set_flows(&registration, scopes, true).await?;
        let now = unix_now();
        let expires_at = now.saturating_add(self.settings.unused_lifetime.as_secs());
        self.registry
            .set_status(client_id, ClientStatus::Active, now, Some(expires_at))
            .await?;
        self.record_status(client_id, ClientStatus::Active).await;
        self.registration(client_id).await
    }

    /// Suspends `client_id`: its app client's OAuth flows are turned off (Cognito refuses its
    /// sign-ins and refresh tokens), the MCP server refuses its tokens, and it is kept until
    /// approved again or rejected.
    pub async fn suspend(&self, client_id: &str) -> Result<Registration, RegistryAdminError> {
        let registration = self.registration(client_id).await?;
        self.set_flows(&registration, registered_scopes(&registration), false)
            .await?;
        self.registry
            .set_status(client_id, ClientStatus::Suspended, unix_now(), None)
            .await?;
        self.record_status(client_id, ClientStatus::Suspended).await;
        self.registration(client_id).await
    }

    /// Rejects `client_id`: deletes its app client, then its record.
    pub async fn reject(&self, client_id: &str) -> Result<(), RegistryAdminError> {
        let registration = self.registration(client_id).await?;
        self.app_clients.delete(&registration.client_id).await?;
        self.registry.delete(&registration.client_id).await?;
        let event = self
            .event(BridgeEventKind::ClientDeleted, client_id)
            .with_reason("rejected");
        record_event(self.registry.as_ref(), &event).await;
        Ok(())
    }

    async fn registration(&self, client_id: &str) -> Result<Registration, RegistryAdminError> {
        self.registry
            .get(client_id)
            .await?
            .ok_or_else(|| RegistryAdminError::UnknownClient(client_id.to_owned()))
    }

    /// Sends the app client's settings again with its flows on or off.
    async fn set_flows(
        &self,
        registration: &Registration,
        scopes: ScopeSet,
        enabled: bool,
    ) -> Result<(), CognitoFault> {
        let redirect_uris: Vec<String> = registration.metadata["redirect_uris"]
            .as_array()
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        self.app_clients
            .update(
                &registration.client_id,
                &NewAppClient {
                    name: registration.metadata["client_name"].as_str(),
                    redirect_uris: &redirect_uris,
                    scopes: scopes.iter().map(str::to_owned).collect(),
                    confidential: false,
                    enabled,
                },
            )
            .await
    }

    fn event(&self, kind: BridgeEventKind, client_id: &str) -> BridgeEvent {
        BridgeEvent::new(
            unix_now(),
            kind,
            AuditOutcome::Succeeded,
            self.settings.event_retention,
        )
        .with_actor(ADMIN)
        .with_client_id(client_id)
    }

    async fn record_status(&self, client_id: &str, status: ClientStatus) {
        let event = self
            .event(BridgeEventKind::ClientStatusChanged, client_id)
            .with_reason(status.as_str());
        record_event(self.registry.as_ref(), &event).await;
    }
}

/// The scopes recorded for a registration (the bridge always records them).
fn registered_scopes(registration: &Registration) -> ScopeSet {
    ScopeSet::parse(registration.metadata["scope"].as_str().unwrap_or_default())
}
