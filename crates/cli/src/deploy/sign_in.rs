//! The sign-in flags of `mcp-oauth deploy` (MFA, custom domain, identity providers, managed
//! login, SES), and what to do after a deploy that uses them. Each bad value is refused by
//! clap with the flag's name; the providers' client ids and secrets come from the environment
//! only, and are never printed.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mcp_oauth_cognito::{
    CustomDomain, Deployment, IdentityProvider, ManagedLogin, Mfa, ProviderCredentials,
    ProviderKind, SesEmail, SignInOptions, check_certificate_arn, check_domain, check_email,
    check_https_url, check_ses_identity_arn,
};

/// MFA of the user pool.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum MfaArg {
    /// No second factor.
    Off,
    /// Each user may enrol an authenticator app.
    Optional,
    /// Every user must enrol an authenticator app.
    On,
}

/// The providers Cognito knows by name.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SocialArg {
    /// Sign in with Google (COGNITO_GOOGLE_CLIENT_ID, COGNITO_GOOGLE_CLIENT_SECRET).
    Google,
    /// Log in with Facebook (COGNITO_FACEBOOK_CLIENT_ID, COGNITO_FACEBOOK_CLIENT_SECRET).
    Facebook,
}

/// Flags of the user pool's sign-in options.
#[derive(Args, Debug)]
#[command(next_help_heading = "Sign-in options (README: \"Sign-in options\")")]
pub struct SignInArgs {
    /// Multi-factor authentication with authenticator apps (TOTP software tokens): off,
    /// optional (each user may enrol) or on (every user must, at the next sign-in). SMS is
    /// not offered: it needs an SNS role and each message is billed.
    #[arg(long, env = "COGNITO_MFA", value_enum, default_value_t = MfaArg::Off)]
    mfa: MfaArg,

    /// A custom domain for the sign-in pages, e.g. auth.example.com (besides the prefix
    /// domain); needs --certificate-arn. deploy prints the DNS record to create, and the
    /// .env files use this domain.
    #[arg(
        long,
        env = "COGNITO_CUSTOM_DOMAIN",
        requires = "certificate_arn",
        value_parser = parse_domain
    )]
    custom_domain: Option<String>,

    /// The ACM certificate of --custom-domain: arn:aws:acm:us-east-1:ACCOUNT:certificate/ID.
    /// It must be in us-east-1, whatever the stack's region: Cognito serves custom domains
    /// through CloudFront, which reads certificates only from there.
    #[arg(
        long,
        env = "COGNITO_CERTIFICATE_ARN",
        requires = "custom_domain",
        value_parser = parse_certificate_arn
    )]
    certificate_arn: Option<String>,

    /// Offer sign-in with google or facebook (repeatable; comma-separated in the
    /// environment). The user pool's client id and secret at the provider are read from
    /// COGNITO_GOOGLE_CLIENT_ID and COGNITO_GOOGLE_CLIENT_SECRET, or COGNITO_FACEBOOK_CLIENT_ID
    /// and COGNITO_FACEBOOK_CLIENT_SECRET (never from flags; never printed).
    #[arg(
        long = "identity-provider",
        env = "COGNITO_SOCIAL_PROVIDERS",
        value_enum,
        value_delimiter = ','
    )]
    social: Vec<SocialArg>,

    /// Offer sign-in with an OpenID provider, NAME=ISSUER_URL (repeatable), e.g.
    /// Okta=https://example.okta.com. NAME is 3 to 32 letters, digits or hyphens; the client
    /// id and secret are read from COGNITO_OIDC_<NAME>_CLIENT_ID and
    /// COGNITO_OIDC_<NAME>_CLIENT_SECRET (NAME upper-cased, hyphens as underscores). The
    /// issuer's discovery document is read before anything is created.
    #[arg(
        long = "oidc-provider",
        env = "COGNITO_OIDC_PROVIDER",
        value_name = "NAME=ISSUER_URL",
        value_parser = parse_oidc
    )]
    oidc: Vec<IdentityProvider>,

    /// Offer sign-in with a SAML 2.0 provider, NAME=METADATA_URL (repeatable), e.g.
    /// Corp=https://idp.example.com/metadata.xml. The metadata is read before anything is
    /// created; Cognito maps the e-mail address from the emailaddress claim.
    #[arg(
        long = "saml-provider",
        env = "COGNITO_SAML_PROVIDER",
        value_name = "NAME=METADATA_URL",
        value_parser = parse_saml
    )]
    saml: Vec<IdentityProvider>,

    /// Serve managed login (version 2 of the hosted pages) on the domains, with a branding
    /// style of Cognito-provided values for the stack's app client. Needs the Essentials or
    /// Plus feature plan.
    #[arg(long, env = "COGNITO_MANAGED_LOGIN")]
    managed_login: bool,

    /// The style's settings, a JSON file exported from Cognito's branding editor
    /// (`Settings` of DescribeManagedLoginBrandingByClient), instead of Cognito's values.
    #[arg(
        long,
        env = "COGNITO_MANAGED_LOGIN_SETTINGS",
        value_name = "FILE",
        requires = "managed_login"
    )]
    managed_login_settings: Option<PathBuf>,

    /// Send the pool's e-mail (verification codes, password resets) from this address through
    /// Amazon SES instead of Cognito's built-in sender; needs --ses-identity-arn.
    #[arg(
        long,
        env = "COGNITO_SES_FROM",
        requires = "ses_identity_arn",
        value_parser = parse_email
    )]
    ses_from: Option<String>,

    /// The verified SES identity (the address or its domain) of --ses-from:
    /// arn:aws:ses:REGION:ACCOUNT:identity/ADDRESS-OR-DOMAIN.
    #[arg(
        long,
        env = "COGNITO_SES_IDENTITY_ARN",
        requires = "ses_from",
        value_parser = parse_ses_arn
    )]
    ses_identity_arn: Option<String>,
}

fn parse_domain(value: &str) -> Result<String, String> {
    check_domain(value).map_err(|error| error.to_string())
}

fn parse_certificate_arn(value: &str) -> Result<String, String> {
    check_certificate_arn(value).map_err(|error| error.to_string())
}

fn parse_email(value: &str) -> Result<String, String> {
    check_email(value).map_err(|error| error.to_string())
}

fn parse_ses_arn(value: &str) -> Result<String, String> {
    check_ses_identity_arn(value)
        .map(|_| value.to_owned())
        .map_err(|error| error.to_string())
}

/// `NAME=URL` split, the URL an https one (Cognito reads provider metadata over https).
fn name_and_url(value: &str, what: &str) -> Result<(String, String), String> {
    let (name, url) = value
        .split_once('=')
        .ok_or_else(|| format!("expected NAME={what}, got `{value}` (no `=`)"))?;
    let url = check_https_url(url.trim()).map_err(|error| error.to_string())?;
    Ok((name.trim().to_owned(), url))
}

fn parse_oidc(value: &str) -> Result<IdentityProvider, String> {
    let (name, issuer) = name_and_url(value, "ISSUER_URL")?;
    IdentityProvider::oidc(&name, &issuer).map_err(|error| error.to_string())
}

fn parse_saml(value: &str) -> Result<IdentityProvider, String> {
    let (name, url) = name_and_url(value, "METADATA_URL")?;
    IdentityProvider::saml(&name, &url).map_err(|error| error.to_string())
}

impl SignInArgs {
    /// The options the flags ask for, each provider with its client id and secret when both
    /// variables are set (a deploy refuses one without them before calling AWS).
    pub fn options(&self) -> anyhow::Result<SignInOptions> {
        let mut options = SignInOptions::default();
        options.mfa = match self.mfa {
            MfaArg::Off => Mfa::Off,
            MfaArg::Optional => Mfa::Optional,
            MfaArg::On => Mfa::On,
        };
        if let (Some(domain), Some(arn)) = (&self.custom_domain, &self.certificate_arn) {
            options.custom_domain = Some(CustomDomain::new(domain, arn)?);
        }
        let social = self.social.iter().map(|social| match social {
            SocialArg::Google => IdentityProvider::google(),
            SocialArg::Facebook => IdentityProvider::facebook(),
        });
        for provider in social
            .chain(self.oidc.iter().cloned())
            .chain(self.saml.iter().cloned())
        {
            let flag = match provider.kind {
                ProviderKind::Oidc { .. } => "--oidc-provider",
                ProviderKind::Saml { .. } => "--saml-provider",
                _ => "--identity-provider",
            };
            let provider = with_credentials_from_environment(provider);
            options
                .add_identity_provider(provider)
                .with_context(|| format!("invalid value for {flag}"))?;
        }
        if self.managed_login {
            options.managed_login = Some(match &self.managed_login_settings {
                None => ManagedLogin::default(),
                Some(path) => {
                    let json = std::fs::read_to_string(path).with_context(|| {
                        format!("--managed-login-settings: cannot read {}", path.display())
                    })?;
                    ManagedLogin::with_settings_json(&json)
                        .with_context(|| format!("--managed-login-settings: {}", path.display()))?
                }
            });
        }
        if let (Some(from), Some(arn)) = (&self.ses_from, &self.ses_identity_arn) {
            options.ses =
                Some(SesEmail::new(from, arn).context("invalid value for --ses-identity-arn")?);
        }
        Ok(options)
    }
}

/// `provider` with the client id and secret of the variables it names, when both are set.
fn with_credentials_from_environment(provider: IdentityProvider) -> IdentityProvider {
    let Some((id_variable, secret_variable)) = provider.credential_variables() else {
        return provider;
    };
    let read = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (read(&id_variable), read(&secret_variable)) {
        (Some(id), Some(secret)) => provider.with_credentials(ProviderCredentials::new(id, secret)),
        _ => provider,
    }
}

/// What is left to do by hand after a deploy with `options`: the custom domain's DNS record,
/// the redirect URIs to register at the identity providers, the SES sandbox.
pub fn report(options: &SignInOptions, deployment: &Deployment) {
    let outputs = &deployment.outputs;
    if let Some(domain) = &options.custom_domain {
        let target = outputs
            .get("CustomDomainCloudFront")
            .unwrap_or("(the CustomDomainCloudFront output)");
        println!("  create the DNS record of the custom domain (sign-in works once it resolves):");
        println!("    {}.  CNAME  {target}", domain.domain);
        println!(
            "    (in Route 53, an alias A and AAAA record to {target}, hosted zone Z2FDTNDATAQYW2);"
        );
        println!("    Cognito also needs the parent domain to have an A record;");
    }
    let domains: Vec<&str> = ["HostedDomainUrl", "PrefixDomainUrl"]
        .iter()
        .filter_map(|key| outputs.get(key))
        .fold(Vec::new(), |mut seen, url| {
            if !seen.contains(&url) {
                seen.push(url);
            }
            seen
        });
    for provider in &options.identity_providers {
        match provider.kind {
            ProviderKind::Saml { .. } => {
                let pool = outputs.get("UserPoolId").unwrap_or("<pool id>");
                println!(
                    "  at SAML provider {}: entity id (audience) urn:amazon:cognito:sp:{pool}, \
                     assertion consumer service URL {};",
                    provider.name,
                    urls(&domains, "/saml2/idpresponse")
                );
            }
            _ => println!(
                "  at {}: allow the redirect URI {};",
                provider.name,
                urls(&domains, "/oauth2/idpresponse")
            ),
        }
    }
    if options.ses.is_some() {
        println!(
            "  SES accounts in the sandbox mail only verified addresses: request production \
             access in the SES console before real users sign up;"
        );
    }
    if options.mfa == Mfa::On {
        println!("  every user enrols an authenticator app at their next sign-in;");
    }
}

fn urls(domains: &[&str], path: &str) -> String {
    domains
        .iter()
        .map(|domain| format!("{}{path}", domain.trim_end_matches('/')))
        .collect::<Vec<_>>()
        .join(" and ")
}
