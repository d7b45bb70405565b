//! Registered clients.

use mcp_oauth_authorization_server::store::{
    AccountStore, ClientId, ClientOrigin, ClientStore, CodeRedemption, ConsentStore, GrantStore,
    StoreError,
};
use mcp_oauth_core::{ClientStatus, RegistrationPath};
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

pub async fn a_clients_status_and_path_are_kept_and_listed(db: &TestDb) {
    let store = db.open().await;
    let pending = fixtures::client("pending", T0)
        .with_registration(RegistrationPath::InitialAccessToken, ClientStatus::Pending);
    let active = fixtures::client("active", T0 + 1);
    for client in [&pending, &active] {
        store.insert_client(client).await.unwrap();
    }
    let stored = store.get_client(&pending.client_id).await.unwrap().unwrap();
    assert_eq!(stored, pending);
    assert_eq!(
        (stored.status, stored.registration_path, stored.approved_at),
        (
            ClientStatus::Pending,
            RegistrationPath::InitialAccessToken,
            None
        )
    );
    assert_eq!(active.registration_path, RegistrationPath::Open);

    // An update by the client changes none of the operator's decisions.
    let mut changed = stored.clone();
    changed.status = ClientStatus::Active;
    changed.registration_path = RegistrationPath::Static;
    changed.approved_at = Some(T0 + 5);
    changed.updated_at = T0 + 5;
    assert!(store.update_client(&changed).await.unwrap());
    let after = store.get_client(&pending.client_id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.registration_path, after.approved_at),
        (
            ClientStatus::Pending,
            RegistrationPath::InitialAccessToken,
            None
        )
    );

    let count = |status| {
        let store = &store;
        async move { store.count_clients_with_status(status).await.unwrap() }
    };
    assert_eq!(
        (
            count(ClientStatus::Active).await,
            count(ClientStatus::Pending).await,
            count(ClientStatus::Suspended).await
        ),
        (1, 1, 0)
    );
    let listed = store
        .list_clients_with_status(ClientStatus::Pending)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client_id, pending.client_id);

    // Approval: active from now, approved at now.
    assert!(
        store
            .set_client_status(&pending.client_id, ClientStatus::Active, T0 + 60)
            .await
            .unwrap()
    );
    let approved = store.get_client(&pending.client_id).await.unwrap().unwrap();
    assert_eq!(
        (approved.status, approved.approved_at, approved.updated_at),
        (ClientStatus::Active, Some(T0 + 60), T0 + 60)
    );
    assert_eq!(count(ClientStatus::Pending).await, 0);
    assert!(
        !store
            .set_client_status(&ClientId("nobody".into()), ClientStatus::Active, T0)
            .await
            .unwrap()
    );
}

pub async fn suspending_a_client_revokes_its_grants_and_keeps_the_approval(db: &TestDb) {
    let store = db.open().await;
    let suspended = Family::stored(&store, "suspended").await;
    let kept = Family::stored(&store, "kept").await;
    for family in [&suspended, &kept] {
        let name = family.grant.grant_id.as_str();
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
    let id = &suspended.client.client_id;
    store
        .set_client_status(id, ClientStatus::Active, T0 + 1)
        .await
        .unwrap();

    assert!(
        store
            .set_client_status(id, ClientStatus::Suspended, T0 + 2)
            .await
            .unwrap()
    );

    let now = T0 + 3;
    let client = store
        .get_client(id)
        .await
        .unwrap()
        .expect("kept, suspended");
    assert_eq!(
        (client.status, client.approved_at),
        (ClientStatus::Suspended, Some(T0 + 1))
    );
    let grant = store
        .get_grant(&suspended.grant.grant_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.revoked_at, Some(T0 + 2));
    assert_eq!(
        store
            .find_active_refresh_token(&hash("rt-grant-suspended"), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_active_access_token("at-grant-suspended", now)
            .await
            .unwrap(),
        None
    );
    // Another client's grants stay.
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
}

pub async fn pending_clients_past_their_time_are_deleted_with_their_grants(db: &TestDb) {
    let store = db.open().await;
    let old = fixtures::client("old", T0)
        .with_registration(RegistrationPath::Open, ClientStatus::Pending);
    let young = fixtures::client("young", T0 + 100)
        .with_registration(RegistrationPath::Open, ClientStatus::Pending);
    let suspended = fixtures::client("suspended", T0)
        .with_registration(RegistrationPath::MetadataDocument, ClientStatus::Suspended);
    let active = fixtures::client("active", T0);
    for client in [&old, &young, &suspended, &active] {
        store.insert_client(client).await.unwrap();
    }
    let user = fixtures::user("user", T0);
    store.insert_user(&user).await.unwrap();
    let family = Family::stored_for(&store, "old", old.clone(), user).await;

    assert_eq!(
        store.delete_pending_clients_before(T0 + 100).await.unwrap(),
        1
    );

    assert_eq!(store.get_client(&old.client_id).await.unwrap(), None);
    assert_eq!(store.get_grant(&family.grant.grant_id).await.unwrap(), None);
    for kept in [&young, &suspended, &active] {
        assert!(
            store.get_client(&kept.client_id).await.unwrap().is_some(),
            "{}",
            kept.client_id.as_str()
        );
    }
    assert_eq!(
        store.delete_pending_clients_before(T0 + 100).await.unwrap(),
        0
    );
}
