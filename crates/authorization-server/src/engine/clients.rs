//! The clients the engine serves: registered clients (RFC 6749 §2, RFC 7591) and clients
//! identified by a metadata document (CIMD), looked up by [`Clients`], and seen through
//! [`RegisteredClient`].

use std::sync::Arc;

use mcp_oauth_core::{
    CanonicalResource, GrantType, ScopeSet, TokenEndpointAuthMethod, is_client_id_url,
};

use super::client_auth::ClientCredentials;
use super::fault::Fault;
use crate::cimd::{ClientMetadataFetcher, FetcherConfig};
use crate::clock::Clock;
use crate::config::AuthorizationServerConfig;
use crate::store::{ClientId, ClientOrigin, ClientRecord, ClientStore, RegisteredMetadata};

/// A client record, with typed access to what it registered.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredClient {
    record: ClientRecord,
}

impl RegisteredClient {
    /// The client id.
    pub(crate) fn id(&self) -> &ClientId {
        &self.record.client_id
    }

    /// The registered `token_endpoint_auth_method` (RFC 7591 §2).
    pub(crate) fn auth_method(&self) -> TokenEndpointAuthMethod {
        self.record.metadata.token_endpoint_auth_method()
    }

    /// The registered redirect URIs.
    pub(crate) fn redirect_uris(&self) -> &[String] {
        self.record.metadata.redirect_uris()
    }

    /// Whether the client registered the `refresh_token` grant.
    pub(crate) fn uses_refresh_tokens(&self) -> bool {
        self.record
            .metadata
            .allows_grant_type(GrantType::RefreshToken)
    }

    /// The scopes the client registered, if it limited them.
    pub(crate) fn registered_scope(&self) -> Option<&ScopeSet> {
        self.record.metadata.scope()
    }

    /// The name shown to people: `client_name`, else the client id.
    pub(crate) fn display_name(&self) -> &str {
        self.record
            .metadata
            .client_name()
            .unwrap_or(self.record.client_id.as_str())
    }

    /// The resources whose access tokens the client may introspect (RFC 7662 §4).
    pub(crate) fn introspection_resources(&self) -> &[CanonicalResource] {
        &self.record.introspection_resources
    }
}

impl From<ClientRecord> for RegisteredClient {
    fn from(record: ClientRecord) -> Self {
        Self { record }
    }
}

/// Which `client_id`s name a metadata document, and the fetcher when documents are accepted.
struct MetadataDocuments {
    fetcher: Option<ClientMetadataFetcher>,
    allow_private_addresses: bool,
    trusted_local_documents: Vec<String>,
}

/// Why the client of an authorization request cannot be used, for the person's error page.
#[derive(Debug)]
pub(crate) struct Unresolvable(pub(crate) String);

/// The client directory: a sub-state of every endpoint that looks clients up or authenticates
/// them.
#[derive(Clone)]
pub(crate) struct Clients {
    store: Arc<dyn ClientStore>,
    documents: Arc<MetadataDocuments>,
    clock: Clock,
}

impl Clients {
    /// The clients of `store`; metadata documents are fetched as `config` allows, under its
    /// registration policy. Errors: a fetcher configuration that cannot work.
    pub(crate) fn new(
        store: Arc<dyn ClientStore>,
        config: &AuthorizationServerConfig,
        clock: Clock,
    ) -> Result<Self, String> {
        let fetcher = if config.client_id_metadata_documents {
            let fetcher_config = FetcherConfig::default()
                .dangerous_allow_private_addresses(config.cimd_allow_private_addresses)
                .with_trusted_local_documents(config.cimd_trusted_local_documents.iter().cloned())
                .with_registration_policy(super::registration::policy(config));
            Some(ClientMetadataFetcher::new(fetcher_config).map_err(|error| error.to_string())?)
        } else {
            None
        };
        Ok(Self {
            store,
            documents: Arc::new(MetadataDocuments {
                fetcher,
                allow_private_addresses: config.cimd_allow_private_addresses,
                trusted_local_documents: config.cimd_trusted_local_documents.clone(),
            }),
            clock,
        })
    }

    /// The registered client `client_id`.
    pub(crate) async fn find(&self, client_id: &str) -> Result<Option<RegisteredClient>, Fault> {
        let record = self
            .store
            .get_client(&ClientId(client_id.to_owned()))
            .await?;
        Ok(record.map(RegisteredClient::from))
    }

    /// Whether `client_id` names a Client ID Metadata Document: an `https` URL or one of the
    /// exact trusted local documents (`cimd_trusted_local_documents`), which may be `http`; in
    /// tests (`cimd_allow_private_addresses`) any `http` URL, which the fetcher takes only on
    /// loopback.
    pub(crate) fn is_metadata_document_id(&self, client_id: &str) -> bool {
        let documents = &self.documents;
        is_client_id_url(client_id)
            || (documents.allow_private_addresses && client_id.starts_with("http://"))
            || documents
                .trusted_local_documents
                .iter()
                .any(|trusted| trusted == client_id)
    }

    /// The client an authorization request names: a registered client, or (Client ID Metadata
    /// Documents) the client described by the document at its `client_id` URL, stored (or
    /// updated) so the token endpoint and the grants can refer to it.
    pub(crate) async fn resolve(
        &self,
        client_id: &str,
    ) -> Result<Option<RegisteredClient>, Unresolvable> {
        let stored = self.find(client_id).await.map_err(|_| {
            Unresolvable("The server could not look up the application.".to_owned())
        })?;
        let fetcher = match &self.documents.fetcher {
            Some(fetcher) if self.is_metadata_document_id(client_id) => fetcher,
            _ => return Ok(stored),
        };
        // The document is authoritative (the fetcher caches it per HTTP caching).
        let metadata = fetcher.fetch(client_id).await.map_err(|error| {
            tracing::info!(%client_id, %error, "client metadata document refused");
            Unresolvable(format!(
                "The application's metadata document at {client_id} cannot be used: {error}."
            ))
        })?;
        let metadata = RegisteredMetadata::Application((*metadata).clone());
        let now = (self.clock)();
        let cannot_store =
            |_| Unresolvable("The server could not store the application.".to_owned());
        let record = match stored {
            Some(client) if client.record.metadata == metadata => return Ok(Some(client)),
            Some(client) => {
                let mut record = client.record;
                record.metadata = metadata;
                record.updated_at = now;
                self.store
                    .update_client(&record)
                    .await
                    .map_err(cannot_store)?;
                record
            }
            None => {
                let record = ClientRecord::new(
                    ClientId(client_id.to_owned()),
                    metadata,
                    ClientOrigin::Dynamic,
                    now,
                );
                self.store
                    .insert_client(&record)
                    .await
                    .map_err(cannot_store)?;
                record
            }
        };
        Ok(Some(RegisteredClient::from(record)))
    }

    /// Authenticates the client of a token, revocation or introspection request (RFC 6749
    /// §2.3): the method it used must be the one it registered, and a secret must match.
    /// Unknown clients get `invalid_client` (401) so MCP clients know to register again.
    pub(crate) async fn authenticate(
        &self,
        credentials: ClientCredentials,
    ) -> Result<RegisteredClient, Fault> {
        let basic = credentials.method == TokenEndpointAuthMethod::ClientSecretBasic;
        let client = self
            .find(&credentials.client_id)
            .await?
            .ok_or_else(|| Fault::invalid_client("unknown client", basic))?;
        if client.auth_method() != credentials.method {
            return Err(Fault::invalid_client(
                "the client must authenticate with its registered token_endpoint_auth_method",
                basic,
            ));
        }
        if credentials.method != TokenEndpointAuthMethod::None {
            let valid = match (&client.record.secret_hash, &credentials.secret) {
                (Some(stored), Some(secret)) => secret.matches(stored),
                _ => false,
            };
            if !valid {
                return Err(Fault::invalid_client("client authentication failed", basic));
            }
        }
        Ok(client)
    }
}
