//! Configuration of the authorization server: one documented default for every setting,
//! `with_…` setters, and [`AuthorizationServerConfig::validate`] that reports every problem.
//! The settings of an optional capability exist only with its feature: the upstream
//! providers (`upstream`) with `federation`, Client ID Metadata Documents with `cimd`.

mod mfa;
#[cfg(feature = "federation")]
mod upstream;

use std::time::Duration;

use mcp_oauth_core::{
    CanonicalResource, RegistrationGovernance, ScopeSet, TokenEndpointAuthMethod,
};
use url::Url;

pub use self::mfa::{MfaPolicy, UnknownMfaPolicy};
#[cfg(feature = "federation")]
pub use self::upstream::UpstreamProvider;

/// Everything the authorization server needs to know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationServerConfig {
    /// The issuer identifier (RFC 8414 §2): an https URL (http on loopback for development)
    /// without query or fragment; endpoints live under it.
    pub issuer: String,
    /// The resources (RFC 8707) tokens may be issued for; a request for another gets
    /// `invalid_target`. A request without `resource` gets the first one.
    pub resources: Vec<CanonicalResource>,
    /// The scopes clients may ask for.
    pub scopes_supported: Vec<String>,
    /// Scopes granted when a request names none.
    pub default_scopes: Vec<String>,
    /// Lifetime of access tokens (default 5 minutes). Resource servers that validate JWTs
    /// locally accept a revoked access token until it expires, so this bounds how long a
    /// revocation takes to reach them unless they check (RFC 9700 §4.14: short-lived access
    /// tokens with refresh tokens); clients refresh before it ends.
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens (default 30 days).
    pub refresh_token_ttl: Duration,
    /// Lifetime of authorization codes (default 60 s; OAuth 2.1 recommends at most 10 minutes).
    pub code_ttl: Duration,
    /// Lifetime of ID tokens (default 1 hour).
    pub id_token_ttl: Duration,
    /// Lifetime of a sign-in session (default 12 hours).
    pub session_ttl: Duration,
    /// Whether people may create accounts on the sign-up page (default true).
    pub allow_signup: bool,
    /// When set, `POST /register` needs this initial access token (RFC 7591 §3).
    pub initial_access_token: Option<String>,
    /// Registrations allowed per client address (IPv6: per /64) per minute (default 20), in a
    /// window that starts at the address's first registration; counted in the store, so every
    /// instance on one database counts together. 0 refuses every registration.
    pub registrations_per_minute: u32,
    /// Whether an https URL is accepted as `client_id` (Client ID Metadata Documents;
    /// default true).
    #[cfg(feature = "cimd")]
    pub client_id_metadata_documents: bool,
    /// Exact `client_id` URLs of metadata documents that may be `http` on a loopback host
    /// (default none), e.g. a local stack's own CIMD client. Every other metadata document
    /// must be `https` on a public address.
    #[cfg(feature = "cimd")]
    pub cimd_trusted_local_documents: Vec<String>,
    /// **Dangerous, for tests only** (default false): every Client ID Metadata Document may be
    /// `http` on loopback and live on loopback and private addresses, so any client can make
    /// the server request internal services (CIMD draft §6.5). No command sets it; a local
    /// stack lists its own documents in `cimd_trusted_local_documents` instead.
    #[cfg(feature = "cimd")]
    pub cimd_allow_private_addresses: bool,
    /// Sign-in throttling: failures allowed per account and address, per account, per address
    /// and per device cookie, the window, and the device cookies' lifetime.
    pub login_limits: LoginLimits,
    /// Two-step verification (TOTP, RFC 6238) of local sign-ins: off, optional (the default) or
    /// required.
    pub mfa: MfaPolicy,
    /// Upstream OpenID providers people sign in with (federated sign-in). When there is at
    /// least one, they replace the local sign-in and sign-up pages.
    #[cfg(feature = "federation")]
    pub upstreams: Vec<UpstreamProvider>,
    /// How long a person has to finish signing in at an upstream provider (default 10 minutes).
    #[cfg(feature = "federation")]
    pub upstream_login_ttl: Duration,
    /// How often expired codes, sessions, upstream sign-ins and tokens are deleted from the
    /// store by [`crate::AuthorizationServer::purge_expired_periodically`] (default 5 minutes).
    pub purge_interval: Duration,
    /// How often the signing keys are read again from the store by
    /// [`crate::AuthorizationServer::reload_keys_periodically`], so that a rotation made by
    /// another process (`mcp-oauth admin keys rotate`) is picked up (default 1 minute).
    pub key_reload_interval: Duration,
    /// How long the audit trail keeps a security event (default 90 days): older records are
    /// deleted by [`crate::AuthorizationServer::purge_expired_periodically`].
    pub audit_retention: Duration,
    /// What the operator decides about dynamically registered and metadata-document clients
    /// (issue 16): approval, trusted redirect hosts, scope ceilings, limits. The default
    /// changes nothing.
    pub governance: RegistrationGovernance,
    /// Whether the server terminates TLS and asks clients for a certificate, which then reaches
    /// the handlers as a [`mcp_oauth_core::ClientCertificate`] request extension (default
    /// false). Then access tokens of clients that registered
    /// `tls_client_certificate_bound_access_tokens` are bound to the certificate presented at
    /// the token endpoint (RFC 8705 §3), and the metadata says so.
    pub tls_client_certificates: bool,
    /// The certificate authorities (DER) whose client certificates `tls_client_auth` accepts
    /// (RFC 8705 §2.1); empty (the default): that method is not offered. Needs
    /// `tls_client_certificates`. `self_signed_tls_client_auth` needs no CA.
    pub client_certificate_authorities: Vec<Vec<u8>>,
    /// The publishers whose software statements registration accepts (RFC 7591 §2.3); without
    /// them a statement is ignored.
    #[cfg(feature = "software-statements")]
    pub software_statements: Option<std::sync::Arc<mcp_oauth_resource::SoftwareStatements>>,
}

/// Sign-in throttling (OWASP Authentication Cheat Sheet, "Login Throttling"; OWASP "Slow Down
/// Online Guessing Attacks with Device Cookies"): how many failed sign-ins each counter allows
/// in a fixed window that starts at its first failure; beyond that, the attempts it counts get
/// 429 until the window ends, even with the right password. The counters are kept in the store
/// ([`crate::store::LimitStore`]), shared by every instance on one database.
///
/// A browser holding a device cookie of the account (issued where the user signed in with
/// their password before) is counted only by its cookie: others' failures on the account or
/// from its address do not lock it out. Other browsers are counted per account and address,
/// per account from every address together, and per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginLimits {
    /// Failures per account from one client address, for browsers without a device cookie of
    /// the account (default 5).
    pub per_account_and_ip: u32,
    /// Failures per account from all addresses together, for browsers without a device cookie
    /// of the account (default 20): the cap on guessing spread over many addresses. Once it is
    /// reached, only browsers with a device cookie of the account sign in to it.
    pub per_account: u32,
    /// Failures per client address, whatever the account, for browsers without a device cookie
    /// of the account (default 20); sign-ups for a taken e-mail address count here too.
    pub per_ip: u32,
    /// Failures per device cookie (default 5): the cookie is then locked on its own.
    pub per_device: u32,
    /// The window (default 15 minutes).
    pub window: Duration,
    /// How long a device cookie is valid after the sign-in that issued it (default 30 days).
    pub device_cookie_ttl: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account_and_ip: 5,
            per_account: 20,
            per_ip: 20,
            per_device: 5,
            window: Duration::from_secs(15 * 60),
            device_cookie_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl LoginLimits {
    /// Sets the failures allowed per account from one address.
    pub fn with_per_account_and_ip(mut self, limit: u32) -> Self {
        self.per_account_and_ip = limit;
        self
    }

    /// Sets the failures allowed per account from all addresses together.
    pub fn with_per_account(mut self, limit: u32) -> Self {
        self.per_account = limit;
        self
    }

    /// Sets the failures allowed per client address.
    pub fn with_per_ip(mut self, limit: u32) -> Self {
        self.per_ip = limit;
        self
    }

    /// Sets the failures allowed per device cookie.
    pub fn with_per_device(mut self, limit: u32) -> Self {
        self.per_device = limit;
        self
    }

    /// Sets the window.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets the device cookies' lifetime.
    pub fn with_device_cookie_ttl(mut self, ttl: Duration) -> Self {
        self.device_cookie_ttl = ttl;
        self
    }

    fn validate(&self, problems: &mut Vec<String>) {
        for (name, limit) in [
            ("per account and address", self.per_account_and_ip),
            ("per account", self.per_account),
            ("per address", self.per_ip),
            ("per device cookie", self.per_device),
        ] {
            if limit == 0 {
                problems.push(format!(
                    "the failed sign-ins allowed {name} must be at least 1"
                ));
            }
        }
        if self.window.is_zero() {
            problems.push("the sign-in throttling window must be positive".to_owned());
        }
        if self.device_cookie_ttl.is_zero() {
            problems.push("the device cookie lifetime must be positive".to_owned());
        }
    }
}

/// Whether `url` is https, or http on a loopback host (development).
fn is_https_or_loopback(url: &Url) -> bool {
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

impl AuthorizationServerConfig {
    /// A configuration for `issuer` serving `resource`, with the documented defaults.
    pub fn new(issuer: &str, resource: &str) -> Result<Self, String> {
        let resource = CanonicalResource::parse(resource).map_err(|error| error.to_string())?;
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            resources: vec![resource],
            scopes_supported: ["mcp:read", "mcp:write", "openid", "offline_access"]
                .map(String::from)
                .to_vec(),
            default_scopes: ["mcp:read", "mcp:write"].map(String::from).to_vec(),
            access_token_ttl: Duration::from_secs(5 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            id_token_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(12 * 3600),
            allow_signup: true,
            initial_access_token: None,
            registrations_per_minute: 20,
            #[cfg(feature = "cimd")]
            client_id_metadata_documents: true,
            #[cfg(feature = "cimd")]
            cimd_trusted_local_documents: Vec::new(),
            #[cfg(feature = "cimd")]
            cimd_allow_private_addresses: false,
            login_limits: LoginLimits::default(),
            mfa: MfaPolicy::default(),
            #[cfg(feature = "federation")]
            upstreams: Vec::new(),
            #[cfg(feature = "federation")]
            upstream_login_ttl: Duration::from_secs(10 * 60),
            purge_interval: Duration::from_secs(5 * 60),
            key_reload_interval: Duration::from_secs(60),
            audit_retention: Self::DEFAULT_AUDIT_RETENTION,
            governance: RegistrationGovernance::default(),
            tls_client_certificates: false,
            client_certificate_authorities: Vec::new(),
            #[cfg(feature = "software-statements")]
            software_statements: None,
        })
    }

    /// Adds a resource tokens may be issued for.
    pub fn with_resource(mut self, resource: CanonicalResource) -> Self {
        if !self.resources.contains(&resource) {
            self.resources.push(resource);
        }
        self
    }

    /// Replaces the supported scopes.
    pub fn with_scopes_supported(
        mut self,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the scopes granted when a request names none.
    pub fn with_default_scopes(
        mut self,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.default_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the access token lifetime.
    pub fn with_access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Sets the refresh token lifetime.
    pub fn with_refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// Sets the authorization code lifetime.
    pub fn with_code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// Allows or forbids self sign-up.
    pub fn with_signup(mut self, allow: bool) -> Self {
        self.allow_signup = allow;
        self
    }

    /// Requires an initial access token for registration.
    pub fn with_initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    /// Sets how many registrations one IP may make per minute.
    pub fn with_registrations_per_minute(mut self, limit: u32) -> Self {
        self.registrations_per_minute = limit;
        self
    }

    /// Accepts (the default) or refuses https URLs as `client_id` (Client ID Metadata
    /// Documents).
    #[cfg(feature = "cimd")]
    pub fn with_client_id_metadata_documents(mut self, accept: bool) -> Self {
        self.client_id_metadata_documents = accept;
        self
    }

    /// **Dangerous, for tests only**: see
    /// [`AuthorizationServerConfig::cimd_allow_private_addresses`].
    #[cfg(feature = "cimd")]
    pub fn with_cimd_private_addresses_allowed(mut self, allow: bool) -> Self {
        self.cimd_allow_private_addresses = allow;
        self
    }

    /// Trusts the exact `client_id` URLs `urls` of metadata documents on loopback `http`
    /// (see [`AuthorizationServerConfig::cimd_trusted_local_documents`]).
    #[cfg(feature = "cimd")]
    pub fn with_cimd_trusted_local_documents<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cimd_trusted_local_documents = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how often expired rows are purged from the store.
    pub fn with_purge_interval(mut self, interval: Duration) -> Self {
        self.purge_interval = interval;
        self
    }

    /// Sets how often the signing keys are read again from the store.
    pub fn with_key_reload_interval(mut self, interval: Duration) -> Self {
        self.key_reload_interval = interval;
        self
    }

    /// How long the audit trail keeps a security event unless configured otherwise: 90 days.
    pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

    /// Sets how long the audit trail keeps a security event.
    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    /// Sets the registration governance (approval, trusted redirect hosts, scope ceilings,
    /// limits).
    pub fn with_governance(mut self, governance: RegistrationGovernance) -> Self {
        self.governance = governance;
        self
    }

    /// Says whether the server terminates TLS and asks clients for a certificate
    /// ([`AuthorizationServerConfig::tls_client_certificates`]).
    pub fn with_tls_client_certificates(mut self, asked: bool) -> Self {
        self.tls_client_certificates = asked;
        self
    }

    /// Trusts the CA certificates `authorities` (DER) for `tls_client_auth`
    /// ([`AuthorizationServerConfig::client_certificate_authorities`]).
    pub fn with_client_certificate_authorities(mut self, authorities: Vec<Vec<u8>>) -> Self {
        self.client_certificate_authorities = authorities;
        self
    }

    /// The client authentication methods this server accepts at its token, revocation and
    /// introspection endpoints: `none` and the two secret methods always;
    /// `self_signed_tls_client_auth` when client certificates reach the server, and
    /// `tls_client_auth` when it also trusts a CA for them (RFC 8705 §2).
    pub fn client_auth_methods(&self) -> Vec<TokenEndpointAuthMethod> {
        let mut methods = vec![
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::ClientSecretPost,
        ];
        if self.tls_client_certificates {
            if !self.client_certificate_authorities.is_empty() {
                methods.push(TokenEndpointAuthMethod::TlsClientAuth);
            }
            methods.push(TokenEndpointAuthMethod::SelfSignedTlsClientAuth);
        }
        methods
    }

    /// Verifies and applies the software statements of registrations with `statements`.
    #[cfg(feature = "software-statements")]
    pub fn with_software_statements(
        mut self,
        statements: std::sync::Arc<mcp_oauth_resource::SoftwareStatements>,
    ) -> Self {
        self.software_statements = Some(statements);
        self
    }

    /// Whether registration verifies software statements.
    fn verifies_software_statements(&self) -> bool {
        #[cfg(feature = "software-statements")]
        return self.software_statements.is_some();
        #[cfg(not(feature = "software-statements"))]
        return false;
    }

    /// The scopes clients may ask for, as a set.
    pub fn supported_scopes(&self) -> ScopeSet {
        self.scopes_supported.iter().map(String::as_str).collect()
    }

    /// Sets the two-step verification policy ([`MfaPolicy`]).
    pub fn with_mfa(mut self, policy: MfaPolicy) -> Self {
        self.mfa = policy;
        self
    }

    /// Sets the sign-in throttling limits.
    pub fn with_login_limits(mut self, limits: LoginLimits) -> Self {
        self.login_limits = limits;
        self
    }

    /// Adds an upstream OpenID provider: people then sign in there instead of with a local
    /// password (several make a chooser page).
    #[cfg(feature = "federation")]
    pub fn with_upstream(mut self, upstream: UpstreamProvider) -> Self {
        self.upstreams.push(upstream);
        self
    }

    /// Whether people sign in at upstream providers (federated) rather than with local
    /// passwords.
    #[cfg(feature = "federation")]
    pub fn federated(&self) -> bool {
        !self.upstreams.is_empty()
    }

    /// Whether people sign in at upstream providers: never without the `federation` feature.
    #[cfg(not(feature = "federation"))]
    pub fn federated(&self) -> bool {
        false
    }

    /// Whether the sign-up page is open: allowed, and not federated.
    pub fn signup_open(&self) -> bool {
        self.allow_signup && !self.federated()
    }

    /// Whether cookies must be `Secure` (the issuer is https).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The URL of an endpoint under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Checks the whole configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        match Url::parse(&self.issuer) {
            Err(error) => problems.push(format!("issuer `{}` is not a URL: {error}", self.issuer)),
            Ok(url) => {
                if !is_https_or_loopback(&url) {
                    problems
                        .push("the issuer must be https (http only on a loopback host)".to_owned());
                }
                if url.query().is_some() || url.fragment().is_some() {
                    problems.push("the issuer must not have a query or fragment".to_owned());
                }
            }
        }
        if self.resources.is_empty() {
            problems.push("at least one resource is required".to_owned());
        }
        for scope in &self.default_scopes {
            if !self.scopes_supported.contains(scope) {
                problems.push(format!("default scope `{scope}` is not a supported scope"));
            }
        }
        if self.code_ttl.is_zero() || self.code_ttl > Duration::from_secs(600) {
            problems.push("the code lifetime must be between 1 s and 10 minutes".to_owned());
        }
        for (name, ttl) in [
            ("access token", self.access_token_ttl),
            ("refresh token", self.refresh_token_ttl),
            ("ID token", self.id_token_ttl),
            ("session", self.session_ttl),
            ("audit record", self.audit_retention),
        ] {
            if ttl.is_zero() {
                problems.push(format!("the {name} lifetime must be positive"));
            }
        }
        if self.purge_interval.is_zero() {
            problems.push("the purge interval must be positive".to_owned());
        }
        if self.key_reload_interval.is_zero() {
            problems.push("the key reload interval must be positive".to_owned());
        }
        self.login_limits.validate(&mut problems);
        problems.extend(self.governance.problems(&self.supported_scopes()));
        if self.governance.require_software_statement && !self.verifies_software_statements() {
            problems.push(
                "requiring a software statement needs at least one statement publisher".to_owned(),
            );
        }
        #[cfg(feature = "federation")]
        self.validate_upstreams(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_local_development() {
        let config =
            AuthorizationServerConfig::new("http://localhost:9000/", "http://localhost:3001/mcp")
                .unwrap();
        assert_eq!(config.issuer, "http://localhost:9000");
        assert_eq!(config.endpoint("/token"), "http://localhost:9000/token");
        assert!(config.validate().is_ok());
        assert!(!config.secure_cookies());
    }

    #[test]
    fn reports_every_problem() {
        let config = AuthorizationServerConfig::new(
            "http://auth.example.com?x=1",
            "http://localhost:3001/mcp",
        )
        .unwrap()
        .with_default_scopes(["admin"])
        .with_code_ttl(Duration::from_secs(3600));
        assert_eq!(config.validate().unwrap_err().len(), 4);
    }

    #[test]
    fn login_limits_must_let_someone_sign_in() {
        let config =
            AuthorizationServerConfig::new("http://localhost:9000", "http://localhost:3001/mcp")
                .unwrap()
                .with_login_limits(
                    LoginLimits::default()
                        .with_per_account_and_ip(0)
                        .with_per_account(0)
                        .with_per_ip(0)
                        .with_per_device(0)
                        .with_window(Duration::ZERO)
                        .with_device_cookie_ttl(Duration::ZERO),
                );
        assert_eq!(config.validate().unwrap_err().len(), 6);
    }
}
