//! `mcp-oauth dev`: the local stack in one process, as a newcomer starts it (here on free
//! ports, set through the servers' environment variables): the authorization server, the MCP
//! server and the three demo web clients, each answering, two of them taken through a whole
//! login; the demo user and the pre-registered client survive a restart; SIGINT stops it; and
//! the README's stdio command puts the stack in front of `server-everything`, which
//! `mcp-oauth call` then signs in to and uses.

#[path = "../../demo/tests/web/mod.rs"]
mod web;

mod call_support;

#[path = "../../proxy/tests/peers_support/mod.rs"]
mod peers;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use call_support::support::Person;
use call_support::{assert_success, call, free_port, run_signing_in, stdout};
use serde_json::json;
use web::Browser;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// The ports and URLs of one stack.
struct Ports {
    issuer: String,
    mcp: String,
    client: String,
    auto_client: String,
    cimd_client: String,
    env: Vec<(&'static str, String)>,
}

impl Ports {
    fn new() -> Self {
        let [auth, mcp, client, auto, cimd] = [(); 5].map(|()| free_port());
        let issuer = format!("http://127.0.0.1:{auth}");
        let mcp_url = format!("http://127.0.0.1:{mcp}/mcp");
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let bind = |port: u16| format!("127.0.0.1:{port}");
        let env = vec![
            ("AUTH_SERVER_BIND", bind(auth)),
            ("AUTH_SERVER_ISSUER", issuer.clone()),
            ("AUTH_SERVER_RESOURCES", mcp_url.clone()),
            ("MCP_SERVER_BIND", bind(mcp)),
            ("MCP_SERVER_URL", mcp_url.clone()),
            ("MCP_ISSUERS", issuer.clone()),
            ("CLIENT_BIND", bind(client)),
            ("CLIENT_URL", url(client)),
            ("AUTO_CLIENT_BIND", bind(auto)),
            ("AUTO_CLIENT_URL", url(auto)),
            ("CIMD_CLIENT_BIND", bind(cimd)),
            ("CIMD_CLIENT_URL", url(cimd)),
            ("AUTH_SERVER_KEY_RELOAD_INTERVAL_SECS", "1".to_owned()),
        ];
        Self {
            issuer,
            mcp: mcp_url,
            client: url(client),
            auto_client: url(auto),
            cimd_client: url(cimd),
            env,
        }
    }
}

struct Stack {
    child: Child,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `dev` and reads its output up to the last line of its instructions.
fn start(data_dir: &std::path::Path, ports: &Ports) -> (Stack, Vec<String>) {
    start_with(data_dir, ports, |_| {})
}

/// Starts `dev` as [`start`] does, with the command changed by `configure` (more arguments,
/// say) first.
fn start_with(
    data_dir: &std::path::Path,
    ports: &Ports,
    configure: impl FnOnce(&mut Command),
) -> (Stack, Vec<String>) {
    let mut command = Command::new(BINARY);
    command.args(["dev", "--data-dir"]).arg(data_dir);
    configure(&mut command);
    let mut child = command
        .envs(ports.env.iter().map(|(name, value)| (name, value)))
        .env(
            "RUST_LOG",
            "info,mcp_oauth_authorization_server::housekeeping=debug",
        )
        .stdout(Stdio::piped())
        .stderr(log_file(data_dir))
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
    (Stack { child }, lines)
}

/// The log (stderr) of `dev`, appended to `dev.log` beside the data directory.
fn log_file(data_dir: &std::path::Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(data_dir))
        .unwrap()
}

fn log_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.parent().unwrap().join("dev.log")
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

/// Signs in through the demo client at `base` with the printed demo credentials, fetches
/// MCP data and returns the client id the page shows.
async fn log_in_and_fetch(base: &str, password: &str) -> String {
    let mut browser = Browser::new(base);
    let authorization = browser.start_login().await;
    // The demo user's credentials, as printed.
    let mut page = browser.get(authorization.as_str()).await;
    page = browser.follow(page).await;
    let csrf = page
        .hidden("csrf_token")
        .unwrap_or_else(|| panic!("{base}: not the sign-in page: {}", page.body));
    let return_to = page.hidden("return_to").unwrap();
    let login = page.url.join("/login").unwrap();
    let answer = browser
        .post(
            login.as_str(),
            &[
                ("email", "demo@example.com".to_owned()),
                ("password", password.to_owned()),
                ("csrf_token", csrf),
                ("return_to", return_to),
            ],
        )
        .await;
    let mut home = browser.follow(answer).await;
    if !home.url.as_str().starts_with(base) {
        // The consent page (a consent given before is remembered).
        let consent = home;
        let fields = [
            ("csrf_token", consent.hidden("csrf_token").unwrap()),
            (
                "request",
                consent
                    .hidden("request")
                    .unwrap_or_else(|| panic!("{base}: not the consent page: {}", consent.body)),
            ),
            ("decision", "allow".to_owned()),
        ];
        let url = consent.url.join("/authorize").unwrap();
        let answer = browser.post(url.as_str(), &fields).await;
        home = browser.callback(answer.location().unwrap()).await;
    }
    assert_eq!(home.status_text(), "Signed in", "{}", home.body);
    let home = browser.fetch().await;
    assert!(home.element("error").is_none(), "{}", home.body);
    assert!(home.tools().iter().any(|tool| tool == "whoami"));
    let registration = home.element("registration").unwrap();
    let start = registration.find("class=\"client-id\">").unwrap() + "class=\"client-id\">".len();
    let end = start + registration[start..].find('<').unwrap();
    web::decode_entities(&registration[start..end])
}

#[tokio::test]
async fn dev_starts_the_whole_stack_and_keeps_its_users_and_clients_across_restarts() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let ports = Ports::new();
    let (stack, lines) = start(data.as_path(), &ports);
    let printed = lines.join("\n");
    let metadata: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-authorization-server",
        ports.issuer
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["issuer"], ports.issuer);
    let prm: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        ports.mcp.trim_end_matches("/mcp")
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(prm["authorization_servers"][0], ports.issuer);
    // Each of the five servers has its health routes, and becomes ready (the MCP server once
    // it has the authorization server's keys).
    let mcp_origin = ports.mcp.trim_end_matches("/mcp").to_owned();
    for base in [
        &ports.issuer,
        &mcp_origin,
        &ports.client,
        &ports.auto_client,
        &ports.cimd_client,
    ] {
        assert_eq!(wait_for(&format!("{base}/healthz")).await.status(), 200);
        let deadline = Instant::now() + Duration::from_secs(30);
        while wait_for(&format!("{base}/readyz")).await.status() != 200 {
            assert!(Instant::now() < deadline, "{base} never ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for base in [&ports.client, &ports.auto_client, &ports.cimd_client] {
        let home = wait_for(&format!("{base}/")).await;
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("Signed out"));
        assert!(
            printed.contains(base.as_str()),
            "{base} not printed:\n{printed}"
        );
    }
    let document: serde_json::Value =
        wait_for(&format!("{}/client-metadata.json", ports.cimd_client))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        document["client_id"],
        format!("{}/client-metadata.json", ports.cimd_client)
    );
    let password_line = lines
        .iter()
        .find(|line| line.contains("as demo@example.com / "))
        .unwrap_or_else(|| panic!("no demo credentials in:\n{printed}"));
    let password = password_line.rsplit(" / ").next().unwrap().to_owned();

    // The pre-registered client (registered by dev) and the CIMD client (whose loopback
    // document the authorization server fetches in dev) complete a whole login.
    assert_eq!(
        log_in_and_fetch(&ports.client, &password).await,
        "mcp-oauth-demo-client"
    );
    assert_eq!(
        log_in_and_fetch(&ports.cimd_client, &password).await,
        format!("{}/client-metadata.json", ports.cimd_client)
    );
    let auto_client_id = log_in_and_fetch(&ports.auto_client, &password).await;

    // A key rotated by the admin command while the stack runs is published and signs the
    // next tokens, which the running MCP server accepts, with no restart.
    let rotated = Command::new(BINARY)
        .args(["admin", "--data-dir"])
        .arg(data.as_path())
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let kid = String::from_utf8(rotated.stdout)
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jwks: serde_json::Value = wait_for(&format!("{}/jwks.json", ports.issuer))
            .await
            .json()
            .await
            .unwrap();
        if jwks["keys"][0]["kid"] == kid.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "{kid} never published: {jwks}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        log_in_and_fetch(&ports.client, &password).await,
        "mcp-oauth-demo-client"
    );

    // SIGINT (Ctrl-C) stops everything cleanly.
    #[cfg(unix)]
    {
        let mut stack = stack;
        let status = Command::new("kill")
            .args(["-INT", &stack.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = stack.child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
        use std::os::unix::fs::PermissionsExt;
        for file in [
            "demo-user.txt",
            "demo-client.txt",
            "mcp-server-client.txt",
            "auto-client-registration.json",
        ] {
            let mode = std::fs::metadata(data.as_path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let client_file = std::fs::read_to_string(data.as_path().join("demo-client.txt")).unwrap();
        assert!(
            !printed.contains(client_file.lines().nth(1).unwrap()),
            "the client secret is not printed"
        );
    }
    #[cfg(not(unix))]
    drop(stack);

    // The log names what happened but holds no secret: no JWT, no client secret.
    let log = std::fs::read_to_string(log_path(data.as_path())).unwrap();
    assert!(log.contains("signed in"), "{log}");
    assert!(
        log.contains("purged expired"),
        "the store is purged from the start: {log}"
    );
    assert!(!log.contains("eyJ"), "a JWT in the log:\n{log}");
    let client_file = std::fs::read_to_string(data.as_path().join("demo-client.txt")).unwrap();
    let secret = client_file.lines().nth(1).unwrap();
    assert!(!log.contains(secret), "the client secret in the log");

    // A second start finds the same user, tells the same password, and the pre-registered
    // client and the auto-client's registration still work.
    let (_stack, lines) = start(data.as_path(), &ports);
    assert!(
        lines
            .iter()
            .any(|line| line.ends_with(&format!("as demo@example.com / {password}"))),
        "{}",
        lines.join("\n")
    );
    wait_for(&format!("{}/", ports.client)).await;
    assert_eq!(
        log_in_and_fetch(&ports.client, &password).await,
        "mcp-oauth-demo-client"
    );
    assert_eq!(
        log_in_and_fetch(&ports.auto_client, &password).await,
        auto_client_id
    );
}

#[cfg(unix)]
#[test]
fn dev_makes_the_secret_files_it_finds_readable_by_others_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (first, lines) = start(data.as_path(), &Ports::new());
    assert!(lines.last().unwrap().contains("Ctrl-C stops everything"));
    drop(first);
    // As a release before the check left them: `dev` made its directory with the umask, and a
    // registration may have been copied in.
    std::fs::write(data.join("auto-client-registration.json"), "{}").unwrap();
    set_mode(&data, 0o755);
    for file in std::fs::read_dir(&data).unwrap() {
        set_mode(&file.unwrap().path(), 0o644);
    }

    let (again, lines) = start(data.as_path(), &Ports::new());

    assert!(
        lines.last().unwrap().contains("Ctrl-C stops everything"),
        "{lines:?}"
    );
    assert_eq!(mode(&data), 0o700);
    for file in [
        "demo-user.txt",
        "demo-client.txt",
        "auto-client-registration.json",
        "mcp-oauth.db",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    drop(again);
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_puts_the_stack_in_front_of_a_stdio_server_with_the_readmes_command() {
    let Some((node, server)) = peers::everything_command() else {
        return;
    };
    // The directory the test command installed server-everything in: there `npx` runs that
    // copy instead of downloading one.
    let installed = Path::new(&server).ancestors().nth(5).unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(Path::new(&node).parent().unwrap().to_owned()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let ports = Ports::new();
    // README, "Protect your own MCP server".
    let readme = "mcp-oauth dev -- npx -y @modelcontextprotocol/server-everything";
    let (_stack, _) = start_with(data.as_path(), &ports, |command| {
        command
            .args(readme.split(' ').skip(2))
            .current_dir(&installed)
            .env("PATH", &path);
    });
    wait_for(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        ports.mcp.trim_end_matches("/mcp")
    ))
    .await;
    let demo_user = std::fs::read_to_string(data.join("demo-user.txt")).unwrap();
    let (email, password) = demo_user.trim().split_once('\n').unwrap();

    // README: mcp-oauth call http://localhost:3001/mcp echo --args '{"message":"hi"}'
    let home = tempfile::tempdir().unwrap();
    let mut command = call(home.path());
    command
        .args(["--no-browser", "--port", &free_port().to_string()])
        .args(["--login-timeout-secs", "30", &ports.mcp, "echo"])
        .args(["--args", r#"{"message":"hi"}"#]);
    let echoed = run_signing_in(command, &Person::signing_in_as(email, password)).await;
    assert_success(&echoed);
    assert!(stdout(&echoed).contains("Echo: hi"), "{}", stdout(&echoed));
}

#[tokio::test]
async fn clients_can_ask_dev_for_every_scope_its_proxy_rules_need() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let ports = Ports::new();
    // Nothing listens upstream: this is about what the two servers advertise.
    let (_stack, _) = start_with(data.as_path(), &ports, |command| {
        command
            .args(["--upstream-url", "http://127.0.0.1:9/mcp"])
            .args(["--tool-scope", "echo=tools:echo"])
            .args(["--default-scope", "tools:other"]);
    });
    let metadata: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-authorization-server",
        ports.issuer
    ))
    .await
    .json()
    .await
    .unwrap();
    let supported = metadata["scopes_supported"].as_array().unwrap();
    for scope in ["tools:echo", "tools:other", "mcp:read", "mcp:write"] {
        assert!(supported.contains(&json!(scope)), "{scope}: {metadata}");
    }
    let resource: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        ports.mcp.trim_end_matches("/mcp")
    ))
    .await
    .json()
    .await
    .unwrap();
    let advertised = resource["scopes_supported"].as_array().unwrap();
    assert!(advertised.contains(&json!("tools:echo")), "{resource}");
}

#[tokio::test]
async fn dev_with_a_second_authorization_server_lets_call_choose_and_remembers_it() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut ports = Ports::new();
    let second_port = free_port();
    let second = format!("http://127.0.0.1:{second_port}");
    ports.env.extend([
        (
            "SECOND_AUTH_SERVER_BIND",
            format!("127.0.0.1:{second_port}"),
        ),
        ("SECOND_AUTH_SERVER_ISSUER", second.clone()),
    ]);
    let (_stack, lines) = start_with(data.as_path(), &ports, |command| {
        command.arg("--second-authorization-server");
    });
    let output = lines.join("\n");
    assert!(
        output.contains(&format!(
            "also trusts a second authorization server, {second}"
        )),
        "{output}"
    );
    let metadata: serde_json::Value = wait_for(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        ports.mcp.trim_end_matches("/mcp")
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        metadata["authorization_servers"],
        json!([ports.issuer, second]),
        "{metadata}"
    );
    wait_for(&format!("{second}/.well-known/oauth-authorization-server")).await;
    let demo_user = std::fs::read_to_string(data.join("demo-user.txt")).unwrap();
    let (email, password) = demo_user.trim().split_once('\n').unwrap();
    assert!(
        data.join("second-authorization-server/demo-user.txt")
            .exists(),
        "the demo user exists at the second server too"
    );

    let home = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let run_call = |extra: &[&str]| {
        let mut command = call(home.path());
        command
            .args([
                "--no-browser",
                "--port",
                &port,
                "--login-timeout-secs",
                "30",
            ])
            .arg(&ports.mcp)
            .args(extra)
            .arg("whoami");
        command
    };
    let person = Person::signing_in_as(email, password);
    let chosen = run_signing_in(run_call(&["--authorization-server", &second]), &person).await;
    assert_success(&chosen);
    assert!(
        person.last_url().as_str().starts_with(&second),
        "signed in at the second server: {}",
        person.last_url()
    );
    let credentials =
        std::fs::read_to_string(home.path().join("mcp-oauth/credentials.json")).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&credentials).unwrap();
    assert!(
        stored["issuers"][&second]["tokens"][&ports.mcp].is_object(),
        "{stored:#}"
    );
    assert!(stored["issuers"].get(&ports.issuer).is_none(), "{stored:#}");

    // Remembered: without the flag the tokens of the second server are used, no sign-in.
    let again = call_support::run(run_call(&[])).await;
    assert_success(&again);
    assert!(
        call_support::stderr(&again).contains("lists several authorization servers"),
        "{}",
        call_support::stderr(&again)
    );
    assert_eq!(person.count(), 1, "no second sign-in");

    // A server the MCP server does not list is refused, naming the ones it lists.
    let refused =
        call_support::run(run_call(&["--authorization-server", "http://127.0.0.1:9/"])).await;
    assert!(!refused.status.success());
    let stderr = call_support::stderr(&refused);
    assert!(
        stderr.contains("does not list the authorization server `http://127.0.0.1:9/`")
            && stderr.contains(&second),
        "{stderr}"
    );
}
