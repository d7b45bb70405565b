//! Configuration of the resource server: what it is, whom it trusts, and how strictly.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcp_oauth_core::CanonicalResource;
use url::Url;

use crate::allowed_clients::ClientAllowList;
use crate::error::ConfigError;

/// The largest clock skew accepted for `exp` and `nbf`.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// Everything the resource server needs to know. Build it with [`ResourceServerConfig::new`]
/// and the `with_…` setters; [`ResourceServer::new`](crate::ResourceServer::new) validates it.
#[derive(Clone)]
#[non_exhaustive]
pub struct ResourceServerConfig {
    /// The canonical URI of the MCP endpoint: PRM `resource` and the required token audience.
    pub resource: CanonicalResource,
    /// PRM `resource_name`.
    pub resource_name: Option<String>,
    /// PRM `resource_documentation`: a page that must exist.
    pub resource_documentation: Option<String>,
    /// Trusted issuers, each with its validation profile.
    pub issuers: Vec<IssuerConfig>,
    /// PRM `scopes_supported`; also the `scope` of a challenge to a request without a token.
    pub scopes_supported: Vec<String>,
    /// The scope each tool needs (`tools/call` with that `name`); tools not listed need the
    /// [`Self::default_scope`], if any.
    pub tool_scopes: HashMap<String, String>,
    /// The scope each resource needs, by URI (`resources/read` and `resources/subscribe` with
    /// that `uri`; in `resources/templates/list`, a template's `uriTemplate`); resources not
    /// listed need the [`Self::default_scope`], if any.
    pub resource_scopes: HashMap<String, String>,
    /// The scope each prompt needs (`prompts/get` with that `name`); prompts not listed need
    /// the [`Self::default_scope`], if any.
    pub prompt_scopes: HashMap<String, String>,
    /// The scope every tool, resource and prompt without a rule of its own needs; `None`: such
    /// features need no scope beyond a valid token.
    pub default_scope: Option<String>,
    /// `Host` values accepted (`host` or `host:port`); empty accepts any host.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted (`scheme://host[:port]`); requests without `Origin` always pass.
    pub allowed_origins: Vec<String>,
    /// JWT signature algorithms accepted (never `none`, never HMAC).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`; at most 60 seconds.
    pub leeway: Duration,
    /// The longest lifetime (`exp` − `iat`) a JWT access token may have; `None` accepts any.
    /// A token without `iat` is measured from now (plus the leeway).
    pub max_token_lifetime: Option<Duration>,
    /// The shortest time between two JWKS fetches triggered by unknown key ids.
    pub jwks_refresh_interval: Duration,
    /// Time limit for each request to an issuer (metadata, JWKS, introspection).
    pub http_timeout: Duration,
    /// The largest request body the bearer layer reads to check the scopes of tool calls; a
    /// POST that declares a longer body (`Content-Length`) is refused with 413 either way. The
    /// body of a token that holds every scope the tools need is not read: the MCP service's
    /// own limit applies to it (set the same one there).
    pub max_body_bytes: usize,
    /// How many validated tokens are remembered until they expire; when the cache is full, each
    /// new token takes the place of one that was not used lately (see the cache's module).
    pub token_cache_capacity: usize,
}

impl ResourceServerConfig {
    /// A configuration for the MCP endpoint at `resource`, with safe defaults: RS256, PS256,
    /// ES256 and EdDSA; 30 s leeway; JWKS refetched at most every 30 s; loopback hosts only.
    pub fn new(resource: &str) -> Result<Self, ConfigError> {
        let resource =
            CanonicalResource::parse(resource).map_err(|error| ConfigError::Invalid {
                field: "resource",
                reason: error.to_string(),
            })?;
        Ok(Self {
            resource,
            resource_name: None,
            resource_documentation: None,
            issuers: Vec::new(),
            scopes_supported: Vec::new(),
            tool_scopes: HashMap::new(),
            resource_scopes: HashMap::new(),
            prompt_scopes: HashMap::new(),
            default_scope: None,
            allowed_hosts: ["localhost", "127.0.0.1", "[::1]"]
                .map(String::from)
                .to_vec(),
            allowed_origins: Vec::new(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            leeway: Duration::from_secs(30),
            max_token_lifetime: None,
            jwks_refresh_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
            max_body_bytes: 4 * 1024 * 1024,
            token_cache_capacity: 10_000,
        })
    }

    /// Trusts one more issuer.
    pub fn with_issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Sets PRM `resource_name`.
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets PRM `resource_documentation`.
    pub fn with_resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Sets PRM `scopes_supported`.
    pub fn with_scopes_supported(
        mut self,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Requires `scope` for `tools/call` of `tool`.
    pub fn with_tool_scope(mut self, tool: impl Into<String>, scope: impl Into<String>) -> Self {
        self.tool_scopes.insert(tool.into(), scope.into());
        self
    }

    /// Requires `scope` for `resources/read` and `resources/subscribe` of `uri` (and lists the
    /// resource template whose `uriTemplate` is `uri` only to tokens with `scope`).
    pub fn with_resource_scope(mut self, uri: impl Into<String>, scope: impl Into<String>) -> Self {
        self.resource_scopes.insert(uri.into(), scope.into());
        self
    }

    /// Requires `scope` for `prompts/get` of `prompt`.
    pub fn with_prompt_scope(
        mut self,
        prompt: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        self.prompt_scopes.insert(prompt.into(), scope.into());
        self
    }

    /// Requires `scope` for every tool, resource and prompt that has no rule of its own.
    pub fn with_default_scope(mut self, scope: impl Into<String>) -> Self {
        self.default_scope = Some(scope.into());
        self
    }

    /// Replaces the accepted `Host` values. The resource's own host is always accepted.
    pub fn with_allowed_hosts(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the accepted `Origin` values.
    pub fn with_allowed_origins(
        mut self,
        origins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the accepted JWT algorithms.
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Sets the clock skew allowed on `exp`, `nbf` and `iat` (at most 60 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuses JWT access tokens whose lifetime (`exp` − `iat`, RFC 7519 §4.1.4, §4.1.6) is
    /// longer than `lifetime`: a stolen token is then useful for at most that long, whatever
    /// the issuer was configured to issue (RFC 9700 §4.10.1 recommends short-lived tokens).
    pub fn with_max_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_token_lifetime = Some(lifetime);
        self
    }

    /// Sets the shortest time between two JWKS refetches.
    pub fn with_jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = interval;
        self
    }

    /// Sets the time limit of each request to an issuer.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets the largest request body read by the bearer layer.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The URL of the path-inserted Protected Resource Metadata document, the one challenges name.
    pub fn resource_metadata_url(&self) -> String {
        mcp_oauth_core::protected_resource_metadata_urls(&self.resource)
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// Every `Host` value accepted: the configured ones plus the resource's own authority.
    pub(crate) fn effective_allowed_hosts(&self) -> Vec<String> {
        let mut hosts = self.allowed_hosts.clone();
        if !hosts.is_empty()
            && let Some(host) = self.resource.url().host_str()
        {
            hosts.push(host.to_owned());
        }
        hosts
    }

    /// Checks the whole configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.issuers.is_empty() {
            problems.push("at least one trusted issuer is required".to_owned());
        }
        let mut seen = HashSet::new();
        for issuer in &self.issuers {
            if let Err(reason) = issuer.validate() {
                problems.push(format!("issuer {}: {reason}", issuer.issuer));
            }
            if !seen.insert(issuer.issuer.as_str()) {
                problems.push(format!("issuer {} is listed twice", issuer.issuer));
            }
        }
        if self.algorithms.is_empty() {
            problems.push("at least one JWT algorithm must be allowed".to_owned());
        }
        for algorithm in &self.algorithms {
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                problems.push(format!(
                    "{algorithm:?} is refused: a resource server must not accept HMAC-signed tokens"
                ));
            }
        }
        if self.leeway > MAX_LEEWAY {
            problems.push(format!(
                "leeway {}s exceeds the 60 s maximum",
                self.leeway.as_secs()
            ));
        }
        if self.max_token_lifetime == Some(Duration::ZERO) {
            problems.push("max_token_lifetime must be positive".to_owned());
        }
        let rules = [
            ("tool", &self.tool_scopes),
            ("resource", &self.resource_scopes),
            ("prompt", &self.prompt_scopes),
        ];
        let default = self
            .default_scope
            .iter()
            .map(|scope| ("default scope", "", scope));
        let scopes = rules
            .into_iter()
            .flat_map(|(kind, rules)| {
                rules
                    .iter()
                    .map(move |(target, scope)| (kind, target.as_str(), scope))
            })
            .chain(default);
        for (kind, target, scope) in scopes {
            if scope.is_empty() || scope.contains(' ') {
                problems.push(format!(
                    "{kind} {target}: scope `{scope}` must be one non-empty scope token"
                ));
            }
        }
        problems.extend(
            self.allowed_hosts
                .iter()
                .filter_map(|host| crate::guard::host_entry_problem(host)),
        );
        for origin in &self.allowed_origins {
            if origin != "null" && Url::parse(origin).is_err() {
                problems.push(format!(
                    "allowed origin `{origin}` is not scheme://host[:port]"
                ));
            }
        }
        if self.max_body_bytes == 0 {
            problems.push("max_body_bytes must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Problems(problems))
        }
    }
}

impl fmt::Debug for ResourceServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServerConfig")
            .field("resource", &self.resource.as_str())
            .field("issuers", &self.issuers)
            .field("scopes_supported", &self.scopes_supported)
            .field("tool_scopes", &self.tool_scopes)
            .field("resource_scopes", &self.resource_scopes)
            .field("prompt_scopes", &self.prompt_scopes)
            .field("default_scope", &self.default_scope)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

/// One trusted issuer and the rules its tokens must meet.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The issuer identifier, compared exactly with the `iss` claim.
    pub issuer: String,
    /// How this issuer's tokens are checked.
    pub profile: TokenProfile,
    /// Where the signing keys are; found through the issuer's metadata when `None`.
    pub jwks_uri: Option<String>,
    /// Where the issuer's metadata document is, when it is not at the well-known URLs derived
    /// from the issuer identifier (a proxy, or an emulator such as moto). Its `issuer` must
    /// still equal [`IssuerConfig::issuer`].
    pub metadata_url: Option<String>,
    /// RFC 7662 introspection for opaque (non-JWT) tokens from this issuer.
    pub introspection: Option<IntrospectionConfig>,
    /// When set, this issuer's JWTs are also introspected (with [`Self::introspection`]) when
    /// first seen and again once this long has passed since the last answer, so a token the
    /// authorization server revoked is refused within this time instead of at its expiry.
    /// A token the endpoint cannot vouch for is refused (fail closed). `None` (default): JWTs
    /// are checked locally only.
    pub revocation_check: Option<Duration>,
    /// The authorization server identifier the Protected Resource Metadata lists for this
    /// issuer (RFC 9728 `authorization_servers`), when clients must discover it elsewhere than
    /// at the token issuer: the Cognito gateway's metadata façade. `None` lists [`Self::issuer`].
    pub authorization_server: Option<String>,
}

impl IssuerConfig {
    /// An issuer of RFC 9068 JWT access tokens whose audience must be this resource.
    pub fn jwt(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            profile: TokenProfile::Jwt,
            jwks_uri: None,
            metadata_url: None,
            introspection: None,
            revocation_check: None,
            authorization_server: None,
        }
    }

    /// An AWS Cognito user pool (issuer `https://cognito-idp.<region>.amazonaws.com/<pool id>`).
    pub fn cognito(issuer: impl Into<String>, allowed_clients: Arc<dyn ClientAllowList>) -> Self {
        Self {
            profile: TokenProfile::Cognito { allowed_clients },
            ..Self::jwt(issuer)
        }
    }

    /// Uses `jwks_uri` instead of discovering it.
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// Reads the issuer's metadata from `metadata_url` instead of the well-known URLs.
    pub fn with_metadata_url(mut self, metadata_url: impl Into<String>) -> Self {
        self.metadata_url = Some(metadata_url.into());
        self
    }

    /// Lists `identifier` instead of the issuer in the Protected Resource Metadata: clients
    /// discover the authorization server there, while tokens still carry [`Self::issuer`].
    pub fn with_authorization_server(mut self, identifier: impl Into<String>) -> Self {
        self.authorization_server = Some(identifier.into());
        self
    }

    /// Introspects opaque tokens at this issuer.
    pub fn with_introspection(mut self, introspection: IntrospectionConfig) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Also introspects this issuer's JWTs, when first seen and again `every` after the last
    /// answer, to learn of revocations (see [`Self::revocation_check`]); needs
    /// [`Self::with_introspection`].
    pub fn with_revocation_check(mut self, every: Duration) -> Self {
        self.revocation_check = Some(every);
        self
    }

    fn validate(&self) -> Result<(), String> {
        let url = Url::parse(&self.issuer).map_err(|error| format!("not a URL: {error}"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("an issuer identifier has no query or fragment (RFC 8414 §2)".to_owned());
        }
        for (name, value) in [
            ("jwks_uri", &self.jwks_uri),
            ("metadata_url", &self.metadata_url),
            ("authorization_server", &self.authorization_server),
        ] {
            if let Some(value) = value {
                Url::parse(value).map_err(|error| format!("{name} is not a URL: {error}"))?;
            }
        }
        if let Some(introspection) = &self.introspection {
            Url::parse(&introspection.endpoint)
                .map_err(|error| format!("introspection endpoint is not a URL: {error}"))?;
        }
        match self.revocation_check {
            Some(_) if self.introspection.is_none() => {
                return Err("the revocation check introspects tokens: it needs an \
                            introspection endpoint and credentials"
                    .to_owned());
            }
            Some(every) if every.is_zero() => {
                return Err("the revocation check interval must be positive".to_owned());
            }
            _ => {}
        }
        Ok(())
    }
}

/// How an issuer's access tokens are checked.
#[derive(Clone)]
#[non_exhaustive]
pub enum TokenProfile {
    /// RFC 9068 JWT access tokens: `aud` must name this resource (RFC 8707).
    Jwt,
    /// AWS Cognito access tokens, which carry no `aud`: `token_use` must be `access`,
    /// `client_id` must be allowed, and a scope must belong to the resource server whose
    /// identifier is this resource's URI (`<resource>/<scope>`).
    Cognito {
        /// The app clients whose tokens are accepted.
        allowed_clients: Arc<dyn ClientAllowList>,
    },
}

impl fmt::Debug for TokenProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jwt => f.write_str("Jwt"),
            Self::Cognito { .. } => f.write_str("Cognito"),
        }
    }
}

/// RFC 7662 introspection of opaque tokens: where, and the resource server's own credentials.
#[derive(Clone)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// The introspection endpoint.
    pub endpoint: String,
    /// The resource server's client id at the issuer.
    pub client_id: String,
    /// The resource server's client secret (never logged).
    pub client_secret: String,
}

impl IntrospectionConfig {
    /// Introspection at `endpoint`, authenticated with HTTP Basic (`client_secret_basic`).
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_every_problem_at_once() {
        let config = ResourceServerConfig::new("http://localhost:3001/mcp")
            .unwrap()
            .with_algorithms([Algorithm::HS256])
            .with_leeway(Duration::from_secs(120))
            .with_max_token_lifetime(Duration::ZERO)
            .with_tool_scope("create_context", "")
            .with_resource_scope("file:///a", "two scopes")
            .with_prompt_scope("p", "")
            .with_default_scope("");
        let ConfigError::Problems(problems) = config.validate().unwrap_err() else {
            panic!("expected a list of problems");
        };
        assert_eq!(problems.len(), 8, "{problems:?}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let introspection = IntrospectionConfig::new("https://as/introspect", "rs", "s3cret");
        assert!(!format!("{introspection:?}").contains("s3cret"));
    }
}
