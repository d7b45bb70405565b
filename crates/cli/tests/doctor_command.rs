//! `mcp-oauth doctor` as a person runs it, against real servers: this project's in each mode
//! (`dev`; `auth-server` + `mcp-server`; the Cognito gateway on moto; federated sign-in at
//! oidc-provider) and a deliberately broken configuration of each, the peer MCP servers the
//! proxy tests install (directly: unprotected; behind `mcp-oauth proxy`: passing), a real
//! sign-in, a stack deployed to moto, and the failures of the network (a closed port, a
//! server that never answers, TLS spoken to plain HTTP, a body that is not JSON).
//!
//! The moto, oidc-provider and peer tests pass after a skip notice when their service is not
//! set up, unless `MCP_OAUTH_REQUIRE_SERVICES=1` (scripts/test).

mod call_support;
mod doctor_support;
mod gateway_support;
mod proxy_support;

use std::process::Command;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use call_support::support::{Person, Stack, StackOptions};
use doctor_support::{
    BINARY, auth_server, dev, doctor, failed, failures, mcp_server, report, statuses, stderr,
    stdout,
};
use proxy_support::peers::{Peer, everything_server, python_server};
use proxy_support::{ProxyProcess, free_port};

#[test]
fn help_explains_every_flag() {
    let output = Command::new(BINARY)
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--json",
        "--timeout-secs",
        "--origin",
        "--try-registration",
        "--sign-in",
        "--stack",
        "--region",
        "--endpoint-url",
        "--headless",
        "--no-browser",
        "--client-id",
        "Exit status: 0",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn bad_usage_exits_with_status_2_and_says_why() {
    for (args, expected) in [
        (vec!["not a url"], "give the MCP endpoint's URL"),
        (vec!["ftp://example.com/mcp"], "http or https"),
        (
            vec![
                "http://127.0.0.1:9/mcp",
                "--origin",
                "https://app.example.com/page",
            ],
            "an origin is scheme://host[:port]",
        ),
        (
            vec!["http://127.0.0.1:9/mcp", "--timeout-secs", "0"],
            "--timeout-secs",
        ),
        (vec![], "<URL>"),
        (
            vec!["http://127.0.0.1:9/mcp", "--stack", "mcp-oauth"],
            "--region",
        ),
    ] {
        let output = doctor(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn network_failures_get_a_clear_message_and_status_1() {
    // Nothing listens.
    let closed = format!("http://127.0.0.1:{}/mcp", free_port());
    let output = doctor(&[&closed]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("FAIL  unauthenticated MCP request: cannot connect to"),
        "{text}"
    );
    assert!(text.contains("SKIP  discovery"), "{text}");

    // A server that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    let report_of_silent = report(&doctor(&[&silent_url, "--timeout-secs", "1", "--json"]));
    assert!(
        failed(&report_of_silent, "challenge")["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1 s (--timeout-secs)"),
        "{report_of_silent:#}"
    );
    drop(silent);

    // TLS spoken to a plain HTTP server, and metadata that is HTML.
    let (listener, base) = call_support::support::listener().await;
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let challenge = format!("Bearer resource_metadata=\"{metadata}\"");
    let app = Router::new()
        .route(
            "/mcp",
            post(move || async move {
                (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", challenge)],
                    "",
                )
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(|| async {
                ([("content-type", "text/html")], "<html>sign in</html>").into_response()
            }),
        );
    let _served = call_support::support::serve(listener, app);
    let https = format!("{}/mcp", base.replace("http://", "https://"));
    let tls = report(&doctor(&[&https, "--json"]));
    assert!(
        failed(&tls, "challenge")["detail"]
            .as_str()
            .unwrap()
            .contains("TLS failed for"),
        "{tls:#}"
    );
    let html = report(&doctor(&[&format!("{base}/mcp"), "--json"]));
    let step = failed(&html, "resource-metadata");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("the body is not JSON (text/html): <html>sign in</html>"),
        "{html:#}"
    );
    assert_eq!(step["problem"]["number"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_without_a_challenge_fails_and_one_without_resource_metadata_warns() {
    let (listener, base) = call_support::support::listener().await;
    let document = serde_json::json!({
        "resource": format!("{base}/partial"),
        "authorization_servers": [format!("{base}/no-such-issuer")],
    });
    let app = Router::new()
        .route("/bare", post(|| async { StatusCode::UNAUTHORIZED }))
        .route(
            "/partial",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", r#"Bearer scope="mcp:read""#)],
                )
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/partial",
            get(move || async move { axum::Json(document) }),
        );
    let _served = call_support::support::serve(listener, app);

    let bare = report(&doctor(&[&format!("{base}/bare"), "--json"]));
    let step = failed(&bare, "challenge");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 401 without a WWW-Authenticate header"),
        "{bare:#}"
    );
    assert_eq!(step["problem"]["number"], 1);
    // Discovery still tries the well-known URLs, and finds nothing there.
    assert_eq!(
        statuses(&bare, "resource-metadata"),
        ["warn", "warn", "fail"]
    );

    let partial = report(&doctor(&[&format!("{base}/partial"), "--json"]));
    assert_eq!(statuses(&partial, "challenge"), ["warn"], "{partial:#}");
    assert_eq!(statuses(&partial, "resource-metadata"), ["pass", "warn"]);
    // The issuer it names has no metadata: a failure naming the URLs tried.
    let missing = failed(&partial, "authorization-server-metadata");
    assert!(
        missing["detail"].as_str().unwrap().contains(&format!(
            "{base}/.well-known/oauth-authorization-server/no-such-issuer → HTTP 404"
        )),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_dev_stack_passes_and_a_foreign_browser_origin_fails_cors_only() {
    let origin = format!("http://127.0.0.1:{}", free_port());
    let (_dev, mcp_url) = dev(&[("MCP_ALLOWED_ORIGINS", origin.clone())]).await;

    let output = doctor(&[
        &mcp_url,
        "--origin",
        &origin,
        "--try-registration",
        "--json",
    ]);
    let passed = report(&output);
    assert_eq!(passed["ok"], true, "{passed:#}");
    assert_eq!(passed["summary"]["failed"], 0);
    assert_eq!(passed["summary"]["warnings"], 0, "{passed:#}");
    assert_eq!(statuses(&passed, "challenge"), ["pass"]);
    assert_eq!(statuses(&passed, "resource-metadata"), ["pass", "pass"]);
    for id in [
        "authorization-server-metadata",
        "issuer",
        "pkce",
        "endpoints",
        "registration-support",
        "jwks",
        "registration",
    ] {
        assert_eq!(statuses(&passed, id), ["pass"], "{id}: {passed:#}");
    }
    assert_eq!(statuses(&passed, "cors"), ["pass"; 6], "{passed:#}");
    let registration = &doctor_support::steps(&passed, "registration")[0];
    assert!(
        registration["detail"]
            .as_str()
            .unwrap()
            .contains("deleted again (RFC 7592)"),
        "{registration}"
    );

    // The text a person reads: one line per step, the summary last.
    let text = doctor(&[&mcp_url, "--origin", &origin]);
    assert!(text.status.success(), "{}", stdout(&text));
    assert!(stdout(&text).contains(&format!("PASS  unauthenticated MCP request: HTTP 401 with a Bearer challenge naming http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp", url::Url::parse(&mcp_url).unwrap().port().unwrap())), "{}", stdout(&text));
    assert!(
        stdout(&text).trim_end().ends_with("0 failed, 2 skipped"),
        "{}",
        stdout(&text)
    );

    // A browser origin the MCP server does not allow: the MCP endpoint's CORS fails, the
    // metadata (readable by any origin) does not; without --origin they are warnings.
    let foreign = report(&doctor(&[
        &mcp_url,
        "--origin",
        "https://app.example.com",
        "--json",
    ]));
    let cors = statuses(&foreign, "cors");
    assert_eq!(cors[..2], ["fail", "fail"], "{foreign:#}");
    assert!(
        cors[2..].iter().all(|status| status == "pass"),
        "{foreign:#}"
    );
    assert_eq!(failed(&foreign, "cors")["problem"]["number"], 3);
    assert_eq!(failures(&foreign).len(), 2, "{foreign:#}");
    let default_origin = report(&doctor(&[&mcp_url, "--json"]));
    assert_eq!(default_origin["ok"], true);
    assert_eq!(statuses(&default_origin, "cors")[..2], ["warn", "warn"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_server_with_another_public_url_fails_the_resource_match() {
    let port = free_port();
    let asked = format!("http://127.0.0.1:{port}/mcp");
    let configured = format!("http://localhost:{port}/mcp");
    let (_auth, issuer) = auth_server(&configured, &[]).await;
    let _mcp = mcp_server(port, &["--url", &configured, "--issuer", &issuer]).await;
    let report = report(&doctor(&[&asked, "--json"]));
    let step = failed(&report, "resource-metadata");
    assert!(
        step["detail"].as_str().unwrap().contains(&format!(
            "resource is `{configured}`, not this MCP server `{asked}`"
        )),
        "{report:#}"
    );
    assert_eq!(step["problem"]["number"], 2);
    assert!(step["fix"].as_str().unwrap().contains("--url"), "{step}");
    // No document is usable, so the authorization server is not checked.
    assert_eq!(statuses(&report, "issuer"), Vec::<String>::new());

    // The URL it is configured with passes.
    let right = doctor_support::report(&doctor(&[&configured, "--json"]));
    assert_eq!(right["ok"], true, "{right:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issuer_that_mismatches_its_metadata_and_a_refused_registration_fail() {
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let (_auth, issuer) = auth_server(
        &mcp_url,
        &["--initial-access-token", "only-for-admins-0123456789"],
    )
    .await;
    // The MCP server names the authorization server by another host name than its issuer.
    let other_name = issuer.replace("127.0.0.1", "localhost");
    let _mcp = mcp_server(port, &["--url", &mcp_url, "--issuer", &other_name]).await;
    let report = report(&doctor(&[&mcp_url, "--try-registration", "--json"]));
    let issuer_step = failed(&report, "issuer");
    assert!(
        issuer_step["detail"].as_str().unwrap().contains(&format!(
            "says issuer `{issuer}`, but the resource metadata lists `{other_name}`"
        )),
        "{report:#}"
    );
    assert_eq!(issuer_step["problem"]["number"], 2);
    let registration = failed(&report, "registration");
    assert_eq!(registration["problem"]["number"], 5);
    assert!(
        registration["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 401"),
        "{registration}"
    );
    assert_eq!(statuses(&report, "pkce"), ["pass"]);
    assert_eq!(statuses(&report, "jwks"), ["pass"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_server_trusting_cognito_directly_shows_what_cognito_lacks() {
    let Some(moto) = gateway_support::Moto::from_env("cognito_directly") else {
        return;
    };
    let pool = moto.pool(&[]).await;
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    // Cognito's own metadata (moto's), with no gateway in front.
    let issuer = format!("{}/{pool}", moto.endpoint);
    let _mcp = mcp_server(port, &["--url", &mcp_url, "--issuer", &issuer]).await;
    let report = report(&doctor(&[&mcp_url, "--json"]));
    assert_eq!(statuses(&report, "authorization-server-metadata"), ["pass"]);
    assert_eq!(failed(&report, "issuer")["problem"]["number"], 2);
    assert!(
        failed(&report, "pkce")["detail"]
            .as_str()
            .unwrap()
            .contains("no code_challenge_methods_supported"),
        "{report:#}"
    );
    assert_eq!(
        failed(&report, "registration-support")["problem"]["number"],
        5
    );
    assert_eq!(statuses(&report, "jwks"), ["pass"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_mcp_server_alone_is_unprotected_and_behind_the_proxy_passes() {
    for peer in [
        everything_server(free_port()).await,
        python_server(free_port()).await,
    ] {
        let Some(peer) = peer else {
            continue;
        };
        check_peer(peer).await;
    }
}

async fn check_peer(peer: Peer) {
    let direct = report(&doctor(&[&peer.url, "--json"]));
    let step = failed(&direct, "challenge");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("does not ask for authorization"),
        "{direct:#}"
    );
    assert!(
        step["fix"].as_str().unwrap().contains("mcp-oauth proxy"),
        "{step}"
    );
    assert_eq!(statuses(&direct, "discovery"), ["skip"]);

    let port = free_port();
    let proxy_url = format!("http://127.0.0.1:{port}/mcp");
    let (_auth, issuer) = auth_server(&proxy_url, &[]).await;
    let work_dir = tempfile::tempdir().unwrap();
    let _proxy = ProxyProcess::start(
        port,
        &issuer,
        &["--upstream-url", &peer.url],
        work_dir.path(),
        None,
    )
    .await;
    let behind = report(&doctor(&[&proxy_url, "--json"]));
    assert_eq!(behind["ok"], true, "{behind:#}");
    assert_eq!(statuses(&behind, "challenge"), ["pass"]);
    assert_eq!(statuses(&behind, "issuer"), ["pass"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_and_lists_the_tools_and_names_a_refused_token_a_validation_failure() {
    // A second MCP server trusting the same issuer, but verifying with the wrong keys.
    let port = free_port();
    let broken_url = format!("http://127.0.0.1:{port}/mcp");
    let stack = Stack::start_with(StackOptions {
        extra_resources: vec![broken_url.clone()],
        ..StackOptions::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let signing_in = |url: &str| {
        let mut command =
            doctor_support::command(home.path(), &["doctor", url, "--sign-in", "--json"]);
        command
            .args(["--no-browser", "--port", &free_port().to_string()])
            .args(["--login-timeout-secs", "30"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let person = Person::new();
    let output = call_support::run_signing_in(signing_in(&stack.mcp_url), &person).await;
    let passed = report(&output);
    assert_eq!(passed["ok"], true, "{passed:#}");
    assert_eq!(statuses(&passed, "sign-in"), ["pass"]);
    let tools = &doctor_support::steps(&passed, "tool-call")[0];
    assert!(
        tools["detail"].as_str().unwrap().contains("whoami"),
        "{tools}"
    );
    assert!(
        !home.path().join("mcp-oauth/credentials.json").exists(),
        "doctor keeps no credentials"
    );

    // The keys of another authorization server: the token's signature cannot be verified.
    let other = Stack::start().await;
    let jwks = format!("{}={}/jwks.json", stack.issuer, other.issuer);
    let _broken = mcp_server(
        port,
        &[
            "--url",
            &broken_url,
            "--issuer",
            &stack.issuer,
            "--jwks-uri",
            &jwks,
        ],
    )
    .await;
    let output = call_support::run_signing_in(signing_in(&broken_url), &person).await;
    let refused = report(&output);
    let step = failed(&refused, "sign-in");
    assert_eq!(step["problem"]["number"], 2, "{refused:#}");
    assert!(step["fix"].as_str().unwrap().contains("JWKS"), "{step}");
    assert_eq!(statuses(&refused, "tool-call"), ["skip"]);
    drop(_broken);

    // Keys it cannot fetch at all: the MCP server answers 503, which is named too.
    let unreachable = format!(
        "{}=http://127.0.0.1:{}/jwks.json",
        stack.issuer,
        free_port()
    );
    let _keyless = mcp_server(
        port,
        &[
            "--url",
            &broken_url,
            "--issuer",
            &stack.issuer,
            "--jwks-uri",
            &unreachable,
        ],
    )
    .await;
    let output = call_support::run_signing_in(signing_in(&broken_url), &person).await;
    let unavailable = report(&output);
    let step = failed(&unavailable, "sign-in");
    assert!(
        step["detail"].as_str().unwrap().contains("HTTP 503"),
        "{unavailable:#}"
    );
    assert_eq!(step["problem"]["number"], 2);
    assert!(step["fix"].as_str().unwrap().contains("JWKS"), "{step}");
}

#[tokio::test(flavor = "multi_thread")]
async fn federated_sign_in_passes_and_trusting_the_upstream_provider_directly_does_not() {
    let Some(provider) = std::env::var("MCP_OAUTH_OIDC_PROVIDER_URL")
        .ok()
        .filter(|value| !value.is_empty())
    else {
        assert_ne!(
            std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref(),
            Ok("1"),
            "MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_OIDC_PROVIDER_URL is not set"
        );
        eprintln!("skipping: MCP_OAUTH_OIDC_PROVIDER_URL is not set");
        return;
    };
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let (_auth, issuer) = auth_server(
        &mcp_url,
        &[
            "--upstream-issuer",
            &provider,
            "--upstream-client-id",
            "mcp-oauth",
            "--upstream-client-secret",
            "mcp-oauth-test-secret",
        ],
    )
    .await;
    let federated = mcp_server(port, &["--url", &mcp_url, "--issuer", &issuer]).await;
    let passed = report(&doctor(&[&mcp_url, "--json"]));
    assert_eq!(passed["ok"], true, "{passed:#}");
    drop(federated);

    // Broken: the MCP server names the upstream provider itself as its authorization server,
    // where MCP clients cannot register (the test provider has no registration endpoint).
    let _direct = mcp_server(port, &["--url", &mcp_url, "--issuer", &provider]).await;
    let direct = report(&doctor(&[&mcp_url, "--json", "--try-registration"]));
    assert_eq!(statuses(&direct, "authorization-server-metadata"), ["pass"]);
    assert_eq!(statuses(&direct, "pkce"), ["pass"]);
    let step = failed(&direct, "registration-support");
    assert_eq!(step["problem"]["number"], 5, "{direct:#}");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("only clients registered beforehand can sign in"),
        "{step}"
    );
}
