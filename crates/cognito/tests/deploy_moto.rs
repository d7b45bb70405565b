//! `deploy` and `cleanup` end to end against moto: CloudFormation create, no-op update,
//! update, events, outputs, the app client's secret read through the Cognito API, the `.env`
//! files and their permissions, delete, and the failure paths.
//!
//! moto's CloudFormation cannot create Cognito resources, so the stack is
//! `template/moto-subset.yaml` (the registry table and the gateway policy, with the real
//! template's parameters and outputs) and each test creates its user pool and app client
//! through moto's Cognito API first. Everything else runs the code the CLI runs.
//!
//! ```sh
//! source scripts/services/moto.sh && moto_install && moto_start && trap moto_stop EXIT
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-cognito --test deploy_moto
//! ```
//!
//! Without `MOTO_ENDPOINT` the tests pass after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

mod support;

use std::path::Path;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;
use mcp_oauth_cognito::{
    Aws, Cleanup, DeployError, DeployMode, DeployPlan, Deployment, MANIFEST_FILE, StackChange,
    StackEvent, StackSettings, WaitPolicy, cleanup, deploy,
};
use tempfile::TempDir;

const MOTO_TEMPLATE: &str = include_str!("../template/moto-subset.yaml");
const REGION: &str = "eu-west-1";

/// The AWS configuration pointing at moto, or `None` (after a notice) when moto is not running
/// and the services are not required.
async fn moto(test: &str) -> Option<SdkConfig> {
    let endpoint = support::moto(test)?;
    Some(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await,
    )
}

fn fast_wait() -> WaitPolicy {
    WaitPolicy::new(Duration::from_millis(50), Duration::from_secs(120))
}

/// What a test deploys with: moto, a user pool and an app client with a secret made through
/// moto's Cognito API, and an empty directory for the `.env` files.
struct Fixture {
    config: SdkConfig,
    aws: Aws,
    pool_id: String,
    client_id: String,
    client_secret: String,
    dir: TempDir,
}

impl Fixture {
    /// The fixture for `test`, or `None` when moto is not running (see [`moto`]).
    async fn start(test: &str) -> Option<Fixture> {
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
    fn plan(&self, stack: &str, mode: DeployMode) -> DeployPlan {
        plan(stack, mode, &self.pool_id, &self.client_id, self.dir.path())
    }

    /// Runs `cleanup` of `stack` and this directory (see [`cleanup_collecting`]).
    async fn cleanup(&self, stack: &str) -> (Cleanup, Events) {
        cleanup_collecting(&self.aws, stack, self.dir.path()).await
    }
}

/// A user pool and an app client with a secret, made through moto's Cognito API.
async fn pool_with_client(config: &SdkConfig) -> (String, String, String) {
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

fn plan(
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
    DeployPlan::new(settings, env_dir)
        .with_template(
            MOTO_TEMPLATE,
            vec![
                ("UserPoolId".to_owned(), pool_id.to_owned()),
                ("AppClientId".to_owned(), client_id.to_owned()),
            ],
        )
        .with_wait(fast_wait())
}

/// The events a command reported, as `(resource, status)`.
type Events = Vec<(String, String)>;

/// A callback recording each event in `events`.
fn recorder(events: &mut Events) -> impl FnMut(&StackEvent) + '_ {
    |event: &StackEvent| events.push((event.logical_id.clone(), event.status.clone()))
}

/// Runs `deploy`, returning its result and the events it reported.
async fn deploy_collecting(
    aws: &Aws,
    plan: &DeployPlan,
) -> (Result<Deployment, DeployError>, Events) {
    let mut events = Vec::new();
    let result = deploy(aws, plan, &mut recorder(&mut events)).await;
    (result, events)
}

/// Runs `cleanup` of `stack` and the files deploy wrote under `env_dir`, which must succeed,
/// returning what it did and the events it reported.
async fn cleanup_collecting(aws: &Aws, stack: &str, env_dir: &Path) -> (Cleanup, Events) {
    let mut events = Vec::new();
    let done = cleanup(aws, stack, env_dir, fast_wait(), &mut recorder(&mut events))
        .await
        .unwrap();
    (done, events)
}

/// The `KEY=value` lines of a `.env` file, comments left out.
fn env_vars(path: &Path) -> Vec<(String, String)> {
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

fn var<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Asserts that `vars` sets each key of `expected` to its value.
fn assert_vars(vars: &[(String, String)], expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(var(vars, key), Some(*value), "{key}");
    }
}

/// Asserts that `error` is AWS refusing the API call `operation`.
fn assert_api_error(error: &DeployError, operation: &str) {
    assert!(
        matches!(error, DeployError::Api { operation: refused, .. } if *refused == operation),
        "{error:?}"
    );
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn stack_events(stack: &str, statuses: &[&str]) -> Vec<(String, String)> {
    statuses
        .iter()
        .map(|status| (stack.to_owned(), (*status).to_owned()))
        .collect()
}

#[tokio::test]
async fn deploys_updates_and_cleans_up_the_gateway_stack() {
    let Some(fixture) = Fixture::start("deploys_updates_and_cleans_up_the_gateway_stack").await
    else {
        return;
    };
    let Fixture {
        config,
        aws,
        pool_id,
        client_id,
        client_secret,
        dir,
    } = &fixture;
    let stack = "deploy-gateway";
    let mut plan = fixture.plan(stack, DeployMode::Gateway);

    // Create: the stack's events in order, the outputs, the files.
    let (result, events) = deploy_collecting(aws, &plan).await;
    let deployment = result.unwrap();
    assert_eq!(deployment.change, StackChange::Created);
    assert_eq!(
        events,
        stack_events(stack, &["CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    );
    assert_eq!(deployment.outputs.get("UserPoolId"), Some(pool_id.as_str()));
    let table = deployment
        .outputs
        .get("RegistryTableName")
        .expect("the registry table's name is an output")
        .to_owned();
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.table().unwrap().key_schema()[0].attribute_name(),
        "client_id"
    );

    let mut written = deployment.env_files.clone();
    written.sort();
    let expected: Vec<_> = ["auto-client", "cimd-client", "client", "gateway"]
        .iter()
        .map(|component| dir.path().join(component).join(".env"))
        .collect();
    assert_eq!(written, expected);
    #[cfg(unix)]
    for file in &written {
        assert_eq!(mode_of(file), 0o600, "{}", file.display());
    }
    assert_vars(
        &env_vars(&dir.path().join("client/.env")),
        &[
            ("MCP_OAUTH_CLIENT_ID", client_id),
            // The secret is read through DescribeUserPoolClient.
            ("MCP_OAUTH_CLIENT_SECRET", client_secret),
        ],
    );
    let gateway = env_vars(&dir.path().join("gateway/.env"));
    assert_vars(
        &gateway,
        &[
            ("COGNITO_REGISTRY_TABLE", &table),
            (
                "COGNITO_ISSUERS",
                &format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"),
            ),
            ("MCP_SCOPE_WRITE", "https://mcp.example.com/mcp/mcp.write"),
            ("AWS_REGION", REGION),
        ],
    );
    assert!(
        var(&gateway, "MCP_OAUTH_CLIENT_SECRET").is_none()
            && !std::fs::read_to_string(dir.path().join("gateway/.env"))
                .unwrap()
                .contains(client_secret.as_str()),
        "only the client's file holds the secret"
    );

    // The same deploy again changes nothing and reports no event.
    let (result, events) = deploy_collecting(aws, &plan).await;
    assert_eq!(result.unwrap().change, StackChange::Unchanged);
    assert_eq!(events, []);

    // A changed URL updates the stack; only the update's events are reported.
    plan.settings.mcp_server_url = "https://mcp2.example.com/mcp".to_owned();
    let (result, events) = deploy_collecting(aws, &plan).await;
    assert_eq!(result.unwrap().change, StackChange::Updated);
    assert_eq!(
        events,
        stack_events(stack, &["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"])
    );
    let gateway = env_vars(&dir.path().join("gateway/.env"));
    assert_eq!(
        var(&gateway, "MCP_SCOPE_READ"),
        Some("https://mcp2.example.com/mcp/mcp.read")
    );

    // Cleanup deletes the stack and the files deploy wrote, and nothing else.
    std::fs::write(dir.path().join("gateway/notes.txt"), "mine").unwrap();
    let (done, events) = fixture.cleanup(stack).await;
    assert!(done.stack_deleted);
    assert_eq!(
        events,
        stack_events(stack, &["DELETE_IN_PROGRESS", "DELETE_COMPLETE"])
    );
    let mut removed = done.removed_files.clone();
    removed.sort();
    assert_eq!(removed, expected);
    assert!(!dir.path().join(MANIFEST_FILE).exists());
    assert!(!dir.path().join("client").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("gateway/notes.txt")).unwrap(),
        "mine"
    );
    assert!(
        dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .is_err(),
        "the registry table is deleted with the stack"
    );

    // A second cleanup finds nothing to do.
    let (again, _) = fixture.cleanup(stack).await;
    assert!(!again.stack_deleted && again.removed_files.is_empty());
}

#[tokio::test]
async fn federated_deploy_writes_the_upstream_client_for_the_authorization_server() {
    let Some(fixture) = Fixture::start("federated_deploy_writes_the_upstream_client").await else {
        return;
    };
    let dir = fixture.dir.path();
    let plan = fixture.plan("deploy-federated", DeployMode::Federated);

    let (result, _) = deploy_collecting(&fixture.aws, &plan).await;
    let deployment = result.unwrap();
    assert_eq!(deployment.outputs.get("RegistryTableName"), None);
    assert_vars(
        &env_vars(&dir.join("auth-server/.env")),
        &[
            ("AUTH_SERVER_UPSTREAM_CLIENT_IDS", &fixture.client_id),
            (
                "AUTH_SERVER_UPSTREAM_CLIENT_SECRETS",
                &fixture.client_secret,
            ),
            ("AUTH_SERVER_ISSUER", "http://localhost:9000"),
            (
                "AUTH_SERVER_UPSTREAM_ISSUERS",
                &format!(
                    "https://cognito-idp.{REGION}.amazonaws.com/{}",
                    fixture.pool_id
                ),
            ),
            ("AUTH_SERVER_UPSTREAM_NAMES", "'Amazon Cognito'"),
        ],
    );
    let mcp = env_vars(&dir.join("mcp-server/.env"));
    assert_eq!(var(&mcp, "MCP_ISSUERS"), Some("http://localhost:9000"));
    assert!(!dir.join("gateway").exists());

    fixture.cleanup("deploy-federated").await;
    assert!(!dir.join("auth-server").exists());
}

#[tokio::test]
async fn a_template_cloudformation_rejects_fails_with_its_reason_and_writes_nothing() {
    let Some(config) = moto("a_template_cloudformation_rejects").await else {
        return;
    };
    let aws = Aws::from_config(&config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = StackSettings::new("deploy-rejected", "deploy-rejected-login");
    settings.mode = DeployMode::Gateway;
    // The subset template needs UserPoolId and AppClientId, which are not given.
    let plan = DeployPlan::new(settings, dir.path())
        .with_template(MOTO_TEMPLATE, Vec::new())
        .with_wait(fast_wait());

    let (result, events) = deploy_collecting(&aws, &plan).await;
    let error = result.unwrap_err();
    let text = error.to_string();
    assert_api_error(&error, "CreateStack");
    assert!(
        text.contains("UserPoolId") || text.contains("AppClientId"),
        "the reason names the missing parameter: {text}"
    );
    assert_eq!(events, []);
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn an_unknown_app_client_stops_deploy_before_any_file_is_written() {
    let Some(fixture) = Fixture::start("an_unknown_app_client_stops_deploy").await else {
        return;
    };
    let stack = "deploy-unknown-client";
    let dir = fixture.dir.path();
    let plan = plan(
        stack,
        DeployMode::Gateway,
        &fixture.pool_id,
        "no-such-client",
        dir,
    );

    let (result, _) = deploy_collecting(&fixture.aws, &plan).await;
    assert_api_error(&result.unwrap_err(), "DescribeUserPoolClient");
    assert!(!dir.join(MANIFEST_FILE).exists());

    // The stack exists, so cleanup still removes it.
    let (done, _) = fixture.cleanup(stack).await;
    assert!(done.stack_deleted && done.removed_files.is_empty());
}

#[tokio::test]
async fn missing_credentials_are_reported_before_any_call() {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .no_credentials()
        .load()
        .await;
    let error = Aws::from_config(&config).await.unwrap_err();
    assert!(
        matches!(error, DeployError::NoCredentials { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("AWS_PROFILE"));
}
