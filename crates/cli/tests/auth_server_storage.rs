//! `mcp-oauth auth-server` and `mcp-oauth admin` on their SQLite data directory: everything
//! they write is owner-only, loose modes of this user's are tightened, a shared directory is
//! refused with the command that fixes it, a damaged or empty database file is refused at once
//! with its cause, signing keys encrypted at rest need their key, and a server killed with
//! SIGKILL has lost nothing it acknowledged.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mcp_oauth_authorization_server::store::{
    AuditEventKind, AuditFilter, AuditStore, ClientStore, SqlStore,
};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// How long a server may take to either listen or give up: generous, since a refusal must come
/// within seconds (it used to take 30 s of retries).
const START_LIMIT: Duration = Duration::from_secs(20);

/// A base64 key encryption key (32 bytes), and another one.
const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mcp-oauth <head> --data-dir <data_dir> <tail>` with no storage settings from the
/// environment.
fn command(head: &[&str], data_dir: &Path, tail: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(head)
        .arg("--data-dir")
        .arg(data_dir)
        .args(tail);
    for variable in [
        "DATABASE_URL",
        "MCP_OAUTH_DATA_DIR",
        "MCP_OAUTH_INIT_EMPTY_DATABASE",
        "MCP_OAUTH_KEY_ENCRYPTION_KEY",
        "MCP_OAUTH_KEY_ENCRYPTION_KEY_FILE",
        "RUST_LOG",
    ] {
        command.env_remove(variable);
    }
    command
}

/// `mcp-oauth auth-server` on a free port.
fn auth_server(data_dir: &Path) -> Command {
    auth_server_on(data_dir, free_port())
}

/// `mcp-oauth auth-server` on `port`.
fn auth_server_on(data_dir: &Path, port: u16) -> Command {
    let mut command = command(
        &["auth-server"],
        data_dir,
        &[
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// How a server start ended.
enum Started {
    /// It listens; killed when dropped.
    Listening(Server),
    /// It exited; its output.
    Exited(Output),
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits until it listens or exits, at most [`START_LIMIT`].
fn start(mut command: Command) -> Started {
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (listening, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.contains("Authorization server listening") {
                let _ = listening.send(());
            }
        }
    });
    match heard.recv_timeout(START_LIMIT) {
        Ok(()) => Started::Listening(Server(child)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Started::Exited(child.wait_with_output().unwrap())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "neither listening nor exited within {START_LIMIT:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Starts `command`, which must listen.
fn listening(command: Command) -> Server {
    match start(command) {
        Started::Listening(server) => server,
        Started::Exited(output) => panic!(
            "the server exited: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Starts `command`, which must refuse to start; its error output.
fn refused(command: Command) -> String {
    match start(command) {
        Started::Listening(_) => panic!("the server started"),
        Started::Exited(output) => {
            assert!(!output.status.success());
            String::from_utf8(output.stderr).unwrap()
        }
    }
}

/// `mcp-oauth admin --data-dir <data_dir> <args>`.
fn admin(data_dir: &Path, args: &[&str]) -> Command {
    command(&["admin"], data_dir, args)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn the_server_writes_its_data_directory_for_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let server = listening(auth_server(&data_dir));

    // It generated its signing key and purged once: the database and SQLite's files exist.
    let files = files_in(&data_dir);
    assert!(files.contains(&"mcp-oauth.db-wal".to_owned()), "{files:?}");
    for file in &files {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&data_dir), 0o700);
    drop(server);
}

#[cfg(unix)]
#[test]
fn loose_modes_are_tightened_and_a_shared_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    drop(listening(auth_server(&data_dir)));
    // As a release before the check left them.
    set_mode(&data_dir, 0o755);
    for file in files_in(&data_dir) {
        set_mode(&data_dir.join(file), 0o644);
    }

    let server = start(auth_server(&data_dir));

    let Started::Listening(server) = server else {
        panic!("a directory of this user's is tightened, not refused");
    };
    assert_eq!(mode(&data_dir), 0o700);
    for file in files_in(&data_dir) {
        assert_eq!(mode(&data_dir.join(&file)), 0o600, "{file}");
    }
    drop(server);

    set_mode(&data_dir, 0o775);
    let error = refused(auth_server(&data_dir));
    assert!(
        error.contains("may be written to by its group or others"),
        "{error}"
    );
    assert!(
        error.contains(&format!("`chmod 700 {}`", data_dir.display())),
        "{error}"
    );
    assert_eq!(mode(&data_dir), 0o775, "left for a person to decide");
}

/// A data directory whose database holds a user.
fn data_dir_with_a_database(dir: &Path) -> std::path::PathBuf {
    let data_dir = dir.join("data");
    let added = admin(&data_dir, &["users", "add", "--email", "kept@example.com"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    data_dir
}

/// Moves every page of the database into its file, as closing its last connection does.
fn checkpoint(data_dir: &Path) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        SqlStore::open_sqlite_dir(data_dir)
            .await
            .unwrap()
            .close()
            .await;
    });
    assert!(!data_dir.join("mcp-oauth.db-wal").exists());
}

#[test]
fn damaged_or_empty_database_files_are_refused_at_once_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = data_dir_with_a_database(dir.path());
    let file = data_dir.join("mcp-oauth.db");
    checkpoint(&data_dir);
    let real = std::fs::read(&file).unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "garbage",
            b"this is not a database\n".repeat(200),
            "is not a SQLite database",
        ),
        (
            "truncated",
            real[..real.len() / 2].to_vec(),
            "is a damaged SQLite database",
        ),
        ("empty", Vec::new(), "is empty (0 bytes)"),
    ];
    for (case, contents, cause) in cases {
        std::fs::write(&file, &contents).unwrap();

        let error = refused(auth_server(&data_dir));

        assert!(error.contains(cause), "{case}: {error}");
        assert!(
            error.contains(&file.display().to_string()),
            "{case}: {error}"
        );
        assert!(!error.contains("pool timed out"), "{case}: {error}");
        assert_eq!(std::fs::read(&file).unwrap(), contents, "{case}: untouched");
        if case == "empty" {
            assert!(error.contains("--init-empty-database"), "{error}");
        }
    }
}

#[test]
fn an_empty_database_file_is_initialised_when_told_to() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let file = data_dir.join("mcp-oauth.db");
    std::fs::write(&file, b"").unwrap();

    let mut told = auth_server(&data_dir);
    told.arg("--init-empty-database");
    drop(listening(told));
    assert!(std::fs::metadata(&file).unwrap().len() > 0);

    std::fs::write(&file, b"").unwrap();
    let listed = admin(&data_dir, &["users", "list"])
        .env("MCP_OAUTH_INIT_EMPTY_DATABASE", "true")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
}

/// The `kid` of the first key in the JWKS of the server on `port`.
fn current_kid(port: u16) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let jwks: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"][0]["kid"].as_str().unwrap().to_owned()
    })
}

#[cfg(unix)]
#[test]
fn signing_keys_encrypted_at_rest_need_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let key_file = dir.path().join("kek");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    set_mode(&key_file, 0o600);
    let port = free_port();
    let mut encrypting = auth_server_on(&data_dir, port);
    encrypting
        .env("MCP_OAUTH_KEY_ENCRYPTION_KEY", KEY)
        .env("AUTH_SERVER_KEY_RELOAD_INTERVAL_SECS", "1");
    let server = listening(encrypting);

    let mut without_key = auth_server(&data_dir);
    without_key.env_remove("MCP_OAUTH_KEY_ENCRYPTION_KEY");
    let error = refused(without_key);
    assert!(error.contains("no key encryption key was given"), "{error}");
    assert!(error.contains("MCP_OAUTH_KEY_ENCRYPTION_KEY"), "{error}");

    let mut wrong_key = auth_server(&data_dir);
    wrong_key.env("MCP_OAUTH_KEY_ENCRYPTION_KEY", OTHER_KEY);
    let error = refused(wrong_key);
    assert!(error.contains("wrong key"), "{error}");
    assert!(
        !error.contains(OTHER_KEY) && !error.contains(KEY),
        "{error}"
    );

    let with_file = |args: &[&str]| {
        let key_file = key_file.to_str().unwrap();
        admin(
            &data_dir,
            &[&["--key-encryption-key-file", key_file], args].concat(),
        )
        .output()
        .unwrap()
    };
    let rotated = with_file(&["keys", "rotate"]);
    assert!(rotated.status.success(), "{rotated:?}");
    // The running server decrypts the rotated key and signs with it, as without encryption.
    let kid = String::from_utf8_lossy(&rotated.stdout)
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + START_LIMIT;
    while current_kid(port) != kid {
        assert!(
            std::time::Instant::now() < deadline,
            "{kid} never published"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    let listed = with_file(&["keys", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
    for output in [&rotated, &listed] {
        let text = format!("{output:?}");
        assert!(!text.contains(KEY), "the key is never shown: {text}");
    }

    let not_a_key = admin(&data_dir, &["keys", "list"])
        .env("MCP_OAUTH_KEY_ENCRYPTION_KEY", "hunter2")
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&not_a_key.stderr);
    assert!(!not_a_key.status.success());
    assert!(error.contains("openssl rand -base64 32"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// Registers `count` clients on the server on `port`, eight at a time; their ids, each
/// acknowledged with 201.
fn register_clients(port: u16, count: usize) -> Vec<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let http = reqwest::Client::new();
        let register = |n: usize| {
            let http = http.clone();
            async move {
                let answer = http
                    .post(format!("http://127.0.0.1:{port}/register"))
                    .json(&serde_json::json!({
                        "client_name": format!("client {n}"),
                        "redirect_uris": ["http://127.0.0.1:4000/callback"],
                        "token_endpoint_auth_method": "none",
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 201);
                let body: serde_json::Value = answer.json().await.unwrap();
                body["client_id"].as_str().unwrap().to_owned()
            }
        };
        let mut ids = Vec::with_capacity(count);
        for batch in (0..count).collect::<Vec<_>>().chunks(8) {
            ids.extend(futures_util::future::join_all(batch.iter().map(|&n| register(n))).await);
        }
        ids
    })
}

#[cfg(unix)]
#[test]
fn a_server_killed_with_sigkill_has_lost_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut command = auth_server_on(&data_dir, port);
    // Its log lines (one per request) would fill a pipe nobody reads.
    command
        .args(["--registrations-per-minute", "100000"])
        .stderr(Stdio::null());
    let server = listening(command);

    let acknowledged = register_clients(port, 200);
    drop(server); // SIGKILL (`Child::kill`), right after the last answer.

    // Killed, not closed: its write-ahead log is still there, holding the registrations.
    assert!(data_dir.join("mcp-oauth.db-wal").exists());
    // It starts again on the same file, and every acknowledged client is there.
    drop(listening(auth_server(&data_dir)));
    let (kept, audited) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = SqlStore::open_sqlite_dir(&data_dir).await.unwrap();
        let clients = store.list_clients().await.unwrap();
        // The audit rows are written on the request's thread, not through the pools.
        let mut registered = AuditFilter::new();
        registered.event = Some(AuditEventKind::ClientRegistered);
        registered.limit = 1_000;
        let audited = store.audit_records(&registered).await.unwrap();
        store.close().await;
        (clients, audited)
    });
    let kept: std::collections::HashSet<&str> = kept
        .iter()
        .map(|client| client.client_id.as_str())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !kept.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "lost {} of 200: {lost:?}", lost.len());
    let audited: std::collections::HashSet<&str> = audited
        .iter()
        .filter_map(|record| record.client_id.as_ref().map(|id| id.as_str()))
        .collect();
    let unaudited = acknowledged
        .iter()
        .filter(|id| !audited.contains(id.as_str()))
        .count();
    assert_eq!(unaudited, 0, "registrations without their audit row");
}
