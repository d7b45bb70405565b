//! Users and their consents.

use mcp_oauth_authorization_server::store::{
    AccountStore, ClientStore, ConsentStore, StoreError, UserId,
};

use mcp_oauth_core::ScopeSet;

use crate::backend::TestDb;
use crate::fixtures::{self, T0};

pub async fn a_taken_email_conflicts(db: &TestDb) {
    let store = db.open().await;
    let alice = fixtures::user("alice", T0);
    store.insert_user(&alice).await.unwrap();

    let mut impostor = fixtures::user("impostor", T0 + 1);
    impostor.email = alice.email.clone();
    let taken_email = store.insert_user(&impostor).await;
    let taken_id = store.insert_user(&fixtures::user("alice", T0 + 2)).await;

    assert!(
        matches!(taken_email, Err(StoreError::Conflict("user"))),
        "{taken_email:?}"
    );
    assert!(
        matches!(taken_id, Err(StoreError::Conflict("user"))),
        "{taken_id:?}"
    );
    assert_eq!(store.list_users().await.unwrap(), [alice]);
}

pub async fn users_are_found_by_email_and_by_id(db: &TestDb) {
    let store = db.open().await;
    let mut upstream = fixtures::user("upstream", T0 + 10);
    upstream.password_hash = None;
    let local = fixtures::user("local", T0);
    store.insert_user(&upstream).await.unwrap();
    store.insert_user(&local).await.unwrap();

    assert_eq!(
        store
            .find_user_by_email("upstream@example.com")
            .await
            .unwrap(),
        Some(upstream.clone())
    );
    assert_eq!(
        store.get_user(&local.user_id).await.unwrap(),
        Some(local.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_user(&UserId("nobody".into())).await.unwrap(),
        None
    );
    assert_eq!(store.list_users().await.unwrap(), [local, upstream]);
}

pub async fn giving_consent_again_replaces_it(db: &TestDb) {
    let store = db.open().await;
    let client = fixtures::client("alpha", T0);
    let user = fixtures::user("alice", T0);
    store.insert_client(&client).await.unwrap();
    store.insert_user(&user).await.unwrap();
    let resource = fixtures::resource();
    let consent_now = || store.get_consent(&user.user_id, &client.client_id, &resource);
    assert_eq!(consent_now().await.unwrap(), None);

    let first = fixtures::consent(&user, &client, T0);
    store.upsert_consent(&first).await.unwrap();
    assert_eq!(consent_now().await.unwrap(), Some(first.clone()));

    let mut wider = first;
    wider.scope = ScopeSet::parse("mcp.read mcp.write");
    wider.granted_at = T0 + 60;
    store.upsert_consent(&wider).await.unwrap();
    assert_eq!(consent_now().await.unwrap(), Some(wider));
}

pub async fn consent_is_kept_per_resource(db: &TestDb) {
    let store = db.open().await;
    let client = fixtures::client("alpha", T0);
    let user = fixtures::user("alice", T0);
    store.insert_client(&client).await.unwrap();
    store.insert_user(&user).await.unwrap();
    let other = fixtures::resource_at("https://other.example/mcp");

    let here = fixtures::consent(&user, &client, T0);
    store.upsert_consent(&here).await.unwrap();
    assert_eq!(
        store
            .get_consent(&user.user_id, &client.client_id, &other)
            .await
            .unwrap(),
        None,
        "consent for one resource says nothing about another"
    );

    let mut there = here.clone();
    there.resource = other.clone();
    there.scope = ScopeSet::parse("mcp.write");
    there.granted_at = T0 + 5;
    store.upsert_consent(&there).await.unwrap();
    assert_eq!(
        store
            .get_consent(&user.user_id, &client.client_id, &other)
            .await
            .unwrap(),
        Some(there)
    );
    assert_eq!(
        store
            .get_consent(&user.user_id, &client.client_id, &fixtures::resource())
            .await
            .unwrap(),
        Some(here),
        "the other resource's consent did not replace this one"
    );
}
