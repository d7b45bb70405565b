//! Authorization Server Metadata (RFC 8414 §3), the same document at the OpenID Connect
//! Discovery URL, and the JWKS.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, header};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
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
async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let config = &state.config;
    Json(json!({
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
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": config.client_id_metadata_documents,
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        // Only claims the ID token carries: there is no `email` scope nor userinfo endpoint.
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"],
    }))
}

async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(state.keys.jwks()).unwrap_or_else(|_| json!({"keys": []})))
}
