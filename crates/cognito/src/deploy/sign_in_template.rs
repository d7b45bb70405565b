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
        let parameters: String = providers.iter().map(declared_parameters).collect();
        insert_before(&mut rendered, "\nConditions:\n", &parameters)?;
        let resources: String = providers.iter().map(provider_resource).collect();
        insert_before(&mut rendered, "\nOutputs:\n", &resources)?;
        let refs: Vec<String> = providers
            .iter()
            .map(|p| format!("!Ref {}", p.logical_id()))
            .collect();
        let listed = format!(
            "SupportedIdentityProviders: [COGNITO, {}]\n",
            refs.join(", ")
        );
        rendered = rendered.replace(COGNITO_ONLY, &listed);
    }
    if let Some(settings) = options
        .managed_login
        .as_ref()
        .and_then(|m| m.settings.as_ref())
    {
        if rendered.matches(PROVIDED_VALUES).count() != 1 {
            return Err(DeployError::TemplateLacks {
                what: "a ManagedLoginBranding with `UseCognitoProvidedValues: true`",
            });
        }
        // JSON is YAML: the document goes in as one flow mapping.
        let replacement =
            format!("      UseCognitoProvidedValues: false\n      Settings: {settings}\n");
        rendered = rendered.replace(PROVIDED_VALUES, &replacement);
    }
    if rendered.len() > MAX_TEMPLATE_BYTES {
        return Err(DeployError::TemplateTooLarge {
            bytes: rendered.len(),
        });
    }
    Ok(rendered)
}

/// The values of the `NoEcho` template parameters carrying each OAuth/OIDC provider's client
/// id and secret (secrets: never log them), or which variables to set for a provider without.
pub fn credential_parameters(
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
    let at = template.find(anchor).ok_or(DeployError::TemplateLacks {
        what: "the Conditions and Outputs sections",
    })?;
    template.insert_str(at + 1, text);
    Ok(())
}

fn declared_parameters(provider: &IdentityProvider) -> String {
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
        "  {id}:\n    Type: AWS::Cognito::UserPoolIdentityProvider\n    Properties:\n      \
         UserPoolId: !Ref UserPool\n      ProviderName: {name}\n      ProviderType: {kind}\n      \
         ProviderDetails:\n{details}      AttributeMapping:\n        email: {email}\n\n",
        name = provider.name,
        kind = provider.provider_type(),
    )
}

/// A YAML double-quoted scalar (a JSON string is one).
fn quoted(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::super::sign_in::{ManagedLogin, ProviderCredentials};
    use super::super::template::TEMPLATE;
    use super::*;

    fn with_providers(providers: Vec<IdentityProvider>) -> SignInOptions {
        let mut options = SignInOptions::default();
        for provider in providers {
            options.add_identity_provider(provider).unwrap();
        }
        options
    }

    /// The text of resource `id` in `template` (up to the next blank line).
    fn resource<'a>(template: &'a str, id: &str) -> &'a str {
        let start = template
            .find(&format!("\n  {id}:\n"))
            .unwrap_or_else(|| panic!("{id} missing"));
        let block = &template[start + 1..];
        &block[..block.find("\n\n").unwrap_or(block.len()) + 1]
    }

    #[test]
    fn without_options_the_template_is_unchanged() {
        let options = SignInOptions {
            managed_login: Some(ManagedLogin::default()),
            ..SignInOptions::default()
        };
        assert_eq!(sign_in_template(TEMPLATE, &options).unwrap(), TEMPLATE);
    }

    #[test]
    fn google_and_facebook_become_providers_with_secret_parameters() {
        let options = with_providers(vec![
            IdentityProvider::google(),
            IdentityProvider::facebook(),
        ]);
        let rendered = sign_in_template(TEMPLATE, &options).unwrap();
        assert_eq!(
            resource(&rendered, "IdPGoogle"),
            "  IdPGoogle:
    Type: AWS::Cognito::UserPoolIdentityProvider
    Properties:
      UserPoolId: !Ref UserPool
      ProviderName: Google
      ProviderType: Google
      ProviderDetails:
        client_id: !Ref IdPGoogleClientId
        client_secret: !Ref IdPGoogleClientSecret
        authorize_scopes: openid email profile
      AttributeMapping:
        email: email
"
        );
        assert!(
            resource(&rendered, "IdPFacebook")
                .contains("ProviderType: Facebook\n      ProviderDetails:\n        client_id: !Ref IdPFacebookClientId\n        client_secret: !Ref IdPFacebookClientSecret\n        authorize_scopes: public_profile,email\n")
        );
        let parameter = &rendered[rendered.find("\n  IdPGoogleClientSecret:\n").unwrap()..];
        assert!(
            parameter.starts_with(
                "\n  IdPGoogleClientSecret:\n    Type: String\n    NoEcho: true\n    Description: \
                 The user pool's client secret at Google (from COGNITO_GOOGLE_CLIENT_SECRET).\n"
            ),
            "{parameter}"
        );
        // Parameters before Conditions, resources before Outputs.
        let at = |text: &str| rendered.find(text).unwrap();
        assert!(at("IdPFacebookClientSecret:") < at("\nConditions:\n"));
        assert!(at("\n  IdPFacebook:\n") < at("\nOutputs:\n"));
        assert!(at("\n  IdPFacebook:\n") > at("\nResources:\n"));
        // Both app clients list them (and so depend on them).
        assert_eq!(
            rendered
                .matches(
                    "SupportedIdentityProviders: [COGNITO, !Ref IdPGoogle, !Ref IdPFacebook]\n"
                )
                .count(),
            2
        );
        assert!(!rendered.contains("SupportedIdentityProviders: [COGNITO]\n"));
    }

    #[test]
    fn oidc_and_saml_providers_name_their_metadata_and_map_the_e_mail() {
        let options = with_providers(vec![
            IdentityProvider::oidc("Okta-Corp", "https://corp.okta.com/").unwrap(),
            IdentityProvider::saml("Corp", "https://idp.example.com/m?x=\"1\"").unwrap(),
        ]);
        let rendered = sign_in_template(TEMPLATE, &options).unwrap();
        assert_eq!(
            resource(&rendered, "IdPOktaCorp"),
            "  IdPOktaCorp:
    Type: AWS::Cognito::UserPoolIdentityProvider
    Properties:
      UserPoolId: !Ref UserPool
      ProviderName: Okta-Corp
      ProviderType: OIDC
      ProviderDetails:
        client_id: !Ref IdPOktaCorpClientId
        client_secret: !Ref IdPOktaCorpClientSecret
        oidc_issuer: \"https://corp.okta.com\"
        attributes_request_method: GET
        authorize_scopes: openid email
      AttributeMapping:
        email: email
"
        );
        assert_eq!(
            resource(&rendered, "IdPCorp"),
            "  IdPCorp:
    Type: AWS::Cognito::UserPoolIdentityProvider
    Properties:
      UserPoolId: !Ref UserPool
      ProviderName: Corp
      ProviderType: SAML
      ProviderDetails:
        MetadataURL: \"https://idp.example.com/m?x=\\\"1\\\"\"
        IDPSignout: \"false\"
      AttributeMapping:
        email: \"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"
"
        );
        // A SAML provider has no client id or secret.
        assert!(!rendered.contains("IdPCorpClientId"));
    }

    #[test]
    fn credentials_are_parameter_values_and_missing_ones_name_their_variables() {
        let google = IdentityProvider::google();
        let saml = IdentityProvider::saml("Corp", "https://idp.example.com/m").unwrap();
        let missing = with_providers(vec![google.clone(), saml.clone()]);
        let error = credential_parameters(&missing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "identity provider Google needs its client id and secret: set \
             COGNITO_GOOGLE_CLIENT_ID and COGNITO_GOOGLE_CLIENT_SECRET"
        );
        let given = with_providers(vec![
            google.with_credentials(ProviderCredentials::new("id-1", "secret-1")),
            saml,
        ]);
        assert_eq!(
            credential_parameters(&given).unwrap(),
            [
                ("IdPGoogleClientId".to_owned(), "id-1".to_owned()),
                ("IdPGoogleClientSecret".to_owned(), "secret-1".to_owned()),
            ]
        );
        let rendered = sign_in_template(TEMPLATE, &given).unwrap();
        assert!(!rendered.contains("secret-1") && !rendered.contains("id-1"));
    }

    #[test]
    fn branding_settings_replace_the_cognito_provided_values() {
        let options = SignInOptions {
            managed_login: Some(
                ManagedLogin::with_settings_json(
                    r#"{"categories": {"form": {"displayGraphics": true}}}"#,
                )
                .unwrap(),
            ),
            ..SignInOptions::default()
        };
        let rendered = sign_in_template(TEMPLATE, &options).unwrap();
        assert_eq!(
            resource(&rendered, "ManagedLoginBranding"),
            "  ManagedLoginBranding:
    Type: AWS::Cognito::ManagedLoginBranding
    Condition: UseManagedLogin
    DependsOn: UserPoolDomain
    Properties:
      UserPoolId: !Ref UserPool
      ClientId: !If [IsGateway, !Ref StaticClient, !Ref FederationClient]
      UseCognitoProvidedValues: false
      Settings: {\"categories\":{\"form\":{\"displayGraphics\":true}}}
"
        );
    }

    #[test]
    fn templates_lacking_the_anchors_or_too_long_are_refused() {
        let options = with_providers(vec![IdentityProvider::facebook()]);
        assert!(matches!(
            sign_in_template("Resources: {}\n", &options),
            Err(DeployError::TemplateLacks { .. })
        ));
        let branded = SignInOptions {
            managed_login: Some(ManagedLogin::with_settings_json("{}").unwrap()),
            ..SignInOptions::default()
        };
        assert!(matches!(
            sign_in_template("Resources: {}\n", &branded),
            Err(DeployError::TemplateLacks { .. })
        ));
        let big = format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_TEMPLATE_BYTES));
        let huge = SignInOptions {
            managed_login: Some(ManagedLogin::with_settings_json(&big).unwrap()),
            ..SignInOptions::default()
        };
        assert!(matches!(
            sign_in_template(TEMPLATE, &huge),
            Err(DeployError::TemplateTooLarge { .. })
        ));
    }
}
