//! Discovery, the first state of the flow: from the MCP server (and its 401 challenge) to a
//! validated authorization server (MCP "Authorization Server Discovery").
//!
//! 1. Protected Resource Metadata (RFC 9728): the `resource_metadata` URL of the challenge
//!    when present, otherwise the path-inserted then the root well-known URL.
//! 2. Its `resource` must be this MCP server (RFC 9728 §3.3).
//! 3. One of its `authorization_servers` is chosen (RFC 9728 §7.6): the one asked for
//!    (per request, else the configuration's), else the first one this client has
//!    pre-registered credentials for, else the first one whose stored tokens are for this
//!    MCP server (what an earlier run chose), else the first listed.
//! 4. Authorization server metadata from the RFC 8414 and OpenID Connect Discovery URLs in
//!    the specification's order; its `issuer` must be the one looked up (RFC 8414 §3.3).
//! 5. `code_challenge_methods_supported` must list `S256` (MCP "Authorization Code
//!    Protection"), and the endpoints must use https (or http on loopback).

use mcp_oauth_core::{
    AuthorizationServerMetadata, BearerChallenge, CanonicalResource, ProtectedResourceMetadata,
    ScopeSet, authorization_server_metadata_urls, protected_resource_metadata_urls,
};
use serde_json::Value;

use crate::http::{Http, invalid, secure_url};
use crate::{Error, McpOAuthClient};

/// What discovery found: the first state of the flow, consumed by [`Discovery::register`].
#[derive(Debug, Clone)]
pub struct Discovery {
    resource: CanonicalResource,
    resource_metadata_url: String,
    resource_metadata: ProtectedResourceMetadata,
    issuer: String,
    metadata_url: String,
    metadata: AuthorizationServerMetadata,
    challenge: Option<BearerChallenge>,
}

impl Discovery {
    /// Runs discovery for the MCP server at `server_url`, given the `Bearer` challenge of its
    /// 401 answer if there was one.
    pub async fn run(
        client: &McpOAuthClient,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
    ) -> Result<Self, Error> {
        Self::run_with(client, server_url, challenge, None).await
    }

    /// Like [`Discovery::run`], using the authorization server `chosen` (an issuer the MCP
    /// server must list) when given, instead of the configuration's choice.
    pub async fn run_with(
        client: &McpOAuthClient,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
        chosen: Option<&str>,
    ) -> Result<Self, Error> {
        let server = canonical_server(server_url)?;
        let http = client.http();
        let (resource_metadata_url, resource_metadata) =
            protected_resource_metadata(http, &server, challenge).await?;
        let resource = described_resource(&server, &resource_metadata_url, &resource_metadata)?;
        let chosen = chosen.or(client.config().authorization_server.as_deref());
        let issuer =
            choose_authorization_server(client, &resource_metadata, &resource, chosen).await?;
        let (metadata_url, metadata) = authorization_server_metadata(http, &issuer).await?;
        check_authorization_server(&issuer, &metadata)?;
        tracing::debug!(%resource, %issuer, %metadata_url, "discovered the authorization server");
        Ok(Self {
            resource,
            resource_metadata_url,
            resource_metadata,
            issuer,
            metadata_url,
            metadata,
            challenge: challenge.cloned(),
        })
    }

    /// The MCP server's canonical URI: the `resource` of authorization and token requests
    /// (RFC 8707 §2, MCP "Canonical Server URI"). It is the server URL, or its origin when
    /// the metadata at the root well-known URL describes the origin.
    pub fn resource(&self) -> &CanonicalResource {
        &self.resource
    }

    /// The authorization servers the MCP server lists that this client can use (https, or
    /// http on loopback), in its order: more than one means a person may choose.
    pub fn offered_authorization_servers(&self) -> Vec<&str> {
        usable_authorization_servers(&self.resource_metadata)
    }

    /// Where the Protected Resource Metadata was read.
    pub fn resource_metadata_url(&self) -> &str {
        &self.resource_metadata_url
    }

    /// The Protected Resource Metadata (RFC 9728 §2).
    pub fn resource_metadata(&self) -> &ProtectedResourceMetadata {
        &self.resource_metadata
    }

    /// The chosen authorization server's issuer identifier, as validated.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the authorization server metadata was read.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The authorization server metadata (RFC 8414 §2).
    pub fn authorization_server(&self) -> &AuthorizationServerMetadata {
        &self.metadata
    }

    /// The challenge discovery started from.
    pub fn challenge(&self) -> Option<&BearerChallenge> {
        self.challenge.as_ref()
    }

    /// Whether the server promises `iss` in authorization responses (RFC 9207 §2.3).
    pub fn iss_parameter_supported(&self) -> bool {
        flag(
            &self.metadata,
            "authorization_response_iss_parameter_supported",
        )
    }

    /// Whether the server accepts Client ID Metadata Documents.
    pub fn client_id_metadata_document_supported(&self) -> bool {
        flag(&self.metadata, "client_id_metadata_document_supported")
    }

    /// The scopes of the first authorization request (MCP "Scope Selection Strategy"): the
    /// challenge's `scope` if given, else the resource's `scopes_supported`, else none (the
    /// `scope` parameter is then omitted).
    pub fn initial_scopes(&self) -> Option<ScopeSet> {
        if let Some(scope) = self.challenge.as_ref().and_then(|c| c.scope.as_deref()) {
            let scopes = ScopeSet::parse(scope);
            if !scopes.is_empty() {
                return Some(scopes);
            }
        }
        let supported: ScopeSet = self
            .resource_metadata
            .scopes_supported
            .iter()
            .map(String::as_str)
            .collect();
        (!supported.is_empty()).then_some(supported)
    }
}

fn flag(metadata: &AuthorizationServerMetadata, member: &str) -> bool {
    metadata.other.get(member).and_then(Value::as_bool) == Some(true)
}

/// The MCP server URL as a resource identifier, which must itself be https or loopback http.
pub(crate) fn canonical_server(server_url: &str) -> Result<CanonicalResource, Error> {
    let resource =
        CanonicalResource::parse(server_url).map_err(|error| Error::InvalidServerUrl {
            url: server_url.to_owned(),
            reason: error.to_string(),
        })?;
    secure_url(resource.as_str())?;
    Ok(resource)
}

/// The resource the Protected Resource Metadata describes, which must be the MCP server
/// (RFC 9728 §3.3: the `resource` is the identifier the well-known URL was built from). The
/// document at the root well-known URL is built from the server's origin, so there the
/// origin is accepted too (MCP "Protected Resource Metadata Discovery Requirements": the
/// root is the fallback) and becomes the canonical URI. Anything else is refused.
fn described_resource(
    server: &CanonicalResource,
    metadata_url: &str,
    document: &ProtectedResourceMetadata,
) -> Result<CanonicalResource, Error> {
    if server.matches(&document.resource) {
        return Ok(server.clone());
    }
    let root_url = protected_resource_metadata_urls(server).pop();
    let same_url = |a: &str, b: &str| {
        url::Url::parse(a)
            .ok()
            .is_some_and(|a| url::Url::parse(b).ok() == Some(a))
    };
    if let (Some(root_url), Ok(origin)) = (root_url, CanonicalResource::parse(&server.origin()))
        && same_url(&root_url, metadata_url)
        && origin.matches(&document.resource)
    {
        return Ok(origin);
    }
    Err(Error::ResourceMismatch {
        expected: server.to_string(),
        found: document.resource.clone(),
    })
}

async fn protected_resource_metadata(
    http: &Http,
    resource: &CanonicalResource,
    challenge: Option<&BearerChallenge>,
) -> Result<(String, ProtectedResourceMetadata), Error> {
    let candidates = match challenge.and_then(|c| c.resource_metadata.as_deref()) {
        Some(url) => {
            secure_url(url)?;
            vec![url.to_owned()]
        }
        None => protected_resource_metadata_urls(resource),
    };
    let mut tried = Vec::new();
    for url in candidates {
        match http.get(&url).await {
            Ok(answer) if answer.is_success() => {
                let document: ProtectedResourceMetadata = serde_json::from_slice(&answer.body)
                    .map_err(|error| invalid(&url, &error.to_string()))?;
                return Ok((url, document));
            }
            Ok(answer) => tried.push(format!("{url} (HTTP {})", answer.status)),
            Err(error) => tried.push(format!("{url} ({error})")),
        }
    }
    Err(Error::ProtectedResourceMetadataNotFound { tried })
}

/// The listed authorization servers this client can use.
fn usable_authorization_servers(document: &ProtectedResourceMetadata) -> Vec<&str> {
    document
        .authorization_servers
        .iter()
        .filter(|issuer| secure_url(issuer).is_ok())
        .map(String::as_str)
        .collect()
}

/// The authorization server to use for `resource` (see the module's step 3).
async fn choose_authorization_server(
    client: &McpOAuthClient,
    document: &ProtectedResourceMetadata,
    resource: &CanonicalResource,
    chosen: Option<&str>,
) -> Result<String, Error> {
    let usable = usable_authorization_servers(document);
    if let Some(chosen) = chosen {
        return if usable.contains(&chosen) {
            Ok(chosen.to_owned())
        } else {
            Err(Error::AuthorizationServerNotListed {
                wanted: chosen.to_owned(),
                offered: usable.iter().map(|issuer| (*issuer).to_owned()).collect(),
            })
        };
    }
    let pre_registered = usable.iter().find(|issuer| {
        client
            .config()
            .pre_registered
            .iter()
            .any(|pre| pre.issuer == **issuer)
    });
    if let Some(issuer) = pre_registered {
        return Ok((*issuer).to_owned());
    }
    if usable.len() > 1 {
        tracing::info!(
            listed = %usable.join(", "),
            "the MCP server lists several authorization servers; the first with this client's \
             tokens for it is used, else the first listed"
        );
        for issuer in &usable {
            // A store that cannot be read remembers nothing; the sign-in still works.
            let holds_tokens = client
                .store()
                .load(issuer)
                .await
                .is_ok_and(|stored| stored.tokens.contains_key(resource.as_str()));
            if holds_tokens {
                return Ok((*issuer).to_owned());
            }
        }
    }
    usable
        .first()
        .map(|issuer| (*issuer).to_owned())
        .ok_or(Error::NoAuthorizationServer)
}

async fn authorization_server_metadata(
    http: &Http,
    issuer: &str,
) -> Result<(String, AuthorizationServerMetadata), Error> {
    let issuer_url = secure_url(issuer)?;
    let mut tried = Vec::new();
    for url in authorization_server_metadata_urls(&issuer_url) {
        match http.get(&url).await {
            Ok(answer) if answer.is_success() => {
                let document: AuthorizationServerMetadata = serde_json::from_slice(&answer.body)
                    .map_err(|error| invalid(&url, &error.to_string()))?;
                // RFC 8414 §3.3: identical, compared as strings; otherwise not used at all.
                if document.issuer != issuer {
                    return Err(Error::IssuerMismatch {
                        expected: issuer.to_owned(),
                        found: document.issuer,
                        url,
                    });
                }
                return Ok((url, document));
            }
            Ok(answer) => tried.push(format!("{url} (HTTP {})", answer.status)),
            Err(error) => tried.push(format!("{url} ({error})")),
        }
    }
    Err(Error::AuthorizationServerMetadataNotFound {
        issuer: issuer.to_owned(),
        tried,
    })
}

fn check_authorization_server(
    issuer: &str,
    metadata: &AuthorizationServerMetadata,
) -> Result<(), Error> {
    if !metadata
        .code_challenge_methods_supported
        .iter()
        .any(|method| method == "S256")
    {
        return Err(Error::PkceS256Unsupported {
            issuer: issuer.to_owned(),
        });
    }
    let missing = |member| Error::MetadataIncomplete {
        issuer: issuer.to_owned(),
        member,
    };
    let authorization = metadata
        .authorization_endpoint
        .as_deref()
        .ok_or_else(|| missing("authorization_endpoint"))?;
    let token = metadata
        .token_endpoint
        .as_deref()
        .ok_or_else(|| missing("token_endpoint"))?;
    secure_url(authorization)?;
    secure_url(token)?;
    Ok(())
}
