//! `mcp-oauth call` run as a person runs it, signing in through the client library's test
//! `Person` (crates/client/tests/support): shared by the tests of `call` and of `call`
//! through `mcp-oauth proxy` and `mcp-oauth dev`.
#![allow(dead_code)]

#[path = "../../../client/tests/support/mod.rs"]
pub mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcp_oauth_client::AuthorizationDriver as _;
use serde_json::Value;
use support::{Person, parameter};
use tokio::sync::mpsc;
use url::Url;

pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// How long any run of the command may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The command with a clean environment: no flags from the caller's environment or a
/// `.env`, and a configuration directory of the test's own.
pub fn call(config_home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.arg("call");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MCP_OAUTH_") {
            command.env_remove(name);
        }
    }
    command
        .env("XDG_CONFIG_HOME", config_home)
        .env("HOME", config_home)
        .env_remove("RUST_LOG")
        .current_dir(config_home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` at most [`RUN_TIMEOUT`], then kills it.
pub async fn finish(mut child: Child, stderr_so_far: String) -> Output {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mcp-oauth call did not finish; stderr so far:\n{stderr_so_far}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut stderr = stderr_so_far.into_bytes();
    if let Some(mut rest) = child.stderr.take() {
        rest.read_to_end(&mut stderr).unwrap();
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs a command that needs no sign-in.
pub async fn run(mut command: Command) -> Output {
    let child = command.spawn().unwrap();
    finish(child, String::new()).await
}

/// Runs a command that signs in: reads the authorization URL it prints, lets `person` sign
/// in and consent, then sends the browser to where the authorization server redirected it
/// (the command's loopback listener) and checks the page it shows.
pub async fn run_signing_in(mut command: Command, person: &Person) -> Output {
    let mut child = command.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, mut received) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let authorization_url = loop {
        let line = match tokio::time::timeout(RUN_TIMEOUT, received.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let output = finish(child, printed).await;
                panic!(
                    "the command ended before printing a sign-in URL:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no sign-in URL was printed:\n{printed}");
            }
        };
        printed.push_str(&line);
        printed.push('\n');
        if let Some(url) = line.trim().strip_prefix("http") {
            break Url::parse(&format!("http{url}")).unwrap();
        }
    };
    let redirect_uri = Url::parse(&parameter(&authorization_url, "redirect_uri").unwrap()).unwrap();
    let callback = person
        .authorize(&authorization_url, &redirect_uri)
        .await
        .unwrap();
    let page = reqwest::get(callback).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You can close this window")
    );
    let mut output = finish(child, printed).await;
    // The rest of stderr, for the caller's assertions (the reader ends with the process).
    while let Some(line) = received.recv().await {
        output.stderr.extend_from_slice(line.as_bytes());
        output.stderr.push(b'\n');
    }
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

/// The JSON object a tool printed (its structured content).
pub fn printed_json(output: &Output) -> Value {
    let text = stdout(output);
    let start = text.find('{').expect("a JSON object on stdout");
    serde_json::from_str(text[start..].trim()).unwrap()
}
