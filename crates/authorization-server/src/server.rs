//! The public facade: a validated configuration, the store, the keys, and the router.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use thiserror::Error;

use crate::cimd::{ClientMetadataFetcher, FetcherConfig};
use crate::config::AuthorizationServerConfig;
use crate::keys::{KeyError, SigningKeys};
use crate::rate_limit::IpRateLimiter;
use crate::store::{Store, UnixTime};

/// Where the server reads the time; tests replace it.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs() as UnixTime)
    })
}

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

/// Everything a request handler needs.
pub(crate) struct Inner {
    pub(crate) config: AuthorizationServerConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: SigningKeys,
    pub(crate) clock: Clock,
    /// Failed sign-in counters (per account and address, account, address, device cookie).
    pub(crate) login_throttle: crate::accounts::LoginThrottle,
    /// Registrations per client IP per minute.
    pub(crate) registrations: IpRateLimiter,
    /// Fetches Client ID Metadata Documents, when they are accepted.
    pub(crate) client_metadata: Option<ClientMetadataFetcher>,
    /// The upstream OpenID providers, when people sign in there (federated).
    pub(crate) federation: Option<crate::federation::Federation>,
}

impl Inner {
    /// The current time.
    pub(crate) fn now(&self) -> UnixTime {
        (self.clock)()
    }
}

/// The state of every route.
pub(crate) type AppState = Arc<Inner>;

/// The embedded authorization server.
#[derive(Clone)]
pub struct AuthorizationServer {
    inner: AppState,
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
        let client_metadata = if config.client_id_metadata_documents {
            let fetcher_config = FetcherConfig::default()
                .dangerous_allow_private_addresses(config.cimd_allow_private_addresses)
                .with_trusted_local_documents(config.cimd_trusted_local_documents.iter().cloned())
                .with_registration_policy(crate::endpoints::registration_policy(&config));
            let fetcher = ClientMetadataFetcher::new(fetcher_config)
                .map_err(|error| StartError::Config(vec![error.to_string()]))?;
            Some(fetcher)
        } else {
            None
        };
        let federation = crate::federation::Federation::new(&config)
            .map_err(|error| StartError::Config(vec![error]))?;
        let keys = SigningKeys::load_or_generate(store.as_ref(), clock()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                login_throttle: crate::accounts::LoginThrottle::new(config.login_limits),
                registrations: IpRateLimiter::per_minute(config.registrations_per_minute),
                client_metadata,
                federation,
                config,
                store,
                keys,
                clock,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthorizationServerConfig {
        &self.inner.config
    }

    /// The signing keys.
    pub fn keys(&self) -> &SigningKeys {
        &self.inner.keys
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Every endpoint of the server.
    pub fn router(&self) -> Router {
        crate::endpoints::router().with_state(Arc::clone(&self.inner))
    }

    /// Deletes expired codes, sessions, upstream sign-ins and tokens now and then every
    /// [`AuthorizationServerConfig::purge_interval`], at the server's clock, until the future
    /// is dropped: run it beside the router and drop it when serving stops. A failed purge
    /// is logged and retried at the next interval.
    pub fn purge_expired_periodically(&self) -> impl Future<Output = ()> + Send + 'static {
        crate::housekeeping::purge_periodically(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.clock),
            self.inner.config.purge_interval,
        )
    }

    /// Reads the signing keys again every [`AuthorizationServerConfig::key_reload_interval`]
    /// until the future is dropped, so that a key rotated by another process (the admin
    /// command) signs new tokens and is published without a restart: run it beside the router.
    pub fn reload_keys_periodically(&self) -> impl Future<Output = ()> + Send + 'static {
        crate::housekeeping::reload_keys_periodically(
            self.inner.keys.clone(),
            Arc::clone(&self.inner.store),
            self.inner.config.key_reload_interval,
        )
    }
}
