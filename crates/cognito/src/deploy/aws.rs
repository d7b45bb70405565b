//! The AWS clients of deploy and cleanup, with credentials checked up front.

use aws_config::SdkConfig;
use aws_sdk_cloudformation::config::ProvideCredentials;

use super::error::DeployError;
use super::stack::{CloudFormation, WaitPolicy};

/// Clients for the AWS APIs that deploy and cleanup use, in one region.
#[derive(Clone, Debug)]
pub struct Aws {
    region: String,
    endpoint_url: Option<String>,
    cloudformation: aws_sdk_cloudformation::Client,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    s3: aws_sdk_s3::Client,
}

impl Aws {
    /// Clients built from a loaded configuration ([`crate::load_aws_config`]), after checking
    /// that it has a region and that its credentials resolve, before anything is changed.
    pub async fn from_config(config: &SdkConfig) -> Result<Self, DeployError> {
        let region = config.region().ok_or(DeployError::NoRegion)?.to_string();
        let provider = config
            .credentials_provider()
            .ok_or_else(|| DeployError::NoCredentials {
                detail: "no credential provider is configured".to_owned(),
            })?;
        provider
            .provide_credentials()
            .await
            .map_err(|error| DeployError::NoCredentials {
                detail: aws_sdk_cloudformation::error::DisplayErrorContext(&error).to_string(),
            })?;
        Ok(Self {
            region,
            endpoint_url: config.endpoint_url().map(str::to_owned),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            // Emulators answer path-style requests only (no per-bucket host names).
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
        })
    }

    /// The region every call goes to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint override (an emulator such as moto), if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// CloudFormation operations that wait as `wait` says.
    pub fn cloudformation(&self, wait: WaitPolicy) -> CloudFormation {
        CloudFormation::new(self.cloudformation.clone(), wait)
    }

    /// The Cognito user pools client.
    pub(crate) fn cognito(&self) -> &aws_sdk_cognitoidentityprovider::Client {
        &self.cognito
    }

    /// The S3 client (the artifact bucket).
    pub(crate) fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }
}
