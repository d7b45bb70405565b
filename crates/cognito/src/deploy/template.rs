//! The CloudFormation template (embedded in the binary) and the values of its parameters.

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
        }
    }

    /// The template's parameters, every one given (so an unchanged deploy is a no-op update).
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
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_given_is_declared_by_the_template() {
        let settings = StackSettings::new("stack", "prefix");
        for (key, _) in settings.parameters() {
            assert!(
                TEMPLATE.contains(&format!("\n  {key}:\n    Type: String")),
                "{key} is not a parameter of the template"
            );
        }
    }

    #[test]
    fn federation_callback_path_matches_the_template() {
        assert!(TEMPLATE.contains(&format!("${{AuthServerUrl}}{UPSTREAM_CALLBACK_PATH}")));
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
