//! Reading an app client's secret through the Cognito API.

use std::fmt;

use super::aws::Aws;
use super::error::DeployError;

/// A Cognito app client secret: redacted in `Debug`, written only to owner-only files.
#[derive(Clone, PartialEq, Eq)]
pub struct AppClientSecret(String);

impl AppClientSecret {
    /// The secret itself, for the `.env` file of the component that authenticates with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AppClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppClientSecret(<redacted>)")
    }
}

/// Reads the secret of app client `client_id` of user pool `pool_id` (DescribeUserPoolClient),
/// so nobody has to copy it from the console.
pub async fn read_app_client_secret(
    aws: &Aws,
    pool_id: &str,
    client_id: &str,
) -> Result<AppClientSecret, DeployError> {
    let described = aws
        .cognito()
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .map_err(|e| DeployError::api("DescribeUserPoolClient", e))?;
    described
        .user_pool_client()
        .and_then(|client| client.client_secret())
        .filter(|secret| !secret.is_empty())
        .map(|secret| AppClientSecret(secret.to_owned()))
        .ok_or_else(|| DeployError::NoClientSecret {
            client_id: client_id.to_owned(),
        })
}
