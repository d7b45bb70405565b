//! Grants and their authorization codes.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{
    ClientId, CodeRedemption, GrantId, GrantStore, RefreshRotation, StoreError,
};
use mcp_oauth_core::ScopeSet;
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::{self, CODE_TTL, Family, T0, hash};

pub async fn redeeming_a_code_twice_reports_replay(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;

    let first = store
        .redeem_code(&family.code.code_hash, T0 + 1)
        .await
        .unwrap();
    let second = store
        .redeem_code(&family.code.code_hash, T0 + 2)
        .await
        .unwrap();
    let after_expiry = store
        .redeem_code(&family.code.code_hash, T0 + CODE_TTL + 1)
        .await
        .unwrap();

    assert_eq!(first, CodeRedemption::Redeemed(family.code.clone()));
    let replay = CodeRedemption::AlreadyRedeemed {
        grant_id: family.grant.grant_id.clone(),
    };
    assert_eq!(second, replay);
    assert_eq!(
        after_expiry, replay,
        "a replay stays a replay once the code has expired"
    );
}

pub async fn expired_and_unknown_codes_are_not_redeemed(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let expires_at = family.code.expires_at;

    assert_eq!(
        store
            .redeem_code(&family.code.code_hash, expires_at)
            .await
            .unwrap(),
        CodeRedemption::Expired
    );
    assert_eq!(
        store
            .redeem_code(&family.code.code_hash, expires_at + 1)
            .await
            .unwrap(),
        CodeRedemption::Expired
    );
    assert_eq!(
        store.redeem_code(&hash("never issued"), T0).await.unwrap(),
        CodeRedemption::Unknown
    );
    // The clock going back does not make an expired redemption attempt count as a use.
    assert!(matches!(
        store
            .redeem_code(&family.code.code_hash, expires_at - 1)
            .await
            .unwrap(),
        CodeRedemption::Redeemed(_)
    ));
}

pub async fn a_code_whose_request_named_no_redirect_uri_comes_back_without_one(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let grant = fixtures::grant("grant-b", &family.client, &family.user, T0);
    let code = fixtures::code("code-b", &grant).with_redirect_uri(None);
    store.insert_grant_with_code(&grant, &code).await.unwrap();
    assert_eq!(
        store.redeem_code(&code.code_hash, T0 + 1).await.unwrap(),
        CodeRedemption::Redeemed(code)
    );
}

pub async fn a_grant_is_not_stored_without_its_code(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;

    // A new grant whose code collides with an existing code: neither is stored.
    let orphan = fixtures::grant("grant-orphan", &family.client, &family.user, T0);
    let colliding = fixtures::code("code-a", &orphan);
    let collision = store.insert_grant_with_code(&orphan, &colliding).await;
    assert!(
        matches!(collision, Err(StoreError::Conflict("authorization code"))),
        "{collision:?}"
    );
    assert_eq!(store.get_grant(&orphan.grant_id).await.unwrap(), None);

    // The same grant id twice.
    let twin = fixtures::code("code-twin", &family.grant);
    let duplicate = store.insert_grant_with_code(&family.grant, &twin).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("grant"))),
        "{duplicate:?}"
    );
    assert_eq!(
        store.redeem_code(&twin.code_hash, T0).await.unwrap(),
        CodeRedemption::Unknown
    );

    // A grant for a client that does not exist.
    let mut stray = fixtures::grant("grant-stray", &family.client, &family.user, T0);
    stray.client_id = ClientId("no-such-client".into());
    let stray_code = fixtures::code("code-stray", &stray);
    let refused = store.insert_grant_with_code(&stray, &stray_code).await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    assert_eq!(store.get_grant(&stray.grant_id).await.unwrap(), None);
}

pub async fn a_code_that_contradicts_its_grant_is_refused(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let grant = fixtures::grant("grant-b", &family.client, &family.user, T0);
    let code = fixtures::code("code-b", &grant);

    let mut other_grant = code.clone();
    other_grant.grant_id = family.grant.grant_id.clone();
    let mut wider_scope = code.clone();
    wider_scope.scope = ScopeSet::parse("mcp.read mcp.write mcp.admin");
    let mut other_resource = code.clone();
    other_resource.resource = Some(fixtures::resource_at("https://elsewhere.example/mcp"));

    for contradiction in [other_grant, wider_scope, other_resource] {
        let refused = store.insert_grant_with_code(&grant, &contradiction).await;
        assert!(
            matches!(refused, Err(StoreError::Database(_))),
            "{refused:?}"
        );
    }
    assert_eq!(store.get_grant(&grant.grant_id).await.unwrap(), None);
    store
        .insert_grant_with_code(&grant, &code)
        .await
        .expect("the consistent pair is stored");
}

pub async fn concurrent_redemptions_of_one_code_redeem_it_once(db: &TestDb) {
    const ROUNDS: usize = 8;
    const RACERS: usize = 4;
    let store = db.open().await;
    let first = Family::stored(&store, "0").await;
    let mut codes = vec![first.code.code_hash.clone()];
    for round in 1..ROUNDS {
        let family = Family::stored_for(
            &store,
            &round.to_string(),
            first.client.clone(),
            first.user.clone(),
        )
        .await;
        codes.push(family.code.code_hash);
    }

    for code_hash in codes {
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (store, barrier, code_hash) =
                    (store.clone(), barrier.clone(), code_hash.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.redeem_code(&code_hash, T0 + 1).await
                })
            })
            .collect();
        let mut redeemed = 0;
        for racer in racers {
            match racer
                .await
                .expect("the task ran")
                .expect("no database error")
            {
                CodeRedemption::Redeemed(_) => redeemed += 1,
                CodeRedemption::AlreadyRedeemed { .. } => {}
                other => panic!("unexpected outcome of a racing redemption: {other:?}"),
            }
        }
        assert_eq!(
            redeemed, 1,
            "exactly one of {RACERS} racing redemptions succeeds"
        );
    }
}

pub async fn revoking_a_grant_deactivates_its_tokens(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let token = fixtures::refresh("rt-a", &family.grant, T0);
    store.insert_refresh_token(&token).await.unwrap();
    store
        .insert_access_token(&fixtures::access("at-a", &family.grant, T0 + 300))
        .await
        .unwrap();

    assert!(
        store
            .revoke_grant(&family.grant.grant_id, T0 + 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_grant(&family.grant.grant_id, T0 + 20)
            .await
            .unwrap()
    );

    let grant = store
        .get_grant(&family.grant.grant_id)
        .await
        .unwrap()
        .expect("kept, revoked");
    assert_eq!(
        grant.revoked_at,
        Some(T0 + 10),
        "the first revocation time stays"
    );
    assert_eq!(
        store
            .find_active_refresh_token(&token.token_hash, T0 + 30)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_active_access_token("at-a", T0 + 30)
            .await
            .unwrap(),
        None
    );
    let next = fixtures::refresh("rt-a-next", &family.grant, T0 + 30);
    assert_eq!(
        store
            .rotate_refresh_token(
                &token.token_hash,
                &next,
                &fixtures::issued_with(&next),
                T0 + 30
            )
            .await
            .unwrap(),
        RefreshRotation::Inactive
    );
    assert!(
        !store
            .revoke_grant(&GrantId("no-such-grant".into()), T0)
            .await
            .unwrap()
    );
}
