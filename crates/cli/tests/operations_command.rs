//! What an operator relies on, with the servers started as a user starts them: `/healthz` and
//! `/readyz` on every server, request ids, one log line per request that holds no secret
//! (text without colour codes off a terminal, or JSON), Prometheus metrics on their own
//! listener, and a graceful shutdown on SIGTERM.

use std::convert::Infallible;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use mcp_oauth_testkit::TestIssuer;
use serde_json::Value;
use tokio::sync::oneshot;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// A running `mcp-oauth` server, killed on drop; its stderr goes to a file.
struct Server {
    child: Child,
    origin: String,
    log: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `mcp-oauth ARGS` with `--bind` on a free port, in `dir`, without inherited
    /// configuration; returns once `/healthz` answers.
    async fn start(args: &[&str], port: u16, dir: &Path, env: &[(&str, &str)]) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(BINARY);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            let ours = [
                "MCP_",
                "COGNITO_",
                "AUTH_SERVER_",
                "DATABASE_URL",
                "RUST_LOG",
            ];
            if ours.iter().any(|prefix| name.starts_with(prefix)) {
                command.env_remove(name);
            }
        }
        let child = command
            .args(args)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(log.path()).unwrap()))
            .spawn()
            .unwrap();
        let server = Self {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/healthz", server.origin))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the server did not start: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// What the server logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most a minute) for the process to exit.
    async fn exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mcp-oauth mcp-server` trusting `issuer`, on a free port, with `extra` flags.
async fn mcp_server(issuer: &TestIssuer, dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut args = vec!["mcp-server", "--url", &url, "--issuer", issuer.issuer()];
    args.extend_from_slice(extra);
    Server::start(&args, port, dir, &[]).await
}

/// A stateless 2025-11-25 `tools/call` of `list_contexts` with `token`.
async fn call_tool(http: &reqwest::Client, mcp_url: &str, token: &str) -> reqwest::Response {
    http.post(mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_contexts", "arguments": {}}
        }))
        .send()
        .await
        .unwrap()
}

/// Polls `url` until it answers `status` (at most 30 s); returns the body.
async fn wait_for_status(url: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = reqwest::get(url).await.unwrap();
        if response.status() == status {
            return response.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_mcp_server_is_ready_once_it_has_its_issuers_keys() {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks_available(false);
    let dir = tempfile::tempdir().unwrap();
    let server = mcp_server(&issuer, dir.path(), &[]).await;

    let health = reqwest::get(format!("{}/healthz", server.origin))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.headers()["cache-control"], "no-store");
    let waiting = wait_for_status(&format!("{}/readyz", server.origin), 503).await;
    assert_eq!(waiting["status"], "not ready");
    assert!(
        waiting["waiting_for"][0]
            .as_str()
            .unwrap()
            .contains(issuer.issuer()),
        "{waiting}"
    );

    // Keys are fetched again in the background, without any token arriving.
    issuer.set_jwks_available(true);
    let ready = wait_for_status(&format!("{}/readyz", server.origin), 200).await;
    assert_eq!(ready["status"], "ready");
    // The MCP endpoint still asks for a token.
    let mcp = reqwest::Client::new()
        .post(format!("{}/mcp", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 401);
}

#[tokio::test]
async fn the_authorization_server_is_ready_when_its_store_and_keys_are() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let server = Server::start(
        &["auth-server", "--issuer", &issuer, "--data-dir", "data"],
        port,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(
        wait_for_status(&format!("{}/readyz", server.origin), 200).await["status"],
        "ready"
    );
}

#[tokio::test]
async fn request_ids_are_returned_and_malformed_ones_replaced() {
    let issuer = TestIssuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = mcp_server(&issuer, dir.path(), &[]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", server.origin);
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };

    let kept = http
        .get(&url)
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (kept.status().as_u16(), id_of(&kept)),
        (200, "trace-42".to_owned())
    );

    let mut seen = Vec::new();
    for malformed in ["x".repeat(129), "has space".to_owned(), String::new()] {
        let response = http
            .get(&url)
            .header("x-request-id", &malformed)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{malformed:?}");
        let id = id_of(&response);
        assert_ne!(id, malformed);
        assert!(!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()));
        seen.push(id);
    }
    let generated = http.get(&url).send().await.unwrap();
    seen.push(id_of(&generated));
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "every new id is new: {seen:?}");
}

/// One JSON log line per request of the authorization server, none holding the token, code or
/// password the requests carried.
#[tokio::test]
async fn json_request_logs_name_each_request_and_never_its_secrets() {
    const TOKEN: &str = "eyJsecret-access-token-in-the-header";
    const CODE: &str = "secret-code-in-the-query";
    const PASSWORD: &str = "secret-password-in-the-form";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let server = Server::start(
        &[
            "auth-server",
            "--issuer",
            &issuer,
            "--data-dir",
            "data",
            "--log-format",
            "json",
        ],
        port,
        dir.path(),
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let sent = [
        http.get(format!(
            "{issuer}/authorize?client_id=nobody&response_type=code&code={CODE}"
        ))
        .header("x-request-id", "req-authorize"),
        http.post(format!("{issuer}/login"))
            .form(&[("email", "a@example.com"), ("password", PASSWORD)])
            .header("x-request-id", "req-login"),
        http.post(format!("{issuer}/token"))
            .form(&[("grant_type", "authorization_code"), ("code", CODE)])
            .header("x-request-id", "req-token"),
        http.post(format!("{issuer}/introspect"))
            .bearer_auth(TOKEN)
            .form(&[("token", TOKEN)])
            .header("x-request-id", "req-introspect"),
    ];
    let mut statuses = Vec::new();
    for request in sent {
        let response = request.send().await.unwrap();
        assert!(response.status().as_u16() < 500, "{}", response.status());
        statuses.push(response.status().as_u16());
    }

    let log = server.log();
    for secret in [TOKEN, CODE, PASSWORD] {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    for ((id, route, method), status) in [
        ("req-authorize", "/authorize", "GET"),
        ("req-login", "/login", "POST"),
        ("req-token", "/token", "POST"),
        ("req-introspect", "/introspect", "POST"),
    ]
    .into_iter()
    .zip(statuses)
    {
        let answered: Vec<&Value> = lines
            .iter()
            .filter(|line| line["span"]["request_id"] == id && line["message"] == "answered")
            .collect();
        assert_eq!(answered.len(), 1, "one line for {id}:\n{log}");
        let line = answered[0];
        assert_eq!(line["span"]["route"], route, "{line}");
        assert_eq!(line["span"]["method"], method, "{line}");
        assert_eq!(line["status"], status, "{line}");
        assert!(line["latency_ms"].as_f64().is_some(), "{line}");
    }
}

/// The text log line of a request with a verified token names its client, not its token, and
/// holds no colour codes when stderr is a file.
#[tokio::test]
async fn text_request_logs_name_the_verified_client_without_colour_codes() {
    let issuer = TestIssuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = mcp_server(&issuer, dir.path(), &[]).await;
    let mcp_url = format!("{}/mcp", server.origin);
    let token = issuer.access_token(&mcp_url, "mcp:read mcp:write");
    let response = call_tool(&reqwest::Client::new(), &mcp_url, &token).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let log = server.log();
    assert!(!log.contains('\x1b'), "colour codes in a file:\n{log}");
    assert!(!log.contains(&token), "token logged:\n{log}");
    let answered: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&request_id) && line.contains("answered"))
        .collect();
    assert_eq!(answered.len(), 1, "one line for {request_id}:\n{log}");
    let line = answered[0];
    for expected in [
        "method=POST",
        "route=\"/mcp\"",
        "client_id=\"test-client\"",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(expected), "{expected} missing: {line}");
    }
}

/// The series `name{labels}` of an exposition, or 0.
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let issuer = TestIssuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = mcp_server(&issuer, dir.path(), &["--metrics-addr", &metrics_addr]).await;
    let http = reqwest::Client::new();
    let mcp_url = format!("{}/mcp", server.origin);
    let token = issuer.access_token(&mcp_url, "mcp:read mcp:write");
    for _ in 0..3 {
        assert_eq!(call_tool(&http, &mcp_url, &token).await.status(), 200);
    }
    assert_eq!(call_tool(&http, &mcp_url, "not-a-jwt").await.status(), 401);

    let scrape = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = scrape.text().await.unwrap();
    let listener = format!("127.0.0.1:{}", server.origin.rsplit(':').next().unwrap());
    let requests = |status: u16| {
        format!(
            "mcp_oauth_http_requests_total{{listener=\"{listener}\",route=\"/mcp\",method=\"POST\",status=\"{status}\"}}"
        )
    };
    assert_eq!(sample(&text, &requests(200)), 3.0, "{text}");
    assert_eq!(sample(&text, &requests(401)), 1.0, "{text}");
    let latency = format!(
        "mcp_oauth_http_request_duration_seconds_count{{listener=\"{listener}\",route=\"/mcp\",method=\"POST\"}}"
    );
    assert_eq!(sample(&text, &latency), 4.0, "{text}");
    for (series, expected) in [
        (
            "mcp_oauth_token_validations_total{outcome=\"accepted\",reason=\"none\"}",
            3.0,
        ),
        (
            "mcp_oauth_token_validations_total{outcome=\"refused\",reason=\"invalid_token\"}",
            1.0,
        ),
        ("mcp_oauth_token_cache_lookups_total{result=\"hit\"}", 2.0),
    ] {
        assert_eq!(sample(&text, series), expected, "{series}\n{text}");
    }
    let fetches = format!(
        "mcp_oauth_jwks_fetches_total{{issuer=\"{}\"}}",
        issuer.issuer()
    );
    assert!(sample(&text, &fetches) >= 1.0, "{text}");

    // Not on the public port.
    let public = http
        .get(format!("{}/metrics", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);

    // A flood of scrapers is served a few at a time, never with an error, while the public
    // port goes on answering.
    let scrapes: Vec<_> = (0..64)
        .map(|_| {
            let http = http.clone();
            let url = format!("http://{metrics_addr}/metrics");
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    assert_eq!(call_tool(&http, &mcp_url, &token).await.status(), 200);
    for scrape in scrapes {
        assert_eq!(scrape.await.unwrap().unwrap(), 200);
    }
}

#[tokio::test]
async fn the_authorization_server_counts_its_security_events_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = Server::start(
        &[
            "auth-server",
            "--issuer",
            &issuer,
            "--data-dir",
            "data",
            "--metrics-addr",
            &metrics_addr,
            "--audit-retention-days",
            "30",
        ],
        port,
        dir.path(),
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let register = |redirect_uri: &str| {
        http.post(format!("{issuer}/register"))
            .json(&serde_json::json!({
                "client_name": "Metrics test",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
            }))
            .send()
    };
    assert_eq!(
        register("http://127.0.0.1:4000/cb").await.unwrap().status(),
        201
    );
    assert_eq!(
        register("http://evil.example/cb").await.unwrap().status(),
        400
    );

    let text = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (series, expected) in [
        (
            "mcp_oauth_registrations_total{outcome=\"succeeded\",reason=\"none\"}",
            1.0,
        ),
        (
            "mcp_oauth_registrations_total{outcome=\"refused\",reason=\"invalid_redirect_uri\"}",
            1.0,
        ),
        (
            "mcp_oauth_sign_ins_total{method=\"password\",outcome=\"failed\"}",
            0.0,
        ),
        ("mcp_oauth_database_connections_max", 10.0),
    ] {
        assert_eq!(sample(&text, series), expected, "{series}\n{text}");
    }
    for family in [
        "mcp_oauth_token_requests_total{grant=\"refresh_token\",outcome=\"succeeded\"}",
        "mcp_oauth_database_connections{state=\"idle\"}",
        "# TYPE mcp_oauth_purged_rows counter",
        "# TYPE mcp_oauth_refresh_token_reuses counter",
    ] {
        assert!(text.contains(family), "{family}\n{text}");
    }

    // The same events are in the audit trail, which the admin command reads while the server
    // runs, and in the server's log.
    let audit = Command::new(BINARY)
        .args(["admin", "--data-dir", "data", "audit", "--json", "--event"])
        .arg("client_registered")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(audit.status.success(), "{audit:?}");
    let outcomes: Vec<Value> = String::from_utf8(audit.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["address"], "127.0.0.1", "{record}");
            record["outcome"].clone()
        })
        .collect();
    assert_eq!(outcomes, ["succeeded", "refused"]);
    let log = server.log();
    assert!(
        log.lines()
            .any(|line| line.contains("mcp_oauth::audit") && line.contains("client_registered")),
        "{log}"
    );
}

/// An upstream MCP server that answers each call after `delay`, telling `arrived` when the
/// first call reaches it.
async fn slow_upstream(delay: Duration, arrived: oneshot::Sender<()>) -> String {
    let arrived = std::sync::Arc::new(std::sync::Mutex::new(Some(arrived)));
    let answer = move || {
        let arrived = arrived.clone();
        async move {
            if let Some(arrived) = arrived.lock().unwrap().take() {
                let _ = arrived.send(());
            }
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(axum::Json(serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": false}
            })))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/mcp", post(answer));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/mcp")
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0() {
    let issuer = TestIssuer::start().await;
    let (arrived, upstream_got_it) = oneshot::channel();
    let upstream = slow_upstream(Duration::from_secs(3), arrived).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let mut proxy = Server::start(
        &[
            "proxy",
            "--url",
            &mcp_url,
            "--issuer",
            issuer.issuer(),
            "--upstream-url",
            &upstream,
            "--shutdown-grace-secs",
            "30",
        ],
        port,
        dir.path(),
        &[],
    )
    .await;
    let token = issuer.access_token(&mcp_url, "mcp:read mcp:write");
    let in_flight = tokio::spawn({
        let mcp_url = mcp_url.clone();
        async move {
            let response = call_tool(&reqwest::Client::new(), &mcp_url, &token).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    tokio::time::timeout(Duration::from_secs(30), upstream_got_it)
        .await
        .expect("the call reached the upstream")
        .unwrap();

    proxy.terminate();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "the call ended before the upstream answered"
    );

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"isError\":false"), "{body}");
    let exit = proxy.exit_status().await;
    assert!(exit.success(), "{exit:?}\n{}", proxy.log());
}
