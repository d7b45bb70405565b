//! The CloudFormation template (embedded in the binary) and the values of its parameters.

use super::sign_in::SignInOptions;

/// The CloudFormation template `mcp-oauth deploy` applies: user pool, hosted domain, resource
/// server, app client(s), registry table and gateway policy (`crates/cognito/template/`).
pub const TEMPLATE: &str = include_str!("../../template/mcp-oauth.yaml");

/// What the Cognito side is deployed for (the template's `Mode` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployMode {
    /// Cognito signs the MCP clients' tokens; `mcp-oauth gateway` registers one app client per
    /// MCP client, recorded in the DynamoDB registry.
    Gateway,
    /// The embedded authorization server signs the tokens and uses one Cognito app client to
    /// send people to Cognito's hosted sign-in (issue 6).
    Federated,
}

impl DeployMode {
    /// The value of the template's `Mode` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Federated => "federated",
        }
    }
}

/// The instruction set of the function's `bootstrap` (the template's `Architecture`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Architecture {
    /// AWS Graviton (cheaper per GB-second); the default.
    #[default]
    Arm64,
    /// x86-64.
    X86_64,
}

impl Architecture {
    /// The value of the template's `Architecture` parameter (Lambda's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The command that builds the artifact for this architecture (`scripts/lambda-build`).
    pub fn build_command(self) -> &'static str {
        match self {
            Self::Arm64 => "scripts/lambda-build",
            Self::X86_64 => "scripts/lambda-build --x86-64",
        }
    }

    /// Where the build command puts the zip, relative to the workspace root.
    pub fn default_artifact(self) -> &'static str {
        match self {
            Self::Arm64 => "target/lambda/arm64/mcp-oauth/bootstrap.zip",
            Self::X86_64 => "target/lambda/x86_64/mcp-oauth/bootstrap.zip",
        }
    }
}

/// The serverless part of a gateway-mode stack (`deploy --serverless`): the gateway and the MCP
/// server as a Lambda function behind a public function URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerlessSettings {
    /// The architecture the artifact was built for.
    pub architecture: Architecture,
    /// The function's memory in MB (128 to 10240).
    pub memory_mb: u32,
    /// Days the function's log group keeps its events (a value CloudWatch Logs accepts).
    pub log_retention_days: u32,
    /// The artifact bucket's name; `None` lets CloudFormation generate one.
    pub bucket_name: Option<String>,
    /// Browser origins allowed to call the function (requests without `Origin` always pass).
    pub allowed_origins: Vec<String>,
    /// Key of the zip in the bucket; empty creates only the bucket (set by deploy's phases).
    pub code_key: String,
}

impl Default for ServerlessSettings {
    /// arm64, 128 MB, logs kept 14 days, a generated bucket name, no other origin, no code yet.
    fn default() -> Self {
        Self {
            architecture: Architecture::Arm64,
            memory_mb: 128,
            log_retention_days: 14,
            bucket_name: None,
            allowed_origins: Vec::new(),
            code_key: String::new(),
        }
    }
}

/// Path of the embedded authorization server's redirect URI at upstream providers (its
/// federation module's callback), appended to its issuer URL in the federation app client's
/// callback URLs (keep in step with the template's `FederationClient`).
pub const UPSTREAM_CALLBACK_PATH: &str = "/login/callback";

/// The stack's settings: its name and the values of the template's parameters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StackSettings {
    /// CloudFormation stack name.
    pub stack_name: String,
    /// Gateway or federated.
    pub mode: DeployMode,
    /// Prefix of the hosted sign-in domain (`PREFIX.auth.REGION.amazoncognito.com`).
    pub domain_prefix: String,
    /// Public URL of the MCP endpoint (the resource server identifier).
    pub mcp_server_url: String,
    /// Redirect URI of the pre-registered demo client (gateway mode).
    pub client_callback_url: String,
    /// Issuer URL of the embedded authorization server (federated mode).
    pub auth_server_url: String,
    /// Issuer URL of `mcp-oauth gateway`'s metadata façade (gateway mode).
    pub gateway_url: String,
    /// Keep the user pool from being deleted.
    pub deletion_protection: bool,
    /// The gateway on Lambda (gateway mode only); `None` runs it elsewhere.
    pub serverless: Option<ServerlessSettings>,
    /// MFA, custom domain, identity providers, managed login, SES (default: none).
    pub sign_in: SignInOptions,
}

impl StackSettings {
    /// Settings with the local demo URLs; `stack_name` and `domain_prefix` have no default.
    pub fn new(stack_name: impl Into<String>, domain_prefix: impl Into<String>) -> Self {
        Self {
            stack_name: stack_name.into(),
            mode: DeployMode::Gateway,
            domain_prefix: domain_prefix.into(),
            mcp_server_url: "http://localhost:3001/mcp".to_owned(),
            client_callback_url: "http://localhost:3000/callback".to_owned(),
            auth_server_url: "http://localhost:9000".to_owned(),
            gateway_url: "http://localhost:3001".to_owned(),
            deletion_protection: false,
            serverless: None,
            sign_in: SignInOptions::default(),
        }
    }

    /// The template's parameters, every one given (so an unchanged deploy is a no-op update);
    /// the serverless ones only with [`Self::serverless`] and the sign-in ones only when they
    /// differ from their default, so that templates of earlier versions (`--template`) need not
    /// declare them. The identity providers' credentials are not among them.
    pub fn parameters(&self) -> Vec<(String, String)> {
        let protection = if self.deletion_protection {
            "ACTIVE"
        } else {
            "INACTIVE"
        };
        [
            ("Mode", self.mode.as_str()),
            ("DomainPrefix", &self.domain_prefix),
            ("McpServerUrl", &self.mcp_server_url),
            ("ClientCallbackUrl", &self.client_callback_url),
            ("AuthServerUrl", self.auth_server_url.trim_end_matches('/')),
            ("DeletionProtection", protection),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .chain(self.serverless_parameters())
        .chain(
            self.sign_in
                .parameters()
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value)),
        )
        .collect()
    }

    fn serverless_parameters(&self) -> Vec<(String, String)> {
        let Some(serverless) = &self.serverless else {
            return Vec::new();
        };
        [
            ("Serverless", "true".to_owned()),
            ("CodeKey", serverless.code_key.clone()),
            ("Architecture", serverless.architecture.as_str().to_owned()),
            ("MemorySize", serverless.memory_mb.to_string()),
            (
                "LogRetentionDays",
                serverless.log_retention_days.to_string(),
            ),
            (
                "GatewayUrl",
                self.gateway_url.trim_end_matches('/').to_owned(),
            ),
            ("AllowedOrigins", serverless.allowed_origins.join(",")),
            (
                "ArtifactBucketName",
                serverless.bucket_name.clone().unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOTO_SUBSET: &str = include_str!("../../template/moto-subset.yaml");

    fn declares(template: &str, key: &str) -> bool {
        ["String", "Number"]
            .iter()
            .any(|kind| template.contains(&format!("\n  {key}:\n    Type: {kind}")))
    }

    /// Every sign-in option set.
    fn all_sign_in_options() -> SignInOptions {
        use super::super::sign_in::{CustomDomain, IdentityProvider, ManagedLogin, Mfa, SesEmail};
        let mut options = SignInOptions {
            mfa: Mfa::Optional,
            custom_domain: Some(
                CustomDomain::new(
                    "auth.example.com",
                    "arn:aws:acm:us-east-1:123456789012:certificate/abc-1",
                )
                .unwrap(),
            ),
            managed_login: Some(ManagedLogin::default()),
            ses: Some(
                SesEmail::new(
                    "no-reply@example.com",
                    "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
                )
                .unwrap(),
            ),
            ..SignInOptions::default()
        };
        options
            .add_identity_provider(IdentityProvider::google())
            .unwrap();
        options
    }

    #[test]
    fn every_parameter_given_is_declared_by_the_template() {
        let mut settings = StackSettings::new("stack", "prefix");
        settings.serverless = Some(ServerlessSettings::default());
        settings.sign_in = all_sign_in_options();
        let parameters = settings.parameters();
        assert!(parameters.iter().any(|(key, _)| key == "CodeKey"));
        assert!(parameters.iter().any(|(key, _)| key == "SesIdentityArn"));
        for (key, _) in parameters {
            for template in [TEMPLATE, MOTO_SUBSET] {
                assert!(declares(template, &key), "{key} is not a parameter");
            }
        }
    }

    #[test]
    fn without_serverless_only_the_earlier_parameters_are_given() {
        let settings = StackSettings::new("stack", "prefix");
        let keys: Vec<String> = settings.parameters().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "Mode",
                "DomainPrefix",
                "McpServerUrl",
                "ClientCallbackUrl",
                "AuthServerUrl",
                "DeletionProtection"
            ]
        );
    }

    /// The function's environment: every variable is one `mcp-oauth gateway` reads (the names
    /// of its flags' `env`), the same in the real template and in moto's subset.
    #[test]
    fn the_function_environment_names_the_gateway_variables() {
        let gateway = include_str!("../../../cli/src/gateway.rs").to_owned()
            + include_str!("../../../cli/src/mcp_endpoint.rs")
            + include_str!("../../../cli/src/main.rs");
        let environment = |template: &str| -> Vec<String> {
            let start = template.find("        Variables:\n").expect("Variables");
            template[start..]
                .lines()
                .skip(1)
                .take_while(|line| line.starts_with("          "))
                // A variable's name is indented ten spaces; deeper lines are its value.
                .filter(|line| !line.starts_with("           "))
                .filter_map(|line| line.trim().split_once(':').map(|(k, _)| k.to_owned()))
                .collect()
        };
        let names = environment(TEMPLATE);
        assert!(names.len() >= 10, "{names:?}");
        for name in &names {
            assert!(
                gateway.contains(&format!("env = \"{name}\"")),
                "{name} is not read by the gateway"
            );
        }
        assert_eq!(names, environment(MOTO_SUBSET));
    }

    #[test]
    fn the_function_role_reuses_the_gateway_policy() {
        let role = &TEMPLATE[TEMPLATE.find("\n  FunctionRole:\n").expect("FunctionRole")..];
        let role = &role[..role[1..].find("\n  Function:\n").expect("Function")];
        assert!(
            role.contains("ManagedPolicyArns: [!Ref GatewayPolicy]"),
            "{role}"
        );
        assert!(TEMPLATE.contains("InvokeMode: RESPONSE_STREAM"));
    }

    #[test]
    fn federation_callback_path_matches_the_template() {
        assert!(TEMPLATE.contains(&format!("${{AuthServerUrl}}{UPSTREAM_CALLBACK_PATH}")));
    }

    /// The text of resource `id` in the template (up to the next blank line).
    fn resource(id: &str) -> &'static str {
        let start = TEMPLATE
            .find(&format!("\n  {id}:\n"))
            .unwrap_or_else(|| panic!("{id} missing"));
        let block = &TEMPLATE[start + 1..];
        &block[..block.find("\n\n").unwrap_or(block.len()) + 1]
    }

    #[test]
    fn the_user_pool_takes_mfa_with_software_tokens_and_ses_mail_from_parameters() {
        let pool = resource("UserPool");
        assert!(
            pool.ends_with(
                "      MfaConfiguration: !Ref Mfa
      EnabledMfas: !If [HasMfa, [SOFTWARE_TOKEN_MFA], !Ref AWS::NoValue]
      EmailConfiguration: !If
        - HasSes
        - EmailSendingAccount: DEVELOPER
          From: !Ref SesFrom
          SourceArn: !Ref SesIdentityArn
        - !Ref AWS::NoValue
"
            ),
            "{pool}"
        );
        assert!(TEMPLATE.contains("  HasMfa: !Not [!Equals [!Ref Mfa, \"OFF\"]]\n"));
        assert!(!TEMPLATE.contains("SMS_MFA"));
    }

    #[test]
    fn the_custom_domain_is_a_second_domain_with_its_certificate_and_outputs() {
        assert_eq!(
            resource("UserPoolCustomDomain"),
            "  UserPoolCustomDomain:
    Type: AWS::Cognito::UserPoolDomain
    Condition: HasCustomDomain
    Properties:
      Domain: !Ref CustomDomain
      UserPoolId: !Ref UserPool
      CustomDomainConfig:
        CertificateArn: !Ref CertificateArn
      ManagedLoginVersion: !If [UseManagedLogin, 2, 1]
"
        );
        assert!(
            resource("UserPoolDomain").contains("ManagedLoginVersion: !If [UseManagedLogin, 2, 1]")
        );
        assert!(
            TEMPLATE.contains("    Value: !GetAtt UserPoolCustomDomain.CloudFrontDistribution\n")
        );
        // The hosted domain the components use is the custom one when there is one.
        let hosted = "!If\n      - HasCustomDomain\n      - !Sub \"https://${CustomDomain}\"";
        assert!(TEMPLATE.contains(&format!("  HostedDomainUrl:\n    Description: >-\n      Base URL of the hosted sign-in and of /oauth2/authorize and /oauth2/token (the custom\n      domain when there is one).\n    Value: {hosted}")));
        assert!(TEMPLATE.contains("COGNITO_DOMAIN_URL: !If\n            - HasCustomDomain\n"));
    }

    #[test]
    fn managed_login_brands_the_stack_client_with_cognito_values() {
        assert_eq!(
            resource("ManagedLoginBranding"),
            "  ManagedLoginBranding:
    Type: AWS::Cognito::ManagedLoginBranding
    Condition: UseManagedLogin
    DependsOn: UserPoolDomain
    Properties:
      UserPoolId: !Ref UserPool
      ClientId: !If [IsGateway, !Ref StaticClient, !Ref FederationClient]
      UseCognitoProvidedValues: true
"
        );
    }

    #[test]
    fn sign_in_parameters_follow_the_options() {
        let mut settings = StackSettings::new("stack", "prefix");
        settings.sign_in = all_sign_in_options();
        let given: Vec<(String, String)> = settings.parameters().into_iter().skip(6).collect();
        let expected = [
            ("Mfa", "OPTIONAL"),
            ("CustomDomain", "auth.example.com"),
            (
                "CertificateArn",
                "arn:aws:acm:us-east-1:123456789012:certificate/abc-1",
            ),
            ("ManagedLogin", "true"),
            ("SesFrom", "no-reply@example.com"),
            (
                "SesIdentityArn",
                "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
            ),
            ("IdentityProviders", "Google"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(given, expected);
    }

    #[test]
    fn deletion_protection_is_off_unless_asked() {
        let mut settings = StackSettings::new("stack", "prefix");
        let value = |settings: &StackSettings| {
            settings
                .parameters()
                .into_iter()
                .find(|(key, _)| key == "DeletionProtection")
                .map(|(_, value)| value)
        };
        assert_eq!(value(&settings).as_deref(), Some("INACTIVE"));
        settings.deletion_protection = true;
        assert_eq!(value(&settings).as_deref(), Some("ACTIVE"));
    }
}
