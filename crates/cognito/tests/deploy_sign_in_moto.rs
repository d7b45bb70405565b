//! `deploy` with the user pool's sign-in options against moto, and the checks it makes before
//! anything is created.
//!
//! moto's CloudFormation cannot create Cognito resources (it skips them), so the user pool's
//! MFA and e-mail settings, the custom domain, the identity providers and the branding are
//! checked by cfn-lint (`tests/template_lint.rs`). What runs here is the rest of the path:
//! the options as stack parameters (moto's `template/moto-subset.yaml` echoes them), the
//! providers' client ids and secrets as `NoEcho` parameters, the custom domain as the hosted
//! domain in the outputs and the `.env` files, the providers' names for the gateway, and the
//! metadata checks against real HTTP servers (an OpenID discovery document, SAML metadata).
//!
//! ```sh
//! source scripts/services/moto.sh && moto_install && moto_start && trap moto_stop EXIT
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-cognito --test deploy_sign_in_moto
//! ```

mod support;

use axum::Router;
use axum::routing::get;
use mcp_oauth_cognito::{
    CustomDomain, DeployError, DeployMode, IdentityProvider, ManagedLogin, Mfa,
    ProviderCredentials, SesEmail, SignInOptions,
};
use support::deploy::*;

const CERTIFICATE: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a";
const SES_IDENTITY: &str = "arn:aws:ses:eu-west-1:123456789012:identity/example.com";
const SAML_METADATA: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

/// An HTTP server with an OpenID provider's discovery document at `/oidc`, SAML metadata at
/// `/saml/metadata.xml`, an HTML page at `/login`, and nothing at `/none`; its base URL.
async fn metadata_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/oidc");
    let app = Router::new()
        .route(
            "/oidc/.well-known/openid-configuration",
            get(move || async move {
                axum::Json(serde_json::json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "jwks_uri": format!("{issuer}/jwks"),
                }))
            }),
        )
        .route("/saml/metadata.xml", get(|| async { SAML_METADATA }))
        .route(
            "/login",
            get(|| async { axum::response::Html("<html><body>Sign in</body></html>") }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn with_secret(provider: IdentityProvider, id: &str, secret: &str) -> IdentityProvider {
    provider.with_credentials(ProviderCredentials::new(id, secret))
}

#[tokio::test]
async fn deploys_the_sign_in_options_as_parameters_outputs_and_env_files() {
    let Some(fixture) = Fixture::start("deploys_the_sign_in_options").await else {
        return;
    };
    let base = metadata_server().await;
    let stack = "deploy-sign-in";
    let dir = fixture.dir.path();
    let mut plan = fixture.plan(stack, DeployMode::Gateway);
    let mut options = SignInOptions::default();
    options.mfa = Mfa::On;
    options.custom_domain = Some(CustomDomain::new("auth.example.com", CERTIFICATE).unwrap());
    options.managed_login = Some(ManagedLogin::default());
    options.ses = Some(SesEmail::new("no-reply@example.com", SES_IDENTITY).unwrap());
    for provider in [
        with_secret(
            IdentityProvider::google(),
            "google-id",
            "google-secret-value",
        ),
        with_secret(
            IdentityProvider::oidc("Okta", &format!("{base}/oidc")).unwrap(),
            "okta-id",
            "okta-secret-value",
        ),
        IdentityProvider::saml("Corp", &format!("{base}/saml/metadata.xml")).unwrap(),
    ] {
        options.add_identity_provider(provider).unwrap();
    }
    let given: Vec<String> = options
        .parameters()
        .into_iter()
        .map(|(k, _)| k.to_owned())
        .collect();
    plan.extra_parameters
        .retain(|(key, _)| !given.contains(key));
    plan.settings.sign_in = options;

    let (result, _) = deploy_collecting(&fixture.aws, &plan).await;
    let deployment = result.unwrap();
    let outputs = &deployment.outputs;
    assert_eq!(
        outputs.get("HostedDomainUrl"),
        Some("https://auth.example.com")
    );
    assert_eq!(
        outputs.get("PrefixDomainUrl"),
        Some(format!("https://{stack}-login.auth.{REGION}.amazoncognito.com").as_str())
    );
    assert_eq!(outputs.get("CustomDomainCloudFront"), Some(TEST_CLOUDFRONT));
    assert_eq!(
        outputs.get("SignInSettings"),
        Some(
            format!("ON true no-reply@example.com {SES_IDENTITY} {CERTIFICATE} Google,Okta,Corp")
                .as_str()
        )
    );

    // The gateway signs people in at the custom domain and offers the providers on the app
    // clients it registers.
    let gateway = env_vars(&dir.join("gateway/.env"));
    assert_vars(
        &gateway,
        &[
            ("COGNITO_DOMAIN_URL", "https://auth.example.com"),
            ("COGNITO_IDENTITY_PROVIDERS", "Google,Okta,Corp"),
        ],
    );

    // The secrets went as parameters (declared NoEcho, which AWS shows as ****; moto 5.2.5
    // does not mask them: it looks the values up among the NoEcho keys), and no file holds them.
    let described = aws_sdk_cloudformation::Client::new(&fixture.config)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    let parameters = described.stacks()[0].parameters();
    let value = |key: &str| {
        parameters
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
    };
    assert!(value("IdPOktaClientSecret").is_some());
    assert!(value("IdPGoogleClientId").is_some());
    assert_eq!(value("IdPCorpClientId"), None, "SAML has no client");
    for component in ["gateway", "client", "auto-client", "cimd-client"] {
        let text = std::fs::read_to_string(dir.join(component).join(".env")).unwrap();
        assert!(
            !text.contains("okta-secret-value") && !text.contains("google-secret-value"),
            "{component}"
        );
    }

    let (done, _) = fixture.cleanup(stack).await;
    assert!(done.stack_deleted);
}

/// Whether stack `stack` exists in moto.
async fn stack_exists(config: &aws_config::SdkConfig, stack: &str) -> bool {
    aws_sdk_cloudformation::Client::new(config)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn unreadable_provider_metadata_stops_deploy_before_anything_is_created() {
    let Some(fixture) = Fixture::start("unreadable_provider_metadata").await else {
        return;
    };
    let base = metadata_server().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let stack = "deploy-bad-provider";
    let oidc = |issuer: &str| {
        with_secret(
            IdentityProvider::oidc("Corp", issuer).unwrap(),
            "id",
            "secret",
        )
    };
    let cases = [
        (
            oidc(&format!("{base}/none")),
            format!("{base}/none/.well-known/openid-configuration: answered HTTP 404"),
        ),
        (
            // The SAML metadata's URL is no issuer: its answer is not a discovery document.
            oidc(&format!("{base}/login")),
            "answered HTTP 404".to_owned(),
        ),
        (
            oidc(&closed),
            format!("{closed}/.well-known/openid-configuration: no answer ("),
        ),
        (
            IdentityProvider::saml("Corp", &format!("{base}/login")).unwrap(),
            "not SAML metadata: the root element is <html>".to_owned(),
        ),
        (
            IdentityProvider::saml(
                "Corp",
                &format!("{base}/oidc/.well-known/openid-configuration"),
            )
            .unwrap(),
            "not SAML metadata (not XML".to_owned(),
        ),
        (
            IdentityProvider::saml("Corp", &format!("{base}/none")).unwrap(),
            "answered HTTP 404".to_owned(),
        ),
    ];
    for (provider, expected) in cases {
        let mut plan = fixture.plan(stack, DeployMode::Gateway);
        plan.settings
            .sign_in
            .add_identity_provider(provider)
            .unwrap();
        let (result, events) = deploy_collecting(&fixture.aws, &plan).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, DeployError::ProviderMetadata { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with("cannot use identity provider Corp: "),
            "{text}"
        );
        assert!(text.contains(&expected), "{text} lacks {expected}");
        assert_eq!(events, []);
        assert!(!stack_exists(&fixture.config, stack).await, "{text}");
        assert!(
            std::fs::read_dir(fixture.dir.path())
                .unwrap()
                .next()
                .is_none()
        );
    }

    // A provider without its client id and secret is refused before any request.
    let mut plan = fixture.plan(stack, DeployMode::Gateway);
    plan.settings
        .sign_in
        .add_identity_provider(IdentityProvider::facebook())
        .unwrap();
    let (result, _) = deploy_collecting(&fixture.aws, &plan).await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "identity provider Facebook needs its client id and secret: set \
         COGNITO_FACEBOOK_CLIENT_ID and COGNITO_FACEBOOK_CLIENT_SECRET"
    );
    assert!(!stack_exists(&fixture.config, stack).await);
}
