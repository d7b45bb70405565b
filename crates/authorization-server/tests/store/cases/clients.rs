//! Registered clients.

use mcp_oauth_authorization_server::store::{
    AccountStore, ClientId, ClientOrigin, ClientStore, CodeRedemption, ConsentStore, GrantStore,
    StoreError,
};
use sqlx::AssertSqlSafe;

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0, hash};

pub async fn registering_a_client_twice_conflicts(db: &TestDb) {
    let store = db.open().await;
    let client = fixtures::client("alpha", T0);
    store
        .insert_client(&client)
        .await
        .expect("first registration");

    let again = store
        .insert_client(&fixtures::client("alpha", T0 + 5))
        .await;

    assert!(
        matches!(again, Err(StoreError::Conflict("client"))),
        "{again:?}"
    );
    assert_eq!(
        store.get_client(&client.client_id).await.unwrap(),
        Some(client)
    );
    assert_eq!(
        store.get_client(&ClientId("nobody".into())).await.unwrap(),
        None
    );
}

pub async fn updating_a_client_replaces_metadata_and_secret_only(db: &TestDb) {
    let store = db.open().await;
    let client = fixtures::client("alpha", T0);
    store.insert_client(&client).await.unwrap();

    let mut changed = client.clone();
    changed.metadata = fixtures::metadata("Renamed", "http://127.0.0.1/cb");
    changed.secret_hash = None;
    changed.registration_token_hash = Some(hash("new registration token"));
    changed.updated_at = T0 + 100;
    // Neither the origin, the creation time nor the introspection permission (the
    // operator's) can be rewritten.
    changed.origin = ClientOrigin::Static;
    changed.created_at = T0 + 100;
    changed.introspection_resources = vec![fixtures::resource()];
    assert!(store.update_client(&changed).await.unwrap());

    let stored = store
        .get_client(&client.client_id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(stored.metadata, changed.metadata);
    assert_eq!(stored.secret_hash, None);
    assert_eq!(
        stored.registration_token_hash,
        changed.registration_token_hash
    );
    assert_eq!(stored.updated_at, T0 + 100);
    assert_eq!(stored.origin, ClientOrigin::Dynamic);
    assert_eq!(stored.created_at, T0);
    assert!(stored.introspection_resources.is_empty());

    let stranger = fixtures::client("stranger", T0);
    assert!(!store.update_client(&stranger).await.unwrap());
    assert_eq!(store.get_client(&stranger.client_id).await.unwrap(), None);
}

pub async fn a_resource_servers_introspection_permission_is_kept(db: &TestDb) {
    let store = db.open().await;
    let mut client = fixtures::client("resource-server", T0);
    client.origin = ClientOrigin::Static;
    client.introspection_resources = vec![
        fixtures::resource(),
        fixtures::resource_at("https://other.example/mcp"),
    ];
    store.insert_client(&client).await.unwrap();
    assert_eq!(
        store.get_client(&client.client_id).await.unwrap(),
        Some(client.clone())
    );
    assert_eq!(store.list_clients().await.unwrap(), [client]);
}

pub async fn clients_are_listed_oldest_first(db: &TestDb) {
    let store = db.open().await;
    assert!(store.list_clients().await.unwrap().is_empty());
    let mut newest = fixtures::client("newest", T0 + 20);
    newest.origin = ClientOrigin::Static;
    newest.secret_hash = None;
    newest.registration_token_hash = None;
    for client in [
        &newest,
        &fixtures::client("oldest", T0),
        &fixtures::client("middle", T0 + 10),
    ] {
        store.insert_client(client).await.unwrap();
    }

    let listed = store.list_clients().await.unwrap();

    let ids: Vec<&str> = listed
        .iter()
        .map(|client| client.client_id.as_str())
        .collect();
    assert_eq!(ids, ["oldest", "middle", "newest"]);
    assert_eq!(listed[2], newest);
}

pub async fn deleting_a_client_removes_its_grants_and_tokens(db: &TestDb) {
    let store = db.open().await;
    let doomed = Family::stored(&store, "doomed").await;
    let kept = Family::stored(&store, "kept").await;
    for family in [&doomed, &kept] {
        let name = family.grant.grant_id.as_str();
        store
            .upsert_consent(&fixtures::consent(&family.user, &family.client, T0))
            .await
            .unwrap();
        store
            .insert_refresh_token(&fixtures::refresh(&format!("rt-{name}"), &family.grant, T0))
            .await
            .unwrap();
        store
            .insert_access_token(&fixtures::access(
                &format!("at-{name}"),
                &family.grant,
                T0 + 300,
            ))
            .await
            .unwrap();
    }

    assert!(store.delete_client(&doomed.client.client_id).await.unwrap());

    let now = T0 + 1;
    assert_eq!(
        store.get_client(&doomed.client.client_id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_consent(
                &doomed.user.user_id,
                &doomed.client.client_id,
                &fixtures::resource()
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_grant(&doomed.grant.grant_id).await.unwrap(), None);
    assert_eq!(
        store
            .redeem_code(&doomed.code.code_hash, now)
            .await
            .unwrap(),
        CodeRedemption::Unknown
    );
    assert_eq!(
        store
            .find_active_refresh_token(&hash("rt-grant-doomed"), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_active_access_token("at-grant-doomed", now)
            .await
            .unwrap(),
        None
    );
    // The user stays: users belong to no client.
    assert!(
        store
            .get_user(&doomed.user.user_id)
            .await
            .unwrap()
            .is_some()
    );
    // Another client's data is untouched.
    assert!(
        store
            .get_consent(
                &kept.user.user_id,
                &kept.client.client_id,
                &fixtures::resource()
            )
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_refresh_token(&hash("rt-grant-kept"), now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_access_token("at-grant-kept", now)
            .await
            .unwrap()
            .is_some()
    );

    // Gone, not merely inactive.
    let raw = db.raw().await;
    for table in [
        "authorization_codes",
        "refresh_tokens",
        "access_tokens",
        "grants",
    ] {
        let left: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE grant_id = $1"
        )))
        .bind("grant-doomed")
        .fetch_one(&raw)
        .await
        .unwrap();
        assert_eq!(left, 0, "rows of the deleted client left in {table}");
    }

    assert!(!store.delete_client(&doomed.client.client_id).await.unwrap());
}
