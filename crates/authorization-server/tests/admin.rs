//! The admin API ([`Admin`]): what `mcp-oauth admin` and `mcp-oauth dev` do to the data of an
//! authorization server, from its store alone.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{ClientOrigin, KeyState, SqlStore, Store};
use mcp_oauth_authorization_server::{AccountError, Admin, StaticClient, StaticClientError};
use mcp_oauth_core::CanonicalResource;

const REDIRECT_URI: &str = "http://localhost:3000/callback";

async fn admin() -> Admin {
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    Admin::with_clock(store, Arc::new(|| 1_700_000_000))
}

fn resource() -> CanonicalResource {
    CanonicalResource::parse("http://localhost:3001/mcp").unwrap()
}

#[tokio::test]
async fn registers_lists_and_deletes_static_clients() {
    let admin = admin().await;
    let web = StaticClient::new("web", "Web app").with_redirect_uris([REDIRECT_URI]);
    let registered = admin.register_static_client(&web).await.unwrap();
    assert_eq!(registered.client_id, "web");
    assert_eq!(registered.secret.as_ref().unwrap().expose().len(), 43);
    let mcp = StaticClient::with_random_id("MCP server").with_introspection_resources([resource()]);
    let introspector = admin.register_static_client(&mcp).await.unwrap();
    assert_ne!(introspector.client_id, "web");

    let listed = admin.list_clients().await.unwrap();
    assert_eq!(listed.len(), 2);
    let listed_web = listed
        .iter()
        .find(|client| client.client_id == "web")
        .unwrap();
    assert_eq!(listed_web.name.as_deref(), Some("Web app"));
    assert_eq!(listed_web.origin, ClientOrigin::Static);
    assert_eq!(listed_web.metadata["redirect_uris"][0], REDIRECT_URI);
    assert!(listed_web.introspection_resources.is_empty());
    let listed_mcp = listed
        .iter()
        .find(|client| client.client_id == introspector.client_id)
        .unwrap();
    assert_eq!(listed_mcp.introspection_resources, [resource()]);

    let taken = admin.register_static_client(&web).await;
    assert!(
        matches!(taken, Err(StaticClientError::Store(_))),
        "{taken:?}"
    );
    assert!(admin.delete_client("web").await.unwrap());
    assert!(!admin.delete_client("web").await.unwrap());
    assert_eq!(admin.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn ensuring_a_static_client_keeps_a_matching_registration_and_replaces_a_moved_one() {
    let admin = admin().await;
    let client = StaticClient::new("demo", "Demo").with_redirect_uris([REDIRECT_URI]);
    let first = admin.ensure_static_client(&client, None).await.unwrap();
    assert!(first.registered_now);
    let secret = first.secret.unwrap();

    let again = admin
        .ensure_static_client(&client, Some(secret.clone()))
        .await
        .unwrap();
    assert!(!again.registered_now, "the kept secret still matches");
    assert_eq!(again.secret.unwrap().expose(), secret.expose());

    let moved = client
        .clone()
        .with_redirect_uris(["http://localhost:4000/callback"]);
    let replaced = admin
        .ensure_static_client(&moved, Some(secret.clone()))
        .await
        .unwrap();
    assert!(
        replaced.registered_now,
        "a moved redirect URI registers again"
    );
    assert_ne!(replaced.secret.unwrap().expose(), secret.expose());
    let listed = admin.list_clients().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].metadata["redirect_uris"][0],
        "http://localhost:4000/callback"
    );
}

#[tokio::test]
async fn adds_finds_and_lists_users_under_the_password_policy() {
    let admin = admin().await;
    let added = admin
        .add_user(" Ann@Example.com ", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(added.email, "ann@example.com");
    assert_eq!(added.created_at, 1_700_000_000);
    let found = admin.find_user("ANN@example.com").await.unwrap();
    assert_eq!(found.as_ref(), Some(&added));
    assert_eq!(admin.find_user("bob@example.com").await.unwrap(), None);
    assert!(matches!(
        admin.add_user("bob@example.com", "short").await,
        Err(AccountError::WeakPassword(_))
    ));
    assert_eq!(admin.list_users().await.unwrap(), [added]);
}

#[tokio::test]
async fn rotating_keys_keeps_the_previous_key_published() {
    let admin = admin().await;
    let first = admin.list_keys().await.unwrap();
    assert_eq!(
        first.len(),
        1,
        "the first key, as a starting server makes it"
    );
    assert_eq!(first[0].state, KeyState::Current);
    let rotated = admin.rotate_keys().await.unwrap();
    let keys = admin.list_keys().await.unwrap();
    let listed: Vec<(&str, KeyState)> = keys
        .iter()
        .map(|key| (key.kid.as_str(), key.state))
        .collect();
    assert_eq!(
        listed,
        [
            (rotated.as_str(), KeyState::Current),
            (first[0].kid.as_str(), KeyState::Previous)
        ]
    );
}
