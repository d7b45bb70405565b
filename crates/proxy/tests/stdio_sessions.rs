//! The stdio upstream with sessions (MCP 2025-11-25), against real child processes (the
//! Python test child of tests/stdio_children/): one child per session, only the named
//! environment, the bound on children, idle and DELETE stops, crashes that end one session
//! only, and the child's stderr in the log.

mod stdio_support;

use std::collections::BTreeSet;
use std::time::Duration;

use mcp_oauth_proxy::stdio::StdioUpstream;
use serde_json::json;
use stdio_support::{Log, Proxy, call, messages, process_exists, test_child, wait_until_gone};

#[tokio::test]
async fn two_users_and_two_sessions_of_one_user_each_get_their_own_child() {
    let proxy = Proxy::start(test_child(&[])).await;
    let (alice, bob) = (proxy.token("alice"), proxy.token("bob"));
    let alice_session = proxy.open_session(&alice).await;
    let bob_session = proxy.open_session(&bob).await;
    let alice_again = proxy.open_session(&alice).await;
    let pids: BTreeSet<i32> = [
        proxy.child_pid(&alice, &alice_session).await,
        proxy.child_pid(&bob, &bob_session).await,
        proxy.child_pid(&alice, &alice_again).await,
    ]
    .into();
    assert_eq!(pids.len(), 3, "three sessions, three processes: {pids:?}");
    assert_eq!(proxy.upstream.children(), 3);
    // A session keeps its child.
    assert!(pids.contains(&proxy.child_pid(&alice, &alice_session).await));
}

#[tokio::test]
async fn a_child_gets_only_the_named_environment_and_its_callers_identity() {
    // SAFETY: set before any thread of this test reads the environment (nextest runs each
    // test in its own process).
    unsafe {
        std::env::set_var("MCP_OAUTH_TEST_SECRET", "must-not-reach-the-child");
        std::env::set_var("MCP_OAUTH_TEST_PASSED", "named-by-the-operator");
    }
    let config = test_child(&[])
        .with_inherited_env(["PATH", "MCP_OAUTH_TEST_PASSED", "NOT_SET_ANYWHERE"])
        .with_env("FIXED", "value")
        .with_identity_env("CALLER_");
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let answer = proxy.call(&token, &session, "env", json!({})).await;
    let env = answer["result"]["structuredContent"].as_object().unwrap();
    let names: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    // Python itself may add LC_CTYPE when the locale is unset (PEP 538).
    let names: BTreeSet<&str> = names
        .into_iter()
        .filter(|name| *name != "LC_CTYPE")
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "PATH",
            "MCP_OAUTH_TEST_PASSED",
            "FIXED",
            "CALLER_ISSUER",
            "CALLER_SUBJECT",
            "CALLER_CLIENT_ID",
            "CALLER_SCOPES",
        ])
    );
    assert_eq!(env["MCP_OAUTH_TEST_PASSED"], "named-by-the-operator");
    assert_eq!(env["FIXED"], "value");
    assert_eq!(env["CALLER_SUBJECT"], "alice");
    assert_eq!(env["CALLER_ISSUER"], proxy.issuer.issuer());
    assert_eq!(env["CALLER_CLIENT_ID"], "test-client");
    assert_eq!(env["CALLER_SCOPES"], "mcp:read");
}

#[tokio::test]
async fn a_crashed_child_fails_its_request_ends_its_session_and_the_next_session_works() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let other_session = proxy.open_session(&token).await;
    let session = proxy.open_session(&token).await;

    let response = proxy
        .post(&token, Some(&session), &call(41, "crash", json!({})))
        .await;
    assert_eq!(response.status(), 502);
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 41, "{answer}");
    assert_eq!(answer["error"]["code"], -32000, "{answer}");

    // The session is over: 404, which tells the client to start a new one.
    let response = proxy
        .post(&token, Some(&session), &call(42, "pid", json!({})))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(messages(response).await[0]["error"]["code"], -32001);

    // Only that session: the other one still answers, and a new one works.
    proxy.child_pid(&token, &other_session).await;
    let new_session = proxy.open_session(&token).await;
    proxy.child_pid(&token, &new_session).await;
}

#[tokio::test]
async fn a_child_killed_from_outside_ends_only_its_session() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    wait_until_gone(pid).await;
    proxy.wait_for_children(0).await;
    let response = proxy
        .post(&token, Some(&session), &call(1, "pid", json!({})))
        .await;
    assert_eq!(response.status(), 404);
    let session = proxy.open_session(&token).await;
    assert_ne!(proxy.child_pid(&token, &session).await, pid);
}

#[tokio::test]
async fn beyond_the_bound_a_new_session_gets_503_with_retry_after() {
    let config = test_child(&[])
        .with_max_children(1)
        .with_retry_after(Duration::from_secs(7));
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let first = proxy.open_session(&token).await;

    let initialize = stdio_support::request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let response = proxy.post(&proxy.token("bob"), None, &initialize).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(response.headers().get("mcp-session-id").is_none());
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["code"], -32000);

    // Ending the first session frees the slot.
    let response = proxy.bare(reqwest::Method::DELETE, &token, &first).await;
    assert_eq!(response.status(), 200);
    proxy.wait_for_children(0).await;
    let response = proxy.post(&proxy.token("bob"), None, &initialize).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn delete_stops_the_child_and_ends_the_session() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    assert!(process_exists(pid));

    let response = proxy.bare(reqwest::Method::DELETE, &token, &session).await;
    assert_eq!(response.status(), 200);
    wait_until_gone(pid).await;
    proxy.wait_for_children(0).await;
    let response = proxy
        .post(&token, Some(&session), &call(1, "pid", json!({})))
        .await;
    assert_eq!(response.status(), 404);
    let response = proxy.bare(reqwest::Method::DELETE, &token, &session).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_idle_child_is_stopped_and_its_session_ends() {
    let config = test_child(&[]).with_idle_timeout(Duration::from_secs(1));
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    wait_until_gone(pid).await;
    proxy.wait_for_children(0).await;
    let response = proxy
        .post(&token, Some(&session), &call(1, "pid", json!({})))
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_request_in_flight_keeps_its_child_from_idling() {
    let config = test_child(&[])
        .with_idle_timeout(Duration::from_secs(1))
        .with_request_timeout(Duration::from_secs(3));
    let proxy = Proxy::start(config).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    // `sleep` never answers: the request stays in flight until its timeout (504).
    let response = proxy
        .post(&token, Some(&session), &call(5, "sleep", json!({})))
        .await;
    assert_eq!(response.status(), 504);
    assert!(
        process_exists(pid),
        "in flight for three idle timeouts, the child still runs"
    );
    let answer = messages(response).await.pop().unwrap();
    assert_eq!(answer["id"], 5);
    // The timeout cancelled the request in the child, which recorded it.
    let answer = proxy
        .call(&token, &session, "cancellations", json!({}))
        .await;
    let seen = &answer["result"]["structuredContent"];
    assert_eq!(seen["cancelled"], seen["slept"], "{seen}");
    assert_eq!(seen["cancelled"].as_array().unwrap().len(), 1, "{seen}");
}

#[tokio::test]
async fn the_childs_stderr_reaches_the_log_with_its_session() {
    let log = Log::capture();
    let proxy = Proxy::start(test_child(&["--stderr"])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let pid = proxy.child_pid(&token, &session).await;
    let text = log.wait_for(&format!("hello from the child {pid}")).await;
    let line = text
        .lines()
        .find(|line| line.contains("hello from the child"))
        .unwrap();
    assert!(
        line.contains(&session),
        "the session names the line: {line}"
    );
}

#[tokio::test]
async fn garbage_on_the_childs_stdout_is_dropped_and_logged() {
    let log = Log::capture();
    let proxy = Proxy::start(test_child(&["--garbage"])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let answer = proxy
        .call(&token, &session, "echo", json!({"said": "hi"}))
        .await;
    assert_eq!(answer["result"]["structuredContent"], json!({"said": "hi"}));
    log.wait_for("not a JSON-RPC message").await;
}

#[tokio::test]
async fn a_child_that_never_answers_gets_504_and_is_stopped() {
    let config = test_child(&["--silent"]).with_startup_timeout(Duration::from_secs(1));
    let proxy = Proxy::start(config).await;
    let initialize = stdio_support::request(
        3,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let response = proxy.post(&proxy.token("alice"), None, &initialize).await;
    assert_eq!(response.status(), 504);
    assert!(response.headers().get("mcp-session-id").is_none());
    assert_eq!(messages(response).await[0]["id"], 3);
    proxy.wait_for_children(0).await;
}

#[tokio::test]
async fn a_child_flooding_stderr_neither_floods_the_log_nor_stops_answering() {
    let log = Log::capture();
    let proxy = Proxy::start(test_child(&["--flood-stderr"])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    for round in 0..20 {
        let answer = proxy
            .call(&token, &session, "echo", json!({"round": round}))
            .await;
        assert_eq!(answer["result"]["structuredContent"]["round"], round);
    }
    log.wait_for("lines not logged").await;
    let logged = log.text().matches("flood line").count();
    assert!(logged < 10_000, "{logged} flood lines logged");
}

#[tokio::test]
async fn progress_and_the_childs_requests_reach_the_client_on_the_requests_stream() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;

    let progress = json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call",
        "params": {"name": "progress", "arguments": {}, "_meta": {"progressToken": "tok"}}});
    let all = messages(proxy.post(&token, Some(&session), &progress).await).await;
    let methods: Vec<&str> = all
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("answer"))
        .collect();
    assert_eq!(
        methods,
        ["notifications/progress", "notifications/progress", "answer"]
    );
    assert_eq!(all[0]["params"]["progressToken"], "tok");
    assert_eq!(all[2]["id"], "p");

    // sampling/createMessage from the child arrives on the tool call's stream; the client's
    // response goes back to the child, which then answers the call.
    let response = proxy
        .post(&token, Some(&session), &call(9, "sample", json!({})))
        .await;
    let mut events = stdio_support::Events::new(response);
    let sampling = events.next().await.unwrap();
    assert_eq!(sampling["method"], "sampling/createMessage");
    let result = json!({"jsonrpc": "2.0", "id": sampling["id"], "result": {
        "role": "assistant", "model": "m", "content": {"type": "text", "text": "sampled!"}}});
    let accepted = proxy.post(&token, Some(&session), &result).await;
    assert_eq!(accepted.status(), 202);
    let answer = events.next().await.unwrap();
    assert_eq!(answer["id"], 9);
    assert_eq!(answer["result"]["structuredContent"]["sampled"], "sampled!");
    assert!(
        events.next().await.is_none(),
        "the stream ends with the answer"
    );
}

#[tokio::test]
async fn a_clients_cancellation_reaches_the_child_under_the_childs_request_id() {
    let proxy = Proxy::start(test_child(&[])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    let sleeping = proxy.post_in_background(&token, &session, call(77, "sleep", json!({})));
    // Once the child has the request, cancel it by the client's id.
    proxy.wait_for_record(&token, &session, "slept").await;
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 77, "reason": "changed my mind"}});
    assert_eq!(
        proxy.post(&token, Some(&session), &cancel).await.status(),
        202
    );
    let seen = proxy.wait_for_record(&token, &session, "cancelled").await;
    assert_eq!(seen["cancelled"], seen["slept"], "{seen}");
    sleeping.abort();
}

#[tokio::test]
async fn a_child_started_for_a_client_that_left_during_initialize_is_stopped() {
    let proxy = Proxy::start(test_child(&["--slow-start"])).await;
    let initialize = stdio_support::request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let gave_up = tokio::time::timeout(
        Duration::from_millis(500),
        proxy.post(&proxy.token("alice"), None, &initialize),
    )
    .await;
    assert!(gave_up.is_err(), "the child answers only after 3 s");
    proxy.wait_for_children(0).await;
}

#[tokio::test]
async fn initialize_opens_a_session_whatever_version_its_headers_name() {
    let proxy = Proxy::start(test_child(&[])).await;
    let initialize = stdio_support::request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let response = reqwest::Client::new()
        .post(&proxy.mcp_url)
        .bearer_auth(proxy.token("alice"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_some());
}

#[tokio::test]
async fn a_child_that_stops_reading_its_input_is_still_stopped_at_delete() {
    let proxy = Proxy::start(test_child(&["--deaf"])).await;
    let token = proxy.token("alice");
    let session = proxy.open_session(&token).await;
    // More than a pipe holds: the write waits for a reader that never comes.
    let big = call(2, "echo", json!({"padding": "x".repeat(512 * 1024)}));
    let _blocked = proxy.post_in_background(&token, &session, big);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = proxy.bare(reqwest::Method::DELETE, &token, &session).await;
    assert_eq!(response.status(), 200);
    proxy.wait_for_children(0).await;
}

#[tokio::test]
async fn a_request_dropped_in_the_middle_of_a_long_write_does_not_corrupt_the_childs_input() {
    use tower::ServiceExt;
    // The service itself, without HTTP: a dropped future is what an HTTP/2 reset or a
    // timeout layer in front of it produces.
    let upstream = StdioUpstream::new(test_child(&["--nap"])).unwrap();
    let post = |session: Option<&str>, message: &serde_json::Value| {
        let mut request = http::Request::post("/mcp")
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
            .body(axum::body::Body::from(message.to_string()))
            .unwrap()
    };
    let initialize = stdio_support::request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let response = upstream
        .clone()
        .oneshot(post(None, &initialize))
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The child reads nothing for 2 s: a message larger than a pipe holds waits half-written.
    let big = call(2, "echo", json!({"padding": "x".repeat(1024 * 1024)}));
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        upstream.clone().oneshot(post(Some(&session), &big)),
    )
    .await;
    assert!(dropped.is_err(), "the child was napping");
    // The rest of that line still reaches the child before this one.
    let small = call(3, "echo", json!({"after": "the big one"}));
    let response = upstream
        .clone()
        .oneshot(post(Some(&session), &small))
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"after": "the big one"}),
        "{answer}"
    );
}
