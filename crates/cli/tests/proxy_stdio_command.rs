//! `mcp-oauth proxy --upstream-command` as an operator runs it, in front of a stdio MCP server
//! (the stdio upstream's Python test child, crates/proxy/tests/stdio_children/mcp_child.py),
//! with tokens of a test issuer: two users get two children of the proxy, each told its
//! caller by `--upstream-identity-env`; a child killed in the middle of a request gets its
//! caller a clean JSON-RPC error and ends only its session, and the next session works.

mod proxy_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mcp_oauth_testkit::TestIssuer;
use proxy_support::{ProxyProcess, free_port, open_session, post, tool_call};
use serde_json::{Value, json};

/// The stdio test child of the proxy crate (tools `pid`, `env`, `sleep`, `cancellations`).
const TEST_CHILD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../proxy/tests/stdio_children/mcp_child.py"
);

/// A token of `issuer` for `resource`, for `subject`.
fn token(issuer: &TestIssuer, resource: &str, subject: &str) -> String {
    let mut claims = issuer.claims(resource, "mcp:read");
    claims["sub"] = subject.into();
    issuer.sign("rsa-1", &claims)
}

/// The structured result of calling `tool` in `session`.
async fn call(url: &str, token: &str, session: &str, id: u64, tool: &str) -> Value {
    let answer = post(
        url,
        token,
        Some(session),
        &tool_call(id, tool, json!({})),
        &[],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.response(id)["result"]["structuredContent"].clone()
}

/// The process id of the session's child.
async fn child_pid(url: &str, token: &str, session: &str) -> u32 {
    let pid = call(url, token, session, 90, "pid").await["pid"].clone();
    u32::try_from(pid.as_u64().expect("the child names its pid")).unwrap()
}

/// The parent of process `pid` (the fourth field of /proc/PID/stat, after the name).
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn two_users_get_two_children_and_a_killed_child_ends_only_its_session() {
    let issuer = TestIssuer::start().await;
    let work_dir = tempfile::tempdir().unwrap();
    let proxy = ProxyProcess::start(
        free_port(),
        issuer.issuer(),
        &[
            "--upstream-identity-env",
            "CALLER_",
            "--upstream-command",
            "python3",
            TEST_CHILD,
        ],
        work_dir.path(),
        None,
    )
    .await;
    let url = proxy.mcp_url.as_str();
    let alice = token(&issuer, url, "alice");
    let bob = token(&issuer, url, "bob");
    let alice_session = open_session(url, &alice).await;
    let bob_session = open_session(url, &bob).await;

    // Two users, two processes, both the proxy's children, each knowing its own caller.
    let alice_pid = child_pid(url, &alice, &alice_session).await;
    let bob_pid = child_pid(url, &bob, &bob_session).await;
    assert_ne!(alice_pid, bob_pid);
    assert_eq!(parent_of(alice_pid), proxy.pid());
    assert_eq!(parent_of(bob_pid), proxy.pid());
    let alice_env = call(url, &alice, &alice_session, 2, "env").await;
    let bob_env = call(url, &bob, &bob_session, 2, "env").await;
    assert_eq!(alice_env["CALLER_SUBJECT"], "alice", "{alice_env}");
    assert_eq!(bob_env["CALLER_SUBJECT"], "bob", "{bob_env}");
    assert_eq!(alice_env["CALLER_ISSUER"], issuer.issuer(), "{alice_env}");

    // Alice's child is killed while it works on her request.
    let in_flight = {
        let (url, alice, session) = (url.to_owned(), alice.clone(), alice_session.clone());
        tokio::spawn(async move {
            post(
                &url,
                &alice,
                Some(&session),
                &tool_call(3, "sleep", json!({})),
                &[],
            )
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(url, &alice, &alice_session, 4, "cancellations").await["slept"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the child never got the request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &alice_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // Her request gets a JSON-RPC error under its id, and her session is over.
    let failed = tokio::time::timeout(Duration::from_secs(30), in_flight)
        .await
        .expect("the request in flight ends with the child")
        .unwrap();
    assert_eq!(failed.status, 502, "{failed:?}");
    assert_eq!(failed.response(3)["error"]["code"], -32000, "{failed:?}");
    // (The session may outlive the reaped child by a moment; every answer is an error.)
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = post(
            url,
            &alice,
            Some(&alice_session),
            &tool_call(5, "pid", json!({})),
            &[],
        )
        .await;
        assert!(answer.messages[0]["error"]["code"].is_i64(), "{answer:?}");
        if answer.status == 404 {
            assert_eq!(answer.messages[0]["error"]["code"], -32001, "{answer:?}");
            break;
        }
        assert_eq!(answer.status, 502, "{answer:?}");
        assert!(Instant::now() < deadline, "the session outlived its child");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Bob's session goes on with the same child; Alice's next session gets a new one.
    assert_eq!(child_pid(url, &bob, &bob_session).await, bob_pid);
    let next_session = open_session(url, &alice).await;
    let next_pid = child_pid(url, &alice, &next_session).await;
    let pids = BTreeSet::from([alice_pid, bob_pid, next_pid]);
    assert_eq!(pids.len(), 3, "{pids:?}");
}
