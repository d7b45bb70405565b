//! The template a deploy applies: the embedded one (or `--template`), with what its parameters
//! cannot express added: one `AWS::Cognito::UserPoolIdentityProvider` per identity provider
//! (its client id and secret as `NoEcho` parameters, so that neither is in the template),
//! the providers in the app clients' `SupportedIdentityProviders`, and the managed login
//! style's settings from a file.

use std::fmt::Write as _;

use super::error::DeployError;
use super::sign_in::{IdentityProvider, ProviderKind, SignInOptions};

/// The largest template body CloudFormation accepts inline (`TemplateBody`).
pub const MAX_TEMPLATE_BYTES: usize = 51_200;

/// The line every app client of the templates has before providers are added.
const COGNITO_ONLY: &str = "SupportedIdentityProviders: [COGNITO]\n";

/// The branding line replaced by a settings document.
const PROVIDED_VALUES: &str = "      UseCognitoProvidedValues: true\n";

/// The SAML attribute most providers send the e-mail address in.
pub const SAML_EMAIL_ATTRIBUTE: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

/// `template` with the sign-in options that are not parameters; unchanged without them.
pub fn sign_in_template(template: &str, options: &SignInOptions) -> Result<String, DeployError> {
    let mut rendered = template.to_owned();
    let providers = &options.identity_providers;
    if !providers.is_empty() {
        let parameters: String = providers.iter().map(credential_parameters).collect();
        insert_before(&mut rendered, "\nConditions:\n", &parameters)?;
        let resources: String = providers.iter().map(provider_resource).collect();
        insert_before(&mut rendered, "\nOutputs:\n", &resources)?;
        let refs: Vec<String> = providers
            .iter()
            .map(|p| format!("!Ref {}", p.logical_id()))
            .collect();
        let listed = format!("SupportedIdentityProviders: [COGNITO, {}]\n", refs.join(", "));
        rendered = rendered.replace(COGNITO_ONLY, &listed);
    }
    if let Some(settings) = options.managed_login.as_ref().and_then(|m| m.settings.as_ref()) {
        if rendered.matches(PROVIDED_VALUES).count() != 1 {
            return Err(DeployError::TemplateLacks {
                what: "a ManagedLoginBranding with `UseCognitoProvidedValues: true`",
            });
        }
        // JSON is YAML: the document goes in as one flow mapping.
        let replacement = format!("      UseCognitoProvidedValues: false\n      Settings: {settings}\n");
        rendered = rendered.replace(PROVIDED_VALUES, &replacement);
    }
    if rendered.len() > MAX_TEMPLATE_BYTES {
        return Err(DeployError::TemplateTooLarge {
            bytes: rendered.len(),
        });
    }
    Ok(rendered)
}

/// The template parameters carrying each provider's client id and secret (never logged).
pub(crate) fn credential_parameter_values(
    options: &SignInOptions,
) -> Result<Vec<(String, String)>, DeployError> {
    let mut values = Vec::new();
    for provider in &options.identity_providers {
        let Some((id_variable, secret_variable)) = provider.credential_variables() else {
            continue;
        };
        let (client_id, client_secret) =
            provider
                .credentials()
                .ok_or_else(|| DeployError::MissingProviderCredentials {
                    provider: provider.name.clone(),
                    variables: format!("{id_variable} and {secret_variable}"),
                })?;
        let id = provider.logical_id();
        values.push((format!("{id}ClientId"), client_id.to_owned()));
        values.push((format!("{id}ClientSecret"), client_secret.to_owned()));
    }
    Ok(values)
}

fn insert_before(template: &mut String, anchor: &str, text: &str) -> Result<(), DeployError> {
    let at = template
        .find(anchor)
        .ok_or(DeployError::TemplateLacks {
            what: "the Conditions and Outputs sections",
        })?;
    template.insert_str(at + 1, text);
    Ok(())
}

fn credential_parameters(provider: &IdentityProvider) -> String {
    let Some((id_variable, secret_variable)) = provider.credential_variables() else {
        return String::new();
    };
    let id = provider.logical_id();
    let name = &provider.name;
    format!(
        "  {id}ClientId:\n    Type: String\n    NoEcho: true\n    Description: The user \
         pool's client id at {name} (from {id_variable}).\n  {id}ClientSecret:\n    Type: \
         String\n    NoEcho: true\n    Description: The user pool's client secret at {name} \
         (from {secret_variable}).\n"
    )
}

fn provider_resource(provider: &IdentityProvider) -> String {
    let id = provider.logical_id();
    let mut details = String::new();
    let credentials = format!(
        "        client_id: !Ref {id}ClientId\n        client_secret: !Ref {id}ClientSecret\n"
    );
    let email = match &provider.kind {
        ProviderKind::Google => {
            details.push_str(&credentials);
            details.push_str("        authorize_scopes: openid email profile\n");
            "email".to_owned()
        }
        ProviderKind::Facebook => {
            details.push_str(&credentials);
            details.push_str("        authorize_scopes: public_profile,email\n");
            "email".to_owned()
        }
        ProviderKind::Oidc { issuer } => {
            details.push_str(&credentials);
            let _ = write!(
                details,
                "        oidc_issuer: {}\n        attributes_request_method: GET\n        \
                 authorize_scopes: openid email\n",
                quoted(issuer)
            );
            "email".to_owned()
        }
        ProviderKind::Saml { metadata_url } => {
            let _ = write!(
                details,
                "        MetadataURL: {}\n        IDPSignout: \"false\"\n",
                quoted(metadata_url)
            );
            quoted(SAML_EMAIL_ATTRIBUTE)
        }
    };
    format!(
        "\n  {id}:\n    Type: AWS::Cognito::UserPoolIdentityProvider\n    Properties:\n      \
         UserPoolId: !Ref UserPool\n      ProviderName: {name}\n      ProviderType: {kind}\n      \
         ProviderDetails:\n{details}      AttributeMapping:\n        email: {email}\n",
        name = provider.name,
        kind = provider.provider_type(),
    )
}

/// A YAML double-quoted scalar (a JSON string is one).
fn quoted(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}
