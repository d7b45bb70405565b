//! The Cognito API calls of the bridge: create, update and delete app clients, read the
//! resource server's scopes.
//!
//! `UpdateUserPoolClient` resets every attribute it is not sent to its default, so creation
//! and update send the same settings, from one place ([`apply_settings!`]).

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, FeatureType, OAuthFlowType, PreventUserExistenceErrorTypes,
    RefreshTokenRotationType,
};

use super::fault::CognitoFault;

/// The longest app client name Cognito accepts.
const MAX_CLIENT_NAME: usize = 128;

/// What the bridge asks Cognito to create for one registration.
#[derive(Debug, Clone)]
pub(crate) struct NewAppClient<'a> {
    /// The registered `client_name`, if any (sanitised into Cognito's `ClientName`).
    pub(crate) name: Option<&'a str>,
    /// The callback URLs: the registered redirect URIs.
    pub(crate) redirect_uris: &'a [String],
    /// The resource server scopes the client may request.
    pub(crate) scopes: Vec<String>,
    /// Whether Cognito generates a client secret (a confidential client).
    pub(crate) confidential: bool,
    /// Whether the client may sign people in: a client waiting for approval, or suspended,
    /// has its OAuth flows turned off at Cognito too.
    pub(crate) enabled: bool,
}

/// The settings of an app client, sent alike by `CreateUserPoolClient` and
/// `UpdateUserPoolClient` (whose builders have the same setters): the authorization code flow
/// with the scopes and callback URLs when enabled, none when not; the identity providers; SRP
/// as the only API sign-in flow; refresh token rotation; token revocation.
macro_rules! apply_settings {
    ($builder:expr, $request:expr, $rotation:expr, $providers:expr) => {{
        let request: &NewAppClient<'_> = $request;
        let builder = $builder
            .client_name(client_name(request.name))
            .allowed_o_auth_flows_user_pool_client(request.enabled)
            .set_callback_urls(Some(request.redirect_uris.to_vec()))
            .set_supported_identity_providers(Some($providers))
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
            .enable_token_revocation(true)
            .refresh_token_rotation($rotation);
        if request.enabled {
            builder
                .allowed_o_auth_flows(OAuthFlowType::Code)
                .set_allowed_o_auth_scopes(Some(request.scopes.clone()))
        } else {
            builder
        }
    }};
}

/// An app client Cognito created.
pub(crate) struct CreatedAppClient {
    /// The app client id, which is the OAuth `client_id`.
    pub(crate) client_id: String,
    /// The secret of a confidential client; handed to the client once, never stored.
    pub(crate) secret: Option<String>,
}

/// The app clients of one user pool.
#[derive(Clone)]
pub struct AppClients {
    client: Client,
    user_pool_id: String,
    /// The pool's identity providers the app clients offer besides `COGNITO`.
    identity_providers: Vec<String>,
}

impl AppClients {
    /// The app clients of `user_pool_id`, managed with `client`.
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
            identity_providers: Vec::new(),
        }
    }

    /// Offers the pool's identity providers `names` (e.g. `Google`, an OIDC or SAML provider's
    /// name) on the app clients besides Cognito's own accounts (`COGNITO`).
    pub fn with_identity_providers(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.identity_providers = names
            .into_iter()
            .filter(|name| !name.is_empty() && name != "COGNITO")
            .collect();
        self
    }

    /// `SupportedIdentityProviders` of the app clients: `COGNITO` and the configured ones.
    fn supported_identity_providers(&self) -> Vec<String> {
        std::iter::once("COGNITO".to_owned())
            .chain(self.identity_providers.iter().cloned())
            .collect()
    }

    /// The app clients of `user_pool_id`, reached with the AWS configuration `config`.
    pub fn connect(config: &aws_config::SdkConfig, user_pool_id: impl Into<String>) -> Self {
        Self::new(Client::new(config), user_pool_id)
    }

    /// The user pool id.
    pub fn user_pool_id(&self) -> &str {
        &self.user_pool_id
    }

    /// Creates an app client for the authorization code flow (clients send a PKCE S256
    /// challenge, which Cognito's managed login verifies), with refresh token rotation and
    /// token revocation on and no API sign-in flow besides SRP.
    pub(crate) async fn create(
        &self,
        request: &NewAppClient<'_>,
    ) -> Result<CreatedAppClient, CognitoFault> {
        let create = self
            .client
            .create_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .generate_secret(request.confidential);
        let providers = self.supported_identity_providers();
        let output = apply_settings!(create, request, rotation()?, providers)
            .send()
            .await
            .map_err(|error| CognitoFault::from_sdk(error.into_service_error(), false))?;
        let created = output
            .user_pool_client()
            .and_then(|client| Some((client.client_id()?, client.client_secret())))
            .ok_or_else(|| {
                CognitoFault::Unavailable("CreateUserPoolClient returned no client id".to_owned())
            })?;
        Ok(CreatedAppClient {
            client_id: created.0.to_owned(),
            secret: created.1.map(str::to_owned),
        })
    }

    /// Sends every setting of the app client `client_id` again, from `request` (whose
    /// `confidential` is ignored: a secret cannot be added or removed).
    pub(crate) async fn update(
        &self,
        client_id: &str,
        request: &NewAppClient<'_>,
    ) -> Result<(), CognitoFault> {
        let update = self
            .client
            .update_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id);
        let providers = self.supported_identity_providers();
        apply_settings!(update, request, rotation()?, providers)
            .send()
            .await
            .map_err(|error| CognitoFault::from_sdk(error.into_service_error(), true))?;
        Ok(())
    }

    /// Deletes the app client `client_id`; one that no longer exists counts as deleted.
    pub(crate) async fn delete(&self, client_id: &str) -> Result<(), CognitoFault> {
        let result = self
            .client
            .delete_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .send()
            .await;
        match result.map_err(|error| CognitoFault::from_sdk(error.into_service_error(), true)) {
            Ok(_) | Err(CognitoFault::ClientNotFound) => Ok(()),
            Err(fault) => Err(fault),
        }
    }

    /// The scopes of the resource server `identifier`, as tokens carry them
    /// (`<identifier>/<scope name>`).
    pub async fn resource_server_scopes(
        &self,
        identifier: &str,
    ) -> Result<Vec<String>, CognitoFault> {
        let output = self
            .client
            .describe_resource_server()
            .user_pool_id(&self.user_pool_id)
            .identifier(identifier)
            .send()
            .await
            .map_err(|error| CognitoFault::from_sdk(error.into_service_error(), false))?;
        Ok(output
            .resource_server()
            .map(|server| {
                server
                    .scopes()
                    .iter()
                    .map(|scope| format!("{identifier}/{}", scope.scope_name()))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Refresh token rotation without a grace period.
fn rotation() -> Result<RefreshTokenRotationType, CognitoFault> {
    RefreshTokenRotationType::builder()
        .feature(FeatureType::Enabled)
        .retry_grace_period_seconds(0)
        .build()
        .map_err(|error| CognitoFault::Unavailable(error.to_string()))
}

/// Cognito's `ClientName` (`[\w\s+=,.@-]+`, at most 128 characters) from the registered
/// `client_name`: other characters become `-`; no name gives `mcp-client`.
fn client_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == ' ' || "+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(MAX_CLIENT_NAME)
        .collect();
    if cleaned.trim().is_empty() {
        "mcp-client".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_fit_cognito_pattern() {
        assert_eq!(client_name(None), "mcp-client");
        assert_eq!(client_name(Some("   ")), "mcp-client");
        assert_eq!(client_name(Some("Claude (fs) <x>")), "Claude -fs- -x-");
        assert_eq!(client_name(Some(&"a".repeat(300))).len(), MAX_CLIENT_NAME);
    }
}
