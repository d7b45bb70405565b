//! The registry of clients registered through the bridge: one [`Registry`] trait, with a
//! DynamoDB backend (what AWS deployments use) and a SQLite backend (local runs).
//!
//! A record holds what the bridge must remember about a Cognito app client it created: the
//! registered metadata (echoed by RFC 7592 reads), the SHA-256 of the registration access
//! token, and when it was created and first used. Client secrets are never stored: Cognito
//! keeps them, and the bridge hands them out once, in the registration response. The layout
//! of both backends is in `docs/registry-schema.md`.
//!
//! **Expiry of unused registrations.** A registration starts with `expires_at` set
//! (`created_at` + the unused lifetime). The first time a token issued to the client reaches
//! the MCP server, the allow list ([`RegistryAllowList`](crate::RegistryAllowList)) calls
//! [`Registry::mark_used`], which records `last_used_at` and clears `expires_at`: used
//! registrations stay until deleted (RFC 7592). The [`Sweeper`](crate::Sweeper) deletes the
//! Cognito app client and the record of every registration past its `expires_at`.
//!
//! **Events.** The registry also keeps the bridge's security events ([`BridgeEvent`]:
//! registrations created, refused and deleted, with the client, the address and the reason)
//! until their retention ends; the sweeper purges those past it.

mod dynamodb;
mod events;
mod sqlite;

use async_trait::async_trait;
use mcp_oauth_core::{ClientStatus, RegistrationPath};
use serde_json::Value;
use thiserror::Error;

pub use dynamodb::DynamoDbRegistry;
pub use events::{BridgeEvent, BridgeEventKind};
pub use sqlite::SqliteRegistry;

/// Seconds since the Unix epoch.
pub type UnixTime = u64;

/// One client registered through the bridge.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Registration {
    /// The Cognito app client id, which is also the OAuth `client_id`.
    pub client_id: String,
    /// The registered metadata (RFC 7591 §3.2.1, without the server-assigned members).
    pub metadata: Value,
    /// SHA-256 (hex) of the registration access token (RFC 7592 §3).
    pub registration_token_hash: String,
    /// When the client was registered.
    pub created_at: UnixTime,
    /// When a token issued to the client first reached the MCP server, if ever.
    pub last_used_at: Option<UnixTime>,
    /// When the sweeper removes the registration if it is still unused; `None` once used.
    pub expires_at: Option<UnixTime>,
    /// Where the client stands with the operator (issue 16); records written before the
    /// approval workflow existed are active.
    pub status: ClientStatus,
    /// How the client registered (its scope ceiling); `open` for records written before.
    pub path: RegistrationPath,
    /// When an operator approved the client, if one did.
    pub approved_at: Option<UnixTime>,
}

impl Registration {
    /// A new, unused registration that expires at `expires_at` unless used.
    pub fn new(
        client_id: impl Into<String>,
        metadata: Value,
        registration_token_hash: impl Into<String>,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            metadata,
            registration_token_hash: registration_token_hash.into(),
            created_at,
            last_used_at: None,
            expires_at: Some(expires_at),
            status: ClientStatus::Active,
            path: RegistrationPath::Open,
            approved_at: None,
        }
    }

    /// The registration with `status`, registered by `path`.
    pub fn with_status(mut self, status: ClientStatus, path: RegistrationPath) -> Self {
        self.status = status;
        self.path = path;
        self
    }
}

/// Why the registry could not answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The database cannot be reached or refused the operation.
    #[error("the registry is unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be read back.
    #[error("registry record {client_id} is corrupt: {reason}")]
    Corrupt {
        /// The record's client id.
        client_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record with this client id already exists.
    #[error("client {0} is already registered")]
    Duplicate(String),
}

/// Where registrations are kept. Implementations are shared by the bridge, the allow list and
/// the sweeper; every method is one round trip.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Stores a new registration; [`RegistryError::Duplicate`] if its client id exists.
    async fn insert(&self, registration: &Registration) -> Result<(), RegistryError>;

    /// The registration of `client_id`, if any.
    async fn get(&self, client_id: &str) -> Result<Option<Registration>, RegistryError>;

    /// Removes the registration of `client_id`; `false` if there was none.
    async fn delete(&self, client_id: &str) -> Result<bool, RegistryError>;

    /// Records that a token of `client_id` was used at `now`: sets `last_used_at` if unset and
    /// clears `expires_at`. Does nothing for an unknown client.
    async fn mark_used(&self, client_id: &str, now: UnixTime) -> Result<(), RegistryError>;

    /// Sets the status of `client_id` at `now` (an approval also sets `approved_at`) and its
    /// `expires_at`; `false` for an unknown client.
    async fn set_status(
        &self,
        client_id: &str,
        status: ClientStatus,
        now: UnixTime,
        expires_at: Option<UnixTime>,
    ) -> Result<bool, RegistryError>;

    /// The registrations with `status` (every one when `None`), oldest first.
    async fn list(&self, status: Option<ClientStatus>) -> Result<Vec<Registration>, RegistryError>;

    /// Up to `limit` registrations whose `expires_at` is at or before `now`.
    async fn expired(
        &self,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<Registration>, RegistryError>;

    /// Keeps `event` until its `expires_at`.
    async fn append_event(&self, event: &BridgeEvent) -> Result<(), RegistryError>;

    /// The newest `limit` events that occurred at or after `since`, oldest first.
    async fn events(
        &self,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<BridgeEvent>, RegistryError>;

    /// Deletes the events whose `expires_at` is at or before `now`; how many went.
    async fn purge_events(&self, now: UnixTime) -> Result<u64, RegistryError>;
}
