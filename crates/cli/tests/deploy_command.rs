//! `mcp-oauth deploy` and `mcp-oauth cleanup` as a person runs them: against moto (with the
//! subset template moto's CloudFormation can create, see crates/cognito/tests/deploy_moto.rs),
//! the confirmation prompt, `--serverless` (with a zip made here), the missing-credentials and
//! missing-artifact errors, and --print-template.
//!
//! Without `MOTO_ENDPOINT` the moto test passes after printing a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes it fail.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");
const MOTO_TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cognito/template/moto-subset.yaml"
);
/// moto puts unsigned requests (ours, below) in us-east-1.
const REGION: &str = "us-east-1";
/// The function URL of moto's stack (moto cannot create one; see the subset template).
const FUNCTION_URL: &str = "https://cli.lambda-url.us-east-1.on.aws/";

/// Runs `mcp-oauth ARGS` in `cwd` with AWS settings from `aws_env` only (no shared files,
/// no instance metadata), feeding `stdin`.
fn run(cwd: &Path, args: &[&str], aws_env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(BINARY);
    command.current_dir(cwd).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("MCP_OAUTH_") || key.starts_with("COGNITO_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cwd.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(aws_env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The commands that read each component's `.env` file.
fn readers(component: &str) -> &'static [&'static str] {
    match component {
        "gateway" => &["gateway", "mcp-server"],
        "client" => &["client", "call"],
        "auto-client" => &["auto-client"],
        "cimd-client" => &["cimd-client"],
        "auth-server" => &["auth-server"],
        "mcp-server" => &["mcp-server"],
        other => panic!("deploy wrote a file for an unknown component {other}"),
    }
}

/// Every variable of every `.env` file under `env_dir` is one the component's command reads
/// (its `--help` names it as `[env: NAME=…]`).
fn assert_every_variable_is_read(env_dir: &Path) {
    for entry in std::fs::read_dir(env_dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let component = path.file_name().unwrap().to_str().unwrap().to_owned();
        let help: String = readers(&component)
            .iter()
            .map(|command| {
                let output = Command::new(BINARY)
                    .args([command, "--help"])
                    .output()
                    .unwrap();
                assert!(output.status.success(), "{command} --help");
                text(&output.stdout)
            })
            .collect();
        let file = std::fs::read_to_string(path.join(".env")).unwrap();
        for line in file.lines().filter(|line| !line.starts_with('#')) {
            let key = line.split_once('=').unwrap().0;
            assert!(
                // `[env: NAME=value]`, or `[env: NAME]` for hidden values.
                help.contains(&format!("[env: {key}=")) || help.contains(&format!("[env: {key}]")),
                "{component}/.env sets {key}, which none of {:?} reads",
                readers(&component)
            );
        }
    }
}

/// A user pool and an app client with a secret in moto, which `deploy` gets as the moto
/// subset template's parameters.
struct MotoPool {
    endpoint: String,
    pool_id: String,
    client_id: String,
    secret: String,
}

impl MotoPool {
    /// Creates the pool through moto's Cognito JSON API, or returns `None` after a skip notice
    /// when `MOTO_ENDPOINT` is not set and the services are not required.
    async fn create() -> Option<MotoPool> {
        let Some(endpoint) = std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("MCP_OAUTH_REQUIRE_SERVICES=1 but MOTO_ENDPOINT is not set");
            }
            eprintln!("skipping: MOTO_ENDPOINT is not set (see scripts/services/moto.sh)");
            return None;
        };
        let http = reqwest::Client::new();
        let call = |operation: &str, input: Value| {
            let request = http
                .post(format!("{endpoint}/"))
                .header("content-type", "application/x-amz-json-1.1")
                .header(
                    "x-amz-target",
                    format!("AWSCognitoIdentityProviderService.{operation}"),
                )
                .body(input.to_string());
            async move {
                let response = request.send().await.unwrap();
                assert!(response.status().is_success());
                response.json::<Value>().await.unwrap()
            }
        };
        let pool = call("CreateUserPool", json!({"PoolName": "cli-deploy"})).await;
        let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        let client = call(
            "CreateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientName": "static", "GenerateSecret": true}),
        )
        .await;
        let client = &client["UserPoolClient"];
        Some(MotoPool {
            client_id: client["ClientId"].as_str().unwrap().to_owned(),
            secret: client["ClientSecret"].as_str().unwrap().to_owned(),
            endpoint,
            pool_id,
        })
    }

    /// Runs `mcp-oauth deploy OPTIONS` in `cwd` for `stack` with the moto subset template and
    /// this pool (see [`MotoPool::run`]).
    fn deploy(&self, cwd: &Path, stack: &str, options: &[&str]) -> Output {
        let parameters = format!(
            "UserPoolId={},AppClientId={},TestFunctionUrl={FUNCTION_URL}",
            self.pool_id, self.client_id
        );
        let mut args = vec!["deploy"];
        args.extend(options);
        args.extend(target(stack));
        args.extend(["--template", MOTO_TEMPLATE, "--parameter", &parameters]);
        self.run(cwd, &args, "")
    }

    /// Runs `mcp-oauth cleanup OPTIONS` in `cwd` for `stack`, feeding `stdin`.
    fn cleanup(&self, cwd: &Path, stack: &str, options: &[&str], stdin: &str) -> Output {
        let mut args = vec!["cleanup"];
        args.extend(options);
        args.extend(target(stack));
        self.run(cwd, &args, stdin)
    }

    /// Runs `mcp-oauth ARGS` in `cwd` against moto, with test credentials.
    fn run(&self, cwd: &Path, args: &[&str], stdin: &str) -> Output {
        let aws = [
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ];
        run(cwd, args, &aws, stdin)
    }
}

/// The options naming what `deploy` creates and `cleanup` deletes: `stack`, with its `.env`
/// files under `env`, checked without pause.
fn target(stack: &str) -> [&str; 6] {
    [
        "--stack-name",
        stack,
        "--env-dir",
        "env",
        "--poll-secs",
        "0",
    ]
}

#[tokio::test]
async fn deploys_then_cleans_up_after_confirmation_against_moto() {
    let Some(moto) = MotoPool::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stack = "cli-deploy";

    let deployed = moto.deploy(dir.path(), stack, &["--domain-prefix", "cli-deploy-login"]);
    let stdout = text(&deployed.stdout);
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    assert!(stdout.contains("CREATE_COMPLETE"), "{stdout}");
    assert!(stdout.contains("Stack cli-deploy created"), "{stdout}");
    assert!(
        stdout.contains(&moto.pool_id),
        "the outputs are printed: {stdout}"
    );
    assert!(
        !stdout.contains(&moto.secret),
        "the secret is never printed"
    );
    let client_env = std::fs::read_to_string(dir.path().join("env/client/.env")).unwrap();
    assert!(client_env.contains(&format!("MCP_OAUTH_CLIENT_SECRET={}", moto.secret)));
    assert_every_variable_is_read(&dir.path().join("env"));

    // Declining deletes nothing.
    let declined = moto.cleanup(dir.path(), stack, &[], "n\n");
    assert!(declined.status.success(), "{}", text(&declined.stderr));
    assert!(text(&declined.stdout).contains("Nothing deleted"));
    assert!(dir.path().join("env/client/.env").exists());

    let confirmed = moto.cleanup(dir.path(), stack, &[], "y\n");
    let stdout = text(&confirmed.stdout);
    assert!(confirmed.status.success(), "{}", text(&confirmed.stderr));
    assert!(stdout.contains("DELETE_COMPLETE") && stdout.contains("Stack cli-deploy deleted"));
    assert!(
        !dir.path().join("env").exists(),
        "the directory deploy created is gone"
    );

    let again = moto.cleanup(dir.path(), stack, &["--yes"], "");
    assert!(text(&again.stdout).contains("No stack cli-deploy"));
}

#[test]
fn without_credentials_deploy_says_how_to_provide_them_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &["deploy", "--domain-prefix", "x", "--env-dir", "env"],
        &[
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
        "",
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(!dir.path().join("env").exists());
}

#[test]
fn print_template_shows_the_embedded_template_without_aws() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &["deploy", "--print-template"],
        &[("AWS_REGION", REGION)],
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let template = text(&output.stdout);
    assert!(template.contains("AWS::Cognito::UserPoolResourceServer"));
    assert!(template.contains("AWS::IAM::ManagedPolicy"));
}

#[tokio::test]
async fn federated_deploy_configures_the_authorization_server_against_moto() {
    let Some(moto) = MotoPool::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stack = "cli-federated";
    let deployed = moto.deploy(
        dir.path(),
        stack,
        &["--mode", "federated", "--domain-prefix", "cli-fed"],
    );
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    assert!(!text(&deployed.stdout).contains(&moto.secret));
    let auth = std::fs::read_to_string(dir.path().join("env/auth-server/.env")).unwrap();
    assert!(auth.contains(&format!(
        "AUTH_SERVER_UPSTREAM_CLIENT_SECRETS={}",
        moto.secret
    )));
    assert_every_variable_is_read(&dir.path().join("env"));

    let done = moto.cleanup(dir.path(), stack, &["--yes"], "");
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(!dir.path().join("env").exists());
}

/// A zip holding an executable `bootstrap`, written under `dir`.
fn lambda_zip(dir: &Path) -> std::path::PathBuf {
    let bootstrap = dir.join("bootstrap");
    std::fs::write(&bootstrap, "#!/bin/sh\nexit 0\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let status = Command::new("python3")
        .current_dir(dir)
        .args(["-m", "zipfile", "-c", "bootstrap.zip", "bootstrap"])
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("bootstrap.zip")
}

#[tokio::test]
async fn serverless_deploy_prints_the_function_urls_and_cleanup_empties_the_bucket() {
    let Some(moto) = MotoPool::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stack = "cli-serverless";
    let zip = lambda_zip(dir.path());
    let deployed = moto.deploy(
        dir.path(),
        stack,
        &[
            "--domain-prefix",
            "cli-serverless",
            "--serverless",
            "--arch",
            "x86-64",
            "--artifact",
            zip.to_str().unwrap(),
        ],
    );
    let stdout = text(&deployed.stdout);
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let base = FUNCTION_URL.trim_end_matches('/');
    for expected in [
        "Step 1 of 3".to_owned(),
        "Step 3 of 3".to_owned(),
        format!("{base}/mcp"),
        format!("{base}/.well-known/oauth-protected-resource/mcp"),
        format!("{base}/.well-known/oauth-authorization-server"),
        "aws logs tail".to_owned(),
    ] {
        assert!(stdout.contains(&expected), "{expected} in {stdout}");
    }
    assert!(!stdout.contains(&moto.secret));
    let client = std::fs::read_to_string(dir.path().join("env/client/.env")).unwrap();
    assert!(
        client.contains(&format!("MCP_SERVER_URL={base}/mcp")),
        "{client}"
    );
    assert!(!dir.path().join("env/gateway").exists());
    assert_every_variable_is_read(&dir.path().join("env"));

    let done = moto.cleanup(dir.path(), stack, &["--yes"], "");
    let stdout = text(&done.stdout);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(stdout.contains("Emptied the artifact bucket"), "{stdout}");
    assert!(!dir.path().join("env").exists());
}

#[test]
fn a_missing_artifact_names_the_build_command_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    // No credentials: the artifact is checked first.
    let output = run(
        dir.path(),
        &[
            "deploy",
            "--domain-prefix",
            "x",
            "--env-dir",
            "env",
            "--serverless",
        ],
        &[("AWS_REGION", REGION)],
        "",
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("target/lambda/arm64/mcp-oauth/bootstrap.zip")
            && stderr.contains("scripts/lambda-build"),
        "{stderr}"
    );
    assert!(!dir.path().join("env").exists());
}

/// Runs `mcp-oauth deploy ARGS` with test credentials and an endpoint nothing answers at, so
/// that it stops at the first check that fails.
fn deploy_offline(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["deploy", "--domain-prefix", "x", "--env-dir", "env"];
    all.extend(args);
    let mut aws = vec![
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    aws.extend(env);
    run(cwd, &all, &aws, "")
}

#[test]
fn bad_sign_in_values_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("style.json"), "not json").unwrap();
    let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
    let ses = "arn:aws:ses:eu-west-1:123456789012:identity/example.com";
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--mfa", "sms"],
            &["'--mfa <MFA>'", "[possible values: off, optional, on]"],
        ),
        (
            &[
                "--custom-domain",
                "auth.example.com",
                "--certificate-arn",
                &arn.replace("us-east-1", "eu-west-1"),
            ],
            &[
                "'--certificate-arn <CERTIFICATE_ARN>'",
                "the certificate is in eu-west-1",
                "us-east-1",
            ],
        ),
        (
            &[
                "--custom-domain",
                "auth.example.com",
                "--certificate-arn",
                "arn:aws:acm:us-east-1:12:certificate/x",
            ],
            &[
                "'--certificate-arn <CERTIFICATE_ARN>'",
                "is not an ACM certificate ARN",
            ],
        ),
        (
            &["--custom-domain", "localhost", "--certificate-arn", arn],
            &["'--custom-domain <CUSTOM_DOMAIN>'", "is not a domain name"],
        ),
        (
            &["--custom-domain", "auth.example.com"],
            &["--certificate-arn <CERTIFICATE_ARN>"],
        ),
        (
            &["--identity-provider", "twitter"],
            &[
                "'--identity-provider <SOCIAL>'",
                "[possible values: google, facebook]",
            ],
        ),
        (
            &["--oidc-provider", "Corp"],
            &["'--oidc-provider <NAME=ISSUER_URL>'", "no `=`"],
        ),
        (
            &["--oidc-provider", "Corp=http://idp.example.com"],
            &["'--oidc-provider <NAME=ISSUER_URL>'", "is not an https URL"],
        ),
        (
            &["--saml-provider", "Go=https://idp.example.com/m"],
            &[
                "'--saml-provider <NAME=METADATA_URL>'",
                "cannot name an identity provider",
            ],
        ),
        (
            &[
                "--oidc-provider",
                "Corp=https://a.example",
                "--saml-provider",
                "corp=https://b.example/m",
            ],
            &["--saml-provider", "two identity providers are named corp"],
        ),
        (
            &["--ses-from", "no-reply", "--ses-identity-arn", ses],
            &["'--ses-from <SES_FROM>'", "is not an e-mail address"],
        ),
        (
            &[
                "--ses-from",
                "a@example.com",
                "--ses-identity-arn",
                "arn:aws:sns:eu-west-1:123456789012:identity/example.com",
            ],
            &[
                "'--ses-identity-arn <SES_IDENTITY_ARN>'",
                "is not an SES identity ARN",
            ],
        ),
        (
            &["--ses-from", "a@example.org", "--ses-identity-arn", ses],
            &[
                "--ses-identity-arn",
                "does not cover the sender address a@example.org",
            ],
        ),
        (
            &["--managed-login-settings", "style.json"],
            &["--managed-login"],
        ),
        (
            &["--managed-login", "--managed-login-settings", "style.json"],
            &[
                "--managed-login-settings",
                "style.json",
                "not a JSON object",
            ],
        ),
    ];
    for (args, expected) in cases {
        let output = deploy_offline(dir.path(), args, &[]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        for part in *expected {
            assert!(stderr.contains(part), "{args:?}: {stderr} lacks {part}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!dir.path().join("env").exists());
    }
}

#[test]
fn provider_secrets_come_from_the_environment_and_are_checked_before_aws() {
    let dir = tempfile::tempdir().unwrap();
    // Without its variables, a provider names them (and nothing is asked of AWS, which is
    // unreachable here).
    let output = deploy_offline(dir.path(), &["--identity-provider", "google"], &[]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("identity provider Google needs its client id and secret: set COGNITO_GOOGLE_CLIENT_ID and COGNITO_GOOGLE_CLIENT_SECRET"),
        "{stderr}"
    );
    // An OIDC issuer that does not answer is refused before anything is created.
    let secrets = [
        ("COGNITO_OIDC_MY_CORP_CLIENT_ID", "corp-client"),
        ("COGNITO_OIDC_MY_CORP_CLIENT_SECRET", "corp-secret-value"),
    ];
    let output = deploy_offline(
        dir.path(),
        &["--oidc-provider", "My-Corp=https://127.0.0.1:9/"],
        &secrets,
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot use identity provider My-Corp: https://127.0.0.1:9/.well-known/openid-configuration: no answer"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert!(!stderr.contains("corp-secret-value"), "{stderr}");
    assert!(!dir.path().join("env").exists());

    // The printed template declares the secrets as NoEcho parameters and never holds them.
    let output = run(
        dir.path(),
        &[
            "deploy",
            "--print-template",
            "--identity-provider",
            "google",
            "--saml-provider",
            "Corp=https://idp.example.com/m.xml",
        ],
        &[
            ("AWS_REGION", REGION),
            ("COGNITO_GOOGLE_CLIENT_ID", "g-id"),
            ("COGNITO_GOOGLE_CLIENT_SECRET", "g-secret-value"),
        ],
        "",
    );
    let template = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(template.contains("  IdPGoogleClientSecret:\n    Type: String\n    NoEcho: true\n"));
    assert!(template.contains("ProviderType: SAML"));
    assert!(
        template.contains("SupportedIdentityProviders: [COGNITO, !Ref IdPGoogle, !Ref IdPCorp]")
    );
    assert!(!template.contains("g-secret-value") && !template.contains("g-id"));
}

#[tokio::test]
async fn sign_in_options_reach_the_stack_and_the_gateway_against_moto() {
    let Some(moto) = MotoPool::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stack = "cli-sign-in";
    let mut options = vec![
        "--domain-prefix",
        "cli-sign-in-login",
        "--mfa",
        "optional",
        "--custom-domain",
        "auth.example.com",
        "--certificate-arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/abc-1",
        "--identity-provider",
        "google",
        "--ses-from",
        "no-reply@example.com",
        "--ses-identity-arn",
        "arn:aws:ses:us-east-1:123456789012:identity/example.com",
    ];
    let mut args = vec!["deploy"];
    args.append(&mut options);
    args.extend(target(stack));
    let parameters = format!(
        "UserPoolId={},AppClientId={},TestFunctionUrl={FUNCTION_URL}",
        moto.pool_id, moto.client_id
    );
    args.extend(["--template", MOTO_TEMPLATE, "--parameter", &parameters]);
    let aws = [
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("COGNITO_GOOGLE_CLIENT_ID", "google-client-id"),
        ("COGNITO_GOOGLE_CLIENT_SECRET", "google-secret-value"),
    ];
    let deployed = run(dir.path(), &args, &aws, "");
    let stdout = text(&deployed.stdout);
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    // What to do by hand: the DNS record, the redirect URI at Google, the SES sandbox.
    assert!(
        stdout.contains("    auth.example.com.  CNAME  d111111abcdef8.cloudfront.net\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  at Google: allow the redirect URI https://auth.example.com/oauth2/idpresponse and \
             https://cli-sign-in-login.auth.{REGION}.amazoncognito.com/oauth2/idpresponse;"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("SES accounts in the sandbox"), "{stdout}");
    assert!(!stdout.contains("google-secret-value") && !stdout.contains("google-client-id"));
    let gateway = std::fs::read_to_string(dir.path().join("env/gateway/.env")).unwrap();
    assert!(
        gateway.contains("COGNITO_DOMAIN_URL=https://auth.example.com\n"),
        "{gateway}"
    );
    assert!(
        gateway.contains("COGNITO_IDENTITY_PROVIDERS=Google\n"),
        "{gateway}"
    );
    // The gateway reads every variable written (COGNITO_IDENTITY_PROVIDERS included).
    assert_every_variable_is_read(&dir.path().join("env"));

    let cleaned = moto.cleanup(dir.path(), stack, &["--yes"], "");
    assert!(cleaned.status.success(), "{}", text(&cleaned.stderr));
}
