//! The proxy assembled: the resource server's layers (CORS, DNS-rebinding guard, bearer
//! token, scopes) in front of the proxy's own (session binding, list filtering, forwarding),
//! in front of any upstream.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use mcp_oauth_resource::ResourceServer;
use tower::{Layer, Service};

use crate::list_filter::DEFAULT_MAX_LIST_BYTES;
use crate::{
    ForwardingConfig, ForwardingLayer, ListFilterLayer, SessionBindingLayer, SessionConfig,
};

/// What the proxy does between the resource server and the upstream. Build it with
/// `Default` and the `with_…` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Headers removed, identity headers and static credentials.
    pub forwarding: ForwardingConfig,
    /// Limits of the session table.
    pub sessions: SessionConfig,
    /// Hide from lists what the caller's scopes do not allow.
    pub hide_unauthorized: bool,
    /// The largest list answer (JSON body or SSE event) that is filtered; larger get 502.
    pub max_list_bytes: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            forwarding: ForwardingConfig::default(),
            sessions: SessionConfig::default(),
            hide_unauthorized: false,
            max_list_bytes: DEFAULT_MAX_LIST_BYTES,
        }
    }
}

impl ProxyConfig {
    /// Sets what is forwarded.
    pub fn with_forwarding(mut self, forwarding: ForwardingConfig) -> Self {
        self.forwarding = forwarding;
        self
    }

    /// Sets the session limits.
    pub fn with_sessions(mut self, sessions: SessionConfig) -> Self {
        self.sessions = sessions;
        self
    }

    /// Hides (or shows) in lists what the caller's scopes do not allow.
    pub fn with_hide_unauthorized(mut self, hide: bool) -> Self {
        self.hide_unauthorized = hide;
        self
    }

    /// Checks the configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), ProxyConfigError> {
        let mut problems = Vec::new();
        problems.extend(self.forwarding.validate().err().unwrap_or_default());
        problems.extend(self.sessions.validate().err().unwrap_or_default());
        if self.max_list_bytes == 0 {
            problems.push("the list size limit must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ProxyConfigError(problems))
        }
    }
}

/// Everything [`ProxyConfig::validate`] found.
#[derive(Debug, thiserror::Error)]
#[error("invalid proxy configuration:\n  - {}", .0.join("\n  - "))]
pub struct ProxyConfigError(Vec<String>);

/// The router of a protected upstream: the MCP endpoint at the resource's path and both
/// Protected Resource Metadata URLs (RFC 9728 §3).
pub fn protect_upstream<U>(
    resource_server: &ResourceServer,
    config: &ProxyConfig,
    upstream: U,
) -> Result<Router, ProxyConfigError>
where
    U: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    U::Future: Send + 'static,
{
    config.validate()?;
    let service = ForwardingLayer::new(config.forwarding.clone()).layer(upstream);
    // Unless lists are to be filtered, their answers are not even looked at.
    let list_filter = config
        .hide_unauthorized
        .then(|| ListFilterLayer::new(resource_server.clone(), config.max_list_bytes));
    let service = tower::util::option_layer(list_filter).layer(service);
    let service = SessionBindingLayer::new(config.sessions.clone()).layer(service);
    Ok(resource_server.protect(service))
}
