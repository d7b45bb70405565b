//! `mcp-oauth admin`: users, clients and keys managed directly in the database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-oauth");

fn admin(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BINARY)
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn adds_and_lists_users_and_refuses_weak_or_duplicate_ones() {
    let data = tempfile::tempdir().unwrap();
    let added = stdout(&admin(
        data.path(),
        &["users", "add", "--email", "Ann@Example.com"],
        None,
    ));
    assert!(added.contains("added user ann@example.com"), "{added}");
    assert!(
        added.contains("password: "),
        "a generated password is shown once: {added}"
    );
    let added = stdout(&admin(
        data.path(),
        &[
            "users",
            "add",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some("a long enough passphrase\n"),
    ));
    assert!(!added.contains("password: "), "{added}");
    let listed = stdout(&admin(data.path(), &["users", "list"], None));
    assert!(
        listed.contains("ann@example.com") && listed.contains("bob@example.com"),
        "{listed}"
    );

    let weak = admin(
        data.path(),
        &[
            "users",
            "add",
            "--email",
            "c@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));
    let duplicate = admin(
        data.path(),
        &["users", "add", "--email", "ann@example.com"],
        None,
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
}

#[test]
fn pre_registers_clients_and_refuses_bad_redirect_uris() {
    let data = tempfile::tempdir().unwrap();
    let added = stdout(&admin(
        data.path(),
        &[
            "clients",
            "add",
            "--name",
            "Web app",
            "--redirect-uri",
            "http://localhost:3000/callback",
            "--client-id",
            "web-app",
        ],
        None,
    ));
    assert!(
        added.contains("client_id: web-app") && added.contains("client_secret: "),
        "{added}"
    );
    let public = stdout(&admin(
        data.path(),
        &[
            "clients",
            "add",
            "--name",
            "CLI",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--public",
        ],
        None,
    ));
    assert!(!public.contains("client_secret"), "{public}");
    let listed = stdout(&admin(data.path(), &["clients", "list"], None));
    assert!(
        listed.contains("web-app") && listed.contains("CLI"),
        "{listed}"
    );

    let hostile = admin(
        data.path(),
        &[
            "clients",
            "add",
            "--name",
            "Evil",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        None,
    );
    assert!(!hostile.status.success());
    stdout(&admin(data.path(), &["clients", "delete", "web-app"], None));
    let missing = admin(data.path(), &["clients", "delete", "web-app"], None);
    assert!(!missing.status.success());
}

#[test]
fn pre_registers_a_resource_server_that_may_introspect() {
    let data = tempfile::tempdir().unwrap();
    let added = stdout(&admin(
        data.path(),
        &[
            "clients",
            "add",
            "--name",
            "My MCP server",
            "--introspect-for",
            "https://mcp.example.com/mcp",
            "--client-id",
            "mcp-server",
        ],
        None,
    ));
    assert!(added.contains("client_secret: "), "{added}");
    let listed = stdout(&admin(data.path(), &["clients", "list"], None));
    assert!(
        listed
            .contains("mcp-server\tStatic\tMy MCP server\tintrospects https://mcp.example.com/mcp"),
        "{listed}"
    );
    for refused in [
        // A client with neither a redirect URI nor anything to introspect.
        &["clients", "add", "--name", "Nothing"][..],
        // Introspection needs a confidential client.
        &[
            "clients",
            "add",
            "--name",
            "Public",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--introspect-for",
            "https://mcp.example.com/mcp",
        ],
        &[
            "clients",
            "add",
            "--name",
            "Bad",
            "--introspect-for",
            "not a url",
        ],
    ] {
        let output = admin(data.path(), refused, None);
        assert!(!output.status.success(), "{refused:?} was accepted");
    }
}

#[test]
fn rotating_keys_keeps_the_previous_key_published() {
    let data = tempfile::tempdir().unwrap();
    let rotated = stdout(&admin(data.path(), &["keys", "rotate"], None));
    let kid = rotated.split_whitespace().nth(4).unwrap().to_owned();
    let listed = stdout(&admin(data.path(), &["keys", "list"], None));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(&kid) && lines[0].contains("Current"),
        "{listed}"
    );
    assert!(lines[1].contains("Previous"), "{listed}");
}
