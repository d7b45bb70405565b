//! `mcp-oauth mcp-server` as a user runs it: flags, start-up messages, errors.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        "--max-token-lifetime-secs",
        "--jwks-refresh-secs",
        "--dangerously-disable-auth",
        "--max-connections",
        "--header-timeout-secs",
        "--shutdown-grace-secs",
        "--metrics-addr",
        "--log-format",
        "MCP_SERVER_URL",
        "MCP_OAUTH_METRICS_ADDR",
        "MCP_OAUTH_LOG_FORMAT",
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

/// Sends `request` on a new connection and reads until the server closes it or 30 s pass;
/// returns what came back.
async fn exchange(address: &str, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer));
    read.await.expect("no answer").unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn two_or_malformed_host_headers_get_400_on_every_route() {
    let server = spawn(&["--allowed-host", "127.0.0.1"]);
    drop(wait_until_up(&server).await);
    let address = server.origin.trim_start_matches("http://");
    for path in ["/mcp", "/.well-known/oauth-protected-resource/mcp"] {
        for hosts in [
            format!("Host: {address}\r\nHost: {address}\r\n"),
            format!("Host: {address}\r\nHost: evil.example\r\n"),
            "Host: 127.0.0.1:evil.example\r\n".to_owned(),
            "Host: 127.0.0.1:19001@evil.example\r\n".to_owned(),
            "Host: 127.0.0.1:\r\n".to_owned(),
        ] {
            let answer = exchange(
                address,
                &format!("GET {path} HTTP/1.1\r\n{hosts}Connection: close\r\n\r\n"),
            )
            .await;
            assert!(
                answer.starts_with("HTTP/1.1 400"),
                "{path} {hosts:?}: {answer}"
            );
            assert!(answer.contains(r#""error":"invalid_request""#), "{answer}");
            assert!(answer.contains("Host header"), "{answer}");
        }
    }
    let answer = exchange(
        address,
        &format!("GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Slowloris: 200 connections that send a request's headers a byte a second are each closed
/// once the header timeout passes, while other clients keep being answered.
#[tokio::test]
async fn slow_header_senders_are_disconnected_while_others_are_served() {
    let mut server = spawn(&["--allowed-host", "127.0.0.1", "--header-timeout-secs", "2"]);
    // Each request is logged: read the log, or the server blocks once the pipe is full.
    let mut log = server.child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    drop(wait_until_up(&server).await);
    let address = server.origin.trim_start_matches("http://").to_owned();
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let address = address.clone();
        slow.spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            let head = b"GET /.well-known/oauth-protected-resource HTTP/1.1\r\nX-Slow: ";
            for byte in head.iter().chain(std::iter::repeat(&b'a')) {
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
                let mut buffer = [0; 512];
                // Until the server hangs up (an answer, if any, is read and ignored).
                let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer));
                if let Ok(Ok(0) | Err(_)) = read.await {
                    return;
                }
            }
        });
    }
    // A fresh connection per request, so no kept-alive connection times out between them.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", server.origin);
    let mut answered = 0;
    let all_closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            tokio::select! {
                joined = slow.join_next() => match joined {
                    Some(result) => result.unwrap(),
                    None => break,
                },
                response = http.get(&url).send() => {
                    assert_eq!(response.unwrap().status(), 200);
                    answered += 1;
                }
            }
        }
    })
    .await;
    assert!(
        all_closed.is_ok(),
        "{} slow connections still open",
        slow.len()
    );
    assert!(answered > 0, "no request was answered meanwhile");
}

/// With one connection allowed, a second client waits in the backlog until the first
/// connection closes, and is then served.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = spawn(&[
        "--allowed-host",
        "127.0.0.1",
        "--max-connections",
        "1",
        "--header-timeout-secs",
        "60",
    ]);
    // Dropping the client closes its pooled connection, freeing the slot.
    drop(wait_until_up(&server).await);
    let address = server.origin.trim_start_matches("http://");
    let request = |connection: &str| {
        format!(
            "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {address}\r\nConnection: {connection}\r\n\r\n"
        )
    };
    let mut first = tokio::net::TcpStream::connect(address).await.unwrap();
    first
        .write_all(request("keep-alive").as_bytes())
        .await
        .unwrap();
    let mut answer = [0; 64];
    let read = tokio::time::timeout(Duration::from_secs(30), first.read(&mut answer));
    let read = read.await.expect("first client not answered").unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    // The first connection stays open (kept alive) and holds the only slot.
    let mut second = tokio::net::TcpStream::connect(address).await.unwrap();
    second.write_all(request("close").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probe = [0; 64];
    assert!(
        matches!(second.try_read(&mut probe), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
        "the second client was served while the only slot was taken"
    );
    drop(first);
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), second.read_to_end(&mut answer));
    read.await.expect("second client not answered").unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
