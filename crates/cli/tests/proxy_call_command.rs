//! `mcp-oauth call` signs in through `mcp-oauth proxy` and uses MCP servers nobody here
//! wrote (crates/proxy/tests/peers_support): the MCP TypeScript SDK's `server-everything` and
//! a Python MCP SDK server, each over Streamable HTTP behind the proxy, which trusts the
//! embedded authorization server of the client library's test `Stack`. The first run signs
//! in (played by the test `Person`) and calls a tool; the second lists the tools with the
//! stored tokens.

mod call_support;
mod proxy_support;

use call_support::support::{Person, Stack, StackOptions};
use call_support::{assert_success, call, run, run_signing_in, stderr, stdout};
use proxy_support::peers::{Peer, everything_server, python_server};
use proxy_support::{ProxyProcess, free_port};

/// Puts `mcp-oauth proxy` in front of `peer`, signs in with `mcp-oauth call` and calls its
/// `echo` tool, whose answer must hold `expected`; then lists its tools without signing in
/// again, which must include `listed`.
async fn call_signs_in_through_the_proxy(peer: Peer, expected: &str, listed: &str) {
    let port = free_port();
    let proxy_url = format!("http://127.0.0.1:{port}/mcp");
    let stack = Stack::start_with(StackOptions {
        extra_resources: vec![proxy_url.clone()],
        ..StackOptions::default()
    })
    .await;
    let work_dir = tempfile::tempdir().unwrap();
    let _proxy = ProxyProcess::start(
        port,
        &stack.issuer,
        &["--upstream-url", &peer.url],
        work_dir.path(),
        None,
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let callback_port = free_port().to_string();
    let command = |extra: &[&str]| {
        let mut command = call(home.path());
        command
            .args(["--no-browser", "--port", &callback_port])
            .args(["--login-timeout-secs", "30", &proxy_url])
            .args(extra);
        command
    };
    let person = Person::new();

    let echoed = run_signing_in(
        command(&["echo", "--args", r#"{"message":"through the proxy"}"#]),
        &person,
    )
    .await;
    assert_success(&echoed);
    assert!(stdout(&echoed).contains(expected), "{}", stdout(&echoed));
    assert_eq!(person.count(), 1);

    let tools = run(command(&[])).await;
    assert_success(&tools);
    assert_eq!(person.count(), 1, "signed in only once: {}", stderr(&tools));
    assert!(
        stdout(&tools).lines().any(|line| line.starts_with(listed)),
        "{listed} missing from:\n{}",
        stdout(&tools)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn call_signs_in_through_the_proxy_and_uses_the_typescript_sdk_everything_server() {
    let Some(peer) = everything_server(free_port()).await else {
        return;
    };
    call_signs_in_through_the_proxy(peer, "Echo: through the proxy", "get-sum").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn call_signs_in_through_the_proxy_and_uses_the_python_sdk_server() {
    let Some(peer) = python_server(free_port()).await else {
        return;
    };
    call_signs_in_through_the_proxy(peer, "through the proxy", "secret_tool").await;
}
