//! `mcp-oauth gateway` as a user runs it, against moto: scopes read from the resource server
//! at start, the façade, registration, and the MCP server listing the gateway.
//!
//! Needs `MOTO_ENDPOINT` (scripts/services/moto.sh); without it the moto tests pass after a
//! skip notice unless `MCP_OAUTH_REQUIRE_SERVICES=1`.

mod gateway_support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gateway_support::{Moto, Running, free_port};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

fn gateway(endpoint: &str, pool_id: &str, port: u16, registry: &std::path::Path) -> Command {
    let origin = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(BINARY);
    command
        .args(["gateway", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--public-url", &origin, "--url", &format!("{origin}/mcp")])
        .args(["--region", "us-east-1", "--user-pool-id", pool_id])
        .args([
            "--cognito-domain",
            "https://demo.auth.us-east-1.amazoncognito.com",
        ])
        .args(["--aws-endpoint-url", endpoint])
        .arg("--sqlite-registry")
        .arg(registry)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("COGNITO_SCOPES")
        .env_remove("COGNITO_REGISTRY_TABLE")
        .env_remove("COGNITO_IDENTITY_PROVIDERS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn help_explains_every_flag_and_its_environment_variable() {
    let output = Command::new(BINARY)
        .args(["gateway", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, env) in [
        ("--public-url", "GATEWAY_URL"),
        ("--url", "MCP_SERVER_URL"),
        ("--region", "AWS_REGION"),
        ("--user-pool-id", "COGNITO_USER_POOL_ID"),
        ("--cognito-domain", "COGNITO_DOMAIN_URL"),
        ("--resource-server-id", "COGNITO_RESOURCE_SERVER_ID"),
        ("--static-client-id", "COGNITO_CLIENT_IDS"),
        ("--dynamodb-table", "COGNITO_REGISTRY_TABLE"),
        ("--sqlite-registry", "COGNITO_REGISTRY_SQLITE"),
        ("--identity-provider", "COGNITO_IDENTITY_PROVIDERS"),
        ("--aws-endpoint-url", "AWS_ENDPOINT_URL"),
        ("--initial-access-token", "GATEWAY_INITIAL_ACCESS_TOKEN"),
        (
            "--unused-registration-hours",
            "GATEWAY_UNUSED_REGISTRATION_HOURS",
        ),
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
        assert!(help.contains(env), "{env} missing from --help");
    }
}

#[tokio::test]
async fn serves_the_facade_registration_and_the_mcp_server() {
    let Some(moto) = Moto::from_env("serves_the_facade_registration_and_the_mcp_server") else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let pool_id = moto.pool(&[&format!("{origin}/mcp")]).await;
    let dir = tempfile::tempdir().unwrap();
    let _gateway = Running(
        gateway(&endpoint, &pool_id, port, &dir.path().join("registry.db"))
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let metadata_url = format!("{origin}/.well-known/oauth-authorization-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let metadata: Value = loop {
        if let Ok(response) = http.get(&metadata_url).send().await {
            break response.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the gateway did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(metadata["issuer"], origin);
    assert_eq!(
        metadata["scopes_supported"],
        json!([
            format!("{origin}/mcp/mcp.read"),
            format!("{origin}/mcp/mcp.write")
        ])
    );
    assert_eq!(
        metadata["jwks_uri"],
        format!("{endpoint}/{pool_id}/.well-known/jwks.json")
    );
    let prm: Value = http
        .get(format!("{origin}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([origin]));
    let registered = http
        .post(format!("{origin}/register"))
        .json(&json!({"redirect_uris": ["http://127.0.0.1:8976/callback"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), reqwest::StatusCode::CREATED);
    let unauthenticated = http.post(format!("{origin}/mcp")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), reqwest::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refuses_to_start_when_the_resource_server_cannot_be_read() {
    let Some(moto) = Moto::from_env("refuses_to_start_when_the_resource_server_cannot_be_read")
    else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let pool_id = moto.pool(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let Output { status, stderr, .. } = gateway(
        &endpoint,
        &pool_id,
        free_port(),
        &dir.path().join("registry.db"),
    )
    .output()
    .unwrap();
    assert!(!status.success());
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(stderr.contains("give them with --scope"), "{stderr}");
}

/// `mcp-oauth admin` on the gateway's registry (`--cognito-registry-sqlite`), as an operator
/// runs it beside a gateway started with `--registration-approval`.
fn registry_admin(endpoint: &str, pool_id: &str, registry: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("admin")
        .arg("--cognito-registry-sqlite")
        .arg(registry)
        .args(["--cognito-user-pool-id", pool_id])
        .args(["--cognito-region", "us-east-1"])
        .args(["--cognito-aws-endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("COGNITO_REGISTRY_TABLE")
        .env_remove("COGNITO_IDENTITY_PROVIDERS");
    command
}

#[tokio::test]
async fn an_operator_approves_a_client_waiting_at_the_gateway() {
    let Some(moto) = Moto::from_env("an_operator_approves_a_client_waiting_at_the_gateway") else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let pool_id = moto.pool(&[&format!("{origin}/mcp")]).await;
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry.db");
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    // A provider `deploy --saml-provider` made, which the gateway's and the operator's app
    // client settings name (COGNITO_IDENTITY_PROVIDERS, as in the gateway's .env file).
    moto.cognito(
        "CreateIdentityProvider",
        json!({"UserPoolId": pool_id, "ProviderName": "Corp", "ProviderType": "SAML",
               "ProviderDetails": {"MetadataURL": "https://idp.example.com/metadata.xml"}}),
    )
    .await;
    let _gateway = Running(
        gateway(&endpoint, &pool_id, port, &registry)
            .args([
                "--registration-approval",
                "--registration-trusted-host",
                "app.example.com",
                "--metrics-addr",
                &metrics_addr,
            ])
            .env("COGNITO_IDENTITY_PROVIDERS", "Corp")
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let metadata: Value = loop {
        if let Ok(response) = http
            .get(format!("{origin}/.well-known/oauth-authorization-server"))
            .send()
            .await
        {
            break response.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the gateway did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{origin}/authorize")
    );

    let untrusted = http
        .post(format!("{origin}/register"))
        .json(&json!({"redirect_uris": ["https://elsewhere.test/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(untrusted.status(), reqwest::StatusCode::BAD_REQUEST);
    let registered: Value = http
        .post(format!("{origin}/register"))
        .json(&json!({"client_name": "Waiting", "redirect_uris": ["https://app.example.com/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"]
        .as_str()
        .expect("registered")
        .to_owned();
    let authorize = format!("{origin}/authorize?response_type=code&client_id={client_id}");
    let waiting = http.get(&authorize).send().await.unwrap();
    assert_eq!(waiting.status(), reqwest::StatusCode::FORBIDDEN);

    // The counters an operator alerts on, on the metrics listener.
    let metrics = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"mcp_oauth_registrations_total{outcome="refused",reason="untrusted_redirect_uri"} 1"#,
        r#"mcp_oauth_registrations_total{outcome="pending",reason="none"} 1"#,
        "mcp_oauth_clients_pending 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    let listed = registry_admin(&endpoint, &pool_id, &registry)
        .args(["clients", "list", "--pending"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        listed.trim(),
        format!("{client_id}\tpending\topen\tWaiting"),
        "only the waiting client, not the refused one"
    );
    let approved = registry_admin(&endpoint, &pool_id, &registry)
        .args(["clients", "approve", &client_id])
        .env("COGNITO_IDENTITY_PROVIDERS", "Corp")
        .output()
        .unwrap();
    assert!(approved.status.success(), "{approved:?}");
    let on = http.get(&authorize).send().await.unwrap();
    assert_eq!(on.status(), reqwest::StatusCode::FOUND);
    let app = moto
        .cognito(
            "DescribeUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientId": client_id}),
        )
        .await;
    assert_eq!(
        app["UserPoolClient"]["AllowedOAuthFlowsUserPoolClient"],
        true
    );
    assert_eq!(
        app["UserPoolClient"]["SupportedIdentityProviders"],
        json!(["COGNITO", "Corp"]),
        "created by the gateway and updated by the operator with the pool's providers"
    );

    let not_pending = registry_admin(&endpoint, &pool_id, &registry)
        .args(["clients", "reject", &client_id])
        .output()
        .unwrap();
    assert!(!not_pending.status.success());
    let stderr = String::from_utf8(not_pending.stderr).unwrap();
    assert!(stderr.contains("not waiting for approval"), "{stderr}");
    let users = registry_admin(&endpoint, &pool_id, &registry)
        .args(["users", "list"])
        .output()
        .unwrap();
    assert!(!users.status.success());
    assert!(
        String::from_utf8(users.stderr)
            .unwrap()
            .contains("only `admin clients` applies")
    );
    let unknown = registry_admin(&endpoint, &pool_id, &registry)
        .args(["clients", "approve", "no-such-client"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8(unknown.stderr)
            .unwrap()
            .contains("no client no-such-client")
    );
}
