//! The audit trail, from real flows over HTTP: every kind of security event is recorded with
//! its actor, client, address and outcome (sign-ins and sign-ups, registrations, consent,
//! codes, tokens, refresh-token reuse, code replay, revocation, refused introspection, admin
//! actions), on SQLite and PostgreSQL; no password, token, code or secret reaches a record or
//! a log line; old records are purged; a record the store cannot take does not fail the
//! request; the metrics count what happened.
//!
//! ```sh
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test audit_trail
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::{Mutex, Once};
use std::time::Duration;

use harness::oauth::{
    Auth, Client, EMAIL, PASSWORD, REDIRECT_URI, VERIFIER, authorize_path, client_metadata,
    confidential_client, decide, introspect, obtain_code, public_client, redeem, refresh, register,
    register_client, revoke, signed_in_browser,
};
use harness::{Server, TestDb};
use mcp_oauth_authorization_server::store::{
    AuditEventKind, AuditFilter, AuditOutcome, AuditRecord, ClientId,
};
use mcp_oauth_authorization_server::{LoginLimits, StaticClient};
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What this test process logged, as JSON lines: every test's server logs here.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// A writer appending to [`LOGS`].
struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of this process, down to `debug`, to [`LOGS`].
fn capture_logs() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(|| Captured)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The audit log lines logged so far.
fn audit_lines() -> Vec<Value> {
    let logs = String::from_utf8(LOGS.lock().unwrap().clone()).unwrap();
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "mcp_oauth::audit")
        .collect()
}

/// The records of `event`, oldest first.
async fn records(server: &Server, event: AuditEventKind) -> Vec<AuditRecord> {
    server
        .store
        .audit_records(&AuditFilter::new().with_event(event))
        .await
        .unwrap()
}

/// The only record of `event` with `outcome`.
async fn only(server: &Server, event: AuditEventKind, outcome: AuditOutcome) -> AuditRecord {
    let found: Vec<AuditRecord> = records(server, event)
        .await
        .into_iter()
        .filter(|record| record.outcome == outcome)
        .collect();
    assert_eq!(found.len(), 1, "one {event} {outcome}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn client_id(client: &Client) -> Option<ClientId> {
    Some(ClientId(client.id.clone()))
}

/// `method` on `client`'s registration (RFC 7592) with `token` (and `body`): the status.
async fn manage(
    server: &Server,
    client: &Client,
    method: reqwest::Method,
    token: &str,
    body: Option<&Value>,
) -> StatusCode {
    let url = format!("{}/register/{}", server.base, client.id);
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn sign_ups_and_sign_ins_are_recorded_with_the_person_and_address() {
    let server = Server::start_with(|config| {
        config.with_login_limits(LoginLimits::default().with_per_account_and_ip(1))
    })
    .await;
    let mut browser = server.browser_from(Ipv4Addr::new(127, 0, 0, 3));
    assert_eq!(
        browser.sign_up(EMAIL, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let created = only(
        &server,
        AuditEventKind::AccountCreated,
        AuditOutcome::Succeeded,
    )
    .await;
    let user = server
        .store
        .find_user_by_email(EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.actor.as_deref(), Some(EMAIL));
    assert_eq!(created.user_id.as_ref(), Some(&user.user_id));
    assert_eq!(created.address.as_deref(), Some("127.0.0.3"));
    assert_eq!(created.occurred_at, server.now());

    let mut other = server.browser();
    let taken = other.sign_up(EMAIL, "another password, long enough").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let refused = only(
        &server,
        AuditEventKind::AccountCreated,
        AuditOutcome::Refused,
    )
    .await;
    assert_eq!(refused.reason.as_deref(), Some("email_taken"));
    assert_eq!(refused.user_id, None);
    assert_eq!(refused.address.as_deref(), Some("127.0.0.1"));

    assert_eq!(
        other.sign_in(EMAIL, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let signed_in = only(&server, AuditEventKind::SignIn, AuditOutcome::Succeeded).await;
    assert_eq!(signed_in.actor.as_deref(), Some(EMAIL));
    assert_eq!(signed_in.user_id.as_ref(), Some(&user.user_id));
    assert_eq!(signed_in.details["method"], "password");

    let mut guesser = server.browser_from(Ipv4Addr::new(127, 0, 0, 4));
    let wrong = guesser.sign_in(EMAIL, "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let failed = only(&server, AuditEventKind::SignIn, AuditOutcome::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("wrong_credentials"));
    assert_eq!(failed.actor.as_deref(), Some(EMAIL));
    assert_eq!(failed.address.as_deref(), Some("127.0.0.4"));
    let again = guesser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    let throttled = only(&server, AuditEventKind::SignIn, AuditOutcome::Throttled).await;
    assert_eq!(throttled.reason.as_deref(), Some("too_many_attempts"));
    assert_eq!(throttled.address.as_deref(), Some("127.0.0.4"));

    // Something typed into the e-mail field that is no address is not kept as the actor.
    let junk = guesser.sign_in("my secret phrase", PASSWORD).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    let failures = records(&server, AuditEventKind::SignIn).await;
    let last = failures.last().unwrap();
    assert_eq!(
        (last.outcome, last.actor.as_deref()),
        (AuditOutcome::Failed, None)
    );
}

#[tokio::test]
async fn registrations_updates_and_deletions_are_recorded_with_refusal_reasons() {
    let server = Server::start_with(|config| config.with_registrations_per_minute(3)).await;
    let client = confidential_client(&server, Auth::Basic).await;
    let registered = only(
        &server,
        AuditEventKind::ClientRegistered,
        AuditOutcome::Succeeded,
    )
    .await;
    assert_eq!(registered.client_id, client_id(&client));
    assert_eq!(registered.actor, None, "anonymous");
    assert_eq!(registered.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(registered.details["client_name"], "Test MCP client");

    let hostile =
        json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"});
    let refused = register(&server, &hostile).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    let record = only(
        &server,
        AuditEventKind::ClientRegistered,
        AuditOutcome::Refused,
    )
    .await;
    assert_eq!(record.reason.as_deref(), Some("invalid_redirect_uri"));
    assert_eq!(record.client_id, None);

    let mut body = client_metadata("client_secret_basic");
    body["client_id"] = json!(client.id);
    body["client_name"] = json!("Renamed");
    let token = client.registration_token.as_str();
    let update = |token| manage(&server, &client, reqwest::Method::PUT, token, Some(&body));
    assert_eq!(update(token).await, StatusCode::OK);
    assert_eq!(update("not-the-token").await, StatusCode::UNAUTHORIZED);
    let updated = only(
        &server,
        AuditEventKind::ClientUpdated,
        AuditOutcome::Succeeded,
    )
    .await;
    assert_eq!(updated.client_id, client_id(&client));
    assert_eq!(updated.actor, Some(format!("client:{}", client.id)));
    let forged = only(
        &server,
        AuditEventKind::ClientUpdated,
        AuditOutcome::Refused,
    )
    .await;
    assert_eq!(forged.reason.as_deref(), Some("invalid_token"));
    assert_eq!(forged.client_id, client_id(&client));

    let delete = || manage(&server, &client, reqwest::Method::DELETE, token, None);
    assert_eq!(delete().await, StatusCode::NO_CONTENT);
    assert_eq!(delete().await, StatusCode::UNAUTHORIZED, "gone");
    let deletion = only(
        &server,
        AuditEventKind::ClientDeleted,
        AuditOutcome::Succeeded,
    )
    .await;
    assert_eq!(deletion.client_id, client_id(&client));
    let refused = only(
        &server,
        AuditEventKind::ClientDeleted,
        AuditOutcome::Refused,
    )
    .await;
    assert_eq!(refused.reason.as_deref(), Some("invalid_token"));

    // The third registration in the minute is the last one allowed.
    public_client(&server).await;
    let throttled = register(&server, &client_metadata("none")).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let record = only(
        &server,
        AuditEventKind::ClientRegistered,
        AuditOutcome::Throttled,
    )
    .await;
    assert_eq!(record.reason.as_deref(), Some("slow_down"));
}

/// Consent, codes, tokens by grant, refresh-token reuse, code replay, revocation and refused
/// introspection, recorded by a server on `server`'s store.
async fn the_authorization_flow_is_recorded(server: &Server) {
    let client = public_client(server).await;
    let mut browser = server.browser();
    let code = obtain_code(server, &mut browser, &client).await;
    let user = server
        .store
        .find_user_by_email(EMAIL)
        .await
        .unwrap()
        .unwrap();
    let consent = only(server, AuditEventKind::Consent, AuditOutcome::Succeeded).await;
    assert_eq!(consent.actor.as_deref(), Some(EMAIL));
    assert_eq!(consent.user_id.as_ref(), Some(&user.user_id));
    assert_eq!(consent.client_id, client_id(&client));
    assert_eq!(consent.details["scope"], "mcp:read mcp:write");
    assert_eq!(consent.details["resource"], harness::oauth::RESOURCE);
    let issued = only(server, AuditEventKind::CodeIssued, AuditOutcome::Succeeded).await;
    assert_eq!(issued.client_id, client_id(&client));
    let grant_id = issued.details["grant_id"].clone();
    assert!(grant_id.is_string(), "{issued:?}");

    let tokens = redeem(server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let rotated = refresh(server, &client, &refresh_token).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let issued = records(server, AuditEventKind::TokensIssued).await;
    let by_grant: Vec<(AuditOutcome, &Value)> = issued
        .iter()
        .map(|record| (record.outcome, &record.details["grant_type"]))
        .collect();
    assert_eq!(
        by_grant,
        [
            (AuditOutcome::Succeeded, &json!("authorization_code")),
            (AuditOutcome::Succeeded, &json!("refresh_token")),
        ]
    );
    for record in &issued {
        assert_eq!(record.details["grant_id"], grant_id);
        assert_eq!(record.user_id.as_ref(), Some(&user.user_id));
        assert_eq!(record.actor, Some(format!("client:{}", client.id)));
    }

    // The rotated token again: the family is revoked, and the request refused.
    let reused = refresh(server, &client, &refresh_token).await;
    assert_eq!(reused.error(), "invalid_grant");
    let reuse = only(
        server,
        AuditEventKind::RefreshTokenReused,
        AuditOutcome::Refused,
    )
    .await;
    assert_eq!(reuse.details["grant_id"], grant_id);
    assert_eq!(reuse.details["grant_revoked"], true);
    assert_eq!(reuse.client_id, client_id(&client));
    let refused = only(server, AuditEventKind::TokensIssued, AuditOutcome::Refused).await;
    assert_eq!(refused.reason.as_deref(), Some("invalid_grant"));
    assert_eq!(refused.details["grant_type"], "refresh_token");

    // The code again.
    let replayed = redeem(server, &client, &code, VERIFIER).await;
    assert_eq!(replayed.error(), "invalid_grant");
    let replay = only(server, AuditEventKind::CodeReplayed, AuditOutcome::Refused).await;
    assert_eq!(replay.details["grant_id"], grant_id);

    // A new grant, revoked by its client.
    let mut signed_in = signed_in_browser(server).await;
    let path = authorize_path(&client.id, &[]);
    let code = harness::oauth::code_at(&mut signed_in, &path, REDIRECT_URI).await;
    let tokens = redeem(server, &client, &code, VERIFIER).await;
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        revoke(server, &client, refresh_token).await.status,
        StatusCode::OK
    );
    let revoked = only(
        server,
        AuditEventKind::TokenRevoked,
        AuditOutcome::Succeeded,
    )
    .await;
    assert_eq!(revoked.details["token_type"], "refresh_token");
    assert_eq!(revoked.client_id, client_id(&client));

    // Denied consent, for another client.
    let other = register_client(server, client_metadata("none")).await;
    let page = signed_in.get(&authorize_path(&other.id, &[])).await;
    assert_eq!(page.status, StatusCode::OK);
    decide(&mut signed_in, &page, "deny").await;
    let denied = only(server, AuditEventKind::Consent, AuditOutcome::Refused).await;
    assert_eq!(denied.client_id, client_id(&other));
    assert_eq!(denied.reason.as_deref(), Some("access_denied"));

    // A client the operator did not allow to introspect.
    let nosy = confidential_client(server, Auth::Post).await;
    let answer = introspect(server, &nosy, "any token").await;
    assert_eq!(answer.error(), "unauthorized_client");
    let refused = only(server, AuditEventKind::Introspection, AuditOutcome::Refused).await;
    assert_eq!(refused.client_id, client_id(&nosy));
    assert_eq!(refused.reason.as_deref(), Some("unauthorized_client"));
}

#[tokio::test]
async fn the_authorization_flow_is_recorded_on_sqlite() {
    let db = TestDb::sqlite();
    let server = Server::start_on(&db, |config| config).await;
    the_authorization_flow_is_recorded(&server).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_flow_is_recorded_on_postgres() {
    let Some(db) = TestDb::postgres("audit_flow").await else {
        return;
    };
    let server = Server::start_on(&db, |config| config).await;
    the_authorization_flow_is_recorded(&server).await;
}

#[tokio::test]
async fn admin_actions_and_key_rotations_are_recorded_as_admin() {
    let server = Server::start().await;
    let admin = server.authorization().admin();
    let static_client = StaticClient::new("web-app", "Web app").with_redirect_uris([REDIRECT_URI]);
    admin.register_static_client(&static_client).await.unwrap();
    let user = admin
        .add_user("operator-made@example.com", PASSWORD)
        .await
        .unwrap();
    let kid = admin.rotate_keys().await.unwrap();
    let second = server.authorization().rotate_keys().await.unwrap();
    assert!(admin.delete_client("web-app").await.unwrap());

    let by_admin = server
        .store
        .audit_records(&AuditFilter::new().with_actor("admin"))
        .await
        .unwrap();
    let summary: Vec<(AuditEventKind, Option<&str>, Option<&str>)> = by_admin
        .iter()
        .map(|record| {
            (
                record.event,
                record.client_id.as_ref().map(ClientId::as_str),
                record.user_id.as_ref().map(|id| id.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (AuditEventKind::ClientRegistered, Some("web-app"), None),
            (
                AuditEventKind::AccountCreated,
                None,
                Some(user.user_id.as_str())
            ),
            (AuditEventKind::KeysRotated, None, None),
            (AuditEventKind::KeysRotated, None, None),
            (AuditEventKind::ClientDeleted, Some("web-app"), None),
        ]
    );
    assert_eq!(by_admin[2].details["kid"], kid.as_str());
    assert_eq!(by_admin[3].details["kid"], second.as_str());
    assert_eq!(by_admin[1].details["email"], "operator-made@example.com");
    assert!(by_admin.iter().all(|record| record.address.is_none()));
    assert!(
        by_admin
            .iter()
            .all(|record| record.outcome == AuditOutcome::Succeeded)
    );
}

#[tokio::test]
async fn no_secret_reaches_the_audit_trail_or_its_log_lines() {
    capture_logs();
    const WRONG_PASSWORD: &str = "a wrong password that is secret";
    let server = Server::start().await;
    let client = confidential_client(&server, Auth::Post).await;
    let mut browser = server.browser();
    let code = obtain_code(&server, &mut browser, &client).await;
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let access_token = tokens.body["access_token"].as_str().unwrap();
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap();
    let rotated = refresh(&server, &client, refresh_token).await;
    let new_refresh_token = rotated.body["refresh_token"].as_str().unwrap();
    refresh(&server, &client, refresh_token).await; // reuse
    redeem(&server, &client, &code, VERIFIER).await; // replay
    revoke(&server, &client, new_refresh_token).await;
    introspect(&server, &client, access_token).await;
    let wrong_secret = client.presenting(Auth::Post, Some("a-wrong-client-secret"));
    refresh(&server, &wrong_secret, refresh_token).await;
    let mut other = server.browser();
    other.sign_in(EMAIL, WRONG_PASSWORD).await;
    other.sign_in(PASSWORD, PASSWORD).await; // the password typed as the e-mail
    other.sign_in(EMAIL, PASSWORD).await;

    let secrets = [
        PASSWORD,
        WRONG_PASSWORD,
        "a-wrong-client-secret",
        client.secret.as_deref().unwrap(),
        &client.registration_token,
        &code,
        access_token,
        refresh_token,
        new_refresh_token,
    ];
    let trail = server
        .store
        .audit_records(&AuditFilter::new())
        .await
        .unwrap();
    assert!(trail.len() >= 12, "{trail:#?}");
    let lines = audit_lines();
    assert!(lines.len() >= trail.len(), "every record is logged too");
    for secret in secrets {
        for record in &trail {
            assert!(
                !format!("{record:?}").contains(secret),
                "{secret:?} in {record:#?}"
            );
        }
        let logs = String::from_utf8(LOGS.lock().unwrap().clone()).unwrap();
        assert!(!logs.contains(secret), "{secret:?} logged");
    }
    // Each line carries the record's fields.
    let reuse = lines
        .iter()
        .find(|line| line["fields"]["event"] == "refresh_token_reused")
        .expect("a line for the reuse");
    assert_eq!(reuse["level"], "WARN");
    assert_eq!(reuse["fields"]["outcome"], "refused");
    assert_eq!(reuse["fields"]["client_id"], client.id.as_str());
    assert_eq!(reuse["fields"]["address"], "127.0.0.1");
}

#[tokio::test]
async fn a_record_the_store_cannot_take_does_not_fail_the_request_and_is_counted() {
    let db = TestDb::sqlite();
    let server = Server::start_on(&db, |config| config).await;
    let mut registry = Registry::default();
    server.authorization().register_metrics(&mut registry);
    let raw = db.raw().await;
    sqlx::query("DROP TABLE audit_events")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let client = public_client(&server).await;
    let tokens = harness::oauth::tokens_for(&server, &client).await;
    assert!(tokens["access_token"].is_string());

    let text = exposition(&registry);
    assert!(
        sample(&text, "mcp_oauth_audit_write_failures_total") >= 4.0,
        "registration, sign-up, consent, code, tokens:\n{text}"
    );
}

#[tokio::test]
async fn records_older_than_the_retention_are_purged_in_the_background() {
    let server = Server::start_with(|config| {
        config
            .with_audit_retention(Duration::from_secs(24 * 3600))
            .with_purge_interval(Duration::from_millis(10))
    })
    .await;
    let mut registry = Registry::default();
    server.authorization().register_metrics(&mut registry);
    let old = public_client(&server).await;
    server.advance(24 * 3600);
    let young = public_client(&server).await;
    server.advance(1);

    let purging = tokio::spawn(server.authorization().purge_expired_periodically());
    let registered = || async { records(&server, AuditEventKind::ClientRegistered).await };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while registered().await.len() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old record was never purged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    purging.abort();
    let kept = registered().await;
    assert_eq!(kept[0].client_id, client_id(&young));
    assert_ne!(kept[0].client_id, client_id(&old));
    let text = exposition(&registry);
    assert_eq!(
        sample(&text, "mcp_oauth_purged_rows_total{kind=\"audit_events\"}"),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn metrics_count_security_events_by_outcome_and_read_the_connection_pool() {
    let server = Server::start().await;
    let mut registry = Registry::default();
    server.authorization().register_metrics(&mut registry);
    let client = public_client(&server).await;
    register(&server, &json!({"redirect_uris": ["not a uri"]})).await;
    let tokens = harness::oauth::tokens_for(&server, &client).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    refresh(&server, &client, refresh_token).await;
    refresh(&server, &client, refresh_token).await; // reuse
    server.browser().sign_in(EMAIL, "wrong password here").await;
    server.browser().sign_in(EMAIL, PASSWORD).await;

    let text = exposition(&registry);
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
            "mcp_oauth_sign_ins_total{method=\"password\",outcome=\"succeeded\"}",
            1.0,
        ),
        (
            "mcp_oauth_sign_ins_total{method=\"password\",outcome=\"failed\"}",
            1.0,
        ),
        (
            "mcp_oauth_sign_ins_total{method=\"password\",outcome=\"throttled\"}",
            0.0,
        ),
        ("mcp_oauth_consents_total{outcome=\"succeeded\"}", 1.0),
        (
            "mcp_oauth_token_requests_total{grant=\"authorization_code\",outcome=\"succeeded\"}",
            1.0,
        ),
        (
            "mcp_oauth_token_requests_total{grant=\"refresh_token\",outcome=\"succeeded\"}",
            1.0,
        ),
        (
            "mcp_oauth_token_requests_total{grant=\"refresh_token\",outcome=\"refused\"}",
            1.0,
        ),
        ("mcp_oauth_refresh_token_reuses_total", 1.0),
        (
            "mcp_oauth_audit_events_total{event=\"account_created\",outcome=\"succeeded\"}",
            1.0,
        ),
        ("mcp_oauth_database_connections_max", 1.0),
    ] {
        assert_eq!(sample(&text, series), expected, "{series}\n{text}");
    }
    assert!(
        text.contains("mcp_oauth_database_connections{state=\"in_use\"}"),
        "{text}"
    );
    assert!(!text.contains(&client.id), "no client id as a label");
}

/// The registry's text exposition.
fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// The value of the series `name{labels}` in an exposition, or 0.
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
