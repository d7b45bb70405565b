//! `deploy --serverless` and its cleanup end to end against moto: the phased first deploy
//! (bucket, upload, function, the URLs following the function URL), redeploys (unchanged, new
//! code), cleanup emptying the bucket, and the failures found before any AWS call (no artifact,
//! not a zip). The artifact is a real zip with an executable `bootstrap`, made here.
//!
//! A bucket name that is taken is not tried here: moto's CreateStack then fails half-way and
//! leaves a stack that makes every DescribeStacks answer 500 until it is deleted, which would
//! break the other tests sharing the emulator. The unit tests of `serverless.rs` (how the
//! error is recognised) and `stack.rs` (a bucket whose creation failed is not the stack's, so
//! cleanup never empties someone else's bucket) cover it.
//!
//! moto's CloudFormation creates the bucket, the role (with GatewayPolicy attached), the log
//! group, the function (from the uploaded zip) and the two permissions, but not the function
//! URL (AWS::Lambda::Url) nor Cognito resources: the stack is `template/moto-subset.yaml`, whose
//! `FunctionUrl` output is the `TestFunctionUrl` parameter. Lambda, IAM and CloudWatch Logs are
//! asked through their HTTP APIs (moto does not check signatures), so that no SDK crate is
//! built for the tests alone.
//!
//! Without `MOTO_ENDPOINT` the tests pass after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

mod support;

use std::path::{Path, PathBuf};

use base64::Engine;
use mcp_oauth_cognito::{
    Architecture, DeployError, DeployMode, DeployPlan, MANIFEST_FILE, ServerlessSettings,
    StackChange,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::deploy::*;

/// What moto's stack gives as the function URL.
const FUNCTION_URL: &str = TEST_FUNCTION_URL;

/// Writes a zip holding an executable `bootstrap` that prints `version`; returns its path.
fn artifact(dir: &Path, version: &str) -> PathBuf {
    let work = dir.join(format!("build-{version}"));
    std::fs::create_dir_all(&work).unwrap();
    let bootstrap = work.join("bootstrap");
    std::fs::write(&bootstrap, format!("#!/bin/sh\necho {version}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let zip = work.join("bootstrap.zip");
    let status = std::process::Command::new("python3")
        .current_dir(&work)
        .args(["-m", "zipfile", "-c", "bootstrap.zip", "bootstrap"])
        .status()
        .unwrap();
    assert!(status.success());
    zip
}

/// The plan of a serverless deploy of `stack` with the zip at `zip`.
fn serverless_plan(fixture: &Fixture, stack: &str, zip: &Path, bucket: Option<&str>) -> DeployPlan {
    let mut plan = fixture.plan(stack, DeployMode::Gateway);
    let mut serverless = ServerlessSettings::default();
    serverless.architecture = Architecture::X86_64;
    serverless.log_retention_days = 30;
    serverless.bucket_name = bucket.map(str::to_owned);
    plan.settings.serverless = Some(serverless);
    // The settings give the serverless parameters now.
    let given: Vec<String> = plan
        .settings
        .parameters()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    plan.extra_parameters
        .retain(|(key, _)| !given.contains(key));
    plan.with_artifact(zip)
}

/// A request to moto for `service`: moto picks the service from the signature's scope and
/// checks no signature.
fn moto_request(
    fixture: &Fixture,
    service: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let endpoint = fixture.config.endpoint_url().unwrap().trim_end_matches('/');
    reqwest::Client::new()
        .request(method, format!("{endpoint}{path}"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
}

/// Lambda's answer at `path`: its status and JSON body.
async fn lambda(fixture: &Fixture, path: &str) -> (u16, Value) {
    let answer = moto_request(fixture, "lambda", reqwest::Method::GET, path)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// IAM's XML answer to `action` with `params`.
async fn iam(fixture: &Fixture, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![("Action", action), ("Version", "2010-05-08")];
    form.extend_from_slice(params);
    let answer = moto_request(fixture, "iam", reqwest::Method::POST, "/")
        .form(&form)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// CloudWatch Logs' log groups whose names start with `prefix`.
async fn log_groups(fixture: &Fixture, prefix: &str) -> Vec<Value> {
    let answer = moto_request(fixture, "logs", reqwest::Method::POST, "/")
        .header("x-amz-target", "Logs_20140328.DescribeLogGroups")
        .header("content-type", "application/x-amz-json-1.1")
        .body(json!({ "logGroupNamePrefix": prefix }).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = answer.json().await.unwrap();
    body["logGroups"].as_array().cloned().unwrap_or_default()
}

/// The keys in `bucket`.
async fn keys(fixture: &Fixture, bucket: &str) -> Vec<String> {
    let listed = s3(fixture)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn s3(fixture: &Fixture) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&fixture.config)
            .force_path_style(true)
            .build(),
    )
}

/// Lambda's CodeSha256 of `zip`: the base64 of its SHA-256.
fn code_sha(zip: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(std::fs::read(zip).unwrap()))
}

/// The serverless steps among `events`.
fn steps(events: &Events) -> Vec<String> {
    events
        .iter()
        .filter(|(kind, _)| kind == "step")
        .map(|(_, step)| step.clone())
        .collect()
}

fn has_step(events: &Events, start: &str) -> bool {
    steps(events).iter().any(|step| step.starts_with(start))
}

#[tokio::test]
async fn first_deploy_redeploys_and_cleanup_of_the_function() {
    let Some(fixture) = Fixture::start("first_deploy_redeploys_and_cleanup_of_the_function").await
    else {
        return;
    };
    let dir = fixture.dir.path().to_owned();
    let stack = "deploy-serverless";
    let first = artifact(&dir, "one");
    let plan = serverless_plan(&fixture, stack, &first, None);

    // First deploy: three phases, the URLs following the function URL.
    let (result, events) = deploy_collecting(&fixture.aws, &plan).await;
    let deployment = result.unwrap();
    assert_eq!(deployment.change, StackChange::Created);
    assert_eq!(deployment.serverless_url.as_deref(), Some(FUNCTION_URL));
    for step in [
        "Step 1 of 3",
        "Uploaded the artifact",
        "Step 2 of 3",
        "Step 3 of 3",
    ] {
        assert!(has_step(&events, step), "{step}: {:?}", steps(&events));
    }
    let outputs = &deployment.outputs;
    let bucket = outputs.get("ArtifactBucketName").unwrap().to_owned();
    let function = outputs.get("FunctionName").unwrap().to_owned();
    let group = outputs.get("LogGroupName").unwrap().to_owned();
    assert_eq!(
        outputs.get("ScopeRead"),
        Some("https://abcdefgh.lambda-url.eu-west-1.on.aws/mcp/mcp.read")
    );
    assert_eq!(outputs.get("ServerlessSettings"), Some("x86_64 128"));
    let objects = keys(&fixture, &bucket).await;
    assert_eq!(objects.len(), 1, "{objects:?}");

    let (status, described) = lambda(&fixture, &format!("/2015-03-31/functions/{function}")).await;
    assert_eq!(status, 200, "{described}");
    let configuration = &described["Configuration"];
    assert_eq!(configuration["Runtime"], "provided.al2023");
    assert_eq!(configuration["Handler"], "bootstrap");
    assert_eq!(configuration["CodeSha256"], code_sha(&first));
    let environment = &configuration["Environment"]["Variables"];
    assert_eq!(environment["MCP_SERVER_URL"], format!("{FUNCTION_URL}mcp"));
    assert_eq!(
        environment["GATEWAY_URL"],
        FUNCTION_URL.trim_end_matches('/')
    );
    assert_eq!(environment["COGNITO_USER_POOL_ID"], fixture.pool_id);
    assert!(environment.get("MCP_ALLOWED_ORIGINS").is_none());

    // The role may write the log (moto ignores ManagedPolicyArns, so the gateway policy's
    // attachment is checked on the template only); the log group keeps 30 days.
    let role_arn = configuration["Role"].as_str().unwrap();
    let role = role_arn.rsplit('/').next().unwrap().to_owned();
    let (_, inline) = iam(&fixture, "ListRolePolicies", &[("RoleName", &role)]).await;
    assert!(inline.contains("<member>WriteLogs</member>"), "{inline}");
    let groups = log_groups(&fixture, &group).await;
    assert_eq!(groups.len(), 1);
    // (moto keeps the value as the subset's String parameter gave it)
    assert_eq!(
        groups[0]["retentionInDays"].to_string().trim_matches('"'),
        "30"
    );

    // Both permissions of a public function URL.
    let (status, policy) = lambda(
        &fixture,
        &format!("/2015-03-31/functions/{function}/policy"),
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    let document: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
    let actions: Vec<&str> = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|statement| statement["Action"].as_str())
        .collect();
    assert!(
        actions.contains(&"lambda:InvokeFunctionUrl") && actions.contains(&"lambda:InvokeFunction"),
        "{document}"
    );

    // The clients point at the function; there is no gateway file.
    let client = env_vars(&dir.join("client/.env"));
    assert_vars(
        &client,
        &[
            ("MCP_SERVER_URL", &format!("{FUNCTION_URL}mcp")),
            ("MCP_OAUTH_ISSUER", FUNCTION_URL.trim_end_matches('/')),
            ("AUTH_SERVER_ISSUER", FUNCTION_URL.trim_end_matches('/')),
            ("MCP_OAUTH_CLIENT_ID", &fixture.client_id),
        ],
    );
    for component in ["auto-client", "cimd-client"] {
        let vars = env_vars(&dir.join(component).join(".env"));
        assert_vars(&vars, &[("MCP_SERVER_URL", &format!("{FUNCTION_URL}mcp"))]);
    }
    assert!(!dir.join("gateway").exists());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["mode"], "serverless");
    assert_eq!(manifest["serverless_url"], FUNCTION_URL);

    // The same zip again: nothing uploaded, nothing changed, no third phase.
    let (result, events) = deploy_collecting(&fixture.aws, &plan).await;
    assert_eq!(result.unwrap().change, StackChange::Unchanged);
    assert!(has_step(&events, "The artifact lambda/"), "{events:?}");
    assert!(!has_step(&events, "Step 1") && !has_step(&events, "Step 3"));
    assert_eq!(keys(&fixture, &bucket).await, objects);

    // A new build: uploaded, the function's code updated, the old object deleted.
    let second = artifact(&dir, "two");
    let plan = serverless_plan(&fixture, stack, &second, None);
    let (result, events) = deploy_collecting(&fixture.aws, &plan).await;
    assert_eq!(result.unwrap().change, StackChange::Updated);
    assert!(has_step(&events, "Uploaded the artifact"), "{events:?}");
    assert!(
        has_step(&events, "The function's code: lambda/"),
        "{events:?}"
    );
    assert!(has_step(&events, "Deleted 1 artifact"), "{events:?}");
    let now = keys(&fixture, &bucket).await;
    assert_eq!(now.len(), 1);
    assert_ne!(now, objects);
    let (_, described) = lambda(&fixture, &format!("/2015-03-31/functions/{function}")).await;
    assert_eq!(described["Configuration"]["CodeSha256"], code_sha(&second));

    // A deploy without --serverless would drop the function: refused, nothing changed.
    let (result, events) =
        deploy_collecting(&fixture.aws, &fixture.plan(stack, DeployMode::Gateway)).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, DeployError::ServerlessStack { .. }),
        "{error:?}"
    );
    assert_eq!(events, []);

    // Cleanup empties the bucket (moto keeps a non-empty one), then removes everything.
    let (done, events) = fixture.cleanup(stack).await;
    assert!(done.stack_deleted);
    assert!(
        has_step(&events, "Emptied the artifact bucket"),
        "{events:?}"
    );
    let head = s3(&fixture).head_bucket().bucket(&bucket).send().await;
    assert!(head.is_err(), "the bucket is deleted");
    let (status, _) = lambda(&fixture, &format!("/2015-03-31/functions/{function}")).await;
    assert_eq!(status, 404);
    let (status, _) = iam(&fixture, "GetRole", &[("RoleName", &role)]).await;
    assert_eq!(status, 404, "the role is deleted");
    assert!(log_groups(&fixture, &group).await.is_empty());
    assert!(!dir.join("client").exists() && !dir.join(MANIFEST_FILE).exists());
}

#[tokio::test]
async fn a_missing_or_wrong_artifact_stops_before_any_aws_call() {
    let Some(fixture) =
        Fixture::start("a_missing_or_wrong_artifact_stops_before_any_aws_call").await
    else {
        return;
    };
    let dir = fixture.dir.path().to_owned();
    let stack = "deploy-no-artifact";
    let missing = dir.join("target/lambda/x86_64/mcp-oauth/bootstrap.zip");
    let (result, events) = deploy_collecting(
        &fixture.aws,
        &serverless_plan(&fixture, stack, &missing, None),
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, DeployError::MissingArtifact { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("scripts/lambda-build --x86-64"));
    assert_eq!(events, []);

    let not_a_zip = dir.join("bootstrap");
    std::fs::write(&not_a_zip, "#!/bin/sh\n").unwrap();
    let (result, events) = deploy_collecting(
        &fixture.aws,
        &serverless_plan(&fixture, stack, &not_a_zip, None),
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, DeployError::NotALambdaZip { .. }),
        "{error:?}"
    );
    assert_eq!(events, []);

    // No stack was made: cleanup finds nothing.
    let (done, _) = fixture.cleanup(stack).await;
    assert!(!done.stack_deleted);
}
