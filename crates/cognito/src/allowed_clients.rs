//! The MCP server's allowed Cognito clients: the static app client(s) plus every client
//! registered through the bridge, read from the registry and cached briefly.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use mcp_oauth_core::ClientStatus;
use mcp_oauth_resource::{ClientAllowList, ClientListUnavailable};

use crate::bridge::unix_now;
use crate::registry::Registry;

/// The most client ids whose answers are cached; past it the cache starts over.
const MAX_CACHED: usize = 10_000;

/// A [`ClientAllowList`] backed by the registry.
///
/// The validator asks once per new token (it caches validated tokens), so a registry read per
/// new token is cheap; answers are cached for `cache_ttl` (default 30 s) on top. Asking also
/// tells the registry the client is in use: the first token of a registered client marks it
/// used ([`Registry::mark_used`]), which saves it from expiry. A deleted client's tokens may
/// be accepted for up to `cache_ttl` after the deletion (and already validated tokens until
/// they expire). A client waiting for approval or suspended (issue 16) is refused, and that
/// answer is not cached, so an approval counts from the client's next token.
pub struct RegistryAllowList {
    static_clients: HashSet<String>,
    registry: Arc<dyn Registry>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (bool, Instant)>>,
}

impl RegistryAllowList {
    /// Allows `static_clients` always, and the clients in `registry`.
    pub fn new(
        static_clients: impl IntoIterator<Item = String>,
        registry: Arc<dyn Registry>,
    ) -> Self {
        Self {
            static_clients: static_clients.into_iter().collect(),
            registry,
            cache_ttl: Duration::from_secs(30),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long a registry answer is reused.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    fn cached(&self, client_id: &str) -> Option<bool> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(client_id)
            .filter(|(_, at)| at.elapsed() < self.cache_ttl)
            .map(|(allowed, _)| *allowed)
    }

    fn remember(&self, client_id: &str, allowed: bool) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(client_id.to_owned(), (allowed, Instant::now()));
    }

    async fn look_up(&self, client_id: &str) -> Result<bool, ClientListUnavailable> {
        if self.static_clients.contains(client_id) {
            return Ok(true);
        }
        if let Some(allowed) = self.cached(client_id) {
            return Ok(allowed);
        }
        let registration = self.registry.get(client_id).await.map_err(|error| {
            tracing::error!(%error, "cannot read the client registry");
            ClientListUnavailable
        })?;
        let allowed = match registration {
            // Not remembered: an approval takes effect on the next token.
            Some(registration) if registration.status != ClientStatus::Active => return Ok(false),
            Some(registration) => {
                if registration.last_used_at.is_none()
                    && let Err(error) = self.registry.mark_used(client_id, unix_now()).await
                {
                    // Not fatal: the next token of this client tries again.
                    tracing::warn!(%error, client_id, "cannot mark a client as used");
                    return Ok(true);
                }
                true
            }
            None => false,
        };
        self.remember(client_id, allowed);
        Ok(allowed)
    }
}

impl ClientAllowList for RegistryAllowList {
    fn is_allowed<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, ClientListUnavailable>> {
        Box::pin(self.look_up(client_id))
    }
}
