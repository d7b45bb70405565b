//! The public facade: a validated configuration, the store, the keys, and the router.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use prometheus_client::registry::Registry;
use thiserror::Error;

use crate::admin::Admin;
use crate::audit::{Actor, Audit, SecurityEvent, ServerMetrics};
use crate::clock::{Clock, system_clock};
use crate::config::AuthorizationServerConfig;
use crate::endpoints::MAX_FORM_BYTES;
use crate::engine::Clients;
#[cfg(feature = "federation")]
use crate::federation;
#[cfg(feature = "federation")]
use crate::federation::Providers;
use crate::housekeeping::Purges;
use crate::keys::{KeyError, SigningKeys};
use crate::state::{AppState, Parts};
use crate::store::Store;
use crate::{accounts, endpoints};

/// Why the server cannot start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid authorization server configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The signing keys could not be loaded or generated.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// The embedded authorization server.
#[derive(Clone)]
pub struct AuthorizationServer {
    state: AppState,
    config: Arc<AuthorizationServerConfig>,
    store: Arc<dyn Store>,
    keys: SigningKeys,
    audit: Audit,
    clock: Clock,
}

impl AuthorizationServer {
    /// Validates `config`, loads (or generates) the signing keys, and builds the server.
    pub async fn new(
        config: AuthorizationServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartError> {
        Self::with_clock(config, store, system_clock()).await
    }

    /// Like [`AuthorizationServer::new`] with a given clock (tests).
    pub async fn with_clock(
        config: AuthorizationServerConfig,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let clients = Clients::new(store.clone(), &config, clock.clone())
            .map_err(|error| StartError::Config(vec![error]))?;
        #[cfg(feature = "federation")]
        let providers = Providers::new(&config).map_err(|error| StartError::Config(vec![error]))?;
        let keys = SigningKeys::load_or_generate(store.as_ref(), clock()).await?;
        let audit = Audit::new(
            store.clone(),
            Arc::new(ServerMetrics::default()),
            clock.clone(),
        );
        let parts = Parts {
            clients,
            #[cfg(feature = "federation")]
            providers,
            keys: keys.clone(),
            audit: audit.clone(),
            clock: clock.clone(),
        };
        Ok(Self {
            state: AppState::new(&config, &store, parts),
            config: Arc::new(config),
            store,
            keys,
            audit,
            clock,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthorizationServerConfig {
        &self.config
    }

    /// The signing keys.
    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// Whether the server can serve: its store answers (the published signing keys are read
    /// from it) and it holds a key to sign with. `Err` names what is missing, for a
    /// readiness probe; the store's error is logged, never returned (it may name the database).
    pub async fn readiness(&self) -> Result<(), &'static str> {
        if let Err(error) = self.store.published_keys().await {
            tracing::warn!(%error, "readiness: the store does not answer");
            return Err("the store");
        }
        if self.keys.jwks().keys.is_empty() {
            return Err("signing keys");
        }
        Ok(())
    }

    /// The administration of this server's data (static clients, users, keys), at its clock;
    /// what it does is recorded in the audit trail and counted in this server's metrics.
    pub fn admin(&self) -> Admin {
        Admin::with_audit(Arc::clone(&self.store), self.audit.clone())
    }

    /// Makes a new signing key current and signs with it at once; the previous key stays
    /// published until the tokens it signed expire. Other servers on the same store pick it
    /// up within their [`AuthorizationServerConfig::key_reload_interval`]. Returns the new
    /// key's id. The rotation is recorded in the audit trail, by `admin`.
    pub async fn rotate_keys(&self) -> Result<String, KeyError> {
        let kid = self
            .keys
            .rotate(self.store.as_ref(), (self.clock)())
            .await?;
        let rotated = SecurityEvent::KeysRotated {
            by: Actor::Admin,
            kid: &kid,
        };
        self.audit.record(rotated, None).await;
        Ok(kid)
    }

    /// Adds this server's metrics to `registry`: its security events (registrations,
    /// sign-ins, consents, token requests, revocations, refresh-token reuse…), the rows its
    /// housekeeping purged, and its store's connection pool. Register each server once.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.audit
            .metrics()
            .register(registry, Arc::clone(&self.store));
    }

    /// Every endpoint of the server: the OAuth endpoints, the account pages, and federated
    /// sign-in (feature `federation`); `/login` is the local form, or the upstream sign-in
    /// when the server is federated.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .merge(endpoints::routes())
            .merge(accounts::routes());
        #[cfg(feature = "federation")]
        let router = router
            .merge(federation::routes())
            .merge(if self.config.federated() {
                federation::login_routes()
            } else {
                accounts::login_routes()
            });
        #[cfg(not(feature = "federation"))]
        let router = router.merge(accounts::login_routes());
        router
            .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
            .with_state(self.state.clone())
    }

    /// Deletes expired codes, sessions, upstream sign-ins, tokens and limit counters, and the
    /// audit records older than [`AuthorizationServerConfig::audit_retention`], now and then
    /// every [`AuthorizationServerConfig::purge_interval`], at the server's clock, until the
    /// future is dropped: run it beside the router and drop it when serving stops. A failed
    /// purge is logged and retried at the next interval. Instances on one database may purge
    /// at the same time: each deletes only what expired.
    pub fn purge_expired_periodically(&self) -> impl Future<Output = ()> + Send + 'static {
        let purges = Purges {
            store: Arc::clone(&self.store),
            metrics: Arc::clone(self.audit.metrics()),
            audit_retention: self.config.audit_retention,
            pending_ttl: Duration::from_secs(self.config.governance.pending_ttl_secs),
        };
        crate::housekeeping::purge_periodically(
            purges,
            Arc::clone(&self.clock),
            self.config.purge_interval,
        )
    }

    /// Reads the signing keys again every [`AuthorizationServerConfig::key_reload_interval`]
    /// until the future is dropped, so that a key rotated by another process (the admin
    /// command) signs new tokens and is published without a restart: run it beside the router.
    pub fn reload_keys_periodically(&self) -> impl Future<Output = ()> + Send + 'static {
        crate::housekeeping::reload_keys_periodically(
            self.keys.clone(),
            self.store.clone(),
            self.config.key_reload_interval,
        )
    }
}
