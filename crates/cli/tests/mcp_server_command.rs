//! `mcp-oauth mcp-server` as a user runs it: flags, start-up messages, errors.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `mcp-oauth mcp-server`, killed on drop.
struct Server {
    child: Child,
    origin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(extra: &[&str]) -> Server {
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let child = Command::new(BINARY)
        .args(["mcp-server", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--url",
            &format!("{origin}/mcp"),
            "--issuer",
            "http://127.0.0.1:9",
        ])
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("MCP_DANGEROUSLY_DISABLE_AUTH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Server { child, origin }
}

async fn wait_until_up(server: &Server) -> reqwest::Client {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{}/.well-known/oauth-protected-resource", server.origin);
    while http.get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    http
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(BINARY)
        .args(["mcp-server", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--bind",
        "--url",
        "--issuer",
        "--cognito-issuer",
        "--cognito-client-id",
        "--issuer-metadata-url",
        "--jwks-uri",
        "--introspection-url",
        "--scope-read",
        "--scope-write",
        "--allowed-host",
        "--allowed-origin",
        "--leeway-secs",
        "--jwks-refresh-secs",
        "--dangerously-disable-auth",
        "MCP_SERVER_URL",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[tokio::test]
async fn serves_metadata_and_challenges_out_of_the_box() {
    let server = spawn(&["--allowed-host", "127.0.0.1"]);
    let http = wait_until_up(&server).await;
    let metadata: serde_json::Value = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], format!("{}/mcp", server.origin));
    assert_eq!(metadata["authorization_servers"][0], "http://127.0.0.1:9");
    let docs = http
        .get(metadata["resource_documentation"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let response = http
        .post(format!("{}/mcp", server.origin))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource_metadata=")
    );
}

#[tokio::test]
async fn disabling_validation_is_loud_and_lets_anyone_in() {
    let mut server = spawn(&["--allowed-host", "127.0.0.1", "--dangerously-disable-auth"]);
    let http = wait_until_up(&server).await;
    let response = http
        .post(format!("{}/mcp", server.origin))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = server.child.kill();
    let stderr = BufReader::new(server.child.stderr.take().unwrap());
    let warned = stderr
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("TOKEN VALIDATION IS SWITCHED OFF"));
    assert!(warned, "no warning on stderr");
}

#[test]
fn invalid_configuration_is_reported_with_every_problem() {
    let output = Command::new(BINARY)
        .args(["mcp-server", "--leeway-secs", "120", "--url", "not a url"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid resource"), "{stderr}");

    let output = Command::new(BINARY)
        .args([
            "mcp-server",
            "--leeway-secs",
            "120",
            "--allowed-origin",
            "nope",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("leeway 120s exceeds") && stderr.contains("allowed origin `nope`"),
        "{stderr}"
    );
}
