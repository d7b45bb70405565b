//! The flags that say which issuers an MCP endpoint trusts and how strictly, shared by
//! `mcp-server` and `proxy` (and so by `dev`): JWT issuers, Cognito user pools, introspection,
//! revocation checks, clock skew, token lifetime, JWKS refresh.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use mcp_oauth_resource::{IntrospectionConfig, IssuerConfig, ResourceServerConfig};

/// The trusted issuers (flattened into each command that serves an MCP endpoint).
#[derive(Args, Debug)]
pub struct IssuerArgs {
    /// Issuer of RFC 9068 JWT access tokens to trust (repeatable; comma-separated in the
    /// environment). Tokens must name this server's URL in `aud`.
    #[arg(
        long = "issuer",
        env = "MCP_ISSUERS",
        value_delimiter = ',',
        default_value = "http://localhost:9000"
    )]
    issuers: Vec<String>,

    /// AWS Cognito user pool issuer to trust (`https://cognito-idp.<region>.amazonaws.com/<pool>`;
    /// repeatable). Its access tokens need a scope of the resource server whose identifier is
    /// this server's URL, and a client id from --cognito-client-id.
    #[arg(
        long = "cognito-issuer",
        env = "COGNITO_ISSUERS",
        value_delimiter = ','
    )]
    cognito_issuers: Vec<String>,

    /// Cognito app client ids whose tokens are accepted (repeatable; comma-separated in the
    /// environment).
    #[arg(
        long = "cognito-client-id",
        env = "COGNITO_CLIENT_IDS",
        value_delimiter = ','
    )]
    cognito_client_ids: Vec<String>,

    /// Where an issuer's metadata is, when not at its well-known URLs: ISSUER=URL (repeatable).
    #[arg(long = "issuer-metadata-url", env = "MCP_ISSUER_METADATA_URLS", value_delimiter = ',', value_parser = parse_pair)]
    issuer_metadata_urls: Vec<(String, String)>,

    /// Where an issuer's JWKS is, skipping metadata discovery: ISSUER=URL (repeatable).
    #[arg(long = "jwks-uri", env = "MCP_JWKS_URIS", value_delimiter = ',', value_parser = parse_pair)]
    jwks_uris: Vec<(String, String)>,

    /// RFC 7662 introspection endpoint for opaque tokens of the first --issuer.
    #[arg(long, env = "MCP_INTROSPECTION_URL", requires_all = ["introspection_client_id", "introspection_client_secret"])]
    introspection_url: Option<String>,

    /// This server's client id at the introspection endpoint.
    #[arg(long, env = "MCP_INTROSPECTION_CLIENT_ID")]
    introspection_client_id: Option<String>,

    /// This server's client secret at the introspection endpoint (prefer the environment).
    #[arg(long, env = "MCP_INTROSPECTION_CLIENT_SECRET", hide_env_values = true)]
    introspection_client_secret: Option<String>,

    /// Learn revocations: introspect each JWT of the first --issuer at --introspection-url when
    /// first seen, and again when this many seconds have passed since the last answer. A token
    /// revoked at the authorization server (sign-out, a replayed code, refresh token reuse) is
    /// then refused within this time instead of at its expiry; a token the endpoint does not
    /// vouch for, or an endpoint that cannot be reached, is refused. Off by default: tokens are
    /// checked locally only and stay valid until they expire.
    #[arg(
        long,
        env = "MCP_REVOCATION_CHECK_SECS",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    revocation_check_secs: Option<u64>,

    /// Allowed clock skew for `exp`/`nbf`/`iat`, in seconds (at most 60).
    #[arg(long, env = "MCP_LEEWAY_SECS", default_value_t = 30)]
    leeway_secs: u64,

    /// Refuse JWT access tokens that live longer than this (`exp` - `iat`), in seconds,
    /// whatever their issuer issues; without it any lifetime is accepted.
    #[arg(long, env = "MCP_MAX_TOKEN_LIFETIME_SECS")]
    max_token_lifetime_secs: Option<u64>,

    /// Shortest time between two JWKS fetches caused by unknown key ids, in seconds.
    #[arg(long, env = "MCP_JWKS_REFRESH_SECS", default_value_t = 30)]
    jwks_refresh_secs: u64,
}

fn parse_pair(value: &str) -> Result<(String, String), String> {
    // Split at the `=` that follows the issuer URL.
    let (issuer, url) = value
        .split_once('=')
        .ok_or_else(|| format!("expected ISSUER=URL, got `{value}`"))?;
    Ok((issuer.to_owned(), url.to_owned()))
}

impl IssuerArgs {
    /// `config` trusting the issuers the flags name, with their validation settings.
    pub fn apply(&self, config: ResourceServerConfig) -> anyhow::Result<ResourceServerConfig> {
        let metadata_urls: HashMap<_, _> = self.issuer_metadata_urls.iter().cloned().collect();
        let jwks_uris: HashMap<_, _> = self.jwks_uris.iter().cloned().collect();
        let known: HashSet<&String> = self.issuers.iter().chain(&self.cognito_issuers).collect();
        for issuer in metadata_urls.keys().chain(jwks_uris.keys()) {
            if !known.contains(issuer) {
                bail!("{issuer} is given a metadata or JWKS URL but is not a trusted issuer");
            }
        }
        if !self.cognito_issuers.is_empty() && self.cognito_client_ids.is_empty() {
            bail!("--cognito-issuer needs at least one --cognito-client-id");
        }
        if self.revocation_check_secs.is_some() && self.introspection_url.is_none() {
            bail!(
                "--revocation-check-secs introspects tokens: it needs --introspection-url, \
                 --introspection-client-id and --introspection-client-secret"
            );
        }
        let allowed_clients = Arc::new(
            self.cognito_client_ids
                .iter()
                .cloned()
                .collect::<HashSet<_>>(),
        );
        let mut issuers: Vec<IssuerConfig> = self.issuers.iter().map(IssuerConfig::jwt).collect();
        issuers.extend(
            self.cognito_issuers
                .iter()
                .map(|issuer| IssuerConfig::cognito(issuer, allowed_clients.clone())),
        );
        let mut config = config
            .with_leeway(Duration::from_secs(self.leeway_secs))
            .with_jwks_refresh_interval(Duration::from_secs(self.jwks_refresh_secs));
        if let Some(seconds) = self.max_token_lifetime_secs {
            config = config.with_max_token_lifetime(Duration::from_secs(seconds));
        }
        for (index, mut issuer) in issuers.into_iter().enumerate() {
            if let Some(url) = metadata_urls.get(&issuer.issuer) {
                issuer = issuer.with_metadata_url(url);
            }
            if let Some(url) = jwks_uris.get(&issuer.issuer) {
                issuer = issuer.with_jwks_uri(url);
            }
            if index == 0
                && let (Some(url), Some(id), Some(secret)) = (
                    &self.introspection_url,
                    &self.introspection_client_id,
                    &self.introspection_client_secret,
                )
            {
                issuer = issuer.with_introspection(IntrospectionConfig::new(url, id, secret));
                if let Some(seconds) = self.revocation_check_secs {
                    issuer = issuer.with_revocation_check(Duration::from_secs(seconds));
                }
            }
            config = config.with_issuer(issuer);
        }
        Ok(config)
    }

    /// Trusts `issuer` too (its JWT access tokens), after the --issuer ones, unless already.
    pub fn trust_issuer(&mut self, issuer: &str) {
        if !self.issuers.iter().any(|trusted| trusted == issuer) {
            self.issuers.push(issuer.to_owned());
        }
    }

    /// Checks the first issuer's JWTs for revocation at its introspection endpoint `url` with
    /// these credentials, every --revocation-check-secs or else every `default_secs`; returns
    /// the interval.
    pub fn check_revocations(
        &mut self,
        url: &str,
        client_id: &str,
        secret: &str,
        default_secs: u64,
    ) -> u64 {
        self.introspection_url = Some(url.to_owned());
        self.introspection_client_id = Some(client_id.to_owned());
        self.introspection_client_secret = Some(secret.to_owned());
        *self.revocation_check_secs.get_or_insert(default_secs)
    }
}
