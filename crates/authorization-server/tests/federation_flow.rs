//! Federated sign-in end to end against a real OpenID provider (`oidc-provider` from npm, on
//! loopback, started by `scripts/services/oidc-provider.sh`): the person signs in upstream,
//! consents here, the client redeems our code and calls a tool on the demo MCP server with our
//! token. DCR and CIMD clients (feature `cimd`), a second sign-in, several providers, and on
//! PostgreSQL (feature `postgres`).
//!
//! ```sh
//! source scripts/services/node.sh; source scripts/services/oidc-provider.sh
//! node_install && oidc_provider_install && oidc_provider_start
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server federation
//! ```
//!
//! Without `MCP_OAUTH_OIDC_PROVIDER_URL` the tests pass after a skip notice, unless
//! `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail.

#[path = "federation/mod.rs"]
mod federation;
#[path = "support/mod.rs"]
mod harness;

use federation::{
    McpPort, PROVIDER, SECOND_PROVIDER, WebBrowser, authorize_via_provider, decide, provider,
    upstream,
};
use harness::Server;
use harness::oauth::{
    VERIFIER, authorize_path, callback_parameters, parameter, public_client, real_now, redeem,
    refresh, revoke,
};
use mcp_oauth_authorization_server::store::{AuditEventKind, AuditFilter, AuditOutcome};
use mcp_oauth_core::CanonicalResource;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// The code in a redirect to the client, after checking its `state` and `iss`.
fn code_of(server: &Server, visit: &federation::Visit) -> String {
    let parameters = callback_parameters(&visit.page);
    assert_eq!(parameter(&parameters, "state"), Some("st-123"));
    assert_eq!(parameter(&parameters, "iss"), Some(server.base.as_str()));
    parameter(&parameters, "code").expect("a code").to_owned()
}

#[tokio::test]
async fn a_person_signs_in_upstream_and_the_client_calls_a_tool_with_our_token() {
    let Some(issuer) = provider(PROVIDER, "a_person_signs_in_upstream") else {
        return;
    };
    let mcp_port = McpPort::bind().await;
    let resource = mcp_port.url.clone();
    let server = Server::start_with(|config| {
        config
            .with_upstream(upstream(&issuer))
            .with_resource(CanonicalResource::parse(&resource).unwrap())
    })
    .await;
    // The ID token and the MCP server's validator are checked against the real clock.
    server.set_now(real_now());
    let mcp = mcp_port.serve(&server.base);
    let client = public_client(&server).await;
    let path = authorize_path(&client.id, &[("resource", &resource)]);

    let mut browser = WebBrowser::new(&[&server.base, &issuer]);
    // The sign-in step goes to the provider, not to our password page.
    let first = browser.get(&format!("{}{path}", server.base)).await;
    let login = browser
        .get(&format!(
            "{}{}",
            server.base,
            first.page.location().unwrap()
        ))
        .await;
    assert_eq!(
        login.page.status,
        StatusCode::SEE_OTHER,
        "{}",
        login.page.body
    );
    let upstream_url = login.page.location().unwrap().to_owned();
    assert!(
        upstream_url.starts_with(&format!("{issuer}/auth?")),
        "{upstream_url}"
    );
    for expected in [
        "code_challenge_method=S256",
        "nonce=",
        "state=",
        "client_id=mcp-oauth",
        "scope=openid+email",
    ] {
        assert!(
            upstream_url.contains(expected),
            "{expected} in {upstream_url}"
        );
    }

    let consent = authorize_via_provider(&mut browser, &server.base, &path, "alice").await;
    assert_eq!(consent.page.status, StatusCode::OK, "{}", consent.page.body);
    assert!(
        consent.page.body.contains("alice@example.com"),
        "{}",
        consent.page.body
    );
    let code = code_of(
        &server,
        &decide(&mut browser, &server.base, &consent, "allow").await,
    );
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let access_token = text(&tokens.body["access_token"]);

    // The local user linked to (issuer, alice) is the token's subject.
    let link = server
        .store
        .find_upstream_identity(&issuer, "alice")
        .await
        .unwrap()
        .expect("the identity is linked");
    assert_eq!(link.email.as_deref(), Some("alice@example.com"));
    let user = server.store.get_user(&link.user_id).await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_str(), user.password_hash),
        ("alice@example.com", None)
    );
    // The first sign-in created the account: both are in the audit trail, with the provider.
    let trail = server
        .store
        .audit_records(&AuditFilter::new().with_actor(link.user_id.as_str()))
        .await
        .unwrap();
    let events: Vec<_> = trail
        .iter()
        .map(|record| (record.event, record.outcome, record.details.get("issuer")))
        .collect();
    let issued_by = serde_json::Value::from(issuer.as_str());
    assert_eq!(
        events[..2],
        [
            (
                AuditEventKind::AccountCreated,
                AuditOutcome::Succeeded,
                Some(&issued_by)
            ),
            (
                AuditEventKind::SignIn,
                AuditOutcome::Succeeded,
                Some(&issued_by)
            ),
        ]
    );

    let (status, answer) = mcp.call(&access_token, "whoami", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let me = &answer["result"]["structuredContent"];
    assert_eq!(me["issuer"], server.base.as_str(), "{answer}");
    assert_eq!(me["subject"], link.user_id.as_str());
    assert_eq!(me["client_id"], client.id.as_str());
    assert_eq!(me["audience"], json!([resource]));
    let (status, created) = mcp
        .call(
            &access_token,
            "create_context",
            json!({"name": "federated", "description": "via the provider"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_ne!(created["result"]["isError"], true, "{created}");

    // Refresh rotation and revocation work as in local mode.
    let refresh_token = text(&tokens.body["refresh_token"]);
    let rotated = refresh(&server, &client, &refresh_token).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let reused = refresh(&server, &client, &refresh_token).await;
    assert_eq!(reused.body["error"], "invalid_grant", "{}", reused.text);
    let fresh = text(&rotated.body["access_token"]);
    assert_eq!(
        revoke(&server, &client, &fresh).await.status,
        StatusCode::OK
    );

    // A second sign-in (a new browser: signed out here and at the provider) is the same user,
    // whose consent is remembered: straight back to the client with a code.
    let mut again = WebBrowser::new(&[&server.base, &issuer]);
    let back = authorize_via_provider(&mut again, &server.base, &path, "alice").await;
    let code = code_of(&server, &back);
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let (_, answer) = mcp
        .call(&text(&tokens.body["access_token"]), "whoami", json!({}))
        .await;
    assert_eq!(
        answer["result"]["structuredContent"]["subject"],
        link.user_id.as_str()
    );
    assert_eq!(server.store.list_users().await.unwrap().len(), 1);

    // The local password pages are off.
    let mut local = server.browser();
    let refused = local
        .post(
            "/login",
            &[
                ("email", "alice@example.com"),
                ("password", "whatever-password"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(local.get("/signup").await.status, StatusCode::NOT_FOUND);
}

#[cfg(feature = "cimd")]
#[tokio::test]
async fn a_metadata_document_client_gets_tokens_through_the_provider() {
    use harness::oauth::{Auth, Client, REDIRECT_URI, introspect, serve_metadata_document};

    let Some(issuer) = provider(PROVIDER, "a_metadata_document_client") else {
        return;
    };
    let client_id = serve_metadata_document(REDIRECT_URI).await;
    let trusted = client_id.clone();
    let server = Server::start_with(|config| {
        config
            .with_upstream(upstream(&issuer))
            .with_cimd_trusted_local_documents([trusted])
    })
    .await;
    server.set_now(real_now());
    let client = Client {
        id: client_id.clone(),
        secret: None,
        registration_token: String::new(),
        auth: Auth::None,
    };
    let mut browser = WebBrowser::new(&[&server.base, &issuer]);
    let consent = authorize_via_provider(
        &mut browser,
        &server.base,
        &authorize_path(&client_id, &[]),
        "carol",
    )
    .await;
    assert!(
        consent.page.body.contains("Document client"),
        "{}",
        consent.page.body
    );
    let code = code_of(
        &server,
        &decide(&mut browser, &server.base, &consent, "allow").await,
    );
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let introspector = public_client(&server).await;
    // Public clients may not introspect; the token is checked with the server's own keys.
    assert_eq!(
        introspect(&server, &introspector, "x").await.status,
        StatusCode::UNAUTHORIZED
    );
    let claims = server
        .keys()
        .verify(&text(&tokens.body["access_token"]), server.now())
        .expect("our own token");
    let link = server
        .store
        .find_upstream_identity(&issuer, "carol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], link.user_id.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
}

#[tokio::test]
async fn several_providers_get_a_chooser_and_each_identity_its_own_user() {
    let (Some(first), Some(second)) = (
        provider(PROVIDER, "several_providers"),
        provider(SECOND_PROVIDER, "several_providers"),
    ) else {
        return;
    };
    let server = Server::start_with(|config| {
        config
            .with_upstream(upstream(&first).with_name("First Provider"))
            .with_upstream(upstream(&second).with_name("Second Provider"))
    })
    .await;
    server.set_now(real_now());
    let client = public_client(&server).await;
    let path = authorize_path(&client.id, &[]);

    let mut browser = WebBrowser::new(&[&server.base, &first, &second]);
    let chooser = browser.browse(&format!("{}{path}", server.base)).await;
    assert_eq!(chooser.page.status, StatusCode::OK, "{}", chooser.page.body);
    assert!(chooser.page.body.contains("Sign in with First Provider"));
    assert!(chooser.page.body.contains("Sign in with Second Provider"));
    let marker = "<a href=\"/login/upstream?provider=1";
    let start = chooser
        .page
        .body
        .find(marker)
        .expect("the second provider's link")
        + "<a href=\"".len();
    let end = start + chooser.page.body[start..].find('"').unwrap();
    let link = chooser.page.body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let form = browser.browse(&format!("{}{link}", server.base)).await;
    assert!(form.url.as_str().starts_with(&second), "{}", form.url);
    let consent = federation::answer_provider(&mut browser, form, "login", "bob").await;
    let code = code_of(
        &server,
        &decide(&mut browser, &server.base, &consent, "allow").await,
    );
    assert_eq!(
        redeem(&server, &client, &code, VERIFIER).await.status,
        StatusCode::OK
    );

    // The same subject at the other provider is another person.
    let mut other = WebBrowser::new(&[&server.base, &first, &second]);
    let chooser = other.browse(&format!("{}{path}", server.base)).await;
    let link = chooser.page.body[chooser
        .page
        .body
        .find("/login/upstream?provider=0")
        .unwrap()..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let form = other.browse(&format!("{}{link}", server.base)).await;
    assert!(form.url.as_str().starts_with(&first), "{}", form.url);
    let consent = federation::answer_provider(&mut other, form, "login", "bob").await;
    assert_eq!(
        consent.page.status,
        StatusCode::OK,
        "consent again: another user"
    );
    let at_first = server
        .store
        .find_upstream_identity(&first, "bob")
        .await
        .unwrap()
        .unwrap();
    let at_second = server
        .store
        .find_upstream_identity(&second, "bob")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(at_first.user_id, at_second.user_id);
    // Both asserted bob@example.com: the second user is named by its identity instead.
    let users = server.store.list_users().await.unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().any(|user| user.email == "bob@example.com"));
    assert!(
        users
            .iter()
            .any(|user| user.email == format!("bob at {first}"))
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_sign_ins_link_one_user_on_postgres() {
    let Some(issuer) = provider(PROVIDER, "upstream_sign_ins_link_one_user_on_postgres") else {
        return;
    };
    let Some(db) = harness::TestDb::postgres("upstream_sign_ins_link_one_user").await else {
        return;
    };
    let server = Server::start_on(&db, |config| config.with_upstream(upstream(&issuer))).await;
    server.set_now(real_now());
    let client = public_client(&server).await;
    let path = authorize_path(&client.id, &[]);
    let mut browser = WebBrowser::new(&[&server.base, &issuer]);
    let consent = authorize_via_provider(&mut browser, &server.base, &path, "lena").await;
    let code = code_of(
        &server,
        &decide(&mut browser, &server.base, &consent, "allow").await,
    );
    let tokens = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let link = server
        .store
        .find_upstream_identity(&issuer, "lena")
        .await
        .unwrap()
        .expect("linked");
    let claims = server
        .keys()
        .verify(&text(&tokens.body["access_token"]), server.now())
        .unwrap();
    assert_eq!(claims["sub"], link.user_id.as_str());

    let mut again = WebBrowser::new(&[&server.base, &issuer]);
    let back = authorize_via_provider(&mut again, &server.base, &path, "lena").await;
    let tokens = redeem(&server, &client, &code_of(&server, &back), VERIFIER).await;
    let claims = server
        .keys()
        .verify(&text(&tokens.body["access_token"]), server.now())
        .unwrap();
    assert_eq!(claims["sub"], link.user_id.as_str());
    assert_eq!(server.store.list_users().await.unwrap().len(), 1);
}
