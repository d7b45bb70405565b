//! Clients: [`ClientStore`] and its records.

use async_trait::async_trait;
use mcp_oauth_core::{
    CanonicalResource, CertificateIdentity, ClientMetadata, ClientStatus, GrantType,
    RegistrationPath, ScopeSet, TokenEndpointAuthMethod, ValidatedClientMetadata,
};
use serde_json::{Value, json};

use super::{ClientId, SecretHash, StoreResult, UnixTime};

/// Registered clients (RFC 6749 §2, RFC 7591). Deleting one takes everything it was granted;
/// so does suspending it, or leaving it pending (registration governance, issue 16).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Adds a client; `Conflict("client")` if the id exists.
    async fn insert_client(&self, client: &ClientRecord) -> StoreResult<()>;
    /// The client with `client_id`.
    async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRecord>>;
    /// Replaces a client's metadata, secret hash, registration token hash and `updated_at`;
    /// `false` if there is no such client. The id, origin, `created_at`, the introspection
    /// permission and the operator's decisions (status, registration path, `approved_at`) stay.
    async fn update_client(&self, client: &ClientRecord) -> StoreResult<bool>;
    /// Deletes a client with its consents, grants, codes and tokens; `false` if there was none.
    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool>;
    /// All clients, oldest first (admin listing).
    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>>;
    /// Sets the status of the client `client_id` at `now`; `false` if there is no such client.
    /// [`ClientStatus::Active`] records `approved_at = now` (the operator approved it); any
    /// other status revokes every grant of the client (its codes, refresh and access tokens)
    /// in the same transaction.
    async fn set_client_status(
        &self,
        client_id: &ClientId,
        status: ClientStatus,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// How many clients have `status`.
    async fn count_clients_with_status(&self, status: ClientStatus) -> StoreResult<u64>;
    /// The clients with `status`, oldest first.
    async fn list_clients_with_status(
        &self,
        status: ClientStatus,
    ) -> StoreResult<Vec<ClientRecord>>;
    /// Deletes the pending clients registered before `before`, with everything they were
    /// granted; how many went.
    async fn delete_pending_clients_before(&self, before: UnixTime) -> StoreResult<u64>;
}

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: ClientId,
    /// SHA-256 of the client secret, for confidential clients.
    pub secret_hash: Option<SecretHash>,
    /// The registered client metadata (RFC 7591 §2), as validated.
    pub metadata: RegisteredMetadata,
    /// SHA-256 of the registration access token (RFC 7592), for dynamically registered clients.
    pub registration_token_hash: Option<SecretHash>,
    /// How the client came to be.
    pub origin: ClientOrigin,
    /// The resources whose access tokens this client may introspect: it is their resource
    /// server (RFC 7662 §4). Empty for every client the operator did not allow; never set
    /// through registration.
    pub introspection_resources: Vec<CanonicalResource>,
    /// Where it stands with the operator: active, waiting for approval, or suspended.
    pub status: ClientStatus,
    /// How it came to be registered (which scope ceiling applies to it).
    pub registration_path: RegistrationPath,
    /// When an operator last approved it (`admin clients approve`); from then on the
    /// `approved` scope ceiling applies.
    pub approved_at: Option<UnixTime>,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it was last changed.
    pub updated_at: UnixTime,
}

impl ClientRecord {
    /// A client registered at `now` with `metadata`: no secret, no registration access token,
    /// no introspection, active, its registration path `static` for a static client and
    /// `open` for a dynamic one (change them with the `with_…` setters).
    pub fn new(
        client_id: ClientId,
        metadata: RegisteredMetadata,
        origin: ClientOrigin,
        now: UnixTime,
    ) -> Self {
        Self {
            client_id,
            secret_hash: None,
            metadata,
            registration_token_hash: None,
            origin,
            introspection_resources: Vec::new(),
            status: ClientStatus::Active,
            registration_path: match origin {
                ClientOrigin::Static => RegistrationPath::Static,
                ClientOrigin::Dynamic => RegistrationPath::Open,
            },
            approved_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Sets the hash of the client secret (a confidential client).
    pub fn with_secret_hash(mut self, hash: Option<SecretHash>) -> Self {
        self.secret_hash = hash;
        self
    }

    /// Sets the hash of the registration access token (RFC 7592).
    pub fn with_registration_token_hash(mut self, hash: Option<SecretHash>) -> Self {
        self.registration_token_hash = hash;
        self
    }

    /// Sets how the client registered and the status it starts with.
    pub fn with_registration(mut self, path: RegistrationPath, status: ClientStatus) -> Self {
        self.registration_path = path;
        self.status = status;
        self
    }

    /// Lets the client introspect the access tokens of `resources` (RFC 7662 §4).
    pub fn with_introspection_resources(
        mut self,
        resources: impl IntoIterator<Item = CanonicalResource>,
    ) -> Self {
        self.introspection_resources = resources.into_iter().collect();
        self
    }
}

/// How a client came to be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Added by configuration or an admin command.
    Static,
    /// Registered through RFC 7591 Dynamic Client Registration, or by its metadata document.
    Dynamic,
}

/// What a client registered (RFC 7591 §2), validated when it was registered and again when it
/// is read back, so nobody parses metadata after the store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // nearly every client is an application: boxing buys nothing
pub enum RegisteredMetadata {
    /// A client people sign in to: the metadata of a registration.
    Application(ValidatedClientMetadata),
    /// A client that only introspects the tokens of its resources (RFC 7662 §2.1, a resource
    /// server): no redirect URI, no grant.
    Introspector {
        /// The name of the client.
        client_name: String,
        /// How it authenticates (RFC 7591 §2).
        token_endpoint_auth_method: TokenEndpointAuthMethod,
    },
}

impl RegisteredMetadata {
    /// The registered redirect URIs (none for an introspector).
    pub fn redirect_uris(&self) -> &[String] {
        match self {
            Self::Application(metadata) => metadata.redirect_uris(),
            Self::Introspector { .. } => &[],
        }
    }

    /// The registered `token_endpoint_auth_method` (RFC 7591 §2).
    pub fn token_endpoint_auth_method(&self) -> TokenEndpointAuthMethod {
        match self {
            Self::Application(metadata) => metadata.token_endpoint_auth_method(),
            Self::Introspector {
                token_endpoint_auth_method,
                ..
            } => *token_endpoint_auth_method,
        }
    }

    /// Whether the client registered `grant_type`.
    pub fn allows_grant_type(&self, grant_type: GrantType) -> bool {
        match self {
            Self::Application(metadata) => metadata.allows_grant_type(grant_type),
            Self::Introspector { .. } => false,
        }
    }

    /// The scopes the client registered, if it limited them.
    pub fn scope(&self) -> Option<&ScopeSet> {
        match self {
            Self::Application(metadata) => metadata.scope(),
            Self::Introspector { .. } => None,
        }
    }

    /// Whether the client asked for certificate-bound access tokens (RFC 8705 §3.4; never an
    /// introspector).
    pub fn certificate_bound_access_tokens(&self) -> bool {
        match self {
            Self::Application(metadata) => metadata.certificate_bound_access_tokens(),
            Self::Introspector { .. } => false,
        }
    }

    /// The certificate a mutual-TLS client authenticates with (RFC 8705 §2; never an
    /// introspector, which cannot register one).
    pub fn certificate_identity(&self) -> Option<&CertificateIdentity> {
        match self {
            Self::Application(metadata) => metadata.certificate_identity(),
            Self::Introspector { .. } => None,
        }
    }

    /// `client_name`.
    pub fn client_name(&self) -> Option<&str> {
        match self {
            Self::Application(metadata) => metadata.client_name(),
            Self::Introspector { client_name, .. } => Some(client_name),
        }
    }

    /// The metadata as a JSON object: how it is stored, and what registration responses echo
    /// (RFC 7591 §3.2.1).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Application(metadata) => metadata.to_json(),
            Self::Introspector {
                client_name,
                token_endpoint_auth_method,
            } => json!({
                "client_name": client_name,
                "redirect_uris": [],
                "grant_types": [],
                "response_types": [],
                "token_endpoint_auth_method": token_endpoint_auth_method.as_str(),
            }),
        }
    }

    /// Reads back what [`RegisteredMetadata::to_json`] stored, validating it again (without the
    /// size limits or scope policy of a registration, as [`ValidatedClientMetadata`] reads).
    pub fn from_json(value: Value) -> Result<Self, String> {
        let metadata =
            ClientMetadata::from_value(value.clone()).map_err(|error| error.to_string())?;
        let no_grant = metadata
            .grant_types
            .as_ref()
            .is_some_and(|grants| grants.is_empty());
        if metadata.redirect_uris.is_empty() && no_grant {
            let method = metadata
                .token_endpoint_auth_method
                .as_deref()
                .map_or(Some(TokenEndpointAuthMethod::ClientSecretBasic), |method| {
                    TokenEndpointAuthMethod::parse(method)
                })
                .ok_or("an unknown token_endpoint_auth_method")?;
            return Ok(Self::Introspector {
                client_name: metadata.client_name.unwrap_or_default(),
                token_endpoint_auth_method: method,
            });
        }
        serde_json::from_value(value)
            .map(Self::Application)
            .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use mcp_oauth_core::RegistrationPolicy;

    use super::*;

    #[test]
    fn registered_metadata_reads_back_what_it_stored() {
        let application = RegisteredMetadata::Application(
            ClientMetadata::new(["https://app.example/callback"])
                .validate(&RegistrationPolicy::default())
                .unwrap(),
        );
        let introspector = RegisteredMetadata::Introspector {
            client_name: "MCP server".to_owned(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        };
        for metadata in [application, introspector] {
            let again = RegisteredMetadata::from_json(metadata.to_json()).unwrap();
            assert_eq!(again, metadata);
        }
    }

    #[test]
    fn metadata_that_no_registration_would_accept_is_refused() {
        for value in [
            json!("not an object"),
            json!({"redirect_uris": ["not a uri"]}),
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            json!({"redirect_uris": [], "grant_types": [], "token_endpoint_auth_method": "x"}),
        ] {
            assert!(
                RegisteredMetadata::from_json(value.clone()).is_err(),
                "{value}"
            );
        }
    }
}
