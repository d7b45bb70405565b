//! What happens to tokens, clients and keys over time, over HTTP: revocation (RFC 7009),
//! introspection (RFC 7662), signing-key rotation seen by the MCP server's validator, and
//! everything surviving a restart on SQLite and on PostgreSQL (feature `postgres`). Clients
//! identified by a metadata document are in `cimd_clients.rs`.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_lifecycle
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::sync::Arc;

use harness::oauth::{
    Auth, Client, EMAIL, PASSWORD, REDIRECT_URI, RESOURCE, VERIFIER, authorize_path,
    callback_parameters, code_for, confidential_client, introspect, is_active, parameter,
    public_client, real_now, redeem, refresh, resource_server, resource_server_client, revoke,
    signed_in_browser, token, tokens_for,
};
use harness::{Server, TestDb};
use mcp_oauth_authorization_server::Admin;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_grant() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let tokens = tokens_for(&server, &client).await;
    let (access_token, refresh_token) = (
        text(&tokens["access_token"]),
        text(&tokens["refresh_token"]),
    );
    let other = tokens_for(&server, &client).await; // another grant of the same client

    let revoked = revoke(&server, &client, &refresh_token).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(
        refresh(&server, &client, &refresh_token).await.error(),
        "invalid_grant"
    );
    assert!(
        !is_active(&server, &introspector, &access_token).await,
        "RFC 7009 §2.1"
    );
    // Only that grant.
    assert!(is_active(&server, &introspector, &text(&other["access_token"])).await);
    assert_eq!(
        refresh(&server, &client, &text(&other["refresh_token"]))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_an_access_token_makes_introspection_say_inactive() {
    let server = Server::start().await;
    let client = resource_server_client(&server, Auth::Post).await;
    let tokens = tokens_for(&server, &client).await;
    let access_token = text(&tokens["access_token"]);
    assert!(is_active(&server, &client, &access_token).await);
    let reply = call_revoke(&server, &client, &access_token, Some("access_token")).await;
    assert_eq!(reply, StatusCode::OK);
    assert!(!is_active(&server, &client, &access_token).await);
    // That token only: the refresh token still works.
    let refreshed = refresh(&server, &client, &text(&tokens["refresh_token"])).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert!(is_active(&server, &client, &text(&refreshed.body["access_token"])).await);
}

async fn call_revoke(
    server: &Server,
    client: &Client,
    token: &str,
    hint: Option<&str>,
) -> StatusCode {
    let mut fields = vec![("token", token)];
    if let Some(hint) = hint {
        fields.push(("token_type_hint", hint));
    }
    harness::oauth::call(server, "/revoke", client, &fields)
        .await
        .status
}

#[tokio::test]
async fn revocation_answers_200_for_tokens_it_does_not_know_or_that_are_not_the_clients() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let owner = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let owned = tokens_for(&server, &owner).await;
    let (owned_access, owned_refresh) =
        (text(&owned["access_token"]), text(&owned["refresh_token"]));
    let foreign_jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vcGUifQ.eyJqdGkiOiJ4In0.c2ln";
    for (case, candidate, hint) in [
        ("garbage", "not-a-token", None),
        ("a JWT of another issuer", foreign_jwt, None),
        ("a wrong hint", "not-a-token", Some("refresh_token")),
        ("an unknown hint", "not-a-token", Some("id_token")),
        ("another client's access token", owned_access.as_str(), None),
        (
            "another client's refresh token",
            owned_refresh.as_str(),
            Some("refresh_token"),
        ),
    ] {
        assert_eq!(
            call_revoke(&server, &client, candidate, hint).await,
            StatusCode::OK,
            "{case}"
        );
    }
    // Another client cannot revoke what it does not own.
    assert!(is_active(&server, &introspector, &owned_access).await);
    let refreshed = refresh(&server, &owner, &owned_refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    // Expired and already revoked tokens: 200, nothing to do.
    let revoked = text(&refreshed.body["refresh_token"]);
    assert_eq!(
        call_revoke(&server, &owner, &revoked, None).await,
        StatusCode::OK
    );
    assert_eq!(
        call_revoke(&server, &owner, &revoked, None).await,
        StatusCode::OK
    );
    server.advance(3601);
    assert_eq!(
        call_revoke(&server, &owner, &owned_access, None).await,
        StatusCode::OK
    );
    // Revocation needs a known client and a token.
    let missing = revoke(&server, &client, "").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error(), "invalid_request");
    let stranger = Client {
        id: "no-such-client".into(),
        ..client.clone()
    };
    let unknown = revoke(&server, &stranger, "not-a-token").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.error(), "invalid_client");
}

#[tokio::test]
async fn introspection_is_only_for_confidential_clients() {
    let server = Server::start().await;
    let public = public_client(&server).await;
    let basic = resource_server_client(&server, Auth::Basic).await;
    let post = resource_server_client(&server, Auth::Post).await;
    let access_token = text(&tokens_for(&server, &public).await["access_token"]);
    for (case, client, status) in [
        ("public", public.clone(), StatusCode::UNAUTHORIZED),
        (
            "unknown",
            Client {
                id: "no-such-client".into(),
                ..basic.clone()
            },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong secret",
            basic.presenting(Auth::Basic, Some("wrong")),
            StatusCode::UNAUTHORIZED,
        ),
        ("basic", basic.clone(), StatusCode::OK),
        ("post", post.clone(), StatusCode::OK),
    ] {
        let reply = introspect(&server, &client, &access_token).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text);
        if status == StatusCode::OK {
            assert_eq!(reply.body["active"], true, "{case}");
        } else {
            assert_eq!(reply.error(), "invalid_client", "{case}");
            assert!(
                reply.body.get("active").is_none(),
                "{case}: nothing about the token"
            );
        }
    }
}

#[tokio::test]
async fn introspection_is_refused_to_clients_the_operator_did_not_allow() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let tokens = tokens_for(&server, &client).await;
    // Anyone can register a confidential client; it must learn nothing about any token, so a
    // stolen refresh token cannot be tested without tripping reuse detection.
    for auth in [Auth::Basic, Auth::Post] {
        let stranger = confidential_client(&server, auth).await;
        for token in [&tokens["access_token"], &tokens["refresh_token"]] {
            let reply = introspect(&server, &stranger, &text(token)).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{auth:?}: {}",
                reply.text
            );
            assert_eq!(reply.error(), "unauthorized_client");
            assert!(
                reply.body.get("active").is_none(),
                "nothing about the token"
            );
        }
    }
    // The refresh token was not touched: it still rotates.
    let rotated = refresh(&server, &client, &text(&tokens["refresh_token"])).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
}

#[tokio::test]
async fn an_access_token_is_described_only_to_the_resource_server_it_is_meant_for() {
    const OTHER: &str = "http://127.0.0.1:3002/mcp";
    let server = Server::start_with(|config| {
        config.with_resource(mcp_oauth_core::CanonicalResource::parse(OTHER).unwrap())
    })
    .await;
    let client = public_client(&server).await;
    let ours = resource_server_client(&server, Auth::Basic).await;
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[("resource", OTHER)]).await;
    let for_other = redeem(&server, &client, &code, VERIFIER).await.body;
    assert_eq!(
        introspect(&server, &ours, &text(&for_other["access_token"]))
            .await
            .body,
        json!({"active": false}),
        "a token for another MCP server"
    );
    let for_ours = tokens_for(&server, &client).await;
    assert!(is_active(&server, &ours, &text(&for_ours["access_token"])).await);
}

#[tokio::test]
async fn refresh_tokens_are_described_only_to_their_own_client() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let tokens = tokens_for(&server, &client).await;
    let reply = introspect(&server, &introspector, &text(&tokens["refresh_token"])).await;
    assert_eq!(reply.body, json!({"active": false}));
    let own = resource_server_client(&server, Auth::Basic).await;
    let own_tokens = tokens_for(&server, &own).await;
    assert!(is_active(&server, &own, &text(&own_tokens["refresh_token"])).await);
}

#[tokio::test]
async fn introspection_describes_active_tokens_and_only_says_inactive_otherwise() {
    let server = Server::start().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let tokens = tokens_for(&server, &client).await;
    let access = introspect(&server, &introspector, &text(&tokens["access_token"])).await;
    assert_eq!(access.header("cache-control"), Some("no-store"));
    let body = &access.body;
    assert_eq!(body["active"], true);
    assert_eq!(body["iss"], server.base.as_str());
    assert_eq!(body["aud"], RESOURCE);
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["scope"], "mcp:read mcp:write");
    assert_eq!(body["exp"], server.now() + 300, "five minutes by default");
    assert!(body["sub"].is_string() && body["jti"].is_string());
    let own_tokens = tokens_for(&server, &introspector).await;
    let refresh_token =
        introspect(&server, &introspector, &text(&own_tokens["refresh_token"])).await;
    assert_eq!(refresh_token.body["active"], true);
    assert_eq!(refresh_token.body["client_id"], introspector.id.as_str());
    assert_eq!(refresh_token.body["sub"], body["sub"]);

    server.advance(3600);
    let signed_by_us_but_expired = text(&tokens["access_token"]);
    for candidate in [signed_by_us_but_expired.as_str(), "garbage", "a.b.c", ""] {
        let reply = harness::oauth::call(
            &server,
            "/introspect",
            &introspector,
            &[("token", candidate)],
        )
        .await;
        if candidate.is_empty() {
            assert_eq!(reply.error(), "invalid_request");
            continue;
        }
        assert_eq!(reply.body, json!({"active": false}), "{candidate}");
    }
    assert!(is_active(&server, &introspector, &text(&own_tokens["refresh_token"])).await);
}

#[tokio::test]
async fn after_a_key_rotation_both_keys_are_published_and_earlier_tokens_still_verify() {
    let server = Server::start().await;
    server.set_now(real_now());
    let client = public_client(&server).await;
    let mcp = resource_server(&server, RESOURCE);
    let before = text(&tokens_for(&server, &client).await["access_token"]);
    mcp.validator()
        .validate(&before)
        .await
        .expect("valid before the rotation");
    let first_kid = server.keys().current_kid();

    let second_kid = server.authorization().rotate_keys().await.unwrap();
    assert_ne!(second_kid, first_kid);
    assert_eq!(
        jwks_kids(&server).await,
        [second_kid.clone(), first_kid.clone()]
    );

    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let after = text(&redeem(&server, &client, &code, VERIFIER).await.body["access_token"]);
    assert_eq!(kid_of(&after), second_kid, "signed with the new key");
    let fresh = resource_server(&server, RESOURCE);
    for (validator, name) in [
        (&mcp, "the running MCP server"),
        (&fresh, "a restarted MCP server"),
    ] {
        validator
            .validator()
            .validate(&before)
            .await
            .unwrap_or_else(|error| panic!("{name}, old token: {error:?}"));
        validator
            .validator()
            .validate(&after)
            .await
            .unwrap_or_else(|error| panic!("{name}, new token: {error:?}"));
    }
    let introspector = resource_server_client(&server, Auth::Basic).await;
    assert!(is_active(&server, &introspector, &before).await);

    // A second rotation retires the first key: its tokens are no longer verifiable.
    server.authorization().rotate_keys().await.unwrap();
    let kids = jwks_kids(&server).await;
    assert_eq!(kids.len(), 2);
    assert!(!kids.contains(&first_kid));
    assert!(
        resource_server(&server, RESOURCE)
            .validator()
            .validate(&before)
            .await
            .is_err()
    );
    assert!(!is_active(&server, &introspector, &before).await);
}

#[tokio::test]
async fn a_key_rotated_by_another_process_signs_and_is_published_without_a_restart() {
    let server = Server::start_with(|config| {
        config.with_key_reload_interval(std::time::Duration::from_millis(10))
    })
    .await;
    server.set_now(real_now());
    let client = public_client(&server).await;
    let first_kid = server.keys().current_kid();
    // What `mcp-oauth admin keys rotate` does: its own handle on the same store.
    let now = server.now();
    let admin = Admin::with_clock(Arc::clone(&server.store), Arc::new(move || now));
    let second_kid = admin.rotate_keys().await.unwrap();
    assert_eq!(server.keys().current_kid(), first_kid, "not reloaded yet");

    let reloading = tokio::spawn(server.authorization().reload_keys_periodically());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while jwks_kids(&server).await != [second_kid.clone(), first_kid.clone()] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated key was never published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let token = text(&tokens_for(&server, &client).await["access_token"]);
    assert_eq!(kid_of(&token), second_kid, "signed with the rotated key");
    resource_server(&server, RESOURCE)
        .validator()
        .validate(&token)
        .await
        .expect("an MCP server verifies it");
    reloading.abort();
}

async fn jwks_kids(server: &Server) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/jwks.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| text(&key["kid"]))
        .collect()
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_users_consents_refresh_tokens_and_keys_survive_a_restart() {
    survives_a_restart(TestDb::sqlite()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_users_consents_refresh_tokens_and_keys_survive_a_restart_on_postgres() {
    if let Some(db) = TestDb::postgres("survives_a_restart").await {
        survives_a_restart(db).await;
    }
}

async fn survives_a_restart(db: TestDb) {
    let server = Server::start_on(&db, |config| config).await;
    let client = public_client(&server).await;
    let tokens = tokens_for(&server, &client).await;
    let kid = server.keys().current_kid();

    let server = server.restart_on(&db, |config| config).await;
    assert_eq!(
        jwks_kids(&server).await,
        [kid.as_str()],
        "the same signing key"
    );
    assert_eq!(server.keys().current_kid(), kid);
    // The client, with its registration access token.
    let read = reqwest::Client::new()
        .get(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // The refresh token still rotates, and the new one works too.
    let refreshed = refresh(&server, &client, &text(&tokens["refresh_token"])).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert_eq!(kid_of(&text(&refreshed.body["access_token"])), kid);
    let again = refresh(&server, &client, &text(&refreshed.body["refresh_token"])).await;
    assert_eq!(again.status, StatusCode::OK);
    // The person signs in again, and the consent is remembered: no consent page.
    let mut browser = server.browser();
    let signed_in = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let page = browser.get(&authorize_path(&client.id, &[])).await;
    let parameters = callback_parameters(&page);
    let code = parameter(&parameters, "code").expect("a code without asking");
    let redeemed = token(
        &server,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    server.stop().await;
}
