//! The AWS configuration the gateway's clients are built from.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Loads the standard AWS configuration (environment, shared files, container or instance
/// role) for `region`, sending every call to `endpoint_url` when given (an emulator such as
/// moto or cognito-local).
pub async fn load_aws_config(region: &str, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some(endpoint_url) = endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    loader.load().await
}
