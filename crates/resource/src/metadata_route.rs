//! The Protected Resource Metadata routes (RFC 9728 §3), readable from any browser origin.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, Method, header};
use mcp_oauth_core::{ProtectedResourceMetadata, protected_resource_metadata_urls};
use tower_http::cors::{Any, CorsLayer};

use crate::ResourceServerConfig;

/// The metadata document a configuration publishes.
pub(crate) fn document(config: &ResourceServerConfig) -> ProtectedResourceMetadata {
    let mut document = ProtectedResourceMetadata::new(
        config.resource.as_str(),
        config
            .issuers
            .iter()
            .map(|issuer| {
                issuer
                    .authorization_server
                    .clone()
                    .unwrap_or_else(|| issuer.issuer.clone())
            })
            .collect(),
    );
    document.scopes_supported = config.scopes_supported.clone();
    document.resource_name = config.resource_name.clone();
    document.resource_documentation = config.resource_documentation.clone();
    document
}

/// Routes serving `document` at the path-inserted and the root well-known URL.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(config: &ResourceServerConfig) -> Router<S> {
    let body = serde_json::to_vec(&document(config)).unwrap_or_default();
    let serve = move || {
        let body = body.clone();
        async move {
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=300"),
                    ),
                ],
                body,
            )
                .into_response()
        }
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([header::WWW_AUTHENTICATE]);
    let mut router = Router::new();
    for url in protected_resource_metadata_urls(&config.resource) {
        let path = url
            .strip_prefix(&config.resource.origin())
            .unwrap_or(&url)
            .to_owned();
        router = router.route(&path, get(serve.clone()));
    }
    router.layer(cors)
}
