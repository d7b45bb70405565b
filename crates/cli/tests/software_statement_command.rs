//! `mcp-oauth auth-server --software-statement-issuer ISSUER=JWKS_FILE
//! --require-software-statement`, as an operator runs it: a registration carrying a valid
//! statement of the publisher is registered with the statement's claims (and echoes the
//! statement), one without a statement or with a forged or foreign one is refused with the
//! RFC 7591 §3.2.2 code, and nothing of the refused ones is stored.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_oauth_testkit::{TestIssuer, now};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// Kills the server when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn register(origin: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{origin}/register"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn registration_requires_and_applies_a_publishers_software_statement() {
    let publisher = TestIssuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks = reqwest::get(format!("{}/jwks.json", publisher.issuer()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks_file = dir.path().join("publisher-jwks.json");
    std::fs::write(&jwks_file, jwks).unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let _server = Running(
        Command::new(BINARY)
            .args(["auth-server", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--issuer", &origin])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--software-statement-issuer")
            .arg(format!("{}={}", publisher.issuer(), jwks_file.display()))
            .arg("--require-software-statement")
            .env_remove("DATABASE_URL")
            .env_remove("MCP_OAUTH_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{origin}/.well-known/oauth-authorization-server"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let statement = publisher.sign_typed(
        "ec-1",
        Some("JWT"),
        &json!({
            "iss": publisher.issuer(),
            "software_id": "example-app",
            "client_name": "Name from the statement",
            "redirect_uris": ["https://app.example.com/callback"],
            "iat": now(),
            "exp": now() + 600,
        }),
    );
    let (status, body) = register(
        &origin,
        &json!({
            "software_statement": statement,
            "client_name": "Name the request asks for",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["client_name"], "Name from the statement");
    assert_eq!(body["software_id"], "example-app");
    assert_eq!(body["software_statement"], statement.as_str());

    let (status, body) = register(
        &origin,
        &json!({"redirect_uris": ["https://app.example.com/callback"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_software_statement"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("required")
    );

    let mut forged = statement.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let (status, body) = register(
        &origin,
        &json!({"software_statement": forged, "redirect_uris": ["https://app.example.com/callback"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_software_statement"))
    );

    let stranger = TestIssuer::start().await;
    let foreign = stranger.sign_typed(
        "ec-1",
        None,
        &json!({"iss": stranger.issuer(), "redirect_uris": ["https://app.example.com/callback"], "iat": now()}),
    );
    let (status, body) = register(
        &origin,
        &json!({"software_statement": foreign, "redirect_uris": ["https://app.example.com/callback"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unapproved_software_statement"))
    );

    let listed = Command::new(BINARY)
        .args(["admin", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["clients", "list"])
        .env_remove("DATABASE_URL")
        .env_remove("COGNITO_REGISTRY_TABLE")
        .env_remove("COGNITO_REGISTRY_SQLITE")
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        listed.lines().count(),
        1,
        "only the accepted client: {listed}"
    );
    assert!(listed.contains("software-statement"), "{listed}");
}

#[test]
fn requiring_a_statement_without_a_publisher_is_a_usage_error() {
    let output = Command::new(BINARY)
        .args(["auth-server", "--require-software-statement"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--software-statement-issuer"), "{stderr}");
}
