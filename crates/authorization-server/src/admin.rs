//! [`Admin`]: what the operator does to an authorization server's data (static clients, users,
//! signing keys) and reads of it (the audit trail), from its store alone, so that the admin
//! commands work while a server runs on the same store (a server picks up rotated keys within
//! its `key_reload_interval`). What it changes is recorded in the audit trail, by `admin`.

use std::sync::Arc;

use mcp_oauth_core::{CanonicalResource, ClientStatus, RegistrationPath};
use serde_json::Value;

use crate::audit::{Actor, Audit, SecurityEvent, ServerMetrics};
use crate::clock::{Clock, system_clock};
use crate::keys::{KeyError, SigningKeys};
use crate::secrets::ClientSecret;
use crate::static_clients::{StaticClient, StaticClientError};
use crate::store::{
    AuditFilter, AuditOutcome, AuditRecord, ClientId, ClientOrigin, ClientRecord, KeyState,
    SigningKeyRecord, Store, StoreError, UnixTime, UserRecord,
};
use crate::users::{self, AccountError, email};

/// The administration of an authorization server's data, at a clock.
#[derive(Clone)]
pub struct Admin {
    store: Arc<dyn Store>,
    audit: Audit,
    clock: Clock,
}

/// A static client just registered: its id, and its secret for a confidential client (shown
/// only now: the store keeps its hash).
#[derive(Debug)]
#[non_exhaustive]
pub struct RegisteredStaticClient {
    /// The client id.
    pub client_id: String,
    /// The client secret (RFC 6749 §2.3.1), for a confidential client.
    pub secret: Option<ClientSecret>,
}

/// A static client made sure of by [`Admin::ensure_static_client`].
#[derive(Debug)]
#[non_exhaustive]
pub struct EnsuredStaticClient {
    /// The client's secret: the one kept, or a new one when the client was registered now.
    pub secret: Option<ClientSecret>,
    /// Whether the client was registered now (its secret is new: keep it).
    pub registered_now: bool,
}

/// A registered client, as an admin listing shows it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientSummary {
    /// The client id.
    pub client_id: String,
    /// The name people see, if it registered one.
    pub name: Option<String>,
    /// How it came to be registered.
    pub origin: ClientOrigin,
    /// Where it stands with the operator: active, pending approval, or suspended.
    pub status: ClientStatus,
    /// How it registered (which scope ceiling applies).
    pub registration_path: RegistrationPath,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When an operator last approved it.
    pub approved_at: Option<UnixTime>,
    /// The resources whose access tokens it may introspect (RFC 7662 §4).
    pub introspection_resources: Vec<CanonicalResource>,
    /// Its registered metadata (RFC 7591 §2), as a registration response shows it.
    pub metadata: Value,
}

/// What [`Admin::reject_client`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The client was deleted, with everything it was granted.
    Deleted,
    /// The client, identified by its metadata document, was kept as suspended: deleting it
    /// would let its next authorization request register it again, pending.
    KeptSuspended,
    /// The client was not pending: nothing changed (suspend or delete it instead).
    NotPending(ClientStatus),
    /// There is no such client.
    Unknown,
}

/// A user, as an admin listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSummary {
    /// The user's id (the `sub` of their tokens).
    pub user_id: String,
    /// Their e-mail address (lower-cased).
    pub email: String,
    /// When the account was created.
    pub created_at: UnixTime,
}

/// A published signing key, as an admin listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySummary {
    /// The key id (`kid`).
    pub kid: String,
    /// The JWS algorithm.
    pub algorithm: String,
    /// Current (signs) or previous (still verifies).
    pub state: KeyState,
    /// When it was created.
    pub created_at: UnixTime,
}

impl Admin {
    /// The administration of `store`, at the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, system_clock())
    }

    /// The administration of `store`, at `clock`.
    pub fn with_clock(store: Arc<dyn Store>, clock: Clock) -> Self {
        let audit = Audit::new(
            store.clone(),
            Arc::new(ServerMetrics::default()),
            clock.clone(),
        );
        Self::with_audit(store, audit)
    }

    /// The administration of `store`, recording in `audit` (a server's, at its clock).
    pub(crate) fn with_audit(store: Arc<dyn Store>, audit: Audit) -> Self {
        let clock = audit.clock();
        Self {
            store,
            audit,
            clock,
        }
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Registers `client` (`mcp-oauth admin clients add`, `dev`).
    ///
    /// Errors: [`StaticClientError::Invalid`] for a client that cannot work (no redirect URI
    /// and nothing to introspect, a redirect URI a registration would refuse, a public client
    /// that introspects), [`StaticClientError::Store`] with [`StoreError::Conflict`] when the
    /// id is taken.
    pub async fn register_static_client(
        &self,
        client: &StaticClient,
    ) -> Result<RegisteredStaticClient, StaticClientError> {
        let secret = (!client.public).then(ClientSecret::generate);
        let record = client.record(secret.as_ref(), self.now())?;
        self.store.insert_client(&record).await?;
        let registered = SecurityEvent::ClientRegistered {
            by: Actor::Admin,
            outcome: AuditOutcome::Succeeded,
            reason: None,
            client_id: Some(&record.client_id),
            name: record.metadata.client_name(),
        };
        self.audit.record(registered, None).await;
        Ok(RegisteredStaticClient {
            client_id: record.client_id.0,
            secret,
        })
    }

    /// Makes sure `client` is registered as described, with `kept` (the secret its owner kept,
    /// `None` if none was kept or it is public): kept as is when it is, registered again
    /// (replacing a registration that differs: a redirect URI or resource moved) when not.
    ///
    /// Errors: as [`Admin::register_static_client`].
    pub async fn ensure_static_client(
        &self,
        client: &StaticClient,
        kept: Option<ClientSecret>,
    ) -> Result<EnsuredStaticClient, StaticClientError> {
        let existing = self.store.get_client(&client.client_id).await?;
        if let Some(record) = &existing
            && client.is_registered_as(record, kept.as_ref())
        {
            return Ok(EnsuredStaticClient {
                secret: kept,
                registered_now: false,
            });
        }
        if existing.is_some() {
            self.delete_client(client.client_id.as_str()).await?;
        }
        let registered = self.register_static_client(client).await?;
        Ok(EnsuredStaticClient {
            secret: registered.secret,
            registered_now: true,
        })
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<ClientSummary>, StoreError> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(ClientSummary::from)
            .collect())
    }

    /// The clients with `status`, oldest first (`admin clients list --pending`).
    pub async fn list_clients_with_status(
        &self,
        status: ClientStatus,
    ) -> Result<Vec<ClientSummary>, StoreError> {
        Ok(self
            .store
            .list_clients_with_status(status)
            .await?
            .into_iter()
            .map(ClientSummary::from)
            .collect())
    }

    /// Approves the client `client_id` (its id, or its metadata document's URL): it may sign
    /// people in at once, on every instance on this store, under the `approved` scope
    /// ceiling. `false` if there is no such client.
    pub async fn approve_client(&self, client_id: &str) -> Result<bool, StoreError> {
        self.set_status(client_id, ClientStatus::Active).await
    }

    /// Suspends the client `client_id`: from now on it gets the waiting page and
    /// `invalid_client`, and every grant it holds is revoked (its refresh tokens at once;
    /// access tokens at once where the MCP server checks revocations, else when they
    /// expire). `false` if there is no such client.
    pub async fn suspend_client(&self, client_id: &str) -> Result<bool, StoreError> {
        self.set_status(client_id, ClientStatus::Suspended).await
    }

    /// Rejects the pending client `client_id`: deleted with everything it holds, or, for a
    /// client identified by its metadata document, kept as suspended so it stays blocked
    /// (`delete` removes it for good).
    pub async fn reject_client(&self, client_id: &str) -> Result<Rejection, StoreError> {
        let Some(client) = self
            .store
            .get_client(&ClientId(client_id.to_owned()))
            .await?
        else {
            return Ok(Rejection::Unknown);
        };
        if client.status != ClientStatus::Pending {
            return Ok(Rejection::NotPending(client.status));
        }
        if client.registration_path == RegistrationPath::MetadataDocument {
            return Ok(
                if self.set_status(client_id, ClientStatus::Suspended).await? {
                    Rejection::KeptSuspended
                } else {
                    Rejection::Unknown
                },
            );
        }
        let deleted = self.delete_client(client_id).await?;
        self.audit
            .metrics()
            .count_pending_clients(self.store.as_ref())
            .await;
        Ok(if deleted {
            Rejection::Deleted
        } else {
            Rejection::Unknown
        })
    }

    async fn set_status(&self, client_id: &str, status: ClientStatus) -> Result<bool, StoreError> {
        let changed = self
            .store
            .set_client_status(&ClientId(client_id.to_owned()), status, self.now())
            .await?;
        if changed {
            let event = SecurityEvent::ClientStatusChanged {
                by: Actor::Admin,
                client_id,
                status,
            };
            self.audit.record(event, None).await;
            self.audit
                .metrics()
                .count_pending_clients(self.store.as_ref())
                .await;
        }
        Ok(changed)
    }

    /// Deletes the client `client_id` with everything it was granted; `false` if there was
    /// none.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .store
            .delete_client(&ClientId(client_id.to_owned()))
            .await?;
        if deleted {
            let event = SecurityEvent::ClientDeleted {
                by: Actor::Admin,
                client_id,
                outcome: AuditOutcome::Succeeded,
                reason: None,
            };
            self.audit.record(event, None).await;
        }
        Ok(deleted)
    }

    /// Adds a local user with `email` (trimmed and lower-cased) and `password`, checking the
    /// e-mail syntax and the password policy (NIST SP 800-63B §3.1.1.2) and storing the
    /// password as an Argon2id PHC string.
    ///
    /// Errors: see [`AccountError`].
    pub async fn add_user(&self, email: &str, password: &str) -> Result<UserSummary, AccountError> {
        let user = users::create_user(self.store.as_ref(), email, password, self.now()).await?;
        let created = SecurityEvent::AccountCreated {
            by: Actor::Admin,
            outcome: AuditOutcome::Succeeded,
            reason: None,
            user: Some(&user),
            issuer: None,
        };
        self.audit.record(created, None).await;
        Ok(UserSummary::from(user))
    }

    /// The user with `email` (compared trimmed and lower-cased), if there is one.
    pub async fn find_user(&self, email: &str) -> Result<Option<UserSummary>, StoreError> {
        let user = self
            .store
            .find_user_by_email(&email::normalize(email))
            .await?;
        Ok(user.map(UserSummary::from))
    }

    /// Removes the two-step verification of the user with `email` (compared trimmed and
    /// lower-cased): their TOTP credential, recovery codes and pending sign-ins, so that they
    /// sign in with their password alone (and, when the policy requires it, set it up again
    /// right after). `None` if there is no such user, `Some(false)` if they had none set up.
    /// Recorded in the audit trail as `mfa_reset` by `admin`.
    pub async fn reset_mfa(&self, email: &str) -> Result<Option<bool>, StoreError> {
        let Some(user) = self
            .store
            .find_user_by_email(&email::normalize(email))
            .await?
        else {
            return Ok(None);
        };
        let removed = self.store.remove_mfa(&user.user_id).await?;
        if removed {
            let event = SecurityEvent::MfaRemoved {
                by: Actor::Admin,
                user: &user,
            };
            self.audit.record(event, None).await;
        }
        Ok(Some(removed))
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        Ok(self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(UserSummary::from)
            .collect())
    }

    /// Makes a new signing key current (after generating the first one, if the store has
    /// none); the previous one stays published until the tokens it signed expire. Returns the
    /// new key's id.
    pub async fn rotate_keys(&self) -> Result<String, KeyError> {
        let keys = SigningKeys::load_or_generate(self.store.as_ref(), self.now()).await?;
        let kid = keys.rotate(self.store.as_ref(), self.now()).await?;
        let rotated = SecurityEvent::KeysRotated {
            by: Actor::Admin,
            kid: &kid,
        };
        self.audit.record(rotated, None).await;
        Ok(kid)
    }

    /// The newest records of the audit trail that match `filter` (at most its limit), oldest
    /// first (`mcp-oauth admin audit`).
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_records(filter).await
    }

    /// The published keys, current first (generating the first key if the store has none, as
    /// a server starting on it would).
    pub async fn list_keys(&self) -> Result<Vec<KeySummary>, KeyError> {
        SigningKeys::load_or_generate(self.store.as_ref(), self.now()).await?;
        Ok(self
            .store
            .published_keys()
            .await?
            .iter()
            .map(KeySummary::from)
            .collect())
    }
}

impl From<ClientRecord> for ClientSummary {
    fn from(record: ClientRecord) -> Self {
        Self {
            name: record.metadata.client_name().map(str::to_owned),
            metadata: record.metadata.to_json(),
            client_id: record.client_id.0,
            origin: record.origin,
            status: record.status,
            registration_path: record.registration_path,
            created_at: record.created_at,
            approved_at: record.approved_at,
            introspection_resources: record.introspection_resources,
        }
    }
}

impl From<UserRecord> for UserSummary {
    fn from(record: UserRecord) -> Self {
        Self {
            user_id: record.user_id.0,
            email: record.email,
            created_at: record.created_at,
        }
    }
}

impl From<&SigningKeyRecord> for KeySummary {
    fn from(record: &SigningKeyRecord) -> Self {
        Self {
            kid: record.kid.clone(),
            algorithm: record.algorithm.clone(),
            state: record.state,
            created_at: record.created_at,
        }
    }
}
