//! `mcp-oauth dev`: the local stack in one process, as a newcomer starts it (here on free
//! ports, set through the servers' environment variables).

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

struct Stack {
    child: Child,
    issuer: String,
    mcp: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> (Stack, Vec<String>) {
    let (auth_port, mcp_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{auth_port}");
    let mcp = format!("http://127.0.0.1:{mcp_port}/mcp");
    let mut child = Command::new(BINARY)
        .args(["dev", "--data-dir"])
        .arg(data_dir)
        .env("AUTH_SERVER_BIND", format!("127.0.0.1:{auth_port}"))
        .env("AUTH_SERVER_ISSUER", &issuer)
        .env("AUTH_SERVER_RESOURCES", &mcp)
        .env("MCP_SERVER_BIND", format!("127.0.0.1:{mcp_port}"))
        .env("MCP_SERVER_URL", &mcp)
        .env("MCP_ISSUERS", &issuer)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in stdout.lines().map_while(Result::ok) {
        let done = line.contains("Ctrl-C stops everything");
        lines.push(line);
        if done {
            break;
        }
    }
    (Stack { child, issuer, mcp }, lines)
}

async fn wait_for(url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = reqwest::get(url).await {
            return response;
        }
        assert!(Instant::now() < deadline, "{url} did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn dev_starts_both_servers_and_a_demo_user_that_survives_restarts() {
    let data = tempfile::tempdir().unwrap();
    let (stack, lines) = start(data.path());
    let printed = lines.join("\n");
    let metadata: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-authorization-server",
        stack.issuer
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["issuer"], stack.issuer);
    let prm: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        stack.mcp.trim_end_matches("/mcp")
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(prm["authorization_servers"][0], stack.issuer);
    let password_line = lines
        .iter()
        .find(|line| line.contains("as demo@example.com / "))
        .unwrap_or_else(|| panic!("no demo credentials in:\n{printed}"));
    let password = password_line.rsplit(" / ").next().unwrap().to_owned();
    drop(stack);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("demo-user.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second start finds the same user and tells the same password.
    let (_stack, lines) = start(data.path());
    assert!(
        lines
            .iter()
            .any(|line| line.ends_with(&format!("as demo@example.com / {password}"))),
        "{}",
        lines.join("\n")
    );
}
