//! One issuer's signing keys: found through its metadata, cached, refetched when a token names
//! an unknown key id (at most once per interval), and kept while the issuer is unreachable.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use mcp_oauth_core::{AuthorizationServerMetadata, authorization_server_metadata_urls};
use url::Url;

use crate::IssuerConfig;
use crate::metrics::JwksCounters;

/// How soon a failed first fetch of the key set may be retried.
const FIRST_FETCH_RETRY: Duration = Duration::from_secs(5);

/// Metadata and JWKS documents larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// A public key from an issuer's JWKS, usable for verifying signatures.
pub struct VerifyingKey {
    pub(crate) key: DecodingKey,
    /// The `alg` the JWK pins, if any.
    pub(crate) algorithm: Option<Algorithm>,
}

impl VerifyingKey {
    /// The key, for `jsonwebtoken::decode`.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// The algorithm the JWK pins (RFC 7517 §4.4 `alg`), if any: a token signed with another
    /// algorithm must be refused.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }
}

/// Why no key could be found for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLookupError {
    /// The issuer's key set does not hold the key the token names.
    UnknownKey,
    /// No key set could be fetched and none is cached.
    Unavailable,
}

#[derive(Default)]
struct KeySet {
    /// Keys by `kid`; a key without `kid` is stored under the empty string.
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched: bool,
}

impl KeySet {
    /// The usable signing keys of `set` (see [`verifying_key`]).
    fn from_jwks(set: &JwkSet) -> Self {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let Some(key) = verifying_key(jwk) {
                keys.insert(jwk.common.key_id.clone().unwrap_or_default(), Arc::new(key));
            }
        }
        Self {
            keys,
            fetched: true,
        }
    }

    fn find(&self, kid: Option<&str>) -> Option<Arc<VerifyingKey>> {
        match kid {
            Some(kid) => self.keys.get(kid).cloned(),
            // A token without `kid` can only be matched when there is no choice.
            None if self.keys.len() == 1 => self.keys.values().next().cloned(),
            None => None,
        }
    }
}

/// The cached key set of one issuer (its JWKS, RFC 7517 §5): found through the configured
/// `jwks_uri` or the issuer's metadata, refetched when a token names an unknown `kid` (at most
/// once per refresh interval), and kept while the issuer is unreachable. The authorization
/// server uses it for the ID tokens of upstream OpenID providers.
pub struct IssuerKeys {
    issuer: String,
    configured_jwks_uri: Option<String>,
    metadata_url: Option<String>,
    /// `None` when the keys were given, not fetched: they are never refetched.
    http: Option<reqwest::Client>,
    refresh_interval: Duration,
    keys: RwLock<KeySet>,
    /// Serialises refreshes and remembers when the next one may start.
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Fetches and failed fetches, for metrics.
    counters: JwksCounters,
}

#[derive(Default)]
struct RefreshState {
    /// No fetch before this instant (rate limit of refetches).
    next_attempt: Option<Instant>,
    jwks_uri: Option<String>,
}

impl IssuerKeys {
    /// The key set of `config.issuer`, fetched on first use with `http`.
    pub fn new(config: &IssuerConfig, http: reqwest::Client, refresh_interval: Duration) -> Self {
        Self {
            issuer: config.issuer.clone(),
            configured_jwks_uri: config.jwks_uri.clone(),
            metadata_url: config.metadata_url.clone(),
            http: Some(http),
            refresh_interval,
            keys: RwLock::new(KeySet::default()),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            counters: JwksCounters::default(),
        }
    }

    /// The fixed key set `set` of `issuer` (read from a file, say): nothing is fetched, and a
    /// key id outside the set is [`KeyLookupError::UnknownKey`].
    pub fn fixed(issuer: impl Into<String>, set: &JwkSet) -> Self {
        Self {
            issuer: issuer.into(),
            configured_jwks_uri: None,
            metadata_url: None,
            http: None,
            refresh_interval: Duration::MAX,
            keys: RwLock::new(KeySet::from_jwks(set)),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            counters: JwksCounters::default(),
        }
    }

    /// Counts fetches and failures with `counters`.
    pub(crate) fn with_counters(mut self, counters: JwksCounters) -> Self {
        self.counters = counters;
        self
    }

    /// Whether a key set was ever fetched.
    pub(crate) fn fetched(&self) -> bool {
        self.cached(None).1
    }

    fn cached(&self, kid: Option<&str>) -> (Option<Arc<VerifyingKey>>, bool) {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (keys.find(kid), keys.fetched)
    }

    /// The key for a token's `kid`. An unknown key id triggers a refetch of the key set, at
    /// most once per refresh interval; a failed first fetch is retried after at most five
    /// seconds, so a server started before its issuer recovers quickly.
    ///
    /// Errors: [`KeyLookupError::UnknownKey`] when the (fetched) key set lacks the key,
    /// [`KeyLookupError::Unavailable`] when no key set could ever be fetched.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        if let (Some(key), _) = self.cached(kid) {
            return Ok(key);
        }
        if self.http.is_none() {
            return Err(KeyLookupError::UnknownKey);
        }
        let mut refresh = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        let (key, fetched) = self.cached(kid);
        if let Some(key) = key {
            return Ok(key);
        }
        let missing = if fetched {
            KeyLookupError::UnknownKey
        } else {
            KeyLookupError::Unavailable
        };
        if refresh
            .next_attempt
            .is_some_and(|next| Instant::now() < next)
        {
            return Err(missing);
        }
        match self.refresh_now(&mut refresh, fetched).await {
            Ok(()) => self.cached(kid).0.ok_or(KeyLookupError::UnknownKey),
            Err(reason) => {
                tracing::warn!(issuer = %self.issuer, %reason, "cannot fetch signing keys; keeping the cached ones");
                Err(missing)
            }
        }
    }

    /// Fetches the key set now (at start-up, so the first request does not wait).
    pub async fn warm_up(&self) -> Result<(), String> {
        if self.http.is_none() {
            return Ok(());
        }
        let mut refresh = self.refresh.lock().await;
        let fetched = self.fetched();
        self.refresh_now(&mut refresh, fetched).await
    }

    /// Fetches and installs the key set, and decides when the next fetch may happen.
    async fn refresh_now(&self, refresh: &mut RefreshState, refetch: bool) -> Result<(), String> {
        let result = self.fetch(refresh).await;
        self.counters.fetches.inc();
        if result.is_err() {
            self.counters.failures.inc();
        }
        let now = Instant::now();
        refresh.next_attempt = match (&result, refetch) {
            (_, true) => Some(now + self.refresh_interval),
            (Ok(_), false) => None,
            (Err(_), false) => Some(now + self.refresh_interval.min(FIRST_FETCH_RETRY)),
        };
        let set = result?;
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = set;
        Ok(())
    }

    async fn fetch(&self, refresh: &mut RefreshState) -> Result<KeySet, String> {
        let jwks_uri = match (&self.configured_jwks_uri, &refresh.jwks_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let uri = self.discover_jwks_uri().await?;
                refresh.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let body = self.get_document(&jwks_uri).await?;
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|error| format!("JWKS at {jwks_uri} is not a JWK set: {error}"))?;
        let keys = KeySet::from_jwks(&set);
        tracing::debug!(issuer = %self.issuer, keys = keys.keys.len(), "fetched signing keys");
        Ok(keys)
    }

    /// Finds `jwks_uri` in the issuer's metadata, trying the configured metadata URL or the
    /// well-known URLs in the MCP specification's order, and accepting only a document whose
    /// `issuer` is this issuer (RFC 8414 §3.3).
    async fn discover_jwks_uri(&self) -> Result<String, String> {
        let urls = match &self.metadata_url {
            Some(url) => vec![url.clone()],
            None => authorization_server_metadata_urls(
                &Url::parse(&self.issuer).map_err(|error| error.to_string())?,
            ),
        };
        let mut failures = Vec::new();
        for url in urls {
            let metadata = match self.get_document(&url).await {
                Ok(body) => serde_json::from_slice::<AuthorizationServerMetadata>(&body)
                    .map_err(|error| format!("{url}: not a metadata document: {error}")),
                Err(reason) => Err(reason),
            };
            match metadata {
                Ok(metadata) if metadata.issuer != self.issuer => failures.push(format!(
                    "{url}: issuer `{}` differs from `{}`",
                    metadata.issuer, self.issuer
                )),
                Ok(metadata) => match metadata.jwks_uri {
                    Some(jwks_uri) => return Ok(jwks_uri),
                    None => failures.push(format!("{url}: no jwks_uri")),
                },
                Err(reason) => failures.push(reason),
            }
        }
        Err(failures.join("; "))
    }

    async fn get_document(&self, url: &str) -> Result<Vec<u8>, String> {
        let Some(http) = &self.http else {
            return Err(format!("{url}: this issuer's keys are fixed"));
        };
        let mut response = http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("{url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("{url}: {error}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "{url}: document larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Turns a JWK into a verifying key; symmetric keys, encryption keys and keys of unsupported
/// types are skipped.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    if matches!(jwk.common.public_key_use, Some(ref usage) if *usage != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        Some(algorithm) => Some(Algorithm::try_from(algorithm).ok()?),
        None => None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey { key, algorithm })
}
