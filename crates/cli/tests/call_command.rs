//! `mcp-oauth call` as a person runs it, against the real authorization server and demo MCP
//! server started in the test: the sign-in in the browser (played by the client library's
//! test `Person`, whose redirect then lands on the command's loopback listener), the tool
//! list, a tool call, the credential file, and the errors.

mod call_support;

use std::path::Path;

use call_support::support::{Person, REDIRECT_URI, Stack, parameter};
use call_support::{
    assert_success, call, free_port, printed_json, run, run_signing_in, stderr, stdout,
};
use serde_json::{Value, json};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_with_a_pre_registered_client_then_reuses_the_stored_tokens() {
    let stack = Stack::start().await;
    let registered = stack
        .register(json!({
            "client_name": "CLI under test",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    let credentials = home.path().join("state").join("credentials.json");
    let port = free_port().to_string();
    let command = || {
        let mut command = call(home.path());
        command
            .args([
                "--no-browser",
                "--port",
                &port,
                "--login-timeout-secs",
                "30",
            ])
            .arg("--credentials")
            .arg(&credentials)
            .args(["--client-id", &client_id])
            .env("MCP_OAUTH_CLIENT_SECRET", &secret)
            .arg(&stack.mcp_url);
        command
    };
    let person = Person::new();

    // First run: the sign-in, then the tool list.
    let listed = run_signing_in(command(), &person).await;
    assert_success(&listed);
    let tools = stdout(&listed);
    for tool in ["create_context", "list_contexts", "whoami"] {
        assert!(
            tools.lines().any(|line| line.starts_with(tool)),
            "{tool} missing from:\n{tools}"
        );
    }
    assert!(
        tools.contains("Store a new context"),
        "descriptions: {tools}"
    );
    let url = person.last_url();
    assert_eq!(parameter(&url, "client_id").as_deref(), Some(&*client_id));
    assert_eq!(
        parameter(&url, "redirect_uri"),
        Some(format!("http://127.0.0.1:{port}/callback"))
    );
    assert_eq!(
        parameter(&url, "resource").as_deref(),
        Some(&*stack.mcp_url)
    );
    assert_eq!(stack.client_count().await, 1, "no dynamic registration");

    // The credential file is the owner's alone, in a directory only the owner can enter.
    #[cfg(unix)]
    {
        assert_eq!(mode(&credentials), 0o600);
        assert_eq!(mode(credentials.parent().unwrap()), 0o700);
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&credentials).unwrap()).unwrap();
    assert!(
        stored["issuers"][&stack.issuer]["tokens"][&stack.mcp_url].is_object(),
        "{stored:#}"
    );

    // Second run: the stored tokens, no sign-in (the command would print a URL and wait).
    let mut whoami = command();
    whoami.arg("whoami");
    let whoami = run(whoami).await;
    assert_success(&whoami);
    assert_eq!(person.count(), 1, "signed in only once");
    assert!(
        !stderr(&whoami).contains("To sign in"),
        "{}",
        stderr(&whoami)
    );
    let verified = printed_json(&whoami);
    assert_eq!(verified["authenticated"], true);
    assert_eq!(verified["client_id"], client_id);
    assert_eq!(verified["issuer"], stack.issuer);
    assert_eq!(verified["audience"], json!([stack.mcp_url]));
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_dynamically_keeps_credentials_in_the_config_dir_and_calls_tools_with_arguments()
{
    let stack = Stack::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let command = |extra: &[&str]| {
        let mut command = call(home.path());
        command
            .args([
                "--no-browser",
                "--port",
                &port,
                "--login-timeout-secs",
                "30",
            ])
            .arg(&stack.mcp_url)
            .args(extra);
        command
    };
    let person = Person::new();

    let created = run_signing_in(
        command(&[
            "create_context",
            "--args",
            r#"{"name": "notes", "description": "from the command line"}"#,
        ]),
        &person,
    )
    .await;
    assert_success(&created);
    assert_eq!(printed_json(&created)["created"]["name"], "notes");
    assert_eq!(stack.client_count().await, 1, "one dynamic registration");
    let url = person.last_url();
    assert_eq!(
        parameter(&url, "scope").as_deref(),
        Some("mcp:read mcp:write"),
        "the scopes the server's challenge names"
    );

    let credentials = home.path().join("mcp-oauth").join("credentials.json");
    #[cfg(unix)]
    assert_eq!(mode(&credentials), 0o600);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&credentials).unwrap()).unwrap();
    let registration = &stored["issuers"][&stack.issuer]["registration"];
    assert_eq!(registration["source"], "dynamic", "{stored:#}");
    assert_eq!(
        registration["redirect_uris"],
        json!([format!("http://127.0.0.1:{port}/callback")])
    );

    // Later runs reuse the registration and the tokens.
    let listed = run(command(&["list_contexts"])).await;
    assert_success(&listed);
    assert_eq!(printed_json(&listed)["count"], 1);
    assert_eq!(person.count(), 1);
    assert_eq!(stack.client_count().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_the_scopes_given_instead_of_the_servers() {
    let stack = Stack::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut command = call(home.path());
    command
        .args(["--no-browser", "--port", &port, "--scope", "mcp:read"])
        .args([&stack.mcp_url, "whoami"]);
    let person = Person::new();
    let output = run_signing_in(command, &person).await;
    assert_success(&output);
    assert_eq!(
        parameter(&person.last_url(), "scope").as_deref(),
        Some("mcp:read")
    );
    assert_eq!(printed_json(&output)["scopes"], json!(["mcp:read"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn localhost_redirect_names_localhost_and_still_receives_the_redirect() {
    let stack = Stack::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut command = call(home.path());
    command
        .args(["--no-browser", "--port", &port, "--localhost-redirect"])
        .args([&stack.mcp_url, "whoami"]);
    let person = Person::new();
    let output = run_signing_in(command, &person).await;
    assert_success(&output);
    let localhost = format!("http://localhost:{port}/callback");
    assert_eq!(
        parameter(&person.last_url(), "redirect_uri").as_deref(),
        Some(&*localhost)
    );
    let credentials = home.path().join("mcp-oauth").join("credentials.json");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&credentials).unwrap()).unwrap();
    assert_eq!(
        stored["issuers"][&stack.issuer]["registration"]["redirect_uris"],
        json!([localhost])
    );
    assert_eq!(printed_json(&output)["authenticated"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_arguments_that_are_not_a_json_object_before_connecting() {
    let home = tempfile::tempdir().unwrap();
    // Nothing listens there: the arguments are checked first.
    let unreachable = format!("http://127.0.0.1:{}/mcp", free_port());
    for (arguments, expected) in [
        ("[1, 2]", "--args must be a JSON object"),
        ("\"notes\"", "--args must be a JSON object"),
        ("{name: notes}", "--args is not valid JSON"),
    ] {
        let mut command = call(home.path());
        command.args([&unreachable, "whoami", "--args", arguments]);
        let output = run(command).await;
        assert_eq!(output.status.code(), Some(1), "{arguments}");
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
    // Arguments without a tool are a usage error.
    let mut command = call(home.path());
    command.args([&unreachable, "--args", "{}"]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("<TOOL>"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_unreachable_servers_and_unknown_tools_with_a_non_zero_exit() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = call(home.path());
    command.arg(format!("http://127.0.0.1:{port}/mcp"));
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: "), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");

    // A page instead of redirects: --headless cannot sign in, and says why.
    let stack = Stack::start().await;
    let mut command = call(home.path());
    command.args(["--headless", &stack.mcp_url]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("a person has to sign in"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_the_server_does_not_have_is_an_error() {
    let stack = Stack::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut command = call(home.path());
    command
        .args(["--no-browser", "--port", &free_port().to_string()])
        .args([&stack.mcp_url, "no_such_tool"]);
    let output = run_signing_in(command, &Person::new()).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no_such_tool"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_browser_it_says_how_long_it_waits_and_how_to_stop_then_gives_up() {
    let stack = Stack::start().await;
    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut command = call(home.path());
    command
        .args(["--no-browser", "--port", &port, "--login-timeout-secs", "1"])
        .args([&stack.mcp_url, "whoami"]);
    // Nobody signs in.
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    for expected in [
        "To sign in, open this URL",
        "Waiting up to 1 s (--login-timeout-secs)",
        &format!("http://127.0.0.1:{port}/callback"),
        &format!("ssh -L {port}:127.0.0.1:{port}"),
        "Ctrl-C",
        "within 1 s",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing:\n{message}"
        );
    }
}
