//! `mcp-oauth doctor` in the AWS Cognito mode, against moto: the gateway in front of a user
//! pool (passing), and `--stack` reading a stack `mcp-oauth deploy` made (with the moto
//! subset template, as crates/cli/tests/deploy_command.rs does): a healthy one, one whose app
//! client has no callback URL, and a stack name that does not exist.
//!
//! Needs `MOTO_ENDPOINT` (scripts/services/moto.sh); without it the tests pass after a skip
//! notice unless `MCP_OAUTH_REQUIRE_SERVICES=1`.

mod doctor_support;
mod gateway_support;

use doctor_support::{Server, command, failed, free_port, report, statuses, stderr};
use gateway_support::Moto;
use serde_json::json;

const MOTO_TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cognito/template/moto-subset.yaml"
);
/// moto puts unsigned requests (ours) in us-east-1.
const REGION: &str = "us-east-1";

/// Test credentials and moto as the AWS endpoint, without shared files or instance metadata.
fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials".to_owned(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

/// An app client of `pool` (with a secret, as deploy reads one) for the MCP resource.
async fn app_client(moto: &Moto, pool: &str, resource: &str, callbacks: &[&str]) -> String {
    let mut input = json!({
        "UserPoolId": pool, "ClientName": "static", "GenerateSecret": true,
        "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": true,
        "AllowedOAuthScopes": [format!("{resource}/mcp.read"), format!("{resource}/mcp.write")],
    });
    if !callbacks.is_empty() {
        input["CallbackURLs"] = json!(callbacks);
    }
    let created = moto.cognito("CreateUserPoolClient", input).await;
    created["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `mcp-oauth deploy` of stack `name` for `mcp_url` with the moto subset template;
/// returns the registry table its gateway `.env` file names.
fn deploy(moto: &Moto, name: &str, pool: &str, client: &str, mcp_url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let parameters = format!("UserPoolId={pool},AppClientId={client}");
    let output = command(
        dir.path(),
        &[
            "deploy",
            "--stack-name",
            name,
            "--env-dir",
            "env",
            "--poll-secs",
            "0",
            "--domain-prefix",
            name,
            "--mcp-server-url",
            mcp_url,
            "--template",
            MOTO_TEMPLATE,
            "--parameter",
            &parameters,
        ],
    )
    .envs(aws_env(moto))
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let gateway_env = std::fs::read_to_string(dir.path().join("env/gateway/.env")).unwrap();
    gateway_env
        .lines()
        .find_map(|line| line.strip_prefix("COGNITO_REGISTRY_TABLE="))
        .expect("the registry table in gateway/.env")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_the_gateway_and_the_stack_deploy_made() {
    let Some(moto) = Moto::from_env("checks_the_gateway_and_the_stack_deploy_made") else {
        return;
    };
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{origin}/mcp");
    let pool = moto.pool(&[&mcp_url]).await;
    let client = app_client(&moto, &pool, &mcp_url, &["http://localhost:3000/callback"]).await;
    // Stack names of their own: moto keeps the stacks of earlier runs.
    let good = format!("doctor-good-{port}");
    let no_callback = format!("doctor-no-callback-{port}");
    let table = deploy(&moto, &good, &pool, &client, &mcp_url);
    let bind = format!("127.0.0.1:{port}");
    let _gateway = Server::start(
        &[
            "gateway",
            "--bind",
            &bind,
            "--public-url",
            &origin,
            "--url",
            &mcp_url,
            "--region",
            REGION,
            "--user-pool-id",
            &pool,
            "--cognito-domain",
            "https://doctor.auth.us-east-1.amazoncognito.com",
            "--aws-endpoint-url",
            &moto.endpoint,
            "--dynamodb-table",
            &table,
        ],
        &aws_env(&moto),
        &format!("{origin}/.well-known/oauth-authorization-server"),
    )
    .await;

    let work = tempfile::tempdir().unwrap();
    let mut doctor_with_aws = command(
        work.path(),
        &[
            "doctor",
            &mcp_url,
            "--json",
            "--try-registration",
            "--timeout-secs",
            "3",
            "--stack",
            &good,
        ],
    );
    let output = doctor_with_aws.envs(aws_env(&moto)).output().unwrap();
    let passed = report(&output);
    assert_eq!(passed["ok"], true, "{passed:#}");
    for id in [
        "challenge",
        "issuer",
        "pkce",
        "registration-support",
        "jwks",
        "registration",
        "stack",
        "stack-resource-server",
        "stack-app-client",
        "stack-registry",
    ] {
        assert_eq!(statuses(&passed, id), ["pass"], "{id}: {passed:#}");
    }
    let app = &doctor_support::steps(&passed, "stack-app-client")[0];
    assert!(
        app["detail"]
            .as_str()
            .unwrap()
            .contains("http://localhost:3000/callback"),
        "{app}"
    );

    // An app client without a callback URL: sign-in cannot come back.
    let no_callbacks = app_client(&moto, &pool, &mcp_url, &[]).await;
    deploy(&moto, &no_callback, &pool, &no_callbacks, &mcp_url);
    let mut with_credentials = command(
        work.path(),
        &[
            "doctor",
            &mcp_url,
            "--json",
            "--timeout-secs",
            "3",
            "--stack",
            &no_callback,
        ],
    );
    let broken = report(&with_credentials.envs(aws_env(&moto)).output().unwrap());
    let step = failed(&broken, "stack-app-client");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("it has no callback URLs"),
        "{step}"
    );
    assert_eq!(step["problem"]["number"], 5);

    // A stack that does not exist.
    let mut missing = command(
        work.path(),
        &[
            "doctor",
            &mcp_url,
            "--json",
            "--timeout-secs",
            "3",
            "--stack",
            "doctor-never-deployed",
        ],
    );
    let missing = report(&missing.envs(aws_env(&moto)).output().unwrap());
    let step = failed(&missing, "stack");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("there is no stack doctor-never-deployed in us-east-1"),
        "{step}"
    );
    assert_eq!(step["problem"]["number"], 4);
    assert!(
        step["fix"].as_str().unwrap().contains("mcp-oauth deploy"),
        "{step}"
    );
}
