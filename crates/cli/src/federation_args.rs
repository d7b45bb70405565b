//! The flags of federated sign-in (`auth-server` and `dev`): upstream OpenID providers, which
//! the authorization server has with the `federation` feature. A build without it keeps the
//! flags and refuses them, naming the feature.

#[cfg(feature = "federation")]
use anyhow::bail;
use clap::Args;
use mcp_oauth_authorization_server::AuthorizationServerConfig;
#[cfg(feature = "federation")]
use mcp_oauth_authorization_server::UpstreamProvider;

/// Federated sign-in: upstream OpenID providers people sign in at instead of with a local
/// password. Repeat the flags for several providers (a chooser page then lists them): the n-th
/// `--upstream-client-id`, `--upstream-client-secret` and `--upstream-name` belong to the n-th
/// `--upstream-issuer`. In the environment, lists are comma-separated. Needs a build with the
/// `federation` feature (a default one).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Federated sign-in")]
pub struct UpstreamArgs {
    /// Issuer URL of an upstream OpenID provider (repeatable). Register
    /// `<this server's issuer>/login/callback` as the redirect URI of this server's client there.
    #[arg(
        long = "upstream-issuer",
        env = "AUTH_SERVER_UPSTREAM_ISSUERS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub issuers: Vec<String>,

    /// This server's client id at each upstream provider, in the order of --upstream-issuer.
    #[arg(
        long = "upstream-client-id",
        env = "AUTH_SERVER_UPSTREAM_CLIENT_IDS",
        value_delimiter = ',',
        value_name = "ID"
    )]
    pub client_ids: Vec<String>,

    /// This server's client secret at each upstream provider, in the same order; give none for
    /// public clients (PKCE only). Prefer the environment variable: flags show in `ps`.
    #[arg(
        long = "upstream-client-secret",
        env = "AUTH_SERVER_UPSTREAM_CLIENT_SECRETS",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secrets: Vec<String>,

    /// The name of each upstream provider on the chooser page, in the same order (default: the
    /// issuer's host).
    #[arg(
        long = "upstream-name",
        env = "AUTH_SERVER_UPSTREAM_NAMES",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub names: Vec<String>,
}

#[cfg(feature = "federation")]
impl UpstreamArgs {
    /// `config` with the providers the flags describe.
    pub fn apply(
        &self,
        mut config: AuthorizationServerConfig,
    ) -> anyhow::Result<AuthorizationServerConfig> {
        for provider in self.providers()? {
            config = config.with_upstream(provider);
        }
        Ok(config)
    }

    /// The providers the flags describe, each list matched by position.
    fn providers(&self) -> anyhow::Result<Vec<UpstreamProvider>> {
        let count = self.issuers.len();
        for (flag, given) in [
            ("--upstream-client-id", self.client_ids.len()),
            ("--upstream-client-secret", self.client_secrets.len()),
            ("--upstream-name", self.names.len()),
        ] {
            let required = flag == "--upstream-client-id";
            if given != count && (required || given != 0) {
                bail!(
                    "give one {flag} per --upstream-issuer ({count}), in the same order; got {given}"
                );
            }
        }
        Ok(self
            .issuers
            .iter()
            .enumerate()
            .map(|(index, issuer)| {
                let mut provider = UpstreamProvider::new(issuer, &self.client_ids[index]);
                if let Some(secret) = self.client_secrets.get(index) {
                    provider = provider.with_client_secret(secret);
                }
                if let Some(name) = self.names.get(index) {
                    provider = provider.with_name(name);
                }
                provider
            })
            .collect())
    }
}

/// Prints the providers of `config` and the redirect URI to register at each.
#[cfg(feature = "federation")]
pub fn print_upstreams(config: &AuthorizationServerConfig) {
    for upstream in &config.upstreams {
        println!(
            "  upstream:  {} ({}; its redirect URI for this server: {}/login/callback)",
            upstream.issuer, upstream.name, config.issuer
        );
    }
}

#[cfg(not(feature = "federation"))]
impl UpstreamArgs {
    /// `config`, in a build without federated sign-in: no flag of it may be given.
    pub fn apply(
        &self,
        config: AuthorizationServerConfig,
    ) -> anyhow::Result<AuthorizationServerConfig> {
        let given = [
            &self.issuers,
            &self.client_ids,
            &self.client_secrets,
            &self.names,
        ];
        if given.iter().all(|values| values.is_empty()) {
            return Ok(config);
        }
        Err(crate::left_out::needs_feature(
            "--upstream-issuer (or another --upstream-* flag, AUTH_SERVER_UPSTREAM_*)",
            "federated sign-in",
            "federation",
        ))
    }
}

/// Nothing to print in a build without federated sign-in.
#[cfg(not(feature = "federation"))]
pub fn print_upstreams(_: &AuthorizationServerConfig) {}

#[cfg(all(test, feature = "federation"))]
mod tests {
    use super::*;

    fn args(issuers: &[&str], ids: &[&str], secrets: &[&str], names: &[&str]) -> UpstreamArgs {
        let owned = |values: &[&str]| values.iter().map(|value| (*value).to_owned()).collect();
        UpstreamArgs {
            issuers: owned(issuers),
            client_ids: owned(ids),
            client_secrets: owned(secrets),
            names: owned(names),
        }
    }

    #[test]
    fn upstream_flags_are_matched_by_position() {
        let providers = args(
            &["https://a.example", "https://b.example"],
            &["id-a", "id-b"],
            &["secret-a", "secret-b"],
            &["A", "B"],
        )
        .providers()
        .unwrap();
        assert_eq!(providers[1].issuer, "https://b.example");
        assert_eq!(providers[1].client_id, "id-b");
        assert_eq!(providers[1].client_secret.as_deref(), Some("secret-b"));
        assert_eq!(providers[1].name, "B");
        let public = args(&["https://a.example"], &["id-a"], &[], &[])
            .providers()
            .unwrap();
        assert_eq!(public[0].client_secret, None);
        assert_eq!(public[0].name, "a.example");
        assert!(args(&[], &[], &[], &[]).providers().unwrap().is_empty());
    }

    #[test]
    fn upstream_flags_of_other_counts_are_refused() {
        for wrong in [
            args(&["https://a.example"], &[], &[], &[]),
            args(&["https://a.example"], &["a", "b"], &[], &[]),
            args(
                &["https://a.example", "https://b.example"],
                &["a", "b"],
                &["s"],
                &[],
            ),
            args(&["https://a.example"], &["a"], &[], &["A", "B"]),
        ] {
            let problem = wrong.providers().unwrap_err().to_string();
            assert!(problem.contains("per --upstream-issuer"), "{problem}");
        }
    }
}
