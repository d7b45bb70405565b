//! Registered clients as the endpoints see them, and client authentication at the token,
//! revocation and introspection endpoints (RFC 6749 §2.3, RFC 7591 §2
//! `token_endpoint_auth_method`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use mcp_oauth_core::{GrantType, ScopeSet, TokenEndpointAuthMethod, is_client_id_url};

use crate::config::AuthorizationServerConfig;
use crate::oauth_error::OAuthError;
use crate::secrets::ClientSecret;
use crate::server::Inner;
use crate::store::{ClientId, ClientOrigin, ClientRecord, RegisteredMetadata};

/// How a client authenticates at the token endpoint.
pub(crate) type AuthMethod = TokenEndpointAuthMethod;

/// A client record with typed access to its registered metadata.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredClient {
    pub(crate) record: ClientRecord,
}

impl RegisteredClient {
    /// The client id.
    pub(crate) fn id(&self) -> &ClientId {
        &self.record.client_id
    }

    /// The registered `token_endpoint_auth_method` (RFC 7591 default: `client_secret_basic`).
    pub(crate) fn auth_method(&self) -> AuthMethod {
        self.record.metadata.token_endpoint_auth_method()
    }

    /// The registered redirect URIs.
    pub(crate) fn redirect_uris(&self) -> Vec<&str> {
        self.record
            .metadata
            .redirect_uris()
            .iter()
            .map(String::as_str)
            .collect()
    }

    /// Whether the client registered the `refresh_token` grant.
    pub(crate) fn uses_refresh_tokens(&self) -> bool {
        self.record
            .metadata
            .allows_grant_type(GrantType::RefreshToken)
    }

    /// The scopes the client registered, if it limited them.
    pub(crate) fn registered_scope(&self) -> Option<ScopeSet> {
        self.record.metadata.scope().cloned()
    }

    /// The name shown to people: `client_name`, else the client id.
    pub(crate) fn display_name(&self) -> &str {
        self.record
            .metadata
            .client_name()
            .unwrap_or(self.record.client_id.as_str())
    }
}

/// The client a request names: a registered client, or (Client ID Metadata Documents) the
/// client described by the document at an https `client_id`. `Err` explains why it cannot be
/// used, for the person's error page.
pub(crate) async fn resolve_client(
    state: &Inner,
    client_id: &str,
) -> Result<Option<RegisteredClient>, String> {
    let lookup_failed = |_| "The server could not look up the application.".to_owned();
    let stored = find_client(state, client_id).await.map_err(lookup_failed)?;
    let fetcher = match &state.client_metadata {
        Some(fetcher) if is_metadata_document_id(&state.config, client_id) => fetcher,
        _ => return Ok(stored),
    };
    // The document is authoritative (the fetcher caches it per HTTP caching); the stored
    // copy only lets the token endpoint and the grants refer to the client.
    let metadata = fetcher.fetch(client_id).await.map_err(|error| {
        tracing::info!(%client_id, %error, "client metadata document refused");
        format!("The application's metadata document at {client_id} cannot be used: {error}.")
    })?;
    let now = state.now();
    let metadata = RegisteredMetadata::Application((*metadata).clone());
    let record = match stored {
        Some(client) if client.record.metadata == metadata => return Ok(Some(client)),
        Some(client) => {
            let record = ClientRecord {
                metadata,
                updated_at: now,
                ..client.record
            };
            state
                .store
                .update_client(&record)
                .await
                .map_err(|_| "The server could not store the application.".to_owned())?;
            record
        }
        None => {
            let record = ClientRecord::new(
                ClientId(client_id.to_owned()),
                metadata,
                ClientOrigin::Dynamic,
                now,
            );
            state
                .store
                .insert_client(&record)
                .await
                .map_err(|_| "The server could not store the application.".to_owned())?;
            record
        }
    };
    Ok(Some(RegisteredClient { record }))
}

/// Whether `client_id` names a Client ID Metadata Document: an `https` URL or one of the
/// exact trusted local documents (`cimd_trusted_local_documents`), which may be `http`; in
/// tests (`cimd_allow_private_addresses`) any `http` URL, which the fetcher takes only on
/// loopback.
pub(crate) fn is_metadata_document_id(config: &AuthorizationServerConfig, client_id: &str) -> bool {
    is_client_id_url(client_id)
        || (config.cimd_allow_private_addresses && client_id.starts_with("http://"))
        || config
            .cimd_trusted_local_documents
            .iter()
            .any(|trusted| trusted == client_id)
}

/// Finds a registered client.
pub(crate) async fn find_client(
    state: &Inner,
    client_id: &str,
) -> Result<Option<RegisteredClient>, OAuthError> {
    let record = state
        .store
        .get_client(&ClientId(client_id.to_owned()))
        .await?;
    Ok(record.map(|record| RegisteredClient { record }))
}

/// The credentials a request presented.
struct Presented {
    client_id: String,
    secret: Option<String>,
    method: AuthMethod,
}

/// Reads the client credentials of a request: HTTP Basic, or `client_id` (and
/// `client_secret`) in the form. Two methods at once are refused (RFC 6749 §2.3).
fn presented_credentials(
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method",
            ));
        }
        let (id, secret) = basic_credentials(value.to_str().ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
        if form_client_id.is_some_and(|form_id| form_id != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            method: TokenEndpointAuthMethod::ClientSecretBasic,
        });
    }
    let client_id = form_client_id
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required", false))?;
    Ok(Presented {
        client_id: client_id.to_owned(),
        secret: form_secret.map(str::to_owned),
        method: if form_secret.is_some() {
            TokenEndpointAuthMethod::ClientSecretPost
        } else {
            TokenEndpointAuthMethod::None
        },
    })
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: Option<&str>) -> Option<(String, String)> {
    let encoded = value?
        .strip_prefix("Basic ")
        .or_else(|| value?.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// Authenticates the client of a token, revocation or introspection request: the method
/// used must be the one it registered, and a secret must match. Unknown clients get
/// `invalid_client` (401) so MCP clients know to register again.
pub(crate) async fn authenticate_client(
    state: &Inner,
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<RegisteredClient, OAuthError> {
    let presented = presented_credentials(headers, form_client_id, form_secret)?;
    let basic = presented.method == TokenEndpointAuthMethod::ClientSecretBasic;
    let client = find_client(state, &presented.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client", basic))?;
    if client.auth_method() != presented.method {
        return Err(OAuthError::invalid_client(
            "the client must authenticate with its registered token_endpoint_auth_method",
            basic,
        ));
    }
    if presented.method != TokenEndpointAuthMethod::None {
        let valid = match (&client.record.secret_hash, &presented.secret) {
            (Some(stored), Some(secret)) => ClientSecret::from_presented(secret).matches(stored),
            _ => false,
        };
        if !valid {
            return Err(OAuthError::invalid_client(
                "client authentication failed",
                basic,
            ));
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        assert_eq!(
            basic_credentials(Some(&header)),
            Some(("my client".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(basic_credentials(Some("Basic !!!")), None);
        assert_eq!(basic_credentials(Some("Bearer abc")), None);
    }
}
