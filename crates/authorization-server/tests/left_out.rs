//! What a build without a capability's feature does instead: each test here exists only in a
//! build that leaves its feature out (the default build has every feature, so none), e.g.
//!
//! ```sh
//! cargo nextest run -p mcp-oauth-authorization-server --no-default-features --test left_out
//! ```

#![cfg(not(all(feature = "postgres", feature = "federation", feature = "cimd")))]

#[path = "support/mod.rs"]
mod harness;

/// Without `cimd` an https `client_id` is one more unregistered client id: no document is
/// fetched, and the metadata says so.
#[cfg(not(feature = "cimd"))]
#[tokio::test]
async fn without_cimd_a_client_id_url_is_not_a_registered_client() {
    use reqwest::StatusCode;

    let server = harness::Server::start().await;
    let page = server
        .browser()
        .get(&harness::oauth::authorize_path(
            "https://app.example.com/client.json",
            &[],
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert_eq!(page.location(), None);
    assert!(page.body.contains("not registered"), "{}", page.body);
    let metadata: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
}

/// Without `federation` people sign in with a password here, and the routes of federated
/// sign-in are not there.
#[cfg(not(feature = "federation"))]
#[tokio::test]
async fn without_federation_people_sign_in_here_and_the_upstream_routes_are_not_found() {
    use reqwest::StatusCode;

    let server = harness::Server::start().await;
    let mut browser = server.browser();
    let login = browser.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("type=\"password\""), "{}", login.body);
    for path in [
        "/login/upstream?provider=0",
        "/login/callback?code=c&state=s",
    ] {
        assert_eq!(
            browser.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// Without `postgres` a PostgreSQL URL is refused with a message naming the feature, and not
/// the URL (it may carry a password).
#[cfg(not(feature = "postgres"))]
#[tokio::test]
async fn without_postgres_a_postgres_url_is_refused_naming_the_feature() {
    use mcp_oauth_authorization_server::store::{SqlStore, StoreError};

    let error = SqlStore::connect("postgres://mcp:s3cret@127.0.0.1:1/mcp")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("`postgres` feature"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}
