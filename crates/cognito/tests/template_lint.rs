//! cfn-lint, AWS's CloudFormation linter, over the template `deploy` applies with each sign-in
//! option (and all of them), in both modes, with the parameter values `deploy` would pass:
//! every resource type, property, value pattern and reference is checked against
//! CloudFormation's resource specification. moto cannot create Cognito resources, so this is
//! what checks the user pool's MFA and e-mail settings, the custom domain, the identity
//! providers and the managed login branding.
//!
//! cfn-lint lives in moto's venv (`source scripts/services/moto.sh && moto_install`); without
//! it the tests pass after a skip notice, unless `MCP_OAUTH_REQUIRE_SERVICES=1`.

use std::path::PathBuf;
use std::process::Command;

use mcp_oauth_cognito::{
    CustomDomain, DeployMode, IdentityProvider, ManagedLogin, Mfa, ProviderCredentials, SesEmail,
    SignInOptions, StackSettings, TEMPLATE, credential_parameters, sign_in_template,
};

fn cfn_lint() -> Option<PathBuf> {
    let cache = std::env::var_os("MCP_OAUTH_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/mcp-oauth"))
        })?;
    let path = cache.join("venv-moto/bin/cfn-lint");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "cfn-lint is not installed at {}: run moto_install",
            path.display()
        );
    }
    eprintln!(
        "skipping: no cfn-lint at {} (moto_install installs it)",
        path.display()
    );
    None
}

fn provider(provider: IdentityProvider) -> IdentityProvider {
    if provider.credential_variables().is_some() {
        provider.with_credentials(ProviderCredentials::new("client-id", "client-secret"))
    } else {
        provider
    }
}

/// Each option alone, then all together.
fn option_sets() -> Vec<(&'static str, SignInOptions)> {
    let google = || provider(IdentityProvider::google());
    let facebook = || provider(IdentityProvider::facebook());
    let oidc = || provider(IdentityProvider::oidc("Okta-Corp", "https://corp.okta.com").unwrap());
    let saml = || {
        provider(IdentityProvider::saml("Corp", "https://idp.example.com/metadata.xml").unwrap())
    };
    let domain = || {
        CustomDomain::new(
            "auth.example.com",
            "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        )
        .unwrap()
    };
    let ses = || {
        SesEmail::new(
            "no-reply@example.com",
            "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
        )
        .unwrap()
    };
    let settings = r#"{"categories":{"global":{"colorSchemeMode":"DARK"}}}"#;
    let with = |edit: &dyn Fn(&mut SignInOptions)| {
        let mut options = SignInOptions::default();
        edit(&mut options);
        options
    };
    let providers = |list: Vec<IdentityProvider>| {
        with(&|options| {
            for p in list.clone() {
                options.add_identity_provider(p).unwrap();
            }
        })
    };
    let all = with(&|options| {
        options.mfa = Mfa::On;
        options.custom_domain = Some(domain());
        options.managed_login = Some(ManagedLogin::with_settings_json(settings).unwrap());
        options.ses = Some(ses());
        for p in [google(), facebook(), oidc(), saml()] {
            options.add_identity_provider(p).unwrap();
        }
    });
    vec![
        ("none", SignInOptions::default()),
        ("mfa optional", with(&|o| o.mfa = Mfa::Optional)),
        ("mfa on", with(&|o| o.mfa = Mfa::On)),
        ("custom domain", with(&|o| o.custom_domain = Some(domain()))),
        ("google", providers(vec![google()])),
        ("facebook", providers(vec![facebook()])),
        ("oidc", providers(vec![oidc()])),
        ("saml", providers(vec![saml()])),
        (
            "managed login",
            with(&|o| o.managed_login = Some(ManagedLogin::default())),
        ),
        (
            "managed login with settings",
            with(&|o| o.managed_login = Some(ManagedLogin::with_settings_json(settings).unwrap())),
        ),
        ("ses", with(&|o| o.ses = Some(ses()))),
        ("all", all),
    ]
}

/// Lints `template` with the parameters `deploy` would pass for `settings`; cfn-lint's report
/// when it finds anything.
fn lint(
    cfn_lint: &PathBuf,
    file: &std::path::Path,
    template: &str,
    settings: &StackSettings,
) -> Result<(), String> {
    std::fs::write(file, template).unwrap();
    let mut parameters = settings.parameters();
    parameters.extend(credential_parameters(&settings.sign_in).unwrap());
    let output = Command::new(cfn_lint)
        .args(["--include-checks", "I", "--parameters"])
        .args(
            parameters
                .iter()
                .map(|(key, value)| format!("{key}={value}")),
        )
        .arg("--")
        .arg(file)
        .output()
        .expect("cfn-lint runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn settings(mode: DeployMode, options: SignInOptions) -> StackSettings {
    let mut settings = StackSettings::new("lint", "my-prefix");
    settings.mode = mode;
    settings.mcp_server_url = "https://mcp.example.com/mcp".to_owned();
    settings.sign_in = options;
    settings
}

/// Each option alone in gateway mode, all of them in both modes.
#[test]
fn cfn_lint_accepts_the_template_with_each_sign_in_option() {
    let Some(cfn_lint) = cfn_lint() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    for (name, options) in option_sets() {
        if name == "all" {
            runs.push((name, settings(DeployMode::Federated, options.clone())));
        }
        runs.push((name, settings(DeployMode::Gateway, options)));
    }
    for (name, settings) in runs {
        let template = sign_in_template(TEMPLATE, &settings.sign_in).unwrap();
        let file = dir.path().join(format!(
            "{}-{}.yaml",
            name.replace(' ', "-"),
            settings.mode.as_str()
        ));
        if let Err(report) = lint(&cfn_lint, &file, &template, &settings) {
            failures.push(format!("{name} ({}):\n{report}", settings.mode.as_str()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// cfn-lint notices a wrong value in a sign-in property (an e-mail sending account, a
/// provider type Cognito does not know), so a clean run above means something.
#[test]
fn cfn_lint_refuses_wrong_sign_in_values() {
    let Some(cfn_lint) = cfn_lint() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, all) = option_sets().pop().expect("all options");
    let settings = settings(DeployMode::Gateway, all);
    let template = sign_in_template(TEMPLATE, &settings.sign_in).unwrap();
    let broken = template
        .replace(
            "EmailSendingAccount: DEVELOPER",
            "EmailSendingAccount: DEVELOPPER",
        )
        .replace("ProviderType: SAML\n", "ProviderType: SAML2\n");
    let report = lint(
        &cfn_lint,
        &dir.path().join("broken.yaml"),
        &broken,
        &settings,
    )
    .unwrap_err();
    assert!(report.contains("'DEVELOPPER' is not one of"), "{report}");
    assert!(report.contains("'SAML2' is not one of"), "{report}");
}
