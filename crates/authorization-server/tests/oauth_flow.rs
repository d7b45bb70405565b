//! The whole authorization code flow over HTTP, as an MCP client and a person drive it:
//! registration, sign-up, consent, code, token, refresh, revocation, introspection; and the
//! hostile variants of each step. The MCP server's validator accepts the tokens.
//!
//! The flow runs on SQLite in memory, and once more on PostgreSQL (feature `postgres`: a fresh
//! schema of the database at `MCP_OAUTH_POSTGRES_URL`; skipped with a notice when it is unset,
//! failing when `MCP_OAUTH_REQUIRE_SERVICES=1`).
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test oauth_flow
//! ```

#[path = "support/mod.rs"]
mod harness;

use harness::Server;
#[cfg(feature = "postgres")]
use harness::TestDb;
use harness::oauth::{
    RESOURCE, VERIFIER, public_client, real_now, redeem, refresh, resource_server, revoke, token,
};
use reqwest::StatusCode;

#[tokio::test]
async fn whole_flow_from_registration_to_revocation() {
    whole_flow(Server::start().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_flow_from_registration_to_revocation_on_postgres() {
    let Some(db) = TestDb::postgres("whole_flow_from_registration_to_revocation").await else {
        return;
    };
    whole_flow(Server::start_on(&db, |config| config).await).await;
}

async fn whole_flow(server: Server) {
    // The MCP server's validator reads the real clock.
    server.set_now(real_now());
    let client = public_client(&server).await;
    let mut browser = server.browser();
    let code = harness::oauth::obtain_code(&server, &mut browser, &client).await;

    let reply = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let tokens = reply.body;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The MCP server accepts it: signature from the JWKS, issuer, audience = the resource.
    let verified = resource_server(&server, RESOURCE)
        .validator()
        .validate(access_token)
        .await
        .unwrap();
    assert_eq!(verified.client_id.as_deref(), Some(client.id.as_str()));
    assert!(verified.scopes.contains("mcp:write"));
    assert_eq!(verified.audience, [RESOURCE]);
    // An MCP server at another URL refuses it.
    let other = resource_server(&server, "http://127.0.0.1:3999/mcp");
    assert!(other.validator().validate(access_token).await.is_err());

    // Refresh rotates; a narrower scope is allowed, a wider one is not.
    let refreshed = token(
        &server,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("scope", "mcp:read"),
        ],
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert_eq!(refreshed.body["scope"], "mcp:read");
    let rotated = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, refresh_token);
    let wider = token(
        &server,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rotated),
            ("scope", "mcp:read mcp:write"),
        ],
    )
    .await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST);
    assert_eq!(wider.error(), "invalid_scope");

    // Revoking the refresh token revokes its grant.
    assert_eq!(
        revoke(&server, &client, &rotated).await.status,
        StatusCode::OK
    );
    let revoked = refresh(&server, &client, &rotated).await;
    assert_eq!(revoked.status, StatusCode::BAD_REQUEST);
    assert_eq!(revoked.error(), "invalid_grant");

    // The registration can be read and deleted with its access token (RFC 7592).
    let http = reqwest::Client::new();
    let read = http
        .get(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let deleted = http
        .delete(format!("{}/register/{}", server.base, client.id))
        .bearer_auth(&client.registration_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // Deleted clients are unknown: MCP clients learn to register again.
    let unknown = refresh(&server, &client, &rotated).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.error(), "invalid_client");
    assert!(client.secret.is_none());
}
