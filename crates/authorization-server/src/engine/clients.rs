//! The clients the engine serves: registered clients (RFC 6749 §2, RFC 7591) and clients
//! identified by a metadata document (CIMD, feature `cimd`: `metadata_documents`), looked up
//! by [`Clients`], and seen through [`RegisteredClient`]. Without `cimd` a `client_id` URL is
//! one more unregistered client id, as with `client_id_metadata_documents` off.

use std::sync::Arc;

use mcp_oauth_core::{
    CanonicalResource, ClientStatus, GrantType, ScopeCeilings, ScopeSet, TokenEndpointAuthMethod,
};

use super::certificate_auth::CertificateAuthenticator;
use super::client_auth::ClientCredentials;
use super::fault::Fault;
#[cfg(feature = "cimd")]
use super::metadata_documents::MetadataDocuments;
use crate::clock::Clock;
use crate::config::AuthorizationServerConfig;
use crate::store::{ClientId, ClientRecord, ClientStore};

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

    /// Whether the client registered `tls_client_certificate_bound_access_tokens` (RFC 8705
    /// §3.4).
    pub(crate) fn binds_tokens_to_certificate(&self) -> bool {
        self.record.metadata.certificate_bound_access_tokens()
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

    /// Where the client stands with the operator.
    pub(crate) fn status(&self) -> ClientStatus {
        self.record.status
    }

    /// The certificate a mutual-TLS client authenticates with (RFC 8705 §2).
    fn certificate_identity(&self) -> Option<&mcp_oauth_core::CertificateIdentity> {
        self.record.metadata.certificate_identity()
    }

    /// The resources whose access tokens the client may introspect (RFC 7662 §4).
    pub(crate) fn introspection_resources(&self) -> &[CanonicalResource] {
        &self.record.introspection_resources
    }

    /// The record itself, to update it.
    #[cfg(feature = "cimd")]
    pub(super) fn into_record(self) -> ClientRecord {
        self.record
    }
}

impl From<ClientRecord> for RegisteredClient {
    fn from(record: ClientRecord) -> Self {
        Self { record }
    }
}

/// Why the client of an authorization request cannot be used, for the person's page.
#[derive(Debug)]
pub(crate) enum Unresolvable {
    /// It cannot be used at all: the message says why.
    Refused(String),
    /// Its metadata document breaks the registration rules (a redirect URI outside the
    /// trusted hosts, say): the message says which. Only metadata documents (`cimd`) have one.
    #[cfg_attr(not(feature = "cimd"), allow(dead_code))]
    InvalidDocument(String),
    /// It is registered but not active: it waits for the operator's approval (or was
    /// suspended). `name` is the name people see.
    AwaitingApproval {
        /// The client's name (or id).
        name: String,
    },
}

/// The client directory: a sub-state of every endpoint that looks clients up or authenticates
/// them.
#[derive(Clone)]
pub(crate) struct Clients {
    store: Arc<dyn ClientStore>,
    ceilings: Arc<ScopeCeilings>,
    certificates: CertificateAuthenticator,
    clock: Clock,
    #[cfg(feature = "cimd")]
    documents: Arc<MetadataDocuments>,
}

impl Clients {
    /// The clients of `store`; metadata documents are fetched as `config` allows, under its
    /// registration policy, at `clock`; mutual-TLS clients' certificates are checked against
    /// the CAs it trusts. Errors: a fetcher configuration or a CA that cannot work.
    pub(crate) fn new(
        store: Arc<dyn ClientStore>,
        config: &AuthorizationServerConfig,
        clock: Clock,
    ) -> Result<Self, String> {
        Ok(Self {
            #[cfg(feature = "cimd")]
            documents: Arc::new(MetadataDocuments::new(
                store.clone(),
                config,
                clock.clone(),
            )?),
            store,
            ceilings: Arc::new(config.governance.ceilings.clone()),
            certificates: CertificateAuthenticator::new(&config.client_certificate_authorities)?,
            clock,
        })
    }

    /// Checks client certificates (mutual-TLS registration and authentication).
    pub(crate) fn certificates(&self) -> &CertificateAuthenticator {
        &self.certificates
    }

    /// The most scope `client` may get now (registration governance): its registration
    /// path's ceiling, or the `approved` one once an operator approved it; `None` for no
    /// ceiling (static clients).
    pub(crate) fn ceiling_of(&self, client: &RegisteredClient) -> Option<&ScopeSet> {
        let record = &client.record;
        self.ceilings
            .ceiling(record.registration_path, record.approved_at.is_some())
    }

    /// The registered client `client_id`.
    pub(crate) async fn find(&self, client_id: &str) -> Result<Option<RegisteredClient>, Fault> {
        let record = self
            .store
            .get_client(&ClientId(client_id.to_owned()))
            .await?;
        Ok(record.map(RegisteredClient::from))
    }

    /// Whether `client_id` names a Client ID Metadata Document (see `metadata_documents`).
    #[cfg(feature = "cimd")]
    pub(crate) fn is_metadata_document_id(&self, client_id: &str) -> bool {
        self.documents.names_document(client_id)
    }

    /// Never without the `cimd` feature.
    #[cfg(not(feature = "cimd"))]
    pub(crate) fn is_metadata_document_id(&self, _: &str) -> bool {
        false
    }

    /// The client an authorization request names: a registered client, or (Client ID Metadata
    /// Documents) the client described by the document at its `client_id` URL, stored (or
    /// updated) so the token endpoint and the grants can refer to it.
    pub(crate) async fn resolve(
        &self,
        client_id: &str,
    ) -> Result<Option<RegisteredClient>, Unresolvable> {
        let stored = self.find(client_id).await.map_err(|_| {
            Unresolvable::Refused("The server could not look up the application.".to_owned())
        })?;
        #[cfg(feature = "cimd")]
        let stored = self.documents.resolve(client_id, stored).await?;
        match stored {
            Some(client) if client.status() != ClientStatus::Active => {
                Err(Unresolvable::AwaitingApproval {
                    name: client.display_name().to_owned(),
                })
            }
            other => Ok(other),
        }
    }

    /// Authenticates the client of a token, revocation or introspection request (RFC 6749
    /// §2.3): the method it used must be the one it registered, and a secret must match, or
    /// (mutual TLS, RFC 8705 §2) the connection's certificate must be one it registered.
    /// Unknown clients get `invalid_client` (401) so MCP clients know to register again; so do
    /// clients that wait for approval or were suspended (after their credentials were checked,
    /// so the answer tells a stranger nothing).
    pub(crate) async fn authenticate(
        &self,
        credentials: ClientCredentials,
    ) -> Result<RegisteredClient, Fault> {
        let basic = credentials.method == TokenEndpointAuthMethod::ClientSecretBasic;
        let client = self
            .find(&credentials.client_id)
            .await?
            .ok_or_else(|| Fault::invalid_client("unknown client", basic))?;
        // A mutual-TLS client presents no secret: its certificate is its credential.
        let registered = client.auth_method();
        let expected = if registered.uses_certificate() {
            TokenEndpointAuthMethod::None
        } else {
            registered
        };
        if credentials.method != expected {
            return Err(Fault::invalid_client(
                "the client must authenticate with its registered token_endpoint_auth_method",
                basic,
            ));
        }
        if registered.uses_certificate() {
            let identity = client.certificate_identity().ok_or_else(|| {
                Fault::invalid_client("the client registered no certificate", false)
            })?;
            let certificate = credentials.certificate.as_ref().ok_or_else(|| {
                Fault::invalid_client(
                    "this client authenticates with its TLS client certificate, and none was presented",
                    false,
                )
            })?;
            self.certificates
                .check(identity, certificate, (self.clock)())
                .map_err(|reason| Fault::invalid_client(reason, false))?;
        } else if credentials.method != TokenEndpointAuthMethod::None {
            let valid = match (&client.record.secret_hash, &credentials.secret) {
                (Some(stored), Some(secret)) => secret.matches(stored),
                _ => false,
            };
            if !valid {
                return Err(Fault::invalid_client("client authentication failed", basic));
            }
        }
        match client.status() {
            ClientStatus::Active => Ok(client),
            ClientStatus::Pending => Err(Fault::invalid_client(
                "the client is waiting for approval by the operator",
                basic,
            )),
            _ => Err(Fault::invalid_client(
                "the client was suspended by the operator",
                basic,
            )),
        }
    }
}
