//! `mcp-oauth dev --env-dir DIR` on directories laid out as `mcp-oauth deploy` writes them
//! (written by hand here, and once by `deploy` itself on moto): a gateway-mode one runs the
//! gateway against moto (pool, resource server and registry table in moto) and the three demo
//! clients, each configured by its own file even though the environment names another MCP
//! server; a serverless one runs only the clients and prints the function's URLs; SIGINT
//! stops everything with exit 0; and bad directories and files are refused with a message
//! that says what to do, before anything starts.
//!
//! The gateway-mode tests need `MOTO_ENDPOINT` (scripts/services/moto.sh); without it they
//! pass after a skip notice unless `MCP_OAUTH_REQUIRE_SERVICES=1`.

mod gateway_support;
#[path = "../../demo/tests/web/mod.rs"]
mod web;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gateway_support::{Moto, Running, free_port};
use serde_json::{Value, json};
use web::Browser;

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// The MCP server the environment names: the files must win over it.
const DECOY_MCP_URL: &str = "http://127.0.0.1:9/not-this-one/mcp";

/// Writes `DIR/<component>/.env` from `vars`.
fn write_env(dir: &Path, component: &str, vars: &[(&str, String)]) {
    std::fs::create_dir_all(dir.join(component)).unwrap();
    let mut text = format!("# Written by hand as `mcp-oauth deploy` writes it ({component}).\n");
    for (name, value) in vars {
        text.push_str(&format!("{name}={value}\n"));
    }
    std::fs::write(dir.join(component).join(".env"), text).unwrap();
}

/// Writes deploy's manifest with `extra` fields (the mode, say).
fn write_manifest(dir: &Path, components: &[&str], extra: Value) {
    let mut manifest = json!({
        "stack": "mcp-oauth",
        "region": "us-east-1",
        "files": components.iter().map(|c| format!("{c}/.env")).collect::<Vec<_>>(),
        "created_dirs": components,
        "created_root": true,
    });
    for (key, value) in extra.as_object().unwrap() {
        manifest[key] = value.clone();
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("mcp-oauth-deploy.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// Where the three demo clients listen.
struct Clients {
    client: String,
    auto_client: String,
    cimd_client: String,
}

impl Clients {
    /// Writes the three clients' files for the MCP server `mcp_url` and the issuer `issuer`;
    /// the CIMD client's bind comes from the environment ([`Clients::env`]), not its file.
    fn write(dir: &Path, mcp_url: &str, issuer: &str, client_id: &str, secret: &str) -> Self {
        let [client, auto, cimd] = [(); 3].map(|()| free_port());
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let bind = |port: u16| format!("127.0.0.1:{port}");
        write_env(
            dir,
            "client",
            &[
                ("MCP_SERVER_URL", mcp_url.to_owned()),
                ("AUTH_SERVER_ISSUER", issuer.to_owned()),
                ("MCP_OAUTH_ISSUER", issuer.to_owned()),
                ("MCP_OAUTH_CLIENT_ID", client_id.to_owned()),
                ("MCP_OAUTH_CLIENT_SECRET", format!("'{secret}'")),
                ("CLIENT_BIND", bind(client)),
                ("CLIENT_URL", url(client)),
            ],
        );
        write_env(
            dir,
            "auto-client",
            &[
                ("MCP_SERVER_URL", mcp_url.to_owned()),
                ("AUTO_CLIENT_BIND", bind(auto)),
                ("AUTO_CLIENT_URL", url(auto)),
            ],
        );
        write_env(
            dir,
            "cimd-client",
            &[
                ("MCP_SERVER_URL", mcp_url.to_owned()),
                ("CIMD_CLIENT_URL", url(cimd)),
            ],
        );
        Self {
            client: url(client),
            auto_client: url(auto),
            cimd_client: url(cimd),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let port = self.cimd_client.rsplit(':').next().unwrap();
        vec![("CIMD_CLIENT_BIND", format!("127.0.0.1:{port}"))]
    }

    fn all(&self) -> [&str; 3] {
        [&self.client, &self.auto_client, &self.cimd_client]
    }
}

/// `mcp-oauth dev --env-dir <dir>` with a clean environment (only `env`, a decoy
/// `MCP_SERVER_URL` and dummy AWS credentials), in a working directory without `.env`.
fn dev(dir: &Path, data: &Path, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("dev")
        .arg("--env-dir")
        .arg(dir)
        .arg("--data-dir")
        .arg(data)
        .env_clear()
        .env("MCP_SERVER_URL", DECOY_MCP_URL)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .current_dir(data.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `command`, its log (stderr) going to `log`, and reads its output up to the last
/// line of its instructions.
fn start(mut command: Command, log: &Path) -> (Running, String) {
    let mut child = command
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in stdout.lines().map_while(Result::ok) {
        let done = line.contains("Ctrl-C stops everything");
        lines.push(line);
        if done {
            return (Running(child), lines.join("\n"));
        }
    }
    let _ = child.wait();
    panic!(
        "dev stopped before its instructions:\n{}\n{}",
        lines.join("\n"),
        std::fs::read_to_string(log).unwrap_or_default()
    );
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

/// The authorization server metadata the gateway at `gateway_url` publishes, once it answers.
async fn gateway_metadata(gateway_url: &str) -> Value {
    wait_for(&format!(
        "{gateway_url}/.well-known/oauth-authorization-server"
    ))
    .await
    .json()
    .await
    .unwrap()
}

/// Every client answers on its port, signed out, and was printed.
async fn assert_clients_answer(clients: &Clients, printed: &str) {
    for base in clients.all() {
        assert_eq!(wait_for(&format!("{base}/healthz")).await.status(), 200);
        let home = wait_for(&format!("{base}/")).await;
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("Signed out"));
        assert!(printed.contains(base), "{base} not printed:\n{printed}");
    }
}

/// SIGINT (Ctrl-C) stops everything with exit status 0.
#[cfg(unix)]
fn interrupt(mut running: Running) {
    let status = Command::new("kill")
        .args(["-INT", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = running.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[cfg(not(unix))]
fn interrupt(running: Running) {
    drop(running);
}

#[tokio::test]
async fn runs_the_gateway_and_the_clients_of_a_gateway_mode_directory() {
    let Some(moto) = Moto::from_env("runs_the_gateway_and_the_clients_of_a_gateway_mode_directory")
    else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mcp-oauth-env");
    let data = root.path().join("data");
    let port = free_port();
    let gateway_url = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{gateway_url}/mcp");
    let domain = "https://env-dir.auth.us-east-1.amazoncognito.com";

    // What the stack would hold: the pool with its resource server and app client, and the
    // registry table.
    let pool_id = moto.pool(&[&mcp_url]).await;
    let table = format!("dev-env-dir-{port}");
    moto.registry_table(&table).await;

    let components = ["gateway", "client", "auto-client", "cimd-client"];
    write_manifest(&dir, &components, json!({"mode": "gateway"}));
    let issuer = format!("{endpoint}/{pool_id}");
    write_env(
        &dir,
        "gateway",
        &[
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("MCP_SERVER_URL", mcp_url.clone()),
            ("GATEWAY_URL", gateway_url.clone()),
            ("GATEWAY_BIND", format!("127.0.0.1:{port}")),
            ("COGNITO_USER_POOL_ID", pool_id.clone()),
            ("COGNITO_DOMAIN_URL", domain.to_owned()),
            ("COGNITO_REGISTRY_TABLE", table.clone()),
            ("COGNITO_ISSUER", issuer.clone()),
            ("COGNITO_ISSUERS", issuer),
            ("COGNITO_CLIENT_IDS", "static-app-client".to_owned()),
            ("MCP_SCOPE_READ", format!("{mcp_url}/mcp.read")),
            ("MCP_SCOPE_WRITE", format!("{mcp_url}/mcp.write")),
        ],
    );
    let secret = "static client secret";
    let clients = Clients::write(&dir, &mcp_url, &gateway_url, "static-app-client", secret);

    let (running, printed) = start(
        dev(&dir, &data, &clients.env()),
        &root.path().join("dev.log"),
    );

    // The gateway, configured by gateway/.env: its issuer, the scopes read from the pool's
    // resource server, the MCP server listing it.
    let metadata = gateway_metadata(&gateway_url).await;
    assert_eq!(metadata["issuer"], gateway_url);
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{domain}/oauth2/authorize")
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!([
            format!("{mcp_url}/mcp.read"),
            format!("{mcp_url}/mcp.write")
        ])
    );
    let prm: Value = wait_for(&format!(
        "{gateway_url}/.well-known/oauth-protected-resource/mcp"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(prm["authorization_servers"], json!([gateway_url]));
    assert_clients_answer(&clients, &printed).await;
    assert!(printed.contains(&mcp_url), "{printed}");
    assert!(!printed.contains(DECOY_MCP_URL), "{printed}");
    assert!(!printed.contains(secret), "the client secret is printed");

    // The pre-registered client uses its file's MCP server, issuer and client id: its login
    // goes to the pool's hosted page with the stack's app client.
    let login = Browser::new(&clients.client).start_login().await;
    assert_eq!(
        login.as_str().split('?').next().unwrap(),
        format!("{domain}/oauth2/authorize")
    );
    let client_id = |url: &url::Url| {
        url.query_pairs()
            .find(|(name, _)| name == "client_id")
            .map(|(_, value)| value.into_owned())
            .unwrap()
    };
    assert_eq!(client_id(&login), "static-app-client");

    // The auto-client registers through the gateway, which creates an app client in the pool
    // and records it in the table gateway/.env names.
    let login = Browser::new(&clients.auto_client).start_login().await;
    let registered = client_id(&login);
    assert!(moto.has_app_client(&pool_id, &registered).await);
    let item = moto
        .dynamodb(
            "GetItem",
            json!({"TableName": table, "Key": {"client_id": {"S": registered}}}),
        )
        .await;
    assert!(item.get("Item").is_some(), "{item}");
    assert!(data.join("auto-client-registration.json").is_file());

    interrupt(running);
}

/// The template subset moto's CloudFormation can create (see deploy_command.rs).
const MOTO_TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cognito/template/moto-subset.yaml"
);

#[tokio::test]
async fn runs_a_directory_deploy_wrote_with_the_binds_from_the_environment() {
    let Some(moto) =
        Moto::from_env("runs_a_directory_deploy_wrote_with_the_binds_from_the_environment")
    else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let [port, client_port, auto_port, cimd_port] = [(); 4].map(|()| free_port());
    let gateway_url = format!("http://127.0.0.1:{port}");
    let mcp_url = format!("{gateway_url}/mcp");
    let client_url = format!("http://127.0.0.1:{client_port}");
    // The pool, its resource server and the static app client, which the real template makes
    // and moto's CloudFormation cannot.
    let pool_id = moto.pool(&[&mcp_url]).await;
    let app_client = moto
        .cognito(
            "CreateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientName": "static", "GenerateSecret": true}),
        )
        .await;
    let client_id = app_client["UserPoolClient"]["ClientId"].as_str().unwrap();

    let deployed = Command::new(BINARY)
        .current_dir(root.path())
        .env_clear()
        .envs([
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .args(["deploy", "--stack-name", &format!("dev-env-dir-{port}")])
        .args(["--env-dir", "mcp-oauth-env", "--poll-secs", "0"])
        .args([
            "--domain-prefix",
            "dev-env-dir",
            "--template",
            MOTO_TEMPLATE,
        ])
        .args([
            "--parameter",
            &format!("UserPoolId={pool_id},AppClientId={client_id}"),
        ])
        .args(["--mcp-server-url", &mcp_url, "--gateway-url", &gateway_url])
        .args(["--client-callback-url", &format!("{client_url}/callback")])
        .output()
        .unwrap();
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );

    // deploy writes no binds: they come from the environment, as for each command.
    let env = [
        ("GATEWAY_BIND", format!("127.0.0.1:{port}")),
        ("CLIENT_BIND", format!("127.0.0.1:{client_port}")),
        ("CLIENT_URL", client_url.clone()),
        ("AUTO_CLIENT_BIND", format!("127.0.0.1:{auto_port}")),
        ("CIMD_CLIENT_BIND", format!("127.0.0.1:{cimd_port}")),
    ];
    let (running, printed) = start(
        dev(&root.path().join("mcp-oauth-env"), &data, &env),
        &root.path().join("dev.log"),
    );
    let metadata = gateway_metadata(&gateway_url).await;
    assert_eq!(metadata["issuer"], gateway_url);
    assert_eq!(
        metadata["authorization_endpoint"],
        "https://dev-env-dir.auth.us-east-1.amazoncognito.com/oauth2/authorize"
    );
    for port in [auto_port, cimd_port] {
        let home = wait_for(&format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(home.status(), 200);
    }
    assert!(printed.contains(client_id), "{printed}");
    let login = Browser::new(&client_url).start_login().await;
    assert!(
        login
            .query_pairs()
            .any(|(name, value)| name == "client_id" && value == client_id),
        "{login}"
    );
    interrupt(running);
}

#[tokio::test]
async fn runs_only_the_clients_of_a_serverless_directory_and_prints_the_function_urls() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mcp-oauth-env");
    let data = root.path().join("data");
    // A function URL as Lambda gives it (nothing answers there: the clients call it only
    // when someone logs in).
    let function_url = format!("http://127.0.0.1:{}/", free_port());
    let mcp_url = format!("{function_url}mcp");
    let components = ["client", "auto-client", "cimd-client"];
    write_manifest(
        &dir,
        &components,
        json!({"mode": "serverless", "serverless_url": function_url}),
    );
    let clients = Clients::write(
        &dir,
        &mcp_url,
        function_url.trim_end_matches('/'),
        "static-app-client",
        "s3cr3t",
    );
    // The environment names a gateway too: it must not start.
    let gateway_port = free_port();
    let mut env = clients.env();
    env.push(("GATEWAY_BIND", format!("127.0.0.1:{gateway_port}")));

    // A variable no flag reads, which therefore has no effect: reported.
    let client_file = dir.join("client").join(".env");
    let text = std::fs::read_to_string(&client_file).unwrap();
    std::fs::write(&client_file, format!("{text}AWS_PROFILE=demo\n")).unwrap();

    let log = root.path().join("dev.log");
    let (running, printed) = start(dev(&dir, &data, &env), &log);

    assert_clients_answer(&clients, &printed).await;
    let base = function_url.trim_end_matches('/');
    for url in [
        mcp_url.clone(),
        format!("{base}/.well-known/oauth-protected-resource/mcp"),
        format!("{base}/.well-known/oauth-authorization-server"),
        format!("{base}/register"),
    ] {
        assert!(printed.contains(&url), "{url} not printed:\n{printed}");
    }
    assert!(printed.contains("AWS Lambda"), "{printed}");
    assert!(!printed.contains("gateway listening"), "{printed}");
    assert!(
        reqwest::get(format!("http://127.0.0.1:{gateway_port}/healthz"))
            .await
            .is_err(),
        "a gateway was started"
    );
    interrupt(running);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("client/.env: no flag of mcp-oauth reads AWS_PROFILE"),
        "{log}"
    );
    assert!(
        !log.contains("MCP_SERVER_URL"),
        "only AWS_PROFILE is reported: {log}"
    );
}

/// Runs `dev --env-dir` on `dir` to its end.
fn refused(dir: &Path) -> String {
    let data = dir.parent().unwrap().join("data");
    let Output { status, stderr, .. } = dev(dir, &data, &[]).output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn refuses_what_it_cannot_run_and_says_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mcp-oauth-env");
    let mcp_url = "https://f.lambda-url.us-east-1.on.aws/mcp";
    let issuer = "https://f.lambda-url.us-east-1.on.aws";

    let stderr = refused(&dir);
    assert!(stderr.contains("is not a directory"), "{stderr}");
    assert!(stderr.contains("mcp-oauth deploy --env-dir"), "{stderr}");

    std::fs::create_dir_all(&dir).unwrap();
    let stderr = refused(&dir);
    assert!(stderr.contains("has no mcp-oauth-deploy.json"), "{stderr}");

    std::fs::write(dir.join("mcp-oauth-deploy.json"), "{ not json").unwrap();
    let stderr = refused(&dir);
    assert!(stderr.contains("not a manifest written by"), "{stderr}");

    write_manifest(&dir, &[], json!({"mode": "federated"}));
    let stderr = refused(&dir);
    assert!(stderr.contains("federated-mode deployment"), "{stderr}");

    write_manifest(&dir, &[], json!({"mode": "serverless"}));
    let stderr = refused(&dir);
    assert!(stderr.contains("serverless_url"), "{stderr}");

    write_manifest(&dir, &[], json!({"mode": "edge"}));
    let stderr = refused(&dir);
    assert!(stderr.contains("mode `edge`"), "{stderr}");

    write_manifest(&dir, &[], json!({"mode": "gateway"}));
    let stderr = refused(&dir);
    assert!(stderr.contains("gateway/.env is missing"), "{stderr}");

    // A gateway file without the pool: named by its variable, before any AWS call.
    write_env(
        &dir,
        "gateway",
        &[
            ("AWS_REGION", "us-east-1".to_owned()),
            (
                "COGNITO_DOMAIN_URL",
                "https://d.auth.us-east-1.amazoncognito.com".to_owned(),
            ),
            ("COGNITO_REGISTRY_TABLE", "t".to_owned()),
        ],
    );
    let stderr = refused(&dir);
    assert!(stderr.contains("gateway/.env"), "{stderr}");
    assert!(stderr.contains("COGNITO_USER_POOL_ID"), "{stderr}");
    assert!(!stderr.contains("--user-pool-id"), "{stderr}");

    write_manifest(
        &dir,
        &[],
        json!({"mode": "serverless", "serverless_url": format!("{issuer}/")}),
    );
    let stderr = refused(&dir);
    assert!(stderr.contains("client/.env is missing"), "{stderr}");

    Clients::write(&dir, mcp_url, issuer, "app-client", "s3cr3t");
    // A broken line, holding a secret that must not be echoed.
    std::fs::write(
        dir.join("client").join(".env"),
        "MCP_SERVER_URL=https://f.lambda-url.us-east-1.on.aws/mcp\n\
         MCP_OAUTH_CLIENT_SECRET='s3cr3t\n",
    )
    .unwrap();
    let stderr = refused(&dir);
    assert!(
        stderr.contains("client/.env: line 2 (MCP_OAUTH_CLIENT_SECRET=…)"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");

    Clients::write(&dir, mcp_url, issuer, "app-client", "s3cr3t");
    write_env(
        &dir,
        "auto-client",
        &[
            ("MCP_SERVER_URL", mcp_url.to_owned()),
            ("AUTO_CLIENT_BIND", "nowhere".to_owned()),
        ],
    );
    let stderr = refused(&dir);
    assert!(stderr.contains("auto-client/.env"), "{stderr}");
    assert!(stderr.contains("AUTO_CLIENT_BIND"), "{stderr}");
}
