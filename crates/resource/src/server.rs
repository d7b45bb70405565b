//! The public facade: one validated configuration, the validator, and the pieces built from it.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderName, Method, Request, header};
use mcp_oauth_core::ProtectedResourceMetadata;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::guard::RebindingPolicy;
use crate::{
    BearerLayer, ConfigError, RebindingGuardLayer, ResourceServerConfig, ScopePolicy,
    TokenValidator,
};

/// State shared by the layers of one resource server.
pub(crate) struct Shared {
    pub(crate) config: ResourceServerConfig,
    pub(crate) validator: TokenValidator,
    /// The URL challenges put in `resource_metadata`.
    pub(crate) metadata_url: String,
    /// The `scope` of a challenge to a request without a (valid) token.
    pub(crate) challenge_scope: String,
    pub(crate) rebinding: Arc<RebindingPolicy>,
    /// The scope each tool, resource and prompt needs.
    pub(crate) scopes: ScopePolicy,
}

/// A resource server: validates tokens for one MCP endpoint and publishes its metadata.
#[derive(Clone)]
pub struct ResourceServer {
    shared: Arc<Shared>,
}

impl ResourceServer {
    /// Validates `config` and builds the resource server.
    pub fn new(config: ResourceServerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let validator = TokenValidator::new(&config)?;
        let rebinding = Arc::new(RebindingPolicy::new(
            &config.effective_allowed_hosts(),
            &config.allowed_origins,
        ));
        Ok(Self {
            shared: Arc::new(Shared {
                metadata_url: config.resource_metadata_url(),
                scopes: ScopePolicy::new(&config),
                challenge_scope: config.scopes_supported.join(" "),
                validator,
                rebinding,
                config,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ResourceServerConfig {
        &self.shared.config
    }

    /// The scope each tool, resource and prompt needs, for layers that hide from lists what a
    /// caller may not use.
    pub fn scope_policy(&self) -> &ScopePolicy {
        &self.shared.scopes
    }

    /// The token validator, for callers that check tokens outside HTTP.
    pub fn validator(&self) -> &TokenValidator {
        &self.shared.validator
    }

    /// The Protected Resource Metadata document (RFC 9728 §2).
    pub fn metadata(&self) -> ProtectedResourceMetadata {
        crate::metadata_route::document(&self.shared.config)
    }

    /// Fetches every issuer's signing keys now; returns `(issuer, reason)` for those that failed.
    /// Requests still work later: keys are fetched again when a token needs them.
    pub async fn warm_up(&self) -> Vec<(String, String)> {
        self.shared.validator.warm_up().await
    }

    /// The trusted issuers whose signing keys were never fetched. The server is ready to
    /// validate tokens when there are none (what a readiness probe asks).
    pub fn issuers_without_keys(&self) -> Vec<String> {
        self.shared.validator.issuers_without_keys()
    }

    /// Fetches the signing keys of the issuers whose keys were never fetched, again every
    /// `retry` until every issuer's were, logging each failure: run it beside the server, so
    /// that it becomes ready ([`Self::issuers_without_keys`]) even while no token arrives to
    /// make it fetch them.
    pub async fn fetch_keys_until_ready(&self, retry: std::time::Duration) {
        loop {
            let failures = self.shared.validator.warm_up_missing().await;
            if failures.is_empty() {
                return;
            }
            for (issuer, reason) in failures {
                tracing::warn!(%issuer, %reason, "issuer keys not fetched yet; retrying");
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Adds the resource server's counters to `registry` (Prometheus): token validations by
    /// outcome and refusal reason, verified-token cache lookups by result, and key-set
    /// fetches and failures by issuer. They count whether registered or not.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.shared.validator.metrics.register(registry);
    }

    /// The bearer-token layer (RFC 6750, MCP authorization).
    pub fn bearer_layer(&self) -> BearerLayer {
        BearerLayer::new(Arc::clone(&self.shared))
    }

    /// The DNS-rebinding guard for `Host` and `Origin`.
    pub fn rebinding_guard_layer(&self) -> RebindingGuardLayer {
        RebindingGuardLayer::new(Arc::clone(&self.shared.rebinding))
    }

    /// CORS for the MCP endpoint: the allowed origins may call it, and read
    /// `WWW-Authenticate` and the MCP headers of its responses.
    pub fn cors_layer(&self) -> CorsLayer {
        let rebinding = Arc::clone(&self.shared.rebinding);
        let mcp_headers = [
            "mcp-session-id",
            "mcp-protocol-version",
            "mcp-method",
            "mcp-name",
            "last-event-id",
        ]
        .map(HeaderName::from_static);
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                origin
                    .to_str()
                    .is_ok_and(|origin| rebinding.origin_allowed(origin))
            }))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers(
                [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]
                    .into_iter()
                    .chain(mcp_headers.clone())
                    .collect::<Vec<_>>(),
            )
            .expose_headers(
                [header::WWW_AUTHENTICATE]
                    .into_iter()
                    .chain(mcp_headers.into_iter().take(2))
                    .collect::<Vec<_>>(),
            )
    }

    /// Routes for both Protected Resource Metadata URLs, readable cross-origin.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        crate::metadata_route::router(&self.shared.config)
    }

    /// Mounts `mcp_service` at the resource's path behind CORS, the rebinding guard and the
    /// bearer layer, and adds the metadata routes.
    pub fn protect<T, B>(&self, mcp_service: T) -> Router
    where
        T: Service<Request<Body>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        T::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let service = self.bearer_layer().layer(mcp_service);
        let service = self.rebinding_guard_layer().layer(service);
        let service = self.cors_layer().layer(service);
        let path = match self.shared.config.resource.path() {
            "" => "/",
            path => path,
        };
        Router::new()
            .route_service(path, service)
            .merge(self.metadata_router())
    }
}
