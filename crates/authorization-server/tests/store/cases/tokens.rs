//! Access tokens, and what tokens and sessions must belong to.

use mcp_oauth_authorization_server::store::{
    GrantId, GrantStore, SessionStore, StoreError, UserId,
};

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0};

pub async fn access_tokens_are_active_until_revoked_or_expired(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let expiring = fixtures::access("at-expiring", &family.grant, T0 + 300);
    let revoked = fixtures::access("at-revoked", &family.grant, T0 + 300);
    store.insert_access_token(&expiring).await.unwrap();
    store.insert_access_token(&revoked).await.unwrap();

    assert_eq!(
        store
            .find_active_access_token("at-expiring", T0 + 299)
            .await
            .unwrap(),
        Some(expiring.clone())
    );
    assert_eq!(
        store
            .find_active_access_token("at-expiring", T0 + 300)
            .await
            .unwrap(),
        None
    );

    assert!(
        store
            .revoke_access_token("at-revoked", T0 + 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_access_token("at-revoked", T0 + 20)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_active_access_token("at-revoked", T0 + 11)
            .await
            .unwrap(),
        None
    );
    assert!(!store.revoke_access_token("at-unknown", T0).await.unwrap());
    assert_eq!(
        store
            .find_active_access_token("at-unknown", T0)
            .await
            .unwrap(),
        None
    );

    let duplicate = store.insert_access_token(&expiring).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("access token"))),
        "{duplicate:?}"
    );
}

pub async fn tokens_of_unknown_grants_are_refused(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let mut ghost = family.grant.clone();
    ghost.grant_id = GrantId("no-such-grant".into());

    let refresh = store
        .insert_refresh_token(&fixtures::refresh("rt-ghost", &ghost, T0))
        .await;
    let access = store
        .insert_access_token(&fixtures::access("at-ghost", &ghost, T0 + 60))
        .await;
    let mut nobody = family.user.clone();
    nobody.user_id = UserId("no-such-user".into());
    let session = store
        .insert_session(&fixtures::session("s-ghost", &nobody, T0))
        .await;

    for refused in [refresh, access, session] {
        assert!(
            matches!(refused, Err(StoreError::Database(_))),
            "{refused:?}"
        );
    }

    let token = fixtures::refresh("rt-a", &family.grant, T0);
    store.insert_refresh_token(&token).await.unwrap();
    let duplicate = store.insert_refresh_token(&token).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("refresh token"))),
        "{duplicate:?}"
    );
}
