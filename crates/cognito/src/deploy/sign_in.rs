//! The user pool's sign-in options (issue 17): MFA with authenticator apps, a custom domain,
//! other identity providers, managed login branding and e-mail through Amazon SES. Each value
//! is checked when it is made, so a bad one is refused before AWS is called.

use std::fmt;

/// Multi-factor authentication of the user pool, with software tokens (TOTP authenticator
/// apps) only: SMS needs an SNS role and is billed per message, so it is not offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mfa {
    /// No second factor (the default).
    #[default]
    Off,
    /// Each user may enrol an authenticator app; those who did are asked for a code.
    Optional,
    /// Every user must enrol an authenticator app (at the first sign-in) and give a code.
    On,
}

impl Mfa {
    /// The user pool's `MfaConfiguration` (the template's `Mfa` parameter).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Optional => "OPTIONAL",
            Self::On => "ON",
        }
    }
}

/// A bad sign-in option; its `Display` says what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Not a DNS name of at least two labels.
    #[error(
        "`{0}` is not a domain name such as auth.example.com (lower-case letters, digits, hyphens, dots)"
    )]
    BadDomain(String),
    /// Not the ARN of an ACM certificate.
    #[error("`{0}` is not an ACM certificate ARN (arn:aws:acm:us-east-1:ACCOUNT:certificate/ID)")]
    BadCertificateArn(String),
    /// An ACM certificate outside us-east-1.
    #[error(
        "the certificate is in {0}, but a Cognito custom domain is served by CloudFront, which \
         takes certificates only from ACM in us-east-1 (N. Virginia): request or import the \
         certificate there"
    )]
    CertificateRegion(String),
    /// Not an e-mail address.
    #[error("`{0}` is not an e-mail address (local-part@domain)")]
    BadEmail(String),
    /// Not the ARN of an SES identity.
    #[error(
        "`{0}` is not an SES identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/ADDRESS-OR-DOMAIN)"
    )]
    BadSesArn(String),
    /// The sender's address is not covered by the SES identity.
    #[error("the SES identity {identity} does not cover the sender address {from}")]
    SesIdentityMismatch {
        /// The identity (address or domain).
        identity: String,
        /// The sender address.
        from: String,
    },
    /// A provider name Cognito would refuse or that collides with another.
    #[error(
        "`{0}` cannot name an identity provider: use 3 to 32 letters, digits or hyphens, starting \
         with a letter, other than Google, Facebook, LoginWithAmazon, SignInWithApple and COGNITO"
    )]
    BadProviderName(String),
    /// Two providers with the same name (letter case aside).
    #[error("two identity providers are named {0}")]
    DuplicateProvider(String),
    /// Not an https URL (or, for the library, an http one).
    #[error("`{0}` is not an https URL (Cognito reads provider metadata over https)")]
    BadProviderUrl(String),
    /// The branding settings are not a JSON object.
    #[error("the managed login settings are not a JSON object: {0}")]
    BadBrandingSettings(String),
}

/// A custom domain for the sign-in pages (besides the prefix domain), with its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomDomain {
    /// The domain, e.g. `auth.example.com`.
    pub domain: String,
    /// The ARN of its ACM certificate, in us-east-1.
    pub certificate_arn: String,
}

impl CustomDomain {
    /// `domain` served with the certificate `certificate_arn`; see [`check_certificate_arn`].
    pub fn new(domain: &str, certificate_arn: &str) -> Result<Self, SignInError> {
        Ok(Self {
            domain: check_domain(domain)?,
            certificate_arn: check_certificate_arn(certificate_arn)?,
        })
    }
}

/// `domain`, lower-cased, if it is a DNS name of two labels or more.
pub fn check_domain(domain: &str) -> Result<String, SignInError> {
    let lower = domain.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.len() >= 2 && lower.len() <= 253 && labels.iter().all(|l| label_ok(l)) {
        Ok(lower)
    } else {
        Err(SignInError::BadDomain(domain.to_owned()))
    }
}

/// `arn` if it names an ACM certificate in us-east-1 (CloudFront, which serves custom domains,
/// reads certificates only from there).
pub fn check_certificate_arn(arn: &str) -> Result<String, SignInError> {
    let bad = || SignInError::BadCertificateArn(arn.to_owned());
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let id = resource.strip_prefix("certificate/").ok_or_else(bad)?;
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if prefix != "arn" || partition != "aws" || service != "acm" || !account_ok || !id_ok {
        return Err(bad());
    }
    if region != "us-east-1" {
        return Err(SignInError::CertificateRegion(region.to_owned()));
    }
    Ok(arn.to_owned())
}

/// What kind of identity provider, with where its metadata is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderKind {
    /// Sign in with Google (an OAuth client of a Google Cloud project).
    Google,
    /// Log in with Facebook (a Meta app).
    Facebook,
    /// Any OpenID provider, found by its issuer's discovery document.
    Oidc {
        /// The issuer URL (`<issuer>/.well-known/openid-configuration` is read).
        issuer: String,
    },
    /// A SAML 2.0 identity provider, found by its metadata document.
    Saml {
        /// The URL of its metadata XML.
        metadata_url: String,
    },
}

/// The client id and secret the user pool uses at an OAuth/OIDC provider; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderCredentials {
    client_id: String,
    client_secret: String,
}

impl ProviderCredentials {
    /// The pool's client id and secret at the provider.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for ProviderCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderCredentials(<redacted>)")
    }
}

/// A user pool identity provider the app clients offer besides Cognito's own accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityProvider {
    /// Its name at Cognito (`ProviderName`; `Google` and `Facebook` for those).
    pub name: String,
    /// What it is.
    pub kind: ProviderKind,
    /// Client id and secret at the provider (not for SAML); read from the environment
    /// variables [`IdentityProvider::credential_variables`] names.
    pub credentials: Option<ProviderCredentials>,
}

/// Names Cognito reserves for its built-in providers.
const RESERVED_NAMES: [&str; 5] = [
    "google",
    "facebook",
    "loginwithamazon",
    "signinwithapple",
    "cognito",
];

impl IdentityProvider {
    /// Google.
    pub fn google() -> Self {
        Self::of("Google", ProviderKind::Google)
    }

    /// Facebook.
    pub fn facebook() -> Self {
        Self::of("Facebook", ProviderKind::Facebook)
    }

    /// The OpenID provider `issuer`, named `name` at Cognito.
    pub fn oidc(name: &str, issuer: &str) -> Result<Self, SignInError> {
        Ok(Self::of(
            &check_provider_name(name)?,
            ProviderKind::Oidc {
                issuer: check_url(issuer)?.trim_end_matches('/').to_owned(),
            },
        ))
    }

    /// The SAML provider whose metadata is at `metadata_url`, named `name` at Cognito.
    pub fn saml(name: &str, metadata_url: &str) -> Result<Self, SignInError> {
        Ok(Self::of(
            &check_provider_name(name)?,
            ProviderKind::Saml {
                metadata_url: check_url(metadata_url)?,
            },
        ))
    }

    fn of(name: &str, kind: ProviderKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            credentials: None,
        }
    }

    /// The provider with the pool's client id and secret at it.
    pub fn with_credentials(mut self, credentials: ProviderCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Cognito's `ProviderType`.
    pub fn provider_type(&self) -> &'static str {
        match self.kind {
            ProviderKind::Google => "Google",
            ProviderKind::Facebook => "Facebook",
            ProviderKind::Oidc { .. } => "OIDC",
            ProviderKind::Saml { .. } => "SAML",
        }
    }

    /// The environment variables holding the client id and secret at the provider
    /// (`COGNITO_GOOGLE_CLIENT_ID`, `COGNITO_OIDC_<NAME>_CLIENT_ID`…), or `None` for SAML.
    pub fn credential_variables(&self) -> Option<(String, String)> {
        let stem = match &self.kind {
            ProviderKind::Google => "COGNITO_GOOGLE".to_owned(),
            ProviderKind::Facebook => "COGNITO_FACEBOOK".to_owned(),
            ProviderKind::Oidc { .. } => {
                format!(
                    "COGNITO_OIDC_{}",
                    self.name.to_ascii_uppercase().replace('-', "_")
                )
            }
            ProviderKind::Saml { .. } => return None,
        };
        Some((format!("{stem}_CLIENT_ID"), format!("{stem}_CLIENT_SECRET")))
    }

    /// The pool's client id and secret at the provider, if it needs and has them.
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|c| (c.client_id.as_str(), c.client_secret.as_str()))
    }

    /// The template's logical id of its resource (`IdP` and the name without hyphens).
    pub(crate) fn logical_id(&self) -> String {
        format!("IdP{}", self.name.replace('-', ""))
    }
}

fn check_provider_name(name: &str) -> Result<String, SignInError> {
    let ok = (3..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str());
    if ok {
        Ok(name.to_owned())
    } else {
        Err(SignInError::BadProviderName(name.to_owned()))
    }
}

/// `value` if it is an http(s) URL; Cognito reads provider metadata over https only, which
/// `mcp-oauth deploy` requires of its flags ([`check_https_url`]), while the library also
/// takes `http` (a provider on the test machine).
fn check_url(value: &str) -> Result<String, SignInError> {
    match url::Url::parse(value) {
        Ok(url) if ["https", "http"].contains(&url.scheme()) && url.host_str().is_some() => {
            Ok(value.to_owned())
        }
        _ => Err(SignInError::BadProviderUrl(value.to_owned())),
    }
}

/// `value` if it is an https URL, as Cognito needs a provider's issuer or metadata URL.
pub fn check_https_url(value: &str) -> Result<String, SignInError> {
    check_url(value).and_then(|checked| {
        if checked.starts_with("https://") {
            Ok(checked)
        } else {
            Err(SignInError::BadProviderUrl(value.to_owned()))
        }
    })
}

/// Managed login (version 2 of the hosted pages) with a branding style for the stack's app
/// client: Cognito's own look, or the settings of a file exported from the branding editor.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ManagedLogin {
    /// The style's `Settings` (a JSON object); `None` uses Cognito-provided values.
    pub settings: Option<serde_json::Value>,
}

impl ManagedLogin {
    /// Managed login with the style in `json` (the branding editor's settings document).
    pub fn with_settings_json(json: &str) -> Result<Self, SignInError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|error| SignInError::BadBrandingSettings(error.to_string()))?;
        if !value.is_object() {
            return Err(SignInError::BadBrandingSettings(
                "the document is not an object".to_owned(),
            ));
        }
        Ok(Self {
            settings: Some(value),
        })
    }
}

/// The pool's e-mail sent through Amazon SES (`EmailSendingAccount: DEVELOPER`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SesEmail {
    /// The sender address.
    pub from: String,
    /// The ARN of the verified SES identity (the address or its domain).
    pub identity_arn: String,
}

impl SesEmail {
    /// Mail from `from` through the SES identity `identity_arn`, which must be that address or
    /// a domain it is under.
    pub fn new(from: &str, identity_arn: &str) -> Result<Self, SignInError> {
        let from = check_email(from)?;
        let identity = check_ses_identity_arn(identity_arn)?;
        let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let covered = identity.eq_ignore_ascii_case(&from)
            || identity.eq_ignore_ascii_case(domain)
            || domain
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", identity.to_ascii_lowercase()));
        if !covered {
            return Err(SignInError::SesIdentityMismatch {
                identity: identity.to_owned(),
                from,
            });
        }
        Ok(Self {
            from,
            identity_arn: identity_arn.to_owned(),
        })
    }
}

/// `address` if it is `local-part@domain` with a dotted domain and nothing else.
pub fn check_email(address: &str) -> Result<String, SignInError> {
    let bad = || SignInError::BadEmail(address.to_owned());
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok || check_domain(domain).is_err() {
        return Err(bad());
    }
    Ok(address.to_owned())
}

/// The identity (address or domain) the SES identity ARN `arn` names
/// (`arn:aws:ses:REGION:ACCOUNT:identity/ADDRESS-OR-DOMAIN`).
pub fn check_ses_identity_arn(arn: &str) -> Result<&str, SignInError> {
    let bad = || SignInError::BadSesArn(arn.to_owned());
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let identity = resource.strip_prefix("identity/").ok_or_else(bad)?;
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let identity_ok = check_email(identity).is_ok() || check_domain(identity).is_ok();
    if prefix != "arn" || !partition.starts_with("aws") || service != "ses" {
        return Err(bad());
    }
    if !region_ok || !account_ok || !identity_ok {
        return Err(bad());
    }
    Ok(identity)
}

/// Every sign-in option of the stack; the `Default` adds none (Cognito accounts only, no MFA,
/// the prefix domain, the classic hosted UI, Cognito's e-mail).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SignInOptions {
    /// Multi-factor authentication with authenticator apps.
    pub mfa: Mfa,
    /// A custom domain for the sign-in pages.
    pub custom_domain: Option<CustomDomain>,
    /// Identity providers the app clients offer besides Cognito accounts.
    pub identity_providers: Vec<IdentityProvider>,
    /// Managed login with a branding style.
    pub managed_login: Option<ManagedLogin>,
    /// E-mail through Amazon SES.
    pub ses: Option<SesEmail>,
}

impl SignInOptions {
    /// Adds `provider`, refusing a second one of the same name (letter case aside).
    pub fn add_identity_provider(&mut self, provider: IdentityProvider) -> Result<(), SignInError> {
        let taken = self.identity_providers.iter().any(|known| {
            known.name.eq_ignore_ascii_case(&provider.name)
                || known
                    .logical_id()
                    .eq_ignore_ascii_case(&provider.logical_id())
        });
        if taken {
            return Err(SignInError::DuplicateProvider(provider.name));
        }
        self.identity_providers.push(provider);
        Ok(())
    }

    /// The providers' names as the app clients list them besides `COGNITO`.
    pub fn provider_names(&self) -> Vec<&str> {
        self.identity_providers
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The template parameters of the options that differ from the default (so that a
    /// `--template` of an earlier version need not declare the others); no secret.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        let mut parameters = Vec::new();
        if self.mfa != Mfa::Off {
            parameters.push(("Mfa", self.mfa.as_str().to_owned()));
        }
        if let Some(domain) = &self.custom_domain {
            parameters.push(("CustomDomain", domain.domain.clone()));
            parameters.push(("CertificateArn", domain.certificate_arn.clone()));
        }
        if self.managed_login.is_some() {
            parameters.push(("ManagedLogin", "true".to_owned()));
        }
        if let Some(ses) = &self.ses {
            parameters.push(("SesFrom", ses.from.clone()));
            parameters.push(("SesIdentityArn", ses.identity_arn.clone()));
        }
        if !self.identity_providers.is_empty() {
            parameters.push(("IdentityProviders", self.provider_names().join(",")));
        }
        parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_arns_outside_us_east_1_are_refused_with_the_reason() {
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b-2c3d";
        assert_eq!(check_certificate_arn(arn).as_deref(), Ok(arn));
        let error = check_certificate_arn(&arn.replace("us-east-1", "eu-west-1")).unwrap_err();
        assert_eq!(
            error,
            SignInError::CertificateRegion("eu-west-1".to_owned())
        );
        assert!(error.to_string().contains("CloudFront"), "{error}");
        for bad in [
            "",
            "arn:aws:acm:us-east-1:123456789012",
            "arn:aws:acm:us-east-1:12345:certificate/abc",
            "arn:aws:iam:us-east-1:123456789012:certificate/abc",
            "arn:aws:acm:us-east-1:123456789012:key/abc",
            "arn:aws:acm:us-east-1:123456789012:certificate/",
        ] {
            assert_eq!(
                check_certificate_arn(bad),
                Err(SignInError::BadCertificateArn(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn domains_need_two_valid_labels() {
        assert_eq!(
            check_domain("Auth.Example.com").as_deref(),
            Ok("auth.example.com")
        );
        for bad in [
            "localhost",
            "-a.example.com",
            "a..b",
            "a_b.example.com",
            "x.",
            "",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn e_mail_addresses_and_ses_identities_are_checked() {
        let arn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com";
        let ses = SesEmail::new("no-reply@example.com", arn).unwrap();
        assert_eq!(ses.from, "no-reply@example.com");
        assert!(SesEmail::new("a@mail.example.com", arn).is_ok());
        let address = "arn:aws:ses:eu-west-1:123456789012:identity/me@example.org";
        assert!(SesEmail::new("me@example.org", address).is_ok());
        assert_eq!(
            SesEmail::new("me@example.org", arn),
            Err(SignInError::SesIdentityMismatch {
                identity: "example.com".to_owned(),
                from: "me@example.org".to_owned()
            })
        );
        for bad in [
            "no-at-sign",
            "@example.com",
            "a@localhost",
            "a b@example.com",
            "a@@b.c",
        ] {
            assert_eq!(
                check_email(bad),
                Err(SignInError::BadEmail(bad.to_owned())),
                "{bad}"
            );
        }
        for bad in [
            "arn:aws:ses:eu-west-1:123456789012:configuration-set/x",
            "arn:aws:sns:eu-west-1:123456789012:identity/example.com",
            "arn:aws:ses:eu-west-1:1234:identity/example.com",
            "arn:aws:ses::123456789012:identity/example.com",
            "example.com",
        ] {
            assert_eq!(
                SesEmail::new("a@example.com", bad),
                Err(SignInError::BadSesArn(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_names_are_refused_when_cognito_would_refuse_them_or_they_collide() {
        for bad in [
            "ab",
            "1corp",
            "my_corp",
            "Google",
            "cognito",
            &"a".repeat(33),
        ] {
            assert_eq!(
                IdentityProvider::oidc(bad, "https://idp.example.com"),
                Err(SignInError::BadProviderName(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            IdentityProvider::saml("Corp", "ftp://idp.example.com/metadata"),
            Err(SignInError::BadProviderUrl(
                "ftp://idp.example.com/metadata".to_owned()
            ))
        );
        let plain = "http://idp.example.com/metadata";
        assert!(IdentityProvider::saml("Corp", plain).is_ok());
        assert_eq!(
            check_https_url(plain),
            Err(SignInError::BadProviderUrl(plain.to_owned()))
        );
        assert!(check_https_url("https://idp.example.com/m").is_ok());
        let mut options = SignInOptions::default();
        options
            .add_identity_provider(IdentityProvider::oidc("my-corp", "https://a.example").unwrap())
            .unwrap();
        for clash in ["MY-CORP", "mycorp"] {
            let provider = IdentityProvider::saml(clash, "https://b.example/m").unwrap();
            assert_eq!(
                options.add_identity_provider(provider),
                Err(SignInError::DuplicateProvider(clash.to_owned()))
            );
        }
        options
            .add_identity_provider(IdentityProvider::google())
            .unwrap();
        assert_eq!(
            options.add_identity_provider(IdentityProvider::google()),
            Err(SignInError::DuplicateProvider("Google".to_owned()))
        );
    }

    #[test]
    fn credential_variables_are_named_after_the_provider() {
        let oidc = IdentityProvider::oidc("Okta-Corp", "https://corp.okta.com/").unwrap();
        assert_eq!(
            oidc.credential_variables(),
            Some((
                "COGNITO_OIDC_OKTA_CORP_CLIENT_ID".to_owned(),
                "COGNITO_OIDC_OKTA_CORP_CLIENT_SECRET".to_owned()
            ))
        );
        assert_eq!(
            oidc.kind,
            ProviderKind::Oidc {
                issuer: "https://corp.okta.com".to_owned()
            }
        );
        assert_eq!(
            IdentityProvider::google().credential_variables().unwrap().1,
            "COGNITO_GOOGLE_CLIENT_SECRET"
        );
        let saml = IdentityProvider::saml("Corp", "https://idp.example.com/m").unwrap();
        assert_eq!(saml.credential_variables(), None);
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let provider = IdentityProvider::facebook()
            .with_credentials(ProviderCredentials::new("app-id-1", "s3cr3t-value"));
        let shown = format!("{provider:?}");
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("app-id-1"),
            "{shown}"
        );
    }

    #[test]
    fn branding_settings_must_be_a_json_object() {
        assert!(ManagedLogin::with_settings_json(r#"{"components":{}}"#).is_ok());
        assert!(matches!(
            ManagedLogin::with_settings_json("[1]"),
            Err(SignInError::BadBrandingSettings(_))
        ));
        assert!(matches!(
            ManagedLogin::with_settings_json("{"),
            Err(SignInError::BadBrandingSettings(_))
        ));
    }

    #[test]
    fn only_options_that_differ_from_the_default_become_parameters() {
        assert!(SignInOptions::default().parameters().is_empty());
        let mut options = SignInOptions {
            mfa: Mfa::On,
            managed_login: Some(ManagedLogin::default()),
            ..SignInOptions::default()
        };
        options
            .add_identity_provider(IdentityProvider::google())
            .unwrap();
        options
            .add_identity_provider(IdentityProvider::saml("Corp", "https://x.example/m").unwrap())
            .unwrap();
        assert_eq!(
            options.parameters(),
            [
                ("Mfa", "ON".to_owned()),
                ("ManagedLogin", "true".to_owned()),
                ("IdentityProviders", "Google,Corp".to_owned()),
            ]
        );
    }
}
