//! The gateway: the metadata façade and the registration bridge for one user pool, with the
//! pieces the MCP server and the sweeper need.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use http::{Method, header};
use mcp_oauth_core::AuthorizationServerMetadata;
use thiserror::Error;
use tower_http::cors::{Any, CorsLayer};
use url::Url;

use crate::allowed_clients::RegistryAllowList;
use crate::approval_gate::ApprovalGate;
use crate::bridge::{AppClients, Bridge, BridgeConfig, BridgeMetrics, RegistrationSettings};
use crate::facade::Facade;
use crate::registry::Registry;
use crate::registry_admin::RegistryAdmin;
use crate::sweeper::Sweeper;

/// The gateway's settings. Build them with [`GatewayConfig::new`] and the `with_…` setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The gateway's public URL: its issuer identifier in the façade, the authorization server
    /// the MCP server's metadata lists; registration is at `<issuer>/register`.
    pub issuer: String,
    /// The user pool's domain (`https://<prefix>.auth.<region>.amazoncognito.com` or a custom
    /// domain), whose `/oauth2/authorize` and `/oauth2/token` clients use.
    pub cognito_domain: String,
    /// The pool's JWKS URL.
    pub jwks_uri: String,
    /// The resource server's scopes (`<identifier>/<name>`).
    pub scopes: Vec<String>,
    /// How the registration bridge admits and keeps registrations (default
    /// [`RegistrationSettings::default`]).
    pub registration: RegistrationSettings,
}

impl GatewayConfig {
    /// A gateway at `issuer` for the pool whose domain is `cognito_domain`.
    pub fn new(
        issuer: impl Into<String>,
        cognito_domain: impl Into<String>,
        jwks_uri: impl Into<String>,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            cognito_domain: cognito_domain.into(),
            jwks_uri: jwks_uri.into(),
            scopes,
            registration: RegistrationSettings::default(),
        }
    }

    /// Sets the registration bridge's settings.
    pub fn with_registration(mut self, registration: RegistrationSettings) -> Self {
        self.registration = registration;
        self
    }

    /// Checks every setting and reports all problems at once.
    pub fn validate(&self) -> Result<(Url, Url), GatewayError> {
        let mut problems = Vec::new();
        let mut url = |name: &str, value: &str| match Url::parse(value) {
            Ok(url) if url.query().is_none() && url.fragment().is_none() => Some(url),
            Ok(_) => {
                problems.push(format!("{name} `{value}` must have no query or fragment"));
                None
            }
            Err(error) => {
                problems.push(format!("{name} `{value}` is not a URL: {error}"));
                None
            }
        };
        let issuer = url("issuer (public URL)", &self.issuer);
        let domain = url("Cognito domain", &self.cognito_domain);
        url("JWKS URI", &self.jwks_uri);
        if self.scopes.is_empty() {
            problems.push("the resource server has no scopes".to_owned());
        }
        problems.extend(self.registration.problems());
        let supported = self.scopes.iter().map(String::as_str).collect();
        problems.extend(self.registration.governance.problems(&supported));
        match (issuer, domain) {
            (Some(issuer), Some(domain)) if problems.is_empty() => Ok((issuer, domain)),
            _ => Err(GatewayError::Config(problems)),
        }
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("issuer", &self.issuer)
            .field("cognito_domain", &self.cognito_domain)
            .field("jwks_uri", &self.jwks_uri)
            .field("scopes", &self.scopes)
            .field("registration", &self.registration)
            .finish()
    }
}

/// A configuration the gateway cannot start with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// Everything [`GatewayConfig::validate`] found.
    #[error("invalid gateway configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
}

/// The path of the gateway's `/authorize` under `issuer`.
fn authorize_path(issuer: &Url) -> String {
    format!("{}/authorize", issuer.path().trim_end_matches('/'))
}

/// The façade and the bridge for one user pool.
#[derive(Clone)]
pub struct Gateway {
    facade: Facade,
    bridge: Bridge,
    /// The gateway's `/authorize` and its path, when registration approval is on.
    approval_gate: Option<(ApprovalGate, String)>,
    app_clients: AppClients,
    registry: Arc<dyn Registry>,
    registration: RegistrationSettings,
}

impl Gateway {
    /// Validates `config` and builds the gateway.
    pub fn new(
        config: &GatewayConfig,
        app_clients: AppClients,
        registry: Arc<dyn Registry>,
    ) -> Result<Self, GatewayError> {
        let (issuer, domain) = config.validate()?;
        let base = issuer.as_str().trim_end_matches('/');
        let registration_endpoint = format!("{base}/register");
        let cognito_authorize =
            format!("{}/oauth2/authorize", domain.as_str().trim_end_matches('/'));
        let approval_gate = config.registration.governance.approval_required.then(|| {
            ApprovalGate::new(
                Arc::clone(&registry),
                cognito_authorize.clone(),
                base.to_owned(),
            )
        });
        let authorization_endpoint = match approval_gate {
            Some(_) => format!("{base}/authorize"),
            None => cognito_authorize,
        };
        let facade = Facade::new(
            &issuer,
            &domain,
            &authorization_endpoint,
            &config.jwks_uri,
            &registration_endpoint,
            &config.scopes,
        );
        let bridge_config = BridgeConfig::new(
            registration_endpoint,
            config.scopes.clone(),
            config.registration.clone(),
        );
        Ok(Self {
            facade,
            bridge: Bridge::new(bridge_config, app_clients.clone(), Arc::clone(&registry)),
            approval_gate: approval_gate.map(|gate| (gate, authorize_path(&issuer))),
            app_clients,
            registry,
            registration: config.registration.clone(),
        })
    }

    /// The façade's metadata document.
    pub fn metadata(&self) -> &AuthorizationServerMetadata {
        self.facade.document()
    }

    /// The façade and the registration endpoints; registration answers browsers (CORS).
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so the rate limit
    /// sees client addresses.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
        let router = self.facade.router().merge(self.bridge.router().layer(cors));
        match &self.approval_gate {
            Some((gate, path)) => router.merge(gate.router(path)),
            None => router,
        }
    }

    /// The operator's actions on this pool's registrations (`mcp-oauth admin clients`).
    pub fn admin(&self) -> RegistryAdmin {
        RegistryAdmin::new(
            self.app_clients.clone(),
            Arc::clone(&self.registry),
            self.registration.clone(),
        )
    }

    /// The MCP server's allowed clients: `static_clients` plus the registered ones.
    pub fn allow_list(&self, static_clients: HashSet<String>) -> RegistryAllowList {
        RegistryAllowList::new(static_clients, Arc::clone(&self.registry))
    }

    /// The sweeper of unused registrations and expired events; it recounts the clients
    /// awaiting approval for the metrics at each sweep.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(self.app_clients.clone(), Arc::clone(&self.registry))
            .with_event_retention(self.registration.event_retention)
            .with_metrics(self.bridge.metrics().clone())
    }

    /// The registration bridge's metrics (registrations by outcome and reason, clients
    /// awaiting approval), for the process's Prometheus registry.
    pub fn metrics(&self) -> &BridgeMetrics {
        self.bridge.metrics()
    }
}
