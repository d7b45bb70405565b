//! Shared by the deploy tests against moto: the AWS configuration, a user pool with an app
//! client, plans with the subset template moto can create, and the `.env` files' contents.

use std::path::Path;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;
use mcp_oauth_cognito::{
    Architecture, Aws, Cleanup, DeployError, DeployMode, DeployPlan, Deployment, Progress,
    ServerlessSettings, StackSettings, WaitPolicy, cleanup, deploy,
};
use tempfile::TempDir;

pub const MOTO_TEMPLATE: &str = include_str!("../../template/moto-subset.yaml");
pub const REGION: &str = "eu-west-1";

/// The AWS configuration pointing at moto, or `None` (after a notice) when moto is not running
/// and the services are not required.
pub async fn moto(test: &str) -> Option<SdkConfig> {
    let endpoint = super::moto(test)?;
    Some(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await,
    )
}

pub fn fast_wait() -> WaitPolicy {
    WaitPolicy::new(Duration::from_millis(50), Duration::from_secs(120))
}

/// What a test deploys with: moto, a user pool and an app client with a secret made through
/// moto's Cognito API, and an empty directory for the `.env` files.
pub struct Fixture {
    pub config: SdkConfig,
    pub aws: Aws,
    pub pool_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub dir: TempDir,
}

impl Fixture {
    /// The fixture for `test`, or `None` when moto is not running (see [`moto`]).
    pub async fn start(test: &str) -> Option<Fixture> {
        let config = moto(test).await?;
        let aws = Aws::from_config(&config).await.unwrap();
        let (pool_id, client_id, client_secret) = pool_with_client(&config).await;
        Some(Fixture {
            config,
            aws,
            pool_id,
            client_id,
            client_secret,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// The plan deploying `stack` in `mode` for this pool and app client into this directory.
    pub fn plan(&self, stack: &str, mode: DeployMode) -> DeployPlan {
        plan(stack, mode, &self.pool_id, &self.client_id, self.dir.path())
    }

    /// Runs `cleanup` of `stack` and this directory (see [`cleanup_collecting`]).
    pub async fn cleanup(&self, stack: &str) -> (Cleanup, Events) {
        cleanup_collecting(&self.aws, stack, self.dir.path()).await
    }
}

/// A user pool and an app client with a secret, made through moto's Cognito API.
pub async fn pool_with_client(config: &SdkConfig) -> (String, String, String) {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(config);
    let pool = cognito
        .create_user_pool()
        .pool_name("deploy-test")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("static")
        .generate_secret(true)
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    (
        pool_id,
        client.client_id().unwrap().to_owned(),
        client.client_secret().unwrap().to_owned(),
    )
}

pub fn plan(
    stack: &str,
    mode: DeployMode,
    pool_id: &str,
    client_id: &str,
    env_dir: &Path,
) -> DeployPlan {
    let mut settings = StackSettings::new(stack, format!("{stack}-login"));
    settings.mode = mode;
    settings.mcp_server_url = "https://mcp.example.com/mcp".to_owned();
    settings.gateway_url = "https://mcp.example.com".to_owned();
    // moto finds an update a no-op only if every parameter is given, defaults included: the
    // serverless ones are given here with their defaults (a serverless plan gives its own).
    let mut serverless = ServerlessSettings::default();
    serverless.architecture = Architecture::Arm64;
    let mut with_defaults = settings.clone();
    with_defaults.serverless = Some(serverless);
    let mut extra: Vec<(String, String)> = with_defaults
        .parameters()
        .into_iter()
        .skip(settings.parameters().len())
        .map(|(key, value)| match key.as_str() {
            "Serverless" => (key, "false".to_owned()),
            _ => (key, value),
        })
        .collect();
    // The sign-in options' defaults, for the same reason (a test that sets an option drops
    // its default from here).
    extra.extend(
        [
            ("Mfa", "OFF"),
            ("CustomDomain", ""),
            ("CertificateArn", ""),
            ("ManagedLogin", "false"),
            ("SesFrom", ""),
            ("SesIdentityArn", ""),
            ("IdentityProviders", ""),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned())),
    );
    extra.extend([
        ("UserPoolId".to_owned(), pool_id.to_owned()),
        ("AppClientId".to_owned(), client_id.to_owned()),
        ("TestFunctionUrl".to_owned(), TEST_FUNCTION_URL.to_owned()),
        ("TestCloudFront".to_owned(), TEST_CLOUDFRONT.to_owned()),
    ]);
    DeployPlan::new(settings, env_dir)
        .with_template(MOTO_TEMPLATE, extra)
        .with_wait(fast_wait())
}

/// What moto's stack gives as a custom domain's CloudFront distribution (moto cannot create a
/// domain).
pub const TEST_CLOUDFRONT: &str = "d111111abcdef8.cloudfront.net";

/// What moto's stack gives as the function URL (moto cannot create one).
pub const TEST_FUNCTION_URL: &str = "https://abcdefgh.lambda-url.eu-west-1.on.aws/";

/// The events a command reported, as `(resource, status)`.
pub type Events = Vec<(String, String)>;

/// A callback recording each stack event in `events` (the serverless steps as `("step", …)`).
pub fn recorder(events: &mut Events) -> impl FnMut(Progress<'_>) + '_ {
    |progress: Progress<'_>| match progress {
        Progress::Event(event) => events.push((event.logical_id.clone(), event.status.clone())),
        Progress::Step(step) => events.push(("step".to_owned(), step.to_string())),
        _ => {}
    }
}

/// Runs `deploy`, returning its result and the events it reported.
pub async fn deploy_collecting(
    aws: &Aws,
    plan: &DeployPlan,
) -> (Result<Deployment, DeployError>, Events) {
    let mut events = Vec::new();
    let result = deploy(aws, plan, &mut recorder(&mut events)).await;
    (result, events)
}

/// Runs `cleanup` of `stack` and the files deploy wrote under `env_dir`, which must succeed,
/// returning what it did and the events it reported.
pub async fn cleanup_collecting(aws: &Aws, stack: &str, env_dir: &Path) -> (Cleanup, Events) {
    let mut events = Vec::new();
    let done = cleanup(aws, stack, env_dir, fast_wait(), &mut recorder(&mut events))
        .await
        .unwrap();
    (done, events)
}

/// The `KEY=value` lines of a `.env` file, comments left out.
pub fn env_vars(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap();
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

pub fn var<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Asserts that `vars` sets each key of `expected` to its value.
pub fn assert_vars(vars: &[(String, String)], expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(var(vars, key), Some(*value), "{key}");
    }
}

/// Asserts that `error` is AWS refusing the API call `operation`.
pub fn assert_api_error(error: &DeployError, operation: &str) {
    assert!(
        matches!(error, DeployError::Api { operation: refused, .. } if *refused == operation),
        "{error:?}"
    );
}

#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn stack_events(stack: &str, statuses: &[&str]) -> Vec<(String, String)> {
    statuses
        .iter()
        .map(|status| (stack.to_owned(), (*status).to_owned()))
        .collect()
}
