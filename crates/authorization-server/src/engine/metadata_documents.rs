//! Clients identified by a metadata document (Client ID Metadata Documents, feature `cimd`):
//! which `client_id`s name one, and the client a document describes, stored (or updated) so
//! the token endpoint and the grants can refer to it.

use std::sync::Arc;

use mcp_oauth_core::{RegistrationGovernance, RegistrationPath, is_client_id_url};

use super::clients::{RegisteredClient, Unresolvable};
use crate::cimd::{CimdError, ClientMetadataFetcher, FetcherConfig};
use crate::clock::Clock;
use crate::config::AuthorizationServerConfig;
use crate::store::{ClientId, ClientOrigin, ClientRecord, ClientStore, RegisteredMetadata};

/// Which `client_id`s name a metadata document, and the fetcher when documents are accepted.
pub(super) struct MetadataDocuments {
    fetcher: Option<ClientMetadataFetcher>,
    allow_private_addresses: bool,
    trusted_local_documents: Vec<String>,
    governance: RegistrationGovernance,
    store: Arc<dyn ClientStore>,
    clock: Clock,
}

impl MetadataDocuments {
    /// Documents fetched as `config` allows, under its registration policy, their clients kept
    /// in `store`. Errors: a fetcher configuration that cannot work.
    pub(super) fn new(
        store: Arc<dyn ClientStore>,
        config: &AuthorizationServerConfig,
        clock: Clock,
    ) -> Result<Self, String> {
        let fetcher = if config.client_id_metadata_documents {
            let fetcher_config = FetcherConfig::default()
                .dangerous_allow_private_addresses(config.cimd_allow_private_addresses)
                .with_trusted_local_documents(config.cimd_trusted_local_documents.iter().cloned())
                .with_registration_policy(config.governance.registration_policy(
                    &super::registration::policy(config),
                    RegistrationPath::MetadataDocument,
                ));
            Some(ClientMetadataFetcher::new(fetcher_config).map_err(|error| error.to_string())?)
        } else {
            None
        };
        Ok(Self {
            fetcher,
            allow_private_addresses: config.cimd_allow_private_addresses,
            trusted_local_documents: config.cimd_trusted_local_documents.clone(),
            governance: config.governance.clone(),
            store,
            clock,
        })
    }

    /// Whether `client_id` names a Client ID Metadata Document: an `https` URL or one of the
    /// exact trusted local documents (`cimd_trusted_local_documents`), which may be `http`; in
    /// tests (`cimd_allow_private_addresses`) any `http` URL, which the fetcher takes only on
    /// loopback.
    pub(super) fn names_document(&self, client_id: &str) -> bool {
        is_client_id_url(client_id)
            || (self.allow_private_addresses && client_id.starts_with("http://"))
            || self
                .trusted_local_documents
                .iter()
                .any(|trusted| trusted == client_id)
    }

    /// The client `client_id` names, given what the store holds of it (`stored`): when
    /// documents are accepted and it names one, the client the document describes (the
    /// document is authoritative; the fetcher caches it per HTTP caching); else `stored`.
    pub(super) async fn resolve(
        &self,
        client_id: &str,
        stored: Option<RegisteredClient>,
    ) -> Result<Option<RegisteredClient>, Unresolvable> {
        let fetcher = match &self.fetcher {
            Some(fetcher) if self.names_document(client_id) => fetcher,
            _ => return Ok(stored),
        };
        let metadata = fetcher.fetch(client_id).await.map_err(|error| {
            tracing::info!(%client_id, %error, "client metadata document refused");
            let message = format!(
                "The application's metadata document at {client_id} cannot be used: {error}."
            );
            match error {
                CimdError::Invalid(_) => Unresolvable::InvalidDocument(message),
                _ => Unresolvable::Refused(message),
            }
        })?;
        let metadata = RegisteredMetadata::Application((*metadata).clone());
        let now = (self.clock)();
        let cannot_store =
            |_| Unresolvable::Refused("The server could not store the application.".to_owned());
        let record = match stored.map(RegisteredClient::into_record) {
            Some(record) if record.metadata == metadata => {
                return Ok(Some(RegisteredClient::from(record)));
            }
            Some(mut record) => {
                record.metadata = metadata;
                record.updated_at = now;
                self.store
                    .update_client(&record)
                    .await
                    .map_err(cannot_store)?;
                record
            }
            None => {
                let path = RegistrationPath::MetadataDocument;
                let record = ClientRecord::new(
                    ClientId(client_id.to_owned()),
                    metadata,
                    ClientOrigin::Dynamic,
                    now,
                )
                .with_registration(path, self.governance.initial_status(path));
                self.store
                    .insert_client(&record)
                    .await
                    .map_err(cannot_store)?;
                record
            }
        };
        Ok(Some(RegisteredClient::from(record)))
    }
}
