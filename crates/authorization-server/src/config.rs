//! Configuration of the authorization server: one documented default for every setting,
//! `with_…` setters, and [`AuthorizationServerConfig::validate`] that reports every problem.

use std::time::Duration;

use mcp_oauth_core::CanonicalResource;
use url::Url;

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
    /// Lifetime of access tokens (default 1 hour).
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
    /// Registrations allowed per client IP per minute (default 20).
    pub registrations_per_minute: u32,
    /// Whether an https URL is accepted as `client_id` (Client ID Metadata Documents).
    pub client_id_metadata_documents: bool,
    /// Development only: lets Client ID Metadata Documents live on loopback/private addresses.
    pub cimd_allow_private_addresses: bool,
    /// Failed sign-ins allowed per account per window before it is locked for the window.
    pub login_failures_per_account: u32,
    /// Failed sign-ins allowed per client IP per window.
    pub login_failures_per_ip: u32,
    /// The throttling window (default 15 minutes).
    pub login_window: Duration,
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
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            id_token_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(12 * 3600),
            allow_signup: true,
            initial_access_token: None,
            registrations_per_minute: 20,
            client_id_metadata_documents: true,
            cimd_allow_private_addresses: false,
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_window: Duration::from_secs(15 * 60),
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

    /// Development only: Client ID Metadata Documents may be on loopback/private addresses.
    pub fn with_cimd_private_addresses_allowed(mut self, allow: bool) -> Self {
        self.cimd_allow_private_addresses = allow;
        self
    }

    /// Sets the sign-in throttling limits.
    pub fn with_login_throttle(mut self, per_account: u32, per_ip: u32, window: Duration) -> Self {
        self.login_failures_per_account = per_account;
        self.login_failures_per_ip = per_ip;
        self.login_window = window;
        self
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
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
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
        ] {
            if ttl.is_zero() {
                problems.push(format!("the {name} lifetime must be positive"));
            }
        }
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
}
