//! The upstream OpenID providers of federated sign-in (feature `federation`), and their checks.

use std::fmt;

use url::Url;

use super::{AuthorizationServerConfig, is_https_or_loopback};

/// An upstream OpenID Connect provider (OpenID Connect Core §3.1: authorization code flow), at
/// which this server is one confidential (or public) client with the redirect URI
/// `<issuer>/login/callback`.
#[derive(Clone)]
#[non_exhaustive]
pub struct UpstreamProvider {
    /// The provider's issuer identifier, exactly as its ID tokens' `iss` (some end with `/`);
    /// its metadata is at `<issuer without a final />/.well-known/openid-configuration`
    /// (OpenID Connect Discovery §4).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// This server's client secret at the provider (`client_secret_basic`, or
    /// `client_secret_post` when the provider supports only that); `None` for a public client
    /// (PKCE only). Redacted in `Debug`.
    pub client_secret: Option<String>,
    /// The name on the chooser page (default: the issuer's host).
    pub name: String,
    /// The scopes asked for (default `openid email`; `openid` is required).
    pub scopes: Vec<String>,
}

impl UpstreamProvider {
    /// The provider `issuer` (kept exactly: it is compared with the ID tokens' `iss`) where
    /// this server is the client `client_id`.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        let issuer = issuer.to_owned();
        let name = Url::parse(&issuer)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| issuer.clone());
        Self {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: None,
            name,
            scopes: vec!["openid".to_owned(), "email".to_owned()],
        }
    }

    /// Sets the client secret.
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Sets the name shown on the chooser page.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Replaces the scopes asked for.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for UpstreamProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl AuthorizationServerConfig {
    pub(super) fn validate_upstreams(&self, problems: &mut Vec<String>) {
        for (index, upstream) in self.upstreams.iter().enumerate() {
            let issuer = &upstream.issuer;
            match Url::parse(issuer) {
                Err(error) => {
                    problems.push(format!("upstream issuer `{issuer}` is not a URL: {error}"))
                }
                Ok(url) => {
                    if !is_https_or_loopback(&url) {
                        problems.push(format!(
                            "upstream issuer `{issuer}` must be https (http only on a loopback host)"
                        ));
                    }
                    if url.query().is_some() || url.fragment().is_some() {
                        problems.push(format!(
                            "upstream issuer `{issuer}` must not have a query or fragment"
                        ));
                    }
                }
            }
            if upstream.client_id.trim().is_empty() {
                problems.push(format!("upstream `{issuer}` needs a client id"));
            }
            if upstream.client_secret.as_deref() == Some("") {
                problems.push(format!("upstream `{issuer}` has an empty client secret"));
            }
            if !upstream.scopes.iter().any(|scope| scope == "openid") {
                problems.push(format!(
                    "upstream `{issuer}` must be asked for the `openid` scope"
                ));
            }
            if self.upstreams[..index]
                .iter()
                .any(|earlier| earlier.issuer == *issuer)
            {
                problems.push(format!("upstream issuer `{issuer}` is configured twice"));
            }
        }
        if self.federated() && self.upstream_login_ttl.is_zero() {
            problems.push("the upstream sign-in lifetime must be positive".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_checked_and_their_secret_is_redacted() {
        let config =
            AuthorizationServerConfig::new("http://localhost:9000", "http://localhost:3001/mcp")
                .unwrap()
                .with_upstream(
                    UpstreamProvider::new("https://idp.example/", "as")
                        .with_client_secret("s3cr3t"),
                );
        assert!(config.federated() && !config.signup_open());
        assert!(config.validate().is_ok());
        assert_eq!(config.upstreams[0].issuer, "https://idp.example/");
        assert_eq!(config.upstreams[0].name, "idp.example");
        assert!(!format!("{config:?}").contains("s3cr3t"));

        let config = config
            .with_upstream(UpstreamProvider::new("https://idp.example/", "again"))
            .with_upstream(UpstreamProvider::new("http://idp.example", " "))
            .with_upstream(
                UpstreamProvider::new("https://x.example?a=b", "c").with_scopes(["email"]),
            );
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }
}
