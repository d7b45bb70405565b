//! Fetching OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00,
//! MCP "Client ID Metadata Documents"), with SSRF defences and HTTP caching.
//!
//! When an authorization request carries a `client_id` that is an `https` URL,
//! [`ClientMetadataFetcher::fetch`] retrieves the document at that URL and validates it with
//! [`mcp_oauth_core::validate_client_id_metadata_document`]. Because the URL comes from an
//! unauthenticated party, the fetch is defensive (draft §6.5, §6.6):
//!
//! - `https` only, except for the exact URLs in [`FetcherConfig::trusted_local_documents`]
//!   (a local stack's own client, e.g. `mcp-oauth dev`'s CIMD client), which may be `http`
//!   on a loopback host and are connected to on loopback addresses only; and, for tests of
//!   the fetcher alone, [`FetcherConfig::allow_private_addresses`];
//! - the host is resolved by the fetcher itself and every address it resolves to must be
//!   globally reachable: loopback, private (RFC 1918, `fc00::/7`), link-local, CGNAT,
//!   unspecified, multicast, broadcast, documentation and other special-purpose addresses
//!   are refused, IPv4-mapped and NAT64 forms included (see [`classify_address`]); `localhost`
//!   and `*.localhost` are refused by name and IP literals before any connection is made;
//! - the vetted addresses are what the connection uses (the check runs inside the HTTP
//!   client's resolver), so a DNS answer that changes between check and connect cannot
//!   smuggle in another address; proxies from the environment are not used;
//! - redirects are never followed (draft §4: "MUST NOT automatically follow HTTP
//!   redirects"): a 3xx is an error, as is any status but 200;
//! - the content type must be `application/json` or `application/<subtype>+json`;
//! - at most [`FetcherConfig::max_document_bytes`] are read (default 5 KiB, the draft's
//!   recommendation), whatever `Content-Length` says;
//! - the whole fetch, from resolution to the last byte, is bounded by
//!   [`FetcherConfig::timeout`].
//!
//! Valid documents are cached per their HTTP caching headers, clamped between a floor and a
//! ceiling (see [`FetcherConfig`]); failures and invalid documents are never cached (draft
//! §4.4: "MUST NOT cache error responses … documents which are invalid").

mod address;
mod cache;

use std::error::Error as _;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use mcp_oauth_core::{
    RegistrationPolicy, ValidatedClientMetadata, validate_client_id_metadata_document,
    validate_client_id_url,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use thiserror::Error;
use url::{Host, Url};

pub use address::{AddressClass, classify_address};

use cache::{Lifetimes, MetadataCache, cache_lifetime};

/// How a [`ClientMetadataFetcher`] behaves. The [`Default`] is safe for production.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetcherConfig {
    /// The most time one fetch may take, from name resolution to the last byte (default 5 s).
    pub timeout: Duration,
    /// The most bytes read from a document (default 5 KiB, CIMD draft §6.6).
    pub max_document_bytes: usize,
    /// Whether loopback, private, link-local, CGNAT and documentation addresses may be
    /// fetched, and `http` used on a loopback host, for every URL (default `false`).
    /// **Dangerous, for tests only**: it lets any client make the server request its own
    /// internal services (CIMD draft §6.5). A local stack names its own documents in
    /// [`FetcherConfig::trusted_local_documents`] instead.
    pub allow_private_addresses: bool,
    /// Exact client identifier URLs (default none) that may be `http` on a loopback host
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) and are fetched from loopback addresses only.
    /// Any other URL gets every defence. For a local stack to accept its own demo client.
    pub trusted_local_documents: Vec<String>,
    /// The most documents kept in the cache (default 1000; 0 disables caching).
    pub cache_capacity: usize,
    /// How long a document without `Cache-Control: max-age` or `Expires` is reused
    /// (default 5 min).
    pub default_cache_ttl: Duration,
    /// The shortest reuse of a cacheable document (default 60 s), so a client cannot make
    /// every authorization request refetch by sending `max-age=1`. `no-store`, `no-cache`
    /// and `max-age=0` are still honoured: such documents are fetched every time.
    pub min_cache_ttl: Duration,
    /// The longest reuse of a document (default 24 h), so changes to a client's redirect URIs
    /// are seen within a day whatever its headers say.
    pub max_cache_ttl: Duration,
    /// The policy the document's metadata must meet (scopes, limits); the authentication
    /// method is always `none` for metadata documents.
    pub registration_policy: RegistrationPolicy,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_document_bytes: 5 * 1024,
            allow_private_addresses: false,
            trusted_local_documents: Vec::new(),
            cache_capacity: 1000,
            default_cache_ttl: Duration::from_secs(5 * 60),
            min_cache_ttl: Duration::from_secs(60),
            max_cache_ttl: Duration::from_secs(24 * 60 * 60),
            registration_policy: RegistrationPolicy::default(),
        }
    }
}

impl FetcherConfig {
    /// Sets the overall timeout of one fetch.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the most bytes read from a document.
    pub fn with_max_document_bytes(mut self, max: usize) -> Self {
        self.max_document_bytes = max;
        self
    }

    /// Allows fetching from loopback, private and link-local addresses and `http` on
    /// loopback, for every URL. **Dangerous**: for tests only.
    pub fn dangerous_allow_private_addresses(mut self, allow: bool) -> Self {
        self.allow_private_addresses = allow;
        self
    }

    /// Trusts the exact client identifier URLs `urls` on loopback (see
    /// [`FetcherConfig::trusted_local_documents`]).
    pub fn with_trusted_local_documents<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_local_documents = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how many documents the cache holds (0 disables caching).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Sets the lifetime of documents without caching headers, and the floor and ceiling
    /// applied to every lifetime.
    pub fn with_cache_ttl(mut self, default: Duration, min: Duration, max: Duration) -> Self {
        self.default_cache_ttl = default;
        self.min_cache_ttl = min;
        self.max_cache_ttl = max;
        self
    }

    /// Sets the registration policy documents must meet.
    pub fn with_registration_policy(mut self, policy: RegistrationPolicy) -> Self {
        self.registration_policy = policy;
        self
    }

    /// Every problem with this configuration.
    pub fn validate(&self) -> Result<(), FetcherConfigError> {
        let mut problems = Vec::new();
        if self.timeout.is_zero() {
            problems.push("the CIMD fetch timeout must be positive".to_owned());
        }
        if self.max_document_bytes == 0 {
            problems.push("the CIMD document size limit must be positive".to_owned());
        }
        if self.min_cache_ttl > self.max_cache_ttl {
            problems.push(format!(
                "the CIMD cache floor ({:?}) is above its ceiling ({:?})",
                self.min_cache_ttl, self.max_cache_ttl
            ));
        }
        for url in &self.trusted_local_documents {
            if let Err(problem) = check_trusted_local_document(url) {
                problems.push(format!("trusted local CIMD document `{url}`: {problem}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FetcherConfigError { problems })
        }
    }

    /// The addresses URLs other than the trusted local documents may be fetched from.
    fn address_policy(&self) -> AddressPolicy {
        if self.allow_private_addresses {
            AddressPolicy::AnyUnicast
        } else {
            AddressPolicy::GlobalOnly
        }
    }

    fn is_trusted_local_document(&self, client_id_url: &str) -> bool {
        self.trusted_local_documents
            .iter()
            .any(|trusted| trusted == client_id_url)
    }

    fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            default: self.default_cache_ttl,
            min: self.min_cache_ttl,
            max: self.max_cache_ttl,
        }
    }
}

/// Why `url` cannot be a trusted local document: it must be an `http` or `https` URL on a
/// loopback host whose `https` spelling meets the draft's rules.
fn check_trusted_local_document(url: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|error| error.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("not an http or https URL".to_owned());
    }
    if !is_loopback(&parsed) {
        return Err("not on a loopback host (localhost, 127.0.0.0/8, [::1])".to_owned());
    }
    let twin = format!(
        "https://{}",
        url.split_once("://").map_or(url, |(_, rest)| rest)
    );
    validate_client_id_url(&twin)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// A [`FetcherConfig`] that cannot be used, with every problem found.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid client metadata fetcher configuration: {}", problems.join("; "))]
pub struct FetcherConfigError {
    /// What is wrong, one entry per problem.
    pub problems: Vec<String>,
}

/// Why a Client ID Metadata Document could not be used. Every variant means the
/// authorization request must be refused (draft §4.3); at the HTTP edge they all become
/// `invalid_client` (shown to the user, not redirected: RFC 6749 §4.1.2.1).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CimdError {
    /// The client identifier URL or the document breaks the draft's or the registration
    /// policy's rules.
    #[error(transparent)]
    Invalid(#[from] mcp_oauth_core::CimdError),
    /// The URL names a host that is local by definition (`localhost`, `*.localhost`).
    #[error("client_id host `{host}` is local and is not fetched")]
    HostRefused {
        /// The host.
        host: String,
    },
    /// The host is, or resolves to, an address that may not be fetched.
    #[error("client_id host resolves to a {class} address ({address}), which is not fetched")]
    AddressRefused {
        /// The refused address.
        address: IpAddr,
        /// Its class.
        class: AddressClass,
    },
    /// The host could not be resolved.
    #[error("client_id host could not be resolved: {reason}")]
    Resolve {
        /// The resolver's explanation.
        reason: String,
    },
    /// The fetch took longer than the configured timeout.
    #[error("fetching the client metadata document timed out")]
    Timeout,
    /// The server answered with a redirect, which is never followed (draft §4).
    #[error(
        "the client metadata document URL redirects (HTTP {status}); redirects are not followed"
    )]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// The server answered with a status other than 200 (draft §4).
    #[error("fetching the client metadata document returned HTTP {status}")]
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The response is not `application/json` or `application/*+json`.
    #[error("the client metadata document has content type {}, not JSON", content_type.as_deref().unwrap_or("(none)"))]
    ContentType {
        /// The `Content-Type` received, if any.
        content_type: Option<String>,
    },
    /// The document is larger than the configured limit (draft §6.6).
    #[error("the client metadata document is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Connecting, TLS or reading the response failed.
    #[error("fetching the client metadata document failed: {reason}")]
    Transport {
        /// What failed.
        reason: String,
    },
}

/// Fetches, validates and caches Client ID Metadata Documents. Cheap to share behind an `Arc`.
pub struct ClientMetadataFetcher {
    config: FetcherConfig,
    /// What every URL is fetched with but the trusted local documents.
    client: reqwest::Client,
    /// What the trusted local documents are fetched with: `http` allowed, loopback only.
    local_client: reqwest::Client,
    cache: MetadataCache,
}

impl fmt::Debug for ClientMetadataFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientMetadataFetcher")
            .field("config", &self.config)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl ClientMetadataFetcher {
    /// A fetcher with `config`, after [`FetcherConfig::validate`].
    pub fn new(config: FetcherConfig) -> Result<Self, FetcherConfigError> {
        config.validate()?;
        let client = http_client(&config, config.address_policy())?;
        let local_client = http_client(&config, AddressPolicy::LoopbackOnly)?;
        Ok(Self {
            cache: MetadataCache::new(config.cache_capacity),
            config,
            client,
            local_client,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FetcherConfig {
        &self.config
    }

    /// The validated metadata of the client identified by `client_id_url`, from the cache or
    /// fetched now.
    pub async fn fetch(
        &self,
        client_id_url: &str,
    ) -> Result<Arc<ValidatedClientMetadata>, CimdError> {
        if let Some(cached) = self.cache.get(client_id_url, Instant::now()) {
            return Ok(cached);
        }
        let result = tokio::time::timeout(self.config.timeout, self.fetch_uncached(client_id_url))
            .await
            .unwrap_or(Err(CimdError::Timeout));
        match result {
            Ok((metadata, lifetime)) => {
                let metadata = Arc::new(metadata);
                if let Some(lifetime) = lifetime {
                    self.cache
                        .insert(client_id_url, metadata.clone(), lifetime, Instant::now());
                }
                Ok(metadata)
            }
            Err(error) => {
                tracing::debug!(client_id = client_id_url, %error, "client metadata document refused");
                Err(error)
            }
        }
    }

    /// Forgets the cached document of `client_id_url`, if any.
    pub fn evict(&self, client_id_url: &str) {
        self.cache.remove(client_id_url);
    }

    async fn fetch_uncached(
        &self,
        client_id_url: &str,
    ) -> Result<(ValidatedClientMetadata, Option<Duration>), CimdError> {
        let target = self.check_url(client_id_url)?;
        let (headers, body) = self.download(&target).await?;
        let lifetime = cache_lifetime(&headers, SystemTime::now(), self.config.lifetimes());
        let metadata = self.validate_document(client_id_url, &target, &body)?;
        Ok((metadata, lifetime))
    }

    /// Validates the identifier URL and refuses local hosts and addresses by name or literal.
    fn check_url(&self, client_id_url: &str) -> Result<Target, CimdError> {
        let trusted_local = self.config.is_trusted_local_document(client_id_url);
        let policy = if trusted_local {
            AddressPolicy::LoopbackOnly
        } else {
            self.config.address_policy()
        };
        let (url, https_twin) = match client_id_url.strip_prefix("http://") {
            // Trusted local documents (and fetcher tests): plain http to a loopback host,
            // checked like its https twin.
            Some(rest) if policy != AddressPolicy::GlobalOnly => {
                let twin = format!("https://{rest}");
                validate_client_id_url(&twin)?;
                let url = Url::parse(client_id_url).map_err(|error| {
                    mcp_oauth_core::CimdError::UnparsableUrl {
                        reason: error.to_string(),
                    }
                })?;
                if !is_loopback(&url) {
                    return Err(mcp_oauth_core::CimdError::NotHttps.into());
                }
                (url, Some(twin))
            }
            _ => (validate_client_id_url(client_id_url)?, None),
        };
        match url.host() {
            Some(Host::Domain(domain)) => {
                let domain = domain.trim_end_matches('.');
                if policy == AddressPolicy::GlobalOnly
                    && (domain == "localhost" || domain.ends_with(".localhost"))
                {
                    return Err(CimdError::HostRefused {
                        host: domain.to_owned(),
                    });
                }
            }
            Some(Host::Ipv4(v4)) => vet_address(IpAddr::V4(v4), policy)?,
            Some(Host::Ipv6(v6)) => vet_address(IpAddr::V6(v6), policy)?,
            None => {
                return Err(mcp_oauth_core::CimdError::UnparsableUrl {
                    reason: "no host".to_owned(),
                }
                .into());
            }
        }
        Ok(Target {
            url,
            https_twin,
            trusted_local,
        })
    }

    async fn download(&self, target: &Target) -> Result<(HeaderMap, Vec<u8>), CimdError> {
        let client = if target.trusted_local {
            &self.local_client
        } else {
            &self.client
        };
        let mut response = client
            .get(target.url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CimdError::Redirect {
                status: status.as_u16(),
            });
        }
        if status != StatusCode::OK {
            return Err(CimdError::HttpStatus {
                status: status.as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_json_media_type) {
            return Err(CimdError::ContentType { content_type });
        }
        let max = self.config.max_document_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Err(CimdError::TooLarge { max });
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > max {
                return Err(CimdError::TooLarge { max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((headers, body))
    }

    fn validate_document(
        &self,
        client_id_url: &str,
        target: &Target,
        body: &[u8],
    ) -> Result<ValidatedClientMetadata, CimdError> {
        let policy = &self.config.registration_policy;
        let Some(twin) = &target.https_twin else {
            return Ok(validate_client_id_metadata_document(
                client_id_url,
                body,
                policy,
            )?);
        };
        // Development only: the core rules accept https identifiers alone; a document served
        // over http must name its own http URL, and is then checked as its https twin.
        let mut value: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(_) => return Ok(validate_client_id_metadata_document(twin, body, policy)?),
        };
        if let Some(object) = value.as_object_mut()
            && let Some(Value::String(found)) = object.get("client_id")
        {
            if found != client_id_url {
                return Err(mcp_oauth_core::CimdError::ClientIdMismatch {
                    found: found.clone(),
                }
                .into());
            }
            object.insert("client_id".to_owned(), Value::String(twin.clone()));
        }
        let rewritten = serde_json::to_vec(&value).unwrap_or_default();
        Ok(validate_client_id_metadata_document(
            twin, &rewritten, policy,
        )?)
    }
}

/// A checked identifier URL: what to fetch, for `http` URLs the `https` spelling the core
/// rules are applied to, and whether it is a trusted local document.
struct Target {
    url: Url,
    https_twin: Option<String>,
    trusted_local: bool,
}

/// The HTTP client of one [`AddressPolicy`]: no redirects, no proxies, the fetch timeout,
/// `https` only unless the policy allows local addresses.
fn http_client(
    config: &FetcherConfig,
    policy: AddressPolicy,
) -> Result<reqwest::Client, FetcherConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .https_only(policy == AddressPolicy::GlobalOnly)
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .dns_resolver(VettingResolver { policy })
        .user_agent(concat!(
            "mcp-oauth/",
            env!("CARGO_PKG_VERSION"),
            " (client metadata)"
        ))
        .build()
        .map_err(|error| FetcherConfigError {
            problems: vec![format!("the CIMD HTTP client cannot be built: {error}")],
        })
}

/// Which addresses one fetch may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressPolicy {
    /// Globally reachable addresses only: every URL but the trusted local documents.
    GlobalOnly,
    /// Loopback addresses only: the trusted local documents.
    LoopbackOnly,
    /// Every unicast address ([`FetcherConfig::allow_private_addresses`], fetcher tests).
    AnyUnicast,
}

impl AddressPolicy {
    fn allows(self, class: AddressClass) -> bool {
        match self {
            Self::GlobalOnly => class.is_allowed(false),
            Self::LoopbackOnly => class == AddressClass::Loopback,
            Self::AnyUnicast => class.is_allowed(true),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(v4)) => v4.is_loopback(),
        Some(Host::Ipv6(v6)) => v6.is_loopback(),
        None => false,
    }
}

/// `application/json` or `application/<subtype>+json`, parameters ignored (draft §4.1).
fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .and_then(|subtype| subtype.strip_suffix("+json"))
            .is_some_and(|prefix| !prefix.is_empty() && !prefix.contains(['/', ' ', '\t', ',']))
}

fn vet_address(address: IpAddr, policy: AddressPolicy) -> Result<(), CimdError> {
    let class = classify_address(address);
    if policy.allows(class) {
        Ok(())
    } else {
        Err(CimdError::AddressRefused { address, class })
    }
}

/// Maps an HTTP client error, recognising the resolver's refusals in its source chain.
fn transport_error(error: reqwest::Error) -> CimdError {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<ResolverRefusal>() {
            return match refused {
                ResolverRefusal::Address { address, class } => CimdError::AddressRefused {
                    address: *address,
                    class: *class,
                },
                ResolverRefusal::Lookup { reason } => CimdError::Resolve {
                    reason: reason.clone(),
                },
            };
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return CimdError::Timeout;
    }
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    CimdError::Transport { reason }
}

/// Why the vetting resolver refused a name.
#[derive(Debug, Error)]
enum ResolverRefusal {
    #[error("{address} is a {class} address")]
    Address {
        address: IpAddr,
        class: AddressClass,
    },
    #[error("{reason}")]
    Lookup { reason: String },
}

/// The HTTP client's resolver: resolves with the system resolver and hands the connector only
/// names whose every address is allowed, so what is checked is what is connected to.
#[derive(Debug, Clone, Copy)]
struct VettingResolver {
    policy: AddressPolicy,
}

impl Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolve_vetted(&host, policy).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

async fn resolve_vetted(
    host: &str,
    policy: AddressPolicy,
) -> Result<Vec<SocketAddr>, ResolverRefusal> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|error| ResolverRefusal::Lookup {
            reason: error.to_string(),
        })?
        .collect();
    if addresses.is_empty() {
        return Err(ResolverRefusal::Lookup {
            reason: "no addresses".to_owned(),
        });
    }
    if let Some(refused) = addresses
        .iter()
        .map(|address| (address.ip(), classify_address(address.ip())))
        .find(|(_, class)| !policy.allows(*class))
    {
        return Err(ResolverRefusal::Address {
            address: refused.0,
            class: refused.1,
        });
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_json_media_types() {
        for accepted in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/oauth-client+json",
            "application/vnd.example+json;v=1",
        ] {
            assert!(is_json_media_type(accepted), "{accepted}");
        }
        for refused in [
            "",
            "text/html",
            "text/json",
            "text/plain; application/json",
            "application/jsonx",
            "application/+json",
            "application/x/y+json",
            "application/octet-stream",
            "multipart/mixed; boundary=application/json",
        ] {
            assert!(!is_json_media_type(refused), "{refused}");
        }
    }

    #[test]
    fn rejects_configurations_with_every_problem_listed() {
        let config = FetcherConfig::default()
            .with_timeout(Duration::ZERO)
            .with_max_document_bytes(0)
            .with_cache_ttl(
                Duration::from_secs(60),
                Duration::from_secs(600),
                Duration::from_secs(60),
            );
        let error = config.validate().unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
        assert!(FetcherConfig::default().validate().is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_with_any_local_address() {
        let refused = resolve_vetted("localhost", AddressPolicy::GlobalOnly)
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                ResolverRefusal::Address {
                    class: AddressClass::Loopback,
                    ..
                }
            ),
            "{refused}"
        );
        for policy in [AddressPolicy::LoopbackOnly, AddressPolicy::AnyUnicast] {
            let allowed = resolve_vetted("localhost", policy).await.unwrap();
            assert!(allowed.iter().all(|a| a.ip().is_loopback()));
        }
    }

    #[test]
    fn trusted_local_documents_must_be_loopback_client_id_urls() {
        let config = FetcherConfig::default().with_trusted_local_documents([
            "http://localhost:3003/client-metadata.json",
            "https://127.0.0.1:8443/client.json",
            "http://[::1]:3003/client.json",
        ]);
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        let config = FetcherConfig::default().with_trusted_local_documents([
            "http://app.example.com/client.json",
            "http://10.0.0.1/client.json",
            "ftp://localhost/client.json",
            "http://localhost:3003/",
            "http://localhost:3003/client.json#fragment",
            "not a url",
        ]);
        let error = config.validate().unwrap_err();
        assert_eq!(error.problems.len(), 6, "{error}");
    }
}
