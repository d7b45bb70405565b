//! Revocation reaching the MCP server: an MCP server whose validator checks revocations
//! (introspection of its JWTs, `IssuerConfig::with_revocation_check`) refuses a token this
//! authorization server revoked (`/revoke`, a replayed code) once its check interval has
//! passed; without the check, a revoked JWT stays valid until it expires.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --test mcp_server_revocation
//! ```

#[path = "support/mod.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::Server;
use harness::oauth::{
    Auth, Client, RESOURCE, VERIFIER, call, code_for, public_client, real_now, redeem,
    resource_server_client, signed_in_browser, tokens_for,
};
use mcp_oauth_resource::{
    IntrospectionConfig, IssuerConfig, ResourceServer, ResourceServerConfig, TokenRejection,
};
use reqwest::StatusCode;
use serde_json::Value;

/// How often the MCP servers of these tests ask again.
const CHECK_EVERY: Duration = Duration::from_secs(1);

fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// A server whose fake clock reads the wall clock's time (the validator uses the wall clock).
async fn server() -> Server {
    let server = Server::start().await;
    server.set_now(real_now());
    server
}

/// The MCP server's validator, introspecting each JWT at `server` as `introspector` when
/// first seen and again after [`CHECK_EVERY`].
fn checking_mcp_server(server: &Server, introspector: &Client) -> ResourceServer {
    let introspection = IntrospectionConfig::new(
        format!("{}/introspect", server.base),
        &introspector.id,
        introspector
            .secret
            .as_deref()
            .expect("a confidential client"),
    );
    let issuer = IssuerConfig::jwt(&server.base)
        .with_introspection(introspection)
        .with_revocation_check(CHECK_EVERY);
    ResourceServer::new(
        ResourceServerConfig::new(RESOURCE)
            .unwrap()
            .with_issuer(issuer),
    )
    .unwrap()
}

/// What `mcp` says of `token` once the check interval has passed (waiting at most 10 s).
async fn verdict_after_the_interval(
    mcp: &ResourceServer,
    token: &str,
) -> Result<(), TokenRejection> {
    let started = Instant::now();
    loop {
        let verdict = mcp.validator().validate(token).await.map(|_| ());
        if verdict.is_err() || started.elapsed() > CHECK_EVERY * 10 {
            return verdict;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn revoke(server: &Server, client: &Client, token: &str) {
    let reply = call(server, "/revoke", client, &[("token", token)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_token_revoked_at_the_authorization_server_is_refused_by_an_mcp_server_that_checks() {
    let server = server().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let mcp = checking_mcp_server(&server, &introspector);
    let tokens = tokens_for(&server, &client).await;
    let access_token = text(&tokens["access_token"]);
    mcp.validator()
        .validate(&access_token)
        .await
        .expect("active when first seen");

    // Signing out revokes the refresh token, its grant and the grant's access tokens.
    revoke(&server, &client, &text(&tokens["refresh_token"])).await;

    assert_eq!(
        verdict_after_the_interval(&mcp, &access_token).await,
        Err(TokenRejection::InvalidToken(
            "token is no longer active at its issuer".into()
        ))
    );
}

#[tokio::test]
async fn a_replayed_code_revokes_tokens_that_an_mcp_server_that_checks_then_refuses() {
    let server = server().await;
    let client = public_client(&server).await;
    let introspector = resource_server_client(&server, Auth::Basic).await;
    let mcp = checking_mcp_server(&server, &introspector);
    let mut browser = signed_in_browser(&server).await;
    let code = code_for(&mut browser, &client, &[]).await;
    let first = redeem(&server, &client, &code, VERIFIER).await;
    let access_token = text(&first.body["access_token"]);
    mcp.validator().validate(&access_token).await.unwrap();

    let replay = redeem(&server, &client, &code, VERIFIER).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);

    assert!(
        verdict_after_the_interval(&mcp, &access_token)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn without_the_check_a_revoked_token_stays_valid_until_it_expires() {
    let server = server().await;
    let client = public_client(&server).await;
    let mcp = harness::oauth::resource_server(&server, RESOURCE);
    let tokens = tokens_for(&server, &client).await;
    let access_token = text(&tokens["access_token"]);
    revoke(&server, &client, &text(&tokens["refresh_token"])).await;
    // The trade-off of local validation: the JWT verifies until `exp`.
    tokio::time::sleep(CHECK_EVERY + Duration::from_millis(200)).await;
    mcp.validator()
        .validate(&access_token)
        .await
        .expect("still accepted");
}

#[tokio::test]
async fn the_check_fails_closed_when_the_mcp_server_may_not_introspect() {
    let server = server().await;
    let client = public_client(&server).await;
    // A self-registered client: the operator did not allow it to introspect.
    let stranger = harness::oauth::confidential_client(&server, Auth::Basic).await;
    let mcp = checking_mcp_server(&server, &stranger);
    let access_token = text(&tokens_for(&server, &client).await["access_token"]);
    assert_eq!(
        mcp.validator().validate(&access_token).await.map(|_| ()),
        Err(TokenRejection::IssuerUnavailable)
    );
}

#[test]
fn a_revocation_check_needs_an_introspection_endpoint() {
    let config = ResourceServerConfig::new(RESOURCE)
        .unwrap()
        .with_issuer(IssuerConfig::jwt("https://as.example").with_revocation_check(CHECK_EVERY));
    let problem = config.validate().unwrap_err().to_string();
    assert!(problem.contains("introspection endpoint"), "{problem}");
}
