//! Authorization Server Metadata (RFC 8414 §3), the same document at the OpenID Connect
//! Discovery URL (OIDC Discovery §4), and the JWKS (RFC 7517 §5).

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, header};
use mcp_oauth_core::TokenEndpointAuthMethod;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::AuthorizationServerConfig;
use crate::keys::SigningKeys;

/// What the discovery routes serve: a sub-state.
#[derive(Clone)]
pub(crate) struct Discovery {
    document: Arc<Value>,
    keys: SigningKeys,
}

impl Discovery {
    /// The metadata of `config`, and the keys it publishes.
    pub(crate) fn new(config: &AuthorizationServerConfig, keys: SigningKeys) -> Self {
        Self {
            document: Arc::new(document(config)),
            keys,
        }
    }
}

/// The discovery routes, cached by clients for five minutes.
pub(super) fn routes<S>() -> Router<S>
where
    Discovery: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/jwks.json", get(jwks))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
}

/// The metadata document: every endpoint and capability, truthfully.
fn document(config: &AuthorizationServerConfig) -> Value {
    let methods = config.client_auth_methods();
    let names = |methods: &[TokenEndpointAuthMethod]| -> Vec<&'static str> {
        methods.iter().map(|method| method.as_str()).collect()
    };
    // Introspection is for confidential clients (RFC 7662 §2.1).
    let confidential: Vec<TokenEndpointAuthMethod> = methods
        .iter()
        .copied()
        .filter(|method| *method != TokenEndpointAuthMethod::None)
        .collect();
    let mut document = json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/authorize"),
        "token_endpoint": config.endpoint("/token"),
        "jwks_uri": config.endpoint("/jwks.json"),
        "registration_endpoint": config.endpoint("/register"),
        "revocation_endpoint": config.endpoint("/revoke"),
        "introspection_endpoint": config.endpoint("/introspect"),
        "scopes_supported": config.scopes_supported,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": names(&methods),
        "revocation_endpoint_auth_methods_supported": names(&methods),
        "introspection_endpoint_auth_methods_supported": names(&confidential),
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": metadata_documents_accepted(config),
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        // Only claims the ID token carries: there is no `email` scope nor userinfo endpoint.
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"],
    });
    if config.tls_client_certificates {
        // RFC 8705 §3.3: certificates reach the token endpoint, so tokens can be bound.
        document["tls_client_certificate_bound_access_tokens"] = json!(true);
    }
    document
}

async fn metadata(State(discovery): State<Discovery>) -> Json<Value> {
    Json(Value::clone(&discovery.document))
}

async fn jwks(State(discovery): State<Discovery>) -> Json<Value> {
    Json(serde_json::to_value(discovery.keys.jwks()).unwrap_or_else(|_| json!({"keys": []})))
}

/// Whether an https URL is accepted as `client_id`.
#[cfg(feature = "cimd")]
fn metadata_documents_accepted(config: &AuthorizationServerConfig) -> bool {
    config.client_id_metadata_documents
}

/// Never without the `cimd` feature.
#[cfg(not(feature = "cimd"))]
fn metadata_documents_accepted(_: &AuthorizationServerConfig) -> bool {
    false
}
