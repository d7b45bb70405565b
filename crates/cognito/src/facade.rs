//! The metadata façade: an RFC 8414 document under the gateway's own issuer identifier that
//! sends MCP clients to Cognito for everything but registration.
//!
//! **Why the issuer is the gateway's, not the pool's.** An MCP client finds the authorization
//! server in the MCP server's Protected Resource Metadata, fetches
//! `/.well-known/oauth-authorization-server` of that identifier, and (RFC 8414 §3.3) refuses a
//! document whose `issuer` differs from the identifier it looked up. The document cannot live
//! under the pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool>`, which is AWS's
//! host), so the PRM names the gateway, and the document's `issuer` is the gateway's URL.
//! Tokens still carry the pool's `iss`: the MCP server validates them against the pool
//! (exact `iss`, the pool's JWKS) while its PRM lists the gateway
//! ([`IssuerConfig::with_authorization_server`](mcp_oauth_resource::IssuerConfig::with_authorization_server)).
//! Clients never compare an access token's `iss` (access tokens are opaque to them), and
//! Cognito sends no `iss` authorization response parameter (RFC 9207), so the document does
//! not claim `authorization_response_iss_parameter_supported`. ID tokens, which would carry
//! the pool's `iss`, are not offered: the document is RFC 8414 only (no OpenID Connect
//! discovery) and lists only the resource server's scopes.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, Method, header};
use mcp_oauth_core::AuthorizationServerMetadata;
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};
use url::Url;

/// The façade's document and the path it is served at.
#[derive(Debug, Clone)]
pub(crate) struct Facade {
    document: AuthorizationServerMetadata,
    path: String,
}

impl Facade {
    /// The document for `issuer` (the gateway's URL), whose endpoints are the pool domain's
    /// `/oauth2/token` and `/oauth2/revoke`, and `authorization_endpoint` (Cognito's
    /// `/oauth2/authorize`, or the gateway's own when registration approval is on).
    pub(crate) fn new(
        issuer: &Url,
        cognito_domain: &Url,
        authorization_endpoint: &str,
        jwks_uri: &str,
        registration_endpoint: &str,
        scopes: &[String],
    ) -> Self {
        let domain = cognito_domain.as_str().trim_end_matches('/');
        let mut document = AuthorizationServerMetadata::default();
        document.issuer = issuer.as_str().trim_end_matches('/').to_owned();
        document.authorization_endpoint = Some(authorization_endpoint.to_owned());
        document.token_endpoint = Some(format!("{domain}/oauth2/token"));
        document.jwks_uri = Some(jwks_uri.to_owned());
        document.registration_endpoint = Some(registration_endpoint.to_owned());
        document.revocation_endpoint = Some(format!("{domain}/oauth2/revoke"));
        document.scopes_supported = scopes.to_vec();
        document.response_types_supported = vec!["code".to_owned()];
        document.grant_types_supported =
            vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
        document.code_challenge_methods_supported = vec!["S256".to_owned()];
        let methods = json!(["none", "client_secret_basic", "client_secret_post"]);
        document.other.insert(
            "token_endpoint_auth_methods_supported".to_owned(),
            methods.clone(),
        );
        document.other.insert(
            "revocation_endpoint_auth_methods_supported".to_owned(),
            methods,
        );
        document
            .other
            .insert("response_modes_supported".to_owned(), json!(["query"]));
        let path = format!(
            "/.well-known/oauth-authorization-server{}",
            issuer.path().trim_end_matches('/')
        );
        Self { document, path }
    }

    /// The document.
    pub(crate) fn document(&self) -> &AuthorizationServerMetadata {
        &self.document
    }

    /// Serves the document at its RFC 8414 §3 URL, readable from any browser origin.
    pub(crate) fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let body = serde_json::to_vec(&self.document).unwrap_or_default();
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
        Router::new().route(&self.path, get(serve)).layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::OPTIONS])
                .allow_headers(Any),
        )
    }
}
