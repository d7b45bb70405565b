//! Registration governance (issue 16), over HTTP: redirect URIs limited to trusted hosts (at
//! registration and in metadata documents), and scope ceilings per registration path, enforced
//! at registration, at `/authorize` and on refresh. Every refusal is a 4xx OAuth error (or a
//! page) and leaves nothing stored. The case that restarts the server on its database runs on
//! SQLite (a file) and on PostgreSQL.
//!
//! ```sh
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test registration_policies
//! ```

#[path = "support/mod.rs"]
#[macro_use]
mod harness;

use harness::oauth::{
    REDIRECT_URI, VERIFIER, authorize_path, callback_parameters, client_metadata, code_for, decide,
    parameter, public_client, redeem, refresh, register, register_client, serve_metadata_document,
    signed_in_browser, tokens_for,
};
use harness::{Server, TestDb};
use mcp_oauth_authorization_server::{AuthorizationServerConfig, StaticClient};
use mcp_oauth_core::{
    HostPatterns, RegistrationGovernance, ScopeCeilings, ScopeHandling, ScopeSet, TrustedRedirects,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn trusted(loopback: bool) -> RegistrationGovernance {
    let hosts = HostPatterns::parse(&["*.example.com", "app.example.org"]).unwrap();
    let mut governance = RegistrationGovernance::default();
    governance.trusted_redirects = Some(TrustedRedirects::new(hosts).with_loopback(loopback));
    governance
}

/// Ceilings: open registration `open`, approved clients `approved`.
fn ceilings(open: &str, approved: Option<&str>, handling: ScopeHandling) -> RegistrationGovernance {
    let mut ceilings = ScopeCeilings::default();
    ceilings.open = Some(ScopeSet::parse(open));
    ceilings.approved = approved.map(ScopeSet::parse);
    let mut governance = RegistrationGovernance::default();
    governance.ceilings = ceilings;
    governance.scope_handling = handling;
    governance
}

async fn client_count(server: &Server) -> usize {
    server.store.list_clients().await.unwrap().len()
}

fn with_redirect(uri: &str) -> Value {
    let mut metadata = client_metadata("none");
    metadata["redirect_uris"] = json!([uri]);
    metadata
}

/// A registration refused with `error` (400, JSON) whose description names `named`, leaving
/// nothing stored.
async fn assert_refused(server: &Server, metadata: &Value, error: &str, named: &str) {
    let before = client_count(server).await;
    let reply = register(server, metadata).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error(), error, "{}", reply.text);
    let description = reply.body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(named), "{description}");
    assert_eq!(client_count(server).await, before, "nothing stored");
}

#[tokio::test]
async fn registration_takes_only_redirect_uris_on_trusted_hosts() {
    let server = Server::start_with(|config| config.with_governance(trusted(true))).await;
    let untrusted =
        "mcp_oauth_registrations_total{outcome=\"refused\",reason=\"untrusted_redirect_uri\"}";
    for uri in [
        "https://evil.example.net/callback",
        "https://example.com/callback",
        "https://app.example.org.evil.net/cb",
    ] {
        assert_refused(&server, &with_redirect(uri), "invalid_redirect_uri", uri).await;
    }
    // One untrusted URI among trusted ones is enough to refuse.
    let mut mixed = with_redirect("https://app.example.com/cb");
    mixed["redirect_uris"] = json!(["https://app.example.com/cb", "https://evil.example.net/cb"]);
    assert_refused(
        &server,
        &mixed,
        "invalid_redirect_uri",
        "https://evil.example.net/cb",
    )
    .await;
    for uri in [
        "https://app.example.com/callback",
        "https://deep.sub.example.com/cb",
        "https://app.example.org/cb",
        REDIRECT_URI,
    ] {
        register_client(&server, with_redirect(uri)).await;
    }

    assert_eq!(server.metric(untrusted), 4.0);

    let strict = Server::start_with(|config| config.with_governance(trusted(false))).await;
    assert_refused(
        &strict,
        &with_redirect(REDIRECT_URI),
        "invalid_redirect_uri",
        REDIRECT_URI,
    )
    .await;
}

#[tokio::test]
async fn a_metadata_document_with_an_untrusted_redirect_uri_is_refused_and_not_stored() {
    let untrusted = "https://evil.example.net/callback";
    let document = serve_metadata_document(untrusted).await;
    let trusted_document = document.clone();
    let server = Server::start_with(|config| {
        config
            .with_governance(trusted(true))
            .with_cimd_trusted_local_documents([trusted_document])
    })
    .await;
    let mut browser = signed_in_browser(&server).await;
    let page = browser
        .get(&authorize_path(&document, &[("redirect_uri", untrusted)]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert_eq!(page.location(), None);
    assert!(page.body.contains(untrusted), "{}", page.body);
    assert!(
        page.body.contains("invalid_client_metadata"),
        "{}",
        page.body
    );
    assert_eq!(client_count(&server).await, 0, "nothing stored");
}

#[tokio::test]
async fn registration_narrows_or_refuses_scopes_above_the_ceiling_of_its_path() {
    let server = Server::start_with(|config| {
        config.with_governance(ceilings("mcp:read", None, ScopeHandling::Narrow))
    })
    .await;
    let mut metadata = client_metadata("none");
    metadata["scope"] = json!("mcp:read mcp:write");
    let reply = register(&server, &metadata).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["scope"], "mcp:read", "narrowed, and said so");
    metadata["scope"] = json!("mcp:write");
    assert_refused(&server, &metadata, "invalid_client_metadata", "mcp:write").await;

    let refusing = Server::start_with(|config| {
        config.with_governance(ceilings("mcp:read", None, ScopeHandling::Refuse))
    })
    .await;
    metadata["scope"] = json!("mcp:read mcp:write");
    assert_refused(&refusing, &metadata, "invalid_client_metadata", "mcp:write").await;

    // The initial access token's path has its own ceiling (none here).
    let mut governance = ceilings("mcp:read", None, ScopeHandling::Refuse);
    governance.ceilings.initial_access_token = Some(ScopeSet::parse("mcp:read mcp:write"));
    let with_token = Server::start_with(|config| {
        config
            .with_governance(governance)
            .with_initial_access_token("open-sesame")
    })
    .await;
    let reply = reqwest::Client::new()
        .post(format!("{}/register", with_token.base))
        .bearer_auth("open-sesame")
        .json(&metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:read mcp:write");
}

#[tokio::test]
async fn authorize_narrows_or_refuses_scopes_above_the_ceiling_and_approval_lifts_it() {
    let server = Server::start_with(|config| {
        config.with_governance(ceilings(
            "mcp:read",
            Some("mcp:read mcp:write"),
            ScopeHandling::Narrow,
        ))
    })
    .await;
    let client = public_client(&server).await;
    let tokens = tokens_for(&server, &client).await;
    assert_eq!(tokens["scope"], "mcp:read", "narrowed, and said so");
    // Nothing under the ceiling: invalid_scope, back to the client.
    let page = signed_in_browser(&server)
        .await
        .get(&authorize_path(&client.id, &[("scope", "mcp:write")]))
        .await;
    let parameters = callback_parameters(&page);
    assert_eq!(parameter(&parameters, "error"), Some("invalid_scope"));

    // Once an operator approves it, the approved ceiling applies.
    let admin = server.authorization().admin();
    assert!(admin.approve_client(&client.id).await.unwrap());
    let tokens = tokens_for(&server, &client).await;
    assert_eq!(
        tokens["scope"], "mcp:read mcp:write",
        "the approved ceiling"
    );

    // Refuse: a request above the ceiling goes back to the client as invalid_scope.
    let refusing = Server::start_with(|config| {
        config.with_governance(ceilings("mcp:read", None, ScopeHandling::Refuse))
    })
    .await;
    let refused_client = public_client(&refusing).await;
    let mut browser = signed_in_browser(&refusing).await;
    let page = browser.get(&authorize_path(&refused_client.id, &[])).await;
    let parameters = callback_parameters(&page);
    assert_eq!(parameter(&parameters, "error"), Some("invalid_scope"));
    let code = code_for(&mut browser, &refused_client, &[("scope", "mcp:read")]).await;
    let reply = redeem(&refusing, &refused_client, &code, VERIFIER).await;
    assert_eq!(reply.body["scope"], "mcp:read", "{}", reply.text);
}

#[tokio::test]
async fn static_clients_have_no_ceiling() {
    let server = Server::start_with(|config| {
        config.with_governance(ceilings(
            "mcp:read",
            Some("mcp:read"),
            ScopeHandling::Refuse,
        ))
    })
    .await;
    let registered = server
        .authorization()
        .admin()
        .register_static_client(
            &StaticClient::new("operator-app", "Operator app")
                .with_redirect_uris([REDIRECT_URI])
                .public(),
        )
        .await
        .unwrap();
    let client = harness::oauth::Client {
        id: registered.client_id,
        secret: None,
        registration_token: String::new(),
        auth: harness::oauth::Auth::None,
    };
    let mut browser = signed_in_browser(&server).await;
    let consent = browser.get(&authorize_path(&client.id, &[])).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let parameters = callback_parameters(&decide(&mut browser, &consent, "allow").await);
    let code = parameter(&parameters, "code").expect("a code");
    let reply = redeem(&server, &client, code, VERIFIER).await;
    assert_eq!(reply.body["scope"], "mcp:read mcp:write", "{}", reply.text);
}

on_every_database!(a_refresh_is_narrowed_to_the_current_ceiling);

/// The configuration with `governance`.
fn with(
    governance: RegistrationGovernance,
) -> impl FnOnce(AuthorizationServerConfig) -> AuthorizationServerConfig {
    move |config| config.with_governance(governance)
}

async fn a_refresh_is_narrowed_to_the_current_ceiling(db: &TestDb) {
    let server = Server::start_on(db, |config| config).await;
    let client = public_client(&server).await;
    let tokens = tokens_for(&server, &client).await;
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The operator lowers the ceiling of open registration: a restart with the new flags.
    let server = server
        .restart_on(
            db,
            with(ceilings("mcp:read openid", None, ScopeHandling::Refuse)),
        )
        .await;
    let reply = refresh(&server, &client, &refresh_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["scope"], "mcp:read", "narrowed to the ceiling");
    let refresh_token = reply.body["refresh_token"].as_str().unwrap().to_owned();

    let server = server
        .restart_on(db, with(ceilings("openid", None, ScopeHandling::Narrow)))
        .await;
    let reply = refresh(&server, &client, &refresh_token).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_scope");
    server.stop().await;
}
