//! `mcp-oauth auth-server` with upstream OpenID providers: the flags, their errors, and the
//! sign-in sent to a real provider (`oidc-provider` from npm, started by
//! `scripts/services/oidc-provider.sh`; without `MCP_OAUTH_OIDC_PROVIDER_URL` that test passes
//! after a skip notice, unless `MCP_OAUTH_REQUIRE_SERVICES=1`).

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

/// A running `mcp-oauth auth-server`, killed on drop.
struct AuthServer {
    child: Child,
    origin: String,
    _data: tempfile::TempDir,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn auth_server(extra: &[&str], secrets: Option<&str>) -> (Command, String, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(BINARY);
    command
        .args(["auth-server", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--issuer", &origin])
        .arg("--data-dir")
        .arg(data.path())
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("AUTH_SERVER_UPSTREAM_ISSUERS")
        .env_remove("AUTH_SERVER_UPSTREAM_CLIENT_IDS")
        .env_remove("AUTH_SERVER_UPSTREAM_CLIENT_SECRETS")
        .env_remove("AUTH_SERVER_UPSTREAM_NAMES");
    if let Some(secrets) = secrets {
        command.env("AUTH_SERVER_UPSTREAM_CLIENT_SECRETS", secrets);
    }
    (command, origin, data)
}

#[test]
fn help_explains_the_upstream_flags() {
    let output = Command::new(BINARY)
        .args(["auth-server", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "Federated sign-in",
        "--upstream-issuer",
        "AUTH_SERVER_UPSTREAM_ISSUERS",
        "--upstream-client-id",
        "AUTH_SERVER_UPSTREAM_CLIENT_IDS",
        "--upstream-client-secret",
        "AUTH_SERVER_UPSTREAM_CLIENT_SECRETS",
        "--upstream-name",
        "AUTH_SERVER_UPSTREAM_NAMES",
        "/login/callback",
    ] {
        assert!(help.contains(expected), "{expected} in {help}");
    }
}

#[test]
fn upstream_flags_that_do_not_pair_up_stop_the_start() {
    for (extra, secrets, problem) in [
        (
            vec!["--upstream-issuer", "https://idp.example"],
            None,
            "give one --upstream-client-id per --upstream-issuer",
        ),
        (
            vec![
                "--upstream-issuer",
                "https://idp.example",
                "--upstream-client-id",
                "id",
            ],
            Some("one,two"),
            "give one --upstream-client-secret per --upstream-issuer",
        ),
        (
            vec![
                "--upstream-issuer",
                "http://idp.example",
                "--upstream-client-id",
                "id",
            ],
            None,
            "must be https",
        ),
    ] {
        let (mut command, _, _data) = auth_server(&extra, secrets);
        let output = command.output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(problem), "{problem} in {stderr}");
        assert!(
            !stderr.contains("one,two"),
            "the secret is not echoed: {stderr}"
        );
    }
}

#[tokio::test]
async fn an_auth_server_with_an_upstream_sends_the_sign_in_there() {
    let Some(provider) = std::env::var("MCP_OAUTH_OIDC_PROVIDER_URL")
        .ok()
        .filter(|value| !value.is_empty())
    else {
        assert_ne!(
            std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref(),
            Ok("1"),
            "MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_OIDC_PROVIDER_URL is not set \
             (see scripts/services/oidc-provider.sh)"
        );
        eprintln!("skipping: MCP_OAUTH_OIDC_PROVIDER_URL is not set");
        return;
    };
    let (mut command, origin, data) = auth_server(
        &[
            "--upstream-issuer",
            &provider,
            "--upstream-client-id",
            "mcp-oauth",
            "--upstream-name",
            "Test provider",
        ],
        Some("mcp-oauth-test-secret"),
    );
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let server = AuthServer {
        child,
        origin,
        _data: data,
    };
    let mut printed = String::new();
    while !printed.contains("storage:") {
        assert_ne!(stdout.read_line(&mut printed).unwrap(), 0, "{printed}");
    }
    assert!(
        printed.contains(&format!(
            "upstream:  {provider} (Test provider; its redirect URI for this server: {}/login/callback)",
            server.origin
        )),
        "{printed}"
    );
    assert!(!printed.contains("mcp-oauth-test-secret"));

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let login = loop {
        match http.get(format!("{}/login", server.origin)).send().await {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the server did not start: {error}"),
        }
    };
    assert_eq!(login.status(), 303);
    let location = login.headers()["location"].to_str().unwrap().to_owned();
    let callback: String = url::form_urlencoded::byte_serialize(
        format!("{}/login/callback", server.origin).as_bytes(),
    )
    .collect();
    assert!(
        location.starts_with(&format!("{provider}/auth?")),
        "{location}"
    );
    assert!(
        location.contains(&format!("redirect_uri={callback}")),
        "{location}"
    );
    // The provider accepts the request: its sign-in form.
    let at_provider = http.get(&location).send().await.unwrap();
    assert_eq!(
        at_provider.status(),
        303,
        "the provider sends the browser to its form"
    );
    let signup = http
        .get(format!("{}/signup", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 404);
}
