//! `mcp-oauth admin`: users, clients and keys managed directly in the database, and the audit
//! trail read back (as a table or JSON lines, under each filter; a filter that cannot be read
//! is a usage error naming its flag).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use mcp_oauth_authorization_server::store::{AuditEventKind, AuditOutcome};
use serde_json::Value;

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

/// `users reset-mfa`: removes a user's TOTP credential and recovery codes (set up here through
/// the store, as the account page would), says when there was none, and fails for an unknown
/// address; the reset is in the audit trail.
#[tokio::test(flavor = "multi_thread")]
async fn resets_a_users_two_step_verification() {
    use mcp_oauth_authorization_server::store::{
        AccountStore, MfaStore, SecretHash, SqlStore, TotpSecret,
    };

    let data = tempfile::tempdir().unwrap();
    stdout(&admin(
        data.path(),
        &["users", "add", "--email", "ann@example.com"],
        None,
    ));
    let store = SqlStore::open_sqlite_dir(data.path()).await.unwrap();
    let user = store
        .find_user_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    let secret = TotpSecret::new(b"12345678901234567890".to_vec());
    assert!(
        store
            .begin_totp_enrolment(&user.user_id, &secret, 1)
            .await
            .unwrap()
    );
    let codes = [SecretHash::of("a recovery code")];
    assert!(
        store
            .confirm_totp_enrolment(&user.user_id, &secret, 7, &codes, 2)
            .await
            .unwrap()
    );
    store.close().await;

    let reset = stdout(&admin(
        data.path(),
        &["users", "reset-mfa", "Ann@Example.com"],
        None,
    ));
    assert!(
        reset.contains("removed the two-step verification"),
        "{reset}"
    );
    let store = SqlStore::open_sqlite_dir(data.path()).await.unwrap();
    assert!(
        store
            .totp_credential(&user.user_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .use_recovery_code(&user.user_id, &codes[0])
            .await
            .unwrap(),
        None
    );
    store.close().await;

    let again = stdout(&admin(
        data.path(),
        &["users", "reset-mfa", "ann@example.com"],
        None,
    ));
    assert!(again.contains("nothing changed"), "{again}");
    let unknown = admin(
        data.path(),
        &["users", "reset-mfa", "bob@example.com"],
        None,
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user with the e-mail address"));
    let trail = records(data.path(), &["--event", "mfa_reset"]);
    assert_eq!(events(&trail), ["mfa_reset"]);
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
            .contains("mcp-server\tStatic\tactive\tstatic\tMy MCP server\tintrospects https://mcp.example.com/mcp"),
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

/// The JSON records `admin audit --json <filters>` prints.
fn records(data_dir: &std::path::Path, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(filters);
    stdout(&admin(data_dir, &args, None))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

/// The `event` of each record.
fn events(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record["event"].as_str().unwrap())
        .collect()
}

#[test]
fn the_audit_trail_is_listed_under_every_filter_as_a_table_or_json_lines() {
    let data = tempfile::tempdir().unwrap();
    const PASSWORD: &str = "the operator's chosen passphrase";
    let added = admin(
        data.path(),
        &[
            "users",
            "add",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    stdout(&added);
    let logged = String::from_utf8_lossy(&added.stderr);
    assert!(logged.contains("security event"), "{logged}");
    assert!(!logged.contains(PASSWORD), "{logged}");
    let client = stdout(&admin(
        data.path(),
        &[
            "clients",
            "add",
            "--name",
            "App",
            "--redirect-uri",
            "http://127.0.0.1:4000/callback",
            "--client-id",
            "app",
        ],
        None,
    ));
    stdout(&admin(data.path(), &["keys", "rotate"], None));
    stdout(&admin(data.path(), &["clients", "delete", "app"], None));

    let all = records(data.path(), &[]);
    assert_eq!(
        events(&all),
        [
            "account_created",
            "client_registered",
            "keys_rotated",
            "client_deleted"
        ]
    );
    for record in &all {
        assert_eq!(record["actor"], "admin", "{record}");
        assert_eq!(record["outcome"], "succeeded", "{record}");
        assert!(record["time"].as_str().unwrap().ends_with('Z'), "{record}");
        assert!(record["occurred_at"].is_i64(), "{record}");
    }
    assert_eq!(all[0]["details"]["email"], "ann@example.com");
    let secret = client
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let everything = stdout(&admin(data.path(), &["audit", "--json"], None));
    assert!(!everything.contains(secret), "{everything}");

    for (filters, expected) in [
        (&["--event", "client_deleted"][..], &["client_deleted"][..]),
        (
            &["--client-id", "app"],
            &["client_registered", "client_deleted"],
        ),
        (
            &["--actor", "admin", "--limit", "2"],
            &["keys_rotated", "client_deleted"],
        ),
        (&["--outcome", "refused"], &[]),
        (
            &["--since", "1h"],
            &[
                "account_created",
                "client_registered",
                "keys_rotated",
                "client_deleted",
            ],
        ),
        (&["--until", "1h"], &[]),
        (
            &[
                "--since",
                "2000-01-01T00:00:00Z",
                "--until",
                "2000-01-02T00:00:00+02:00",
            ],
            &[],
        ),
    ] {
        assert_eq!(
            events(&records(data.path(), filters)),
            expected,
            "{filters:?}"
        );
    }

    let table = stdout(&admin(
        data.path(),
        &["audit", "--event", "keys_rotated"],
        None,
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    for column in [
        "TIME", "EVENT", "OUTCOME", "ACTOR", "CLIENT", "ADDRESS", "DETAILS",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    assert!(
        lines[1].contains("keys_rotated")
            && lines[1].contains("admin")
            && lines[1].contains("kid="),
        "{table}"
    );
    let none = admin(data.path(), &["audit", "--outcome", "throttled"], None);
    assert_eq!(stdout(&none), "");
    assert!(String::from_utf8_lossy(&none.stderr).contains("no audit records match"));
}

#[test]
fn filters_that_cannot_be_read_are_usage_errors_naming_their_flag() {
    let data = tempfile::tempdir().unwrap();
    for (filters, flag) in [
        (&["--since", "yesterday"][..], "--since"),
        (&["--until", "5x"], "--until"),
        (&["--since", "2026-13-01T00:00:00Z"], "--since"),
        (&["--event", "login"], "--event"),
        (&["--outcome", "maybe"], "--outcome"),
        (&["--limit", "0"], "--limit"),
        (&["--limit", "many"], "--limit"),
        (&["--since", "1h", "--until", "2h"], "--since"),
    ] {
        let mut args = vec!["audit"];
        args.extend_from_slice(filters);
        let output = admin(data.path(), &args, None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{filters:?} was accepted");
        assert!(stderr.contains(flag), "{filters:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{filters:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{filters:?}");
    }
    let event = admin(data.path(), &["audit", "--event", "login"], None);
    let stderr = String::from_utf8_lossy(&event.stderr);
    let help = admin(data.path(), &["audit", "--help"], None);
    let help = String::from_utf8_lossy(&help.stdout);
    for kind in AuditEventKind::ALL {
        assert!(
            stderr.contains(kind.as_str()),
            "the refusal names {}: {stderr}",
            kind.as_str()
        );
        assert!(
            help.contains(kind.as_str()),
            "--help names {}: {help}",
            kind.as_str()
        );
    }
    let outcome = admin(data.path(), &["audit", "--outcome", "maybe"], None);
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    for outcome in AuditOutcome::ALL {
        assert!(
            stderr.contains(outcome.as_str()),
            "the refusal names {outcome}: {stderr}"
        );
        assert!(
            help.contains(outcome.as_str()),
            "--help names {outcome}: {help}"
        );
    }
}

/// Stores clients waiting for approval, as `auth-server --registration-approval` leaves them:
/// `app` (open registration) and a metadata document's client.
fn store_pending_clients(data_dir: &std::path::Path) {
    use mcp_oauth_authorization_server::store::{
        ClientId, ClientOrigin, ClientRecord, ClientStore, RegisteredMetadata, SqlStore,
    };
    use mcp_oauth_core::{ClientStatus, RegistrationPath};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqlStore::open_sqlite_dir(data_dir).await.unwrap();
        for (id, path) in [
            ("app", RegistrationPath::Open),
            (
                "https://app.example/client.json",
                RegistrationPath::MetadataDocument,
            ),
        ] {
            let metadata = serde_json::json!({
                "client_name": format!("Pending {id}"),
                "redirect_uris": ["https://app.example/callback"],
                "token_endpoint_auth_method": "none",
            });
            let record = ClientRecord::new(
                ClientId(id.to_owned()),
                RegisteredMetadata::from_json(metadata).unwrap(),
                ClientOrigin::Dynamic,
                1_700_000_000,
            )
            .with_registration(path, ClientStatus::Pending);
            store.insert_client(&record).await.unwrap();
        }
        store.close().await;
    });
}

#[test]
fn approves_rejects_and_suspends_clients_waiting_for_approval() {
    let data = tempfile::tempdir().unwrap();
    store_pending_clients(data.path());
    let document = "https://app.example/client.json";
    let list = |filter: &[&str]| {
        let mut args = vec!["clients", "list"];
        args.extend_from_slice(filter);
        stdout(&admin(data.path(), &args, None))
    };
    let pending = list(&["--pending"]);
    assert!(
        pending.contains("app\tDynamic\tpending\topen\tPending app"),
        "{pending}"
    );
    assert!(
        pending.contains(&format!("{document}\tDynamic\tpending\tmetadata-document")),
        "{pending}"
    );

    let approved = stdout(&admin(data.path(), &["clients", "approve", "app"], None));
    assert!(approved.contains("approved client app"), "{approved}");
    let pending = list(&["--pending"]);
    assert!(!pending.contains("app\t"), "{pending}");

    // A metadata document's client is kept, suspended, so it stays blocked.
    let rejected = stdout(&admin(data.path(), &["clients", "reject", document], None));
    assert!(rejected.contains("kept as suspended"), "{rejected}");
    let suspended = list(&["--suspended"]);
    assert!(suspended.contains(document), "{suspended}");
    assert!(list(&["--pending"]).is_empty());

    let suspended = stdout(&admin(data.path(), &["clients", "suspend", "app"], None));
    assert!(suspended.contains("grants are revoked"), "{suspended}");
    let everyone = list(&[]);
    assert!(everyone.contains("app\tDynamic\tsuspended"), "{everyone}");

    // Refusals: a client that is not pending, an unknown one, both filters at once.
    for (refused, message) in [
        (
            &["clients", "reject", "app"][..],
            "not waiting for approval",
        ),
        (&["clients", "approve", "nobody"][..], "no client nobody"),
        (&["clients", "suspend", "nobody"][..], "no client nobody"),
        (&["clients", "reject", "nobody"][..], "no client nobody"),
        (
            &["clients", "list", "--pending", "--suspended"][..],
            "cannot be used",
        ),
    ] {
        let output = admin(data.path(), refused, None);
        assert!(!output.status.success(), "{refused:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{refused:?}: {stderr}");
    }

    let changes = records(data.path(), &["--event", "client_status_changed"]);
    let statuses: Vec<&str> = changes
        .iter()
        .map(|record| record["details"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["active", "suspended", "suspended"],
        "{changes:?}"
    );
    assert!(changes.iter().all(|record| record["actor"] == "admin"));
}
