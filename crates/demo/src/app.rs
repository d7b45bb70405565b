//! Assembly of the demo MCP server: rmcp's Streamable HTTP service behind the resource
//! server's layers, the metadata routes and the documentation page.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use mcp_oauth_resource::ResourceServer;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::{Layer, Service};

use crate::{ContextServer, ContextStore, docs};

/// The scope names the demo tools need (Cognito writes them `<resource-server-id>/<scope>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoScopes {
    /// Needed by `list_contexts`.
    pub read: String,
    /// Needed by `create_context`.
    pub write: String,
}

impl Default for DemoScopes {
    fn default() -> Self {
        Self {
            read: "mcp:read".to_owned(),
            write: "mcp:write".to_owned(),
        }
    }
}

/// rmcp's MCP service behind one `Arc`. Layers in front of a service clone it for every
/// request (tower's swap of the service polled ready), and so does rmcp's own `call`; cloning
/// rmcp's service copies its configuration, cloning this one counts a reference.
#[derive(Clone)]
struct SharedMcpService(Arc<StreamableHttpService<ContextServer, NeverSessionManager>>);

impl Service<Request<Body>> for SharedMcpService {
    type Response = Response<BoxBody<Bytes, Infallible>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let service = Arc::clone(&self.0);
        Box::pin(async move { Ok(service.handle(request).await) })
    }
}

/// Whether the MCP endpoint checks tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// Every request needs a valid token (the default).
    Required,
    /// No token is checked: only for measuring the cost of validation. Never the default.
    DangerouslyDisabled,
}

/// The whole MCP server: `/mcp` (or the resource's path) behind CORS, the DNS-rebinding guard
/// and (unless disabled) the bearer layer; both PRM URLs; the documentation page at `/docs`.
pub fn mcp_router(
    resource_server: &ResourceServer,
    scopes: DemoScopes,
    authentication: Authentication,
) -> Router {
    let scopes = Arc::new(scopes);
    let prototype = ContextServer::new(ContextStore::default(), Arc::clone(&scopes));
    // The rebinding guard in front checks Host and Origin with the configured lists, so
    // rmcp's own (loopback-only by default) checks are switched off to avoid disagreement.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(resource_server.config().max_body_bytes)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mcp = SharedMcpService(Arc::new(StreamableHttpService::new(
        move || Ok(prototype.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )));
    let path = match resource_server.config().resource.path() {
        "" => "/",
        path => path,
    };
    let router = match authentication {
        Authentication::Required => resource_server.protect(mcp),
        Authentication::DangerouslyDisabled => {
            let guarded = resource_server.rebinding_guard_layer().layer(mcp);
            let guarded = resource_server.cors_layer().layer(guarded);
            Router::new()
                .route_service(path, guarded)
                .merge(resource_server.metadata_router())
        }
    };
    let page = docs::render(resource_server, &scopes);
    router.route("/docs", get(move || std::future::ready(page.clone())))
}
