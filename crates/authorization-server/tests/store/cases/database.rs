//! The database as a whole: durability, concurrent writers, bad rows.

use mcp_oauth_authorization_server::store::{
    AccountStore, ClientId, ClientStore, CodeRedemption, ConsentStore, GrantStore, KeyState,
    KeyStore, RefreshRotation, SessionStore, Store, StoreError,
};

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0};

pub async fn data_survives_reopening(db: &TestDb) {
    let family = {
        let store = db.open().await;
        let family = Family::stored(&store, "a").await;
        store
            .upsert_consent(&fixtures::consent(&family.user, &family.client, T0))
            .await
            .unwrap();
        store
            .redeem_code(&family.code.code_hash, T0 + 1)
            .await
            .unwrap();
        store
            .insert_refresh_token(&fixtures::refresh("rt-a", &family.grant, T0 + 1))
            .await
            .unwrap();
        store
            .insert_access_token(&fixtures::access("at-a", &family.grant, T0 + 300))
            .await
            .unwrap();
        store
            .rotate_signing_key(&fixtures::key("k1", T0))
            .await
            .unwrap();
        store
            .insert_session(&fixtures::session("s-a", &family.user, T0))
            .await
            .unwrap();
        store.close().await;
        family
    };
    if let Some(dir) = db.sqlite_dir() {
        assert!(
            dir.join("mcp-oauth.db").is_file(),
            "the database is one file in the data directory"
        );
    }

    let store = db.open().await;

    let now = T0 + 2;
    assert_eq!(
        store.get_client(&family.client.client_id).await.unwrap(),
        Some(family.client.clone())
    );
    assert_eq!(
        store.get_user(&family.user.user_id).await.unwrap(),
        Some(family.user.clone())
    );
    assert!(
        store
            .get_consent(
                &family.user.user_id,
                &family.client.client_id,
                &fixtures::resource()
            )
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.get_grant(&family.grant.grant_id).await.unwrap(),
        Some(family.grant.clone())
    );
    assert_eq!(
        store
            .redeem_code(&family.code.code_hash, now)
            .await
            .unwrap(),
        CodeRedemption::AlreadyRedeemed {
            grant_id: family.grant.grant_id.clone()
        },
        "a used code stays used"
    );
    assert!(
        store
            .find_active_refresh_token(&fixtures::hash("rt-a"), now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_access_token("at-a", now)
            .await
            .unwrap()
            .is_some()
    );
    let keys = store.published_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].state),
        ("k1", KeyState::Current)
    );
    assert!(
        store
            .get_session(&fixtures::hash("s-a"), now)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn concurrent_writers_all_succeed(db: &TestDb) {
    const WRITERS: usize = 16;
    let store = db.open().await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let family = Family::stored(&store, &format!("w{writer}")).await;
                store.redeem_code(&family.code.code_hash, T0 + 1).await?;
                let first = fixtures::refresh(&format!("rt-w{writer}"), &family.grant, T0 + 1);
                store.insert_refresh_token(&first).await?;
                let next = fixtures::refresh(&format!("rt-w{writer}-2"), &family.grant, T0 + 2);
                let rotation = store
                    .rotate_refresh_token(
                        &first.token_hash,
                        &next,
                        &fixtures::issued_with(&next),
                        T0 + 2,
                    )
                    .await?;
                assert!(
                    matches!(rotation, RefreshRotation::Rotated { .. }),
                    "{rotation:?}"
                );
                store
                    .insert_access_token(&fixtures::access(
                        &format!("at-w{writer}"),
                        &family.grant,
                        T0 + 60,
                    ))
                    .await?;
                store
                    .rotate_signing_key(&fixtures::key(&format!("k-w{writer}"), T0))
                    .await?;
                store.purge_expired(T0).await?;
                Ok::<(), StoreError>(())
            })
        })
        .collect();
    for writer in writers {
        writer
            .await
            .expect("the task ran")
            .expect("no writer fails (no \"database is locked\")");
    }
    assert_eq!(store.list_clients().await.unwrap().len(), WRITERS);
    assert_eq!(store.published_keys().await.unwrap().len(), 2);
}

pub async fn unreadable_rows_are_errors_not_panics(db: &TestDb) {
    let store = db.open().await;
    let raw = db.raw().await;
    sqlx::query(
        "INSERT INTO clients (client_id, metadata, origin, created_at, updated_at) \
         VALUES ('garbled', 'not JSON', 'static', 1, 1)",
    )
    .execute(&raw)
    .await
    .expect("write a client with bad metadata");
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key_der, public_jwk, state, created_at) \
         VALUES ('garbled', 'ES256', $1, '{', 'current', 1)",
    )
    .bind(vec![1_u8])
    .execute(&raw)
    .await
    .expect("write a key with a bad JWK");

    let client = store.get_client(&ClientId("garbled".into())).await;
    let clients = store.list_clients().await;
    let keys = store.published_keys().await;

    assert!(matches!(client, Err(StoreError::Database(_))), "{client:?}");
    assert!(
        matches!(clients, Err(StoreError::Database(_))),
        "{clients:?}"
    );
    assert!(matches!(keys, Err(StoreError::Database(_))), "{keys:?}");
}
