//! The `lambda` build of mcp-oauth as AWS Lambda runs it: started with no arguments, configured
//! by the function's environment, and served by cargo-lambda's local emulator (the Lambda
//! runtime API and function-URL events), against moto. A client sees what it sees of a local
//! `mcp-oauth gateway` on the same user pool and registry: the same metadata, registration
//! creating an app client, tool calls with a token signed by moto's key, and the same
//! refusals and challenges.
//!
//! Needs `MOTO_ENDPOINT` (scripts/services/moto.sh) and `CARGO_LAMBDA`
//! (scripts/services/cargo-lambda.sh); without them the tests pass after a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`.

mod gateway_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway_support::{
    Answer, GatewayClient, Moto, MotoSigner, Running, free_port, initialize, services_required,
    tool_call, wait_for_port,
};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");
const COGNITO_DOMAIN: &str = "https://demo.auth.us-east-1.amazoncognito.com";
/// The browser origin both gateways allow (the demo web client's).
const DEMO_CLIENT_ORIGIN: &str = "http://localhost:3000";

/// The `cargo-lambda` binary, or `None` after a skip notice.
fn cargo_lambda(test: &str) -> Option<PathBuf> {
    match std::env::var_os("CARGO_LAMBDA").filter(|value| !value.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None if services_required() => {
            panic!("MCP_OAUTH_REQUIRE_SERVICES=1 but CARGO_LAMBDA is not set")
        }
        None => {
            eprintln!(
                "skipping {test}: CARGO_LAMBDA is not set (see scripts/services/cargo-lambda.sh)"
            );
            None
        }
    }
}

/// The environment both gateways share: the pool, the registry table, moto as AWS.
fn gateway_environment(command: &mut Command, moto: &Moto, pool: &Pool, origin: &str) {
    command
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("COGNITO_USER_POOL_ID", &pool.id)
        .env("COGNITO_DOMAIN_URL", COGNITO_DOMAIN)
        .env("COGNITO_REGISTRY_TABLE", &pool.table)
        .env("COGNITO_CLIENT_IDS", &pool.static_client)
        .env("GATEWAY_URL", origin)
        .env("MCP_SERVER_URL", format!("{origin}/mcp"))
        .env("MCP_ALLOWED_ORIGINS", DEMO_CLIENT_ORIGIN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
}

/// A user pool in moto with a resource server per gateway, a static app client, and a
/// registry table.
struct Pool {
    id: String,
    table: String,
    static_client: String,
}

/// The scopes of the resource server of the MCP server at `origin`.
fn scopes(origin: &str) -> String {
    format!("{origin}/mcp/mcp.read,{origin}/mcp/mcp.write")
}

/// The function under the emulator and, beside it, the same gateway on a listener.
struct Stage {
    moto: Moto,
    signer: MotoSigner,
    pool: Pool,
    lambda: GatewayClient,
    local: GatewayClient,
    _processes: Vec<Running>,
    _workdir: tempfile::TempDir,
}

impl Stage {
    async fn start(test: &str, lambda_environment: &[(&str, &str)]) -> Option<Self> {
        let moto = Moto::from_env(test)?;
        let cargo_lambda = cargo_lambda(test)?;
        let signer = MotoSigner::from_env();
        let (lambda_port, local_port) = (free_port(), free_port());
        let lambda_origin = format!("http://127.0.0.1:{lambda_port}");
        let local_origin = format!("http://127.0.0.1:{local_port}");
        let id = moto
            .pool(&[
                &format!("{lambda_origin}/mcp"),
                &format!("{local_origin}/mcp"),
            ])
            .await;
        let created = moto
            .cognito(
                "CreateUserPoolClient",
                json!({"UserPoolId": id, "ClientName": "static"}),
            )
            .await;
        let table = format!("registry-{lambda_port}");
        moto.registry_table(&table).await;
        let pool = Pool {
            id,
            table,
            static_client: created["UserPoolClient"]["ClientId"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        let workdir = tempfile::tempdir().unwrap();
        let mut processes = Vec::new();

        // The emulator: the runtime API under /.rt, and every other path a function-URL event.
        let emulator = Command::new(cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
            .args(["-A", "127.0.0.1", "-P", &lambda_port.to_string()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cargo-lambda");
        processes.push(Running(emulator));
        wait_for_port(lambda_port, "cargo-lambda's emulator").await;

        // The function, as Lambda starts `bootstrap`: no arguments, its environment only.
        let mut function = Command::new(BINARY);
        gateway_environment(&mut function, &moto, &pool, &lambda_origin);
        function
            .current_dir(workdir.path())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{lambda_port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("COGNITO_SCOPES", scopes(&lambda_origin))
            .env("MCP_OAUTH_LOG_FORMAT", "json")
            .envs(lambda_environment.iter().copied());
        processes.push(Running(function.spawn().expect("start the function")));

        // The same gateway on a listener, reading its scopes from the resource server.
        let mut local = Command::new(BINARY);
        gateway_environment(&mut local, &moto, &pool, &local_origin);
        local.current_dir(workdir.path()).args([
            "gateway",
            "--bind",
            &format!("127.0.0.1:{local_port}"),
        ]);
        processes.push(Running(local.spawn().expect("start the local gateway")));
        wait_for_port(local_port, "mcp-oauth gateway").await;

        Some(Self {
            moto,
            signer,
            pool,
            lambda: GatewayClient::new(lambda_origin),
            local: GatewayClient::new(local_origin),
            _processes: processes,
            _workdir: workdir,
        })
    }

    /// A token of the static client for the MCP server at `origin`, with `scopes` (names).
    fn token(&self, origin: &str, scopes: &[&str]) -> String {
        let scope = scopes
            .iter()
            .map(|name| format!("{origin}/mcp/{name}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.signer
            .access_token(&self.pool.id, &self.pool.static_client, &scope)
    }

    /// `text` of the local gateway as the function would say it.
    fn as_lambda(&self, text: &str) -> String {
        text.replace(&self.local.origin, &self.lambda.origin)
    }

    /// Asserts that the function answers `lambda` as the local gateway answered `local`
    /// (after swapping their origins).
    fn assert_same(&self, what: &str, lambda: &Answer, local: &Answer) {
        assert_eq!(
            lambda.status, local.status,
            "{what}: {lambda:?} / {local:?}"
        );
        assert_eq!(
            lambda.challenge,
            local.challenge.as_deref().map(|c| self.as_lambda(c)),
            "{what}"
        );
        assert_eq!(lambda.body, self.as_lambda(&local.body), "{what}");
    }
}

#[tokio::test]
async fn the_function_serves_metadata_registration_and_tools_as_the_local_gateway() {
    let Some(stage) = Stage::start(
        "the_function_serves_metadata_registration_and_tools_as_the_local_gateway",
        &[("GATEWAY_REGISTRATIONS_PER_MINUTE", "2")],
    )
    .await
    else {
        return;
    };
    let (lambda, local) = (&stage.lambda, &stage.local);

    // Protected Resource Metadata (both URLs) and the metadata façade.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
    ] {
        let (from_lambda, from_local) = (lambda.get(path).await, local.get(path).await);
        assert_eq!(from_lambda.status, 200, "{path}: {}", from_lambda.body);
        stage.assert_same(path, &from_lambda, &from_local);
    }
    let prm = lambda
        .get("/.well-known/oauth-protected-resource/mcp")
        .await
        .json();
    assert_eq!(prm["resource"], format!("{}/mcp", lambda.origin));
    assert_eq!(prm["authorization_servers"], json!([lambda.origin]));
    let facade = lambda
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(facade["issuer"], lambda.origin);
    assert_eq!(facade["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        facade["registration_endpoint"],
        format!("{}/register", lambda.origin)
    );

    // Registration: an app client in moto, its record and the event in the registry, with
    // the client's address from the function URL's event.
    let registered = lambda.register().await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let client_id = registered.json()["client_id"].as_str().unwrap().to_owned();
    assert!(stage.moto.has_app_client(&stage.pool.id, &client_id).await);
    let items = stage.moto.items(&stage.pool.table).await;
    assert!(
        items
            .iter()
            .any(|item| item["client_id"]["S"] == client_id.as_str()
                && item.get("registration_token_hash").is_some()),
        "no record of {client_id}: {items:?}"
    );
    assert!(
        items
            .iter()
            .any(|item| item["event_client_id"]["S"] == client_id.as_str()
                && item["address"]["S"] == "127.0.0.1"),
        "no event of {client_id} from 127.0.0.1: {items:?}"
    );
    // The function's own limit (2 a minute) counts this client's address.
    assert_eq!(lambda.register().await.status, 201);
    let limited = lambda.register().await;
    assert_eq!(limited.status, 429, "{}", limited.body);

    // MCP with a token signed by moto's key.
    let token = stage.token(&lambda.origin, &["mcp.read", "mcp.write"]);
    let initialized = lambda.mcp(&initialize(), Some(&token), &[]).await;
    assert_eq!(initialized.status, 200, "{}", initialized.body);
    assert!(
        initialized.json()["result"]["serverInfo"]["name"].is_string(),
        "{}",
        initialized.body
    );
    let whoami = lambda.mcp(&tool_call("whoami"), Some(&token), &[]).await;
    assert_eq!(whoami.status, 200, "{}", whoami.body);
    // The function answered in Lambda's response-streaming mode (the emulator passes the
    // runtime's mode header on).
    assert_eq!(
        whoami.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    let caller = &whoami.json()["result"]["structuredContent"];
    assert_eq!(caller["client_id"], stage.pool.static_client.as_str());
    assert_eq!(
        caller["issuer"],
        format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}",
            stage.pool.id
        )
    );
}

#[tokio::test]
async fn browsers_get_the_cors_answers_of_the_local_gateway() {
    let Some(stage) = Stage::start("browsers_get_the_cors_answers_of_the_local_gateway", &[]).await
    else {
        return;
    };
    let (lambda, local) = (&stage.lambda, &stage.local);
    let cors_headers = |answer: &Answer| -> Vec<(String, String)> {
        answer
            .headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("access-control-"))
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect()
    };
    for (path, method) in [
        ("/mcp", "POST"),
        ("/register", "POST"),
        ("/.well-known/oauth-protected-resource/mcp", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
    ] {
        for origin in [DEMO_CLIENT_ORIGIN, "http://evil.example"] {
            let what = format!("preflight of {method} {path} from {origin}");
            let (from_lambda, from_local) = (
                lambda.preflight(path, origin, method).await,
                local.preflight(path, origin, method).await,
            );
            assert_eq!(from_lambda.status, from_local.status, "{what}");
            assert_eq!(
                cors_headers(&from_lambda),
                cors_headers(&from_local),
                "{what}"
            );
            let allowed = from_lambda
                .headers
                .get("access-control-allow-origin")
                .map(|value| value.to_str().unwrap().to_owned());
            if origin == DEMO_CLIENT_ORIGIN {
                assert!(from_lambda.status < 300, "{what}: {from_lambda:?}");
                assert!(
                    allowed.as_deref() == Some(origin) || allowed.as_deref() == Some("*"),
                    "{what}: {from_lambda:?}"
                );
            } else if path == "/mcp" {
                // The MCP endpoint answers only the origins it was given.
                assert_eq!(allowed, None, "{what}: {from_lambda:?}");
            }
        }
    }
}

#[tokio::test]
async fn the_function_refuses_with_the_challenges_of_the_local_gateway() {
    let Some(stage) = Stage::start(
        "the_function_refuses_with_the_challenges_of_the_local_gateway",
        &[],
    )
    .await
    else {
        return;
    };
    let (lambda, local) = (&stage.lambda, &stage.local);
    let read_only = |origin: &str| stage.token(origin, &["mcp.read"]);
    let both = |origin: &str| stage.token(origin, &["mcp.read", "mcp.write"]);

    // No token.
    let (from_lambda, from_local) = (
        lambda.mcp(&initialize(), None, &[]).await,
        local.mcp(&initialize(), None, &[]).await,
    );
    assert_eq!(from_lambda.status, 401);
    stage.assert_same("no token", &from_lambda, &from_local);

    // A token that is not a JWT.
    let (from_lambda, from_local) = (
        lambda.mcp(&initialize(), Some("not-a-jwt"), &[]).await,
        local.mcp(&initialize(), Some("not-a-jwt"), &[]).await,
    );
    assert_eq!(from_lambda.status, 401);
    stage.assert_same("malformed token", &from_lambda, &from_local);

    // A tool whose scope the token lacks.
    let (from_lambda, from_local) = (
        lambda
            .mcp(
                &tool_call("create_context"),
                Some(&read_only(&lambda.origin)),
                &[],
            )
            .await,
        local
            .mcp(
                &tool_call("create_context"),
                Some(&read_only(&local.origin)),
                &[],
            )
            .await,
    );
    assert_eq!(from_lambda.status, 403, "{}", from_lambda.body);
    stage.assert_same("insufficient scope", &from_lambda, &from_local);

    // A page of another origin (browsers send its Origin).
    let evil = [("origin", "http://evil.example")];
    let (from_lambda, from_local) = (
        lambda
            .mcp(&initialize(), Some(&both(&lambda.origin)), &evil)
            .await,
        local
            .mcp(&initialize(), Some(&both(&local.origin)), &evil)
            .await,
    );
    assert!(from_lambda.status >= 400, "{from_lambda:?}");
    stage.assert_same("foreign Origin", &from_lambda, &from_local);

    // A Host the server does not answer for (DNS rebinding).
    let rebound = [("host", "rebound.example")];
    let (from_lambda, from_local) = (
        lambda
            .mcp(&initialize(), Some(&both(&lambda.origin)), &rebound)
            .await,
        local
            .mcp(&initialize(), Some(&both(&local.origin)), &rebound)
            .await,
    );
    assert!(from_lambda.status >= 400, "{from_lambda:?}");
    stage.assert_same("foreign Host", &from_lambda, &from_local);
}

#[test]
fn without_the_lambda_variables_the_function_fails_with_a_message() {
    let output = Command::new(BINARY)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9/.rt")
        .env("AWS_REGION", "us-east-1")
        .env("COGNITO_USER_POOL_ID", "us-east-1_Pool")
        .env("COGNITO_DOMAIN_URL", COGNITO_DOMAIN)
        .env("COGNITO_REGISTRY_TABLE", "registry")
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_VERSION not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn in_lambda_a_sqlite_registry_is_refused() {
    let registry = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9/.rt")
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_REGION", "us-east-1")
        .env("COGNITO_USER_POOL_ID", "us-east-1_Pool")
        .env("COGNITO_DOMAIN_URL", COGNITO_DOMAIN)
        .env("COGNITO_REGISTRY_SQLITE", registry.path().join("r.db"))
        .current_dir(registry.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--dynamodb-table (COGNITO_REGISTRY_TABLE)"),
        "{stderr}"
    );
    assert!(!registry.path().join("r.db").exists());
}

/// Sweeps need no timer in Lambda: a request to the gateway starts one once the interval has
/// passed.
#[tokio::test]
async fn requests_start_the_sweep_of_unused_registrations() {
    let Some(stage) = Stage::start(
        "requests_start_the_sweep_of_unused_registrations",
        &[("GATEWAY_SWEEP_INTERVAL_SECS", "1")],
    )
    .await
    else {
        return;
    };
    let registered = stage.lambda.register().await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let client_id = registered.json()["client_id"].as_str().unwrap().to_owned();
    // The registration is left unused past its lifetime (at least an hour: moved back here).
    stage
        .moto
        .dynamodb(
            "UpdateItem",
            json!({
                "TableName": stage.pool.table,
                "Key": {"client_id": {"S": client_id}},
                "UpdateExpression": "SET expires_at = :past",
                "ExpressionAttributeValues": {":past": {"N": "1"}},
            }),
        )
        .await;
    assert!(stage.moto.has_app_client(&stage.pool.id, &client_id).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.moto.has_app_client(&stage.pool.id, &client_id).await {
        assert!(
            Instant::now() < deadline,
            "the unused registration {client_id} was never swept"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let facade = stage
            .lambda
            .get("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(facade.status, 200);
    }
}
