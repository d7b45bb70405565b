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

use aws_config::{BehaviorVersion, Region};
use mcp_oauth_cognito::{
    Aws, DeployError, DeployMode, DeployPlan, MANIFEST_FILE, StackChange, StackSettings,
};
use support::deploy::*;

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
            // `mcp-oauth call` reads the same file and must name localhost for Cognito.
            ("MCP_OAUTH_LOCALHOST_REDIRECT", "true"),
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
