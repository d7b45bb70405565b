//! Registration governance (issue 16), over HTTP: new clients waiting for the operator's
//! approval (the page at `/authorize`, `invalid_client` elsewhere, approve / reject / suspend,
//! seen at once by a second instance on the same database, the purge of clients left pending),
//! the limits on registrations (all addresses together per minute, clients awaiting approval)
//! and what the metrics count of it. Each case runs on SQLite (a file) and on PostgreSQL.
//!
//! ```sh
//! source scripts/services/postgres.sh && postgres_install && postgres_start
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test governance
//! ```

#[path = "support/mod.rs"]
#[macro_use]
mod harness;

use harness::oauth::{
    Auth, Client, REDIRECT_URI, VERIFIER, authorize_path, call, client_metadata, code_for,
    confidential_client, public_client, redeem, refresh, serve_metadata_document,
    signed_in_browser,
};
use harness::{Page, Server, TestDb};
use mcp_oauth_authorization_server::store::ClientId;
use mcp_oauth_authorization_server::{AuthorizationServerConfig, Rejection};
use mcp_oauth_core::{ClientStatus, RegistrationGovernance, RegistrationPath};
use reqwest::StatusCode;
use serde_json::Value;

on_every_database!(
    a_pending_client_waits_until_approved_on_every_instance,
    a_suspended_client_loses_its_grants_and_a_rejected_one_is_gone,
    a_metadata_document_client_waits_and_is_approved_by_its_url,
    clients_left_pending_too_long_are_purged,
    the_global_limit_counts_every_address_on_every_instance,
    registration_pauses_while_too_many_clients_await_approval,
);

/// Approval required for every dynamic path.
fn approval() -> RegistrationGovernance {
    let mut governance = RegistrationGovernance::default();
    governance.approval_required = true;
    governance
}

fn with_approval(config: AuthorizationServerConfig) -> AuthorizationServerConfig {
    config.with_governance(approval())
}

async fn status_of(server: &Server, client_id: &str) -> Option<ClientStatus> {
    server
        .store
        .get_client(&ClientId(client_id.to_owned()))
        .await
        .unwrap()
        .map(|client| client.status)
}

/// The waiting page for the client named "Test MCP client": 403, never a redirect, never
/// cached.
fn assert_waiting_page(server: &Server, page: &Page, name: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert_eq!(page.location(), None, "never a redirect");
    assert_eq!(
        page.headers
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
    let expected = format!(
        "<strong>{name}</strong> is waiting for approval by the operator of {}.",
        server.authorization().config().issuer
    );
    assert!(page.body.contains(&expected), "{}", page.body);
}

/// What the token, revocation and introspection endpoints answer `client`: 401
/// `invalid_client`, whatever it presents.
async fn assert_refused_everywhere(server: &Server, client: &Client, token: &str) {
    for (path, fields) in [
        (
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", token)][..],
        ),
        ("/revoke", &[("token", token)][..]),
        ("/introspect", &[("token", token)][..]),
    ] {
        let reply = call(server, path, client, fields).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.text
        );
        assert_eq!(reply.error(), "invalid_client", "{path}");
    }
}

async fn a_pending_client_waits_until_approved_on_every_instance(db: &TestDb) {
    let a = Server::start_on(db, with_approval).await;
    let b = a.another_instance(db, with_approval).await;
    let client = confidential_client(&a, Auth::Basic).await;
    assert_eq!(status_of(&a, &client.id).await, Some(ClientStatus::Pending));
    let stored = a
        .store
        .get_client(&ClientId(client.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.registration_path, RegistrationPath::Open);

    // Both instances show the page and refuse its credentials.
    for server in [&a, &b] {
        let mut browser = signed_in_browser(server).await;
        let page = browser.get(&authorize_path(&client.id, &[])).await;
        assert_waiting_page(server, &page, "Test MCP client");
        assert_refused_everywhere(server, &client, "whatever").await;
    }

    assert!(
        a.authorization()
            .admin()
            .approve_client(&client.id)
            .await
            .unwrap()
    );

    // The other instance lets it in at once: no restart, no cache.
    let mut browser = signed_in_browser(&b).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let tokens = redeem(&b, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let approved = b
        .store
        .get_client(&ClientId(client.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approved.approved_at, Some(a.now()));
    let records = a
        .authorization()
        .admin()
        .audit_records(&mcp_oauth_authorization_server::store::AuditFilter::new())
        .await
        .unwrap();
    let changed = records
        .iter()
        .find(|record| record.event.as_str() == "client_status_changed")
        .expect("the approval is audited");
    assert_eq!(changed.actor.as_deref(), Some("admin"));
    assert_eq!(changed.details["status"], "active");
    b.stop().await;
    a.stop().await;
}

async fn a_suspended_client_loses_its_grants_and_a_rejected_one_is_gone(db: &TestDb) {
    let a = Server::start_on(db, with_approval).await;
    let b = a.another_instance(db, with_approval).await;
    let admin = a.authorization().admin();
    let client = public_client(&a).await;
    assert!(admin.approve_client(&client.id).await.unwrap());
    let mut browser = signed_in_browser(&a).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let tokens = redeem(&a, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();

    assert!(admin.suspend_client(&client.id).await.unwrap());

    assert_refused_everywhere(&b, &client, &refresh_token).await;
    let page = signed_in_browser(&b)
        .await
        .get(&authorize_path(&client.id, &[]))
        .await;
    assert_waiting_page(&b, &page, "Test MCP client");
    // Approved again, its old refresh token stays revoked.
    assert!(admin.approve_client(&client.id).await.unwrap());
    let again = refresh(&b, &client, &refresh_token).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    assert_eq!(again.error(), "invalid_grant");

    // Reject: only a pending client; it is deleted.
    assert_eq!(
        admin.reject_client(&client.id).await.unwrap(),
        Rejection::NotPending(ClientStatus::Active)
    );
    let rejected = public_client(&a).await;
    assert_eq!(
        admin.reject_client(&rejected.id).await.unwrap(),
        Rejection::Deleted
    );
    assert_eq!(status_of(&b, &rejected.id).await, None);
    let page = signed_in_browser(&b)
        .await
        .get(&authorize_path(&rejected.id, &[]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("not registered"), "{}", page.body);
    assert_eq!(
        admin.reject_client("nobody").await.unwrap(),
        Rejection::Unknown
    );
    assert!(!admin.approve_client("nobody").await.unwrap());
    assert!(!admin.suspend_client("nobody").await.unwrap());
    b.stop().await;
    a.stop().await;
}

async fn a_metadata_document_client_waits_and_is_approved_by_its_url(db: &TestDb) {
    let document = serve_metadata_document(REDIRECT_URI).await;
    let other_document = serve_metadata_document(REDIRECT_URI).await;
    let trusted = [document.clone(), other_document.clone()];
    let configure = move |config: AuthorizationServerConfig| {
        with_approval(config).with_cimd_trusted_local_documents(trusted.clone())
    };
    let a = Server::start_on(db, configure.clone()).await;
    let b = a.another_instance(db, configure).await;
    let client = Client {
        id: document.clone(),
        secret: None,
        registration_token: String::new(),
        auth: Auth::None,
    };
    let mut browser = signed_in_browser(&a).await;
    let page = browser.get(&authorize_path(&document, &[])).await;
    assert_waiting_page(&a, &page, "Document client");
    let stored = a
        .store
        .get_client(&ClientId(document.clone()))
        .await
        .unwrap()
        .expect("stored, pending");
    assert_eq!(
        (stored.status, stored.registration_path),
        (ClientStatus::Pending, RegistrationPath::MetadataDocument)
    );

    assert!(
        a.authorization()
            .admin()
            .approve_client(&document)
            .await
            .unwrap()
    );
    let mut browser = signed_in_browser(&b).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let tokens = redeem(&b, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);

    // Rejecting a document's client keeps it blocked: its next request does not make it
    // pending again.
    let page = browser.get(&authorize_path(&other_document, &[])).await;
    assert_waiting_page(&b, &page, "Document client");
    assert_eq!(
        a.authorization()
            .admin()
            .reject_client(&other_document)
            .await
            .unwrap(),
        Rejection::KeptSuspended
    );
    let page = browser.get(&authorize_path(&other_document, &[])).await;
    assert_waiting_page(&b, &page, "Document client");
    assert_eq!(
        status_of(&a, &other_document).await,
        Some(ClientStatus::Suspended)
    );
    b.stop().await;
    a.stop().await;
}

async fn clients_left_pending_too_long_are_purged(db: &TestDb) {
    let mut governance = approval();
    governance.pending_ttl_secs = 3600;
    let configure =
        move |config: AuthorizationServerConfig| config.with_governance(governance.clone());
    let server = Server::start_on(db, configure).await;
    let old = public_client(&server).await;
    server.advance(1800);
    let young = public_client(&server).await;
    let approved = public_client(&server).await;
    let admin = server.authorization().admin();
    assert!(admin.approve_client(&approved.id).await.unwrap());
    server.advance(1801);

    let purging = tokio::spawn(server.authorization().purge_expired_periodically());
    // The first purge runs at once; wait for it to have deleted the old client.
    for _ in 0..500 {
        if status_of(&server, &old.id).await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    purging.abort();
    assert_eq!(status_of(&server, &old.id).await, None);
    assert_eq!(
        status_of(&server, &young.id).await,
        Some(ClientStatus::Pending)
    );
    assert_eq!(
        status_of(&server, &approved.id).await,
        Some(ClientStatus::Active)
    );
    server.stop().await;
}

/// Without approval required nothing changes: a new client is active at once.
#[tokio::test]
async fn without_approval_a_new_client_is_active() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    assert_eq!(
        status_of(&server, &client.id).await,
        Some(ClientStatus::Active)
    );
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    assert_eq!(
        redeem(&server, &client, &code, VERIFIER).await.status,
        StatusCode::OK
    );
}

/// `POST /register` of a public client from the loopback address `127.0.0.<last>`.
async fn register_from(server: &Server, last: u8) -> (StatusCode, Value) {
    let response = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
        .post(format!("{}/register", server.base))
        .json(&client_metadata("none"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn the_global_limit_counts_every_address_on_every_instance(db: &TestDb) {
    let configure = |config: AuthorizationServerConfig| {
        let mut governance = RegistrationGovernance::default();
        governance.global_registrations_per_minute = Some(3);
        config
            .with_registrations_per_minute(10)
            .with_governance(governance)
    };
    let a = Server::start_on(db, configure).await;
    let b = a.another_instance(db, configure).await;
    for (server, address) in [(&a, 1), (&b, 2), (&a, 3)] {
        assert_eq!(register_from(server, address).await.0, StatusCode::CREATED);
    }
    let stored = a.store.list_clients().await.unwrap().len();
    for (server, address) in [(&b, 4), (&a, 1)] {
        let (status, body) = register_from(server, address).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"], "slow_down");
    }
    assert_eq!(
        a.store.list_clients().await.unwrap().len(),
        stored,
        "nothing stored"
    );
    let throttled = "mcp_oauth_registrations_total{outcome=\"throttled\",reason=\"global_limit\"}";
    assert_eq!(a.metric(throttled) + b.metric(throttled), 2.0);
    // A new minute: registrations go on.
    a.advance(61);
    assert_eq!(register_from(&b, 4).await.0, StatusCode::CREATED);
    b.stop().await;
    a.stop().await;
}

async fn registration_pauses_while_too_many_clients_await_approval(db: &TestDb) {
    let configure = |config: AuthorizationServerConfig| {
        let mut governance = approval();
        governance.max_pending = Some(2);
        config.with_governance(governance)
    };
    let server = Server::start_on(db, configure).await;
    let first = public_client(&server).await;
    public_client(&server).await;
    let pending = "mcp_oauth_registrations_total{outcome=\"pending\",reason=\"none\"}";
    assert_eq!(server.metric(pending), 2.0);
    assert_eq!(server.metric("mcp_oauth_clients_pending"), 2.0);

    let reply = harness::oauth::register(&server, &client_metadata("none")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_client_metadata");
    assert_eq!(
        reply.body["error_description"],
        "registration is paused: too many applications await approval"
    );
    assert_eq!(
        server.store.list_clients().await.unwrap().len(),
        2,
        "nothing stored"
    );
    let paused = "mcp_oauth_registrations_total{outcome=\"refused\",reason=\"pending_limit\"}";
    assert_eq!(server.metric(paused), 1.0);

    // An operator's decision makes room.
    assert!(
        server
            .authorization()
            .admin()
            .approve_client(&first.id)
            .await
            .unwrap()
    );
    assert_eq!(server.metric("mcp_oauth_clients_pending"), 1.0);
    public_client(&server).await;
    assert_eq!(server.metric("mcp_oauth_clients_pending"), 2.0);
    let records = server
        .authorization()
        .admin()
        .audit_records(&mcp_oauth_authorization_server::store::AuditFilter::new())
        .await
        .unwrap();
    let outcomes: Vec<&str> = records
        .iter()
        .filter(|record| record.event.as_str() == "client_registered")
        .map(|record| record.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["pending", "pending", "refused", "pending"]);
    server.stop().await;
}
