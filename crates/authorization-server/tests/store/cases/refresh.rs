//! Refresh-token rotation and reuse detection.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{GrantStore, RefreshRotation, StoreError};
use mcp_oauth_core::ScopeSet;
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0, TOKEN_TTL, hash};

pub async fn rotating_a_refresh_token_replaces_it(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let first = fixtures::refresh("rt-1", &family.grant, T0);
    store.insert_refresh_token(&first).await.unwrap();
    let mut second = fixtures::refresh("rt-2", &family.grant, T0 + 10);
    second.scope = ScopeSet::parse("mcp.read");

    let rotation = store
        .rotate_refresh_token(
            &first.token_hash,
            &second,
            &fixtures::issued_with(&second),
            T0 + 10,
        )
        .await
        .unwrap();

    assert_eq!(
        rotation,
        RefreshRotation::Rotated {
            previous: first.clone()
        }
    );
    assert_eq!(
        store
            .find_active_refresh_token(&first.token_hash, T0 + 11)
            .await
            .unwrap(),
        None
    );
    let active = store
        .find_active_refresh_token(&second.token_hash, T0 + 11)
        .await
        .unwrap()
        .expect("the rotated-in token is active");
    assert_eq!(
        (active.token, active.grant),
        (second.clone(), family.grant.clone())
    );
    let issued = fixtures::issued_with(&second);
    assert_eq!(
        store
            .find_active_access_token(&issued.jti, T0 + 11)
            .await
            .unwrap(),
        Some(issued),
        "the access token issued with the rotation is recorded with it"
    );
    let third = fixtures::refresh("rt-3", &family.grant, T0 + 20);
    assert!(matches!(
        store.rotate_refresh_token(&second.token_hash, &third, &fixtures::issued_with(&third), T0 + 20).await.unwrap(),
        RefreshRotation::Rotated { previous, .. } if previous == second
    ));
}

pub async fn reused_refresh_token_revokes_the_whole_family(db: &TestDb) {
    let store = db.open().await;
    let victim = Family::stored(&store, "victim").await;
    let bystander = Family::stored(&store, "bystander").await;
    let stolen = fixtures::refresh("rt-stolen", &victim.grant, T0);
    let current = fixtures::refresh("rt-current", &victim.grant, T0 + 10);
    let bystander_token = fixtures::refresh("rt-bystander", &bystander.grant, T0);
    for token in [&stolen, &bystander_token] {
        store.insert_refresh_token(token).await.unwrap();
    }
    store
        .rotate_refresh_token(
            &stolen.token_hash,
            &current,
            &fixtures::issued_with(&current),
            T0 + 10,
        )
        .await
        .unwrap();
    store
        .insert_access_token(&fixtures::access("at-victim", &victim.grant, T0 + 600))
        .await
        .unwrap();
    store
        .insert_access_token(&fixtures::access(
            "at-bystander",
            &bystander.grant,
            T0 + 600,
        ))
        .await
        .unwrap();

    let attacker_next = fixtures::refresh("rt-attacker", &victim.grant, T0 + 20);
    let reuse = store
        .rotate_refresh_token(
            &stolen.token_hash,
            &attacker_next,
            &fixtures::issued_with(&attacker_next),
            T0 + 20,
        )
        .await
        .unwrap();

    assert_eq!(
        reuse,
        RefreshRotation::ReuseDetected {
            grant_id: victim.grant.grant_id.clone()
        }
    );
    let now = T0 + 21;
    let grant = store
        .get_grant(&victim.grant.grant_id)
        .await
        .unwrap()
        .expect("grant kept");
    assert_eq!(grant.revoked_at, Some(T0 + 20));
    assert_eq!(
        store
            .find_active_refresh_token(&current.token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_active_refresh_token(&attacker_next.token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_active_access_token("at-victim", now)
            .await
            .unwrap(),
        None
    );
    let after = fixtures::refresh("rt-after", &victim.grant, now);
    assert_eq!(
        store
            .rotate_refresh_token(
                &current.token_hash,
                &after,
                &fixtures::issued_with(&after),
                now
            )
            .await
            .unwrap(),
        RefreshRotation::Inactive,
        "the legitimate holder's token is revoked too"
    );
    // Other grants are untouched.
    assert!(
        store
            .find_active_refresh_token(&bystander_token.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_access_token("at-bystander", now)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn checking_a_token_for_reuse_revokes_only_a_reused_family(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let used = fixtures::refresh("rt-used", &family.grant, T0);
    let current = fixtures::refresh("rt-current", &family.grant, T0 + 10);
    store.insert_refresh_token(&used).await.unwrap();
    store
        .rotate_refresh_token(
            &used.token_hash,
            &current,
            &fixtures::issued_with(&current),
            T0 + 10,
        )
        .await
        .unwrap();

    // Neither an unknown token nor the current one changes anything.
    assert_eq!(
        store
            .revoke_grant_if_reused(&hash("never issued"), T0 + 20)
            .await
            .unwrap(),
        RefreshRotation::Unknown
    );
    assert_eq!(
        store
            .revoke_grant_if_reused(&current.token_hash, T0 + 20)
            .await
            .unwrap(),
        RefreshRotation::Inactive
    );
    assert_eq!(
        store
            .find_active_refresh_token(&current.token_hash, T0 + 20)
            .await
            .unwrap()
            .map(|active| active.token),
        Some(current.clone())
    );
    // The used one is reuse: the whole grant goes.
    assert_eq!(
        store
            .revoke_grant_if_reused(&used.token_hash, T0 + 30)
            .await
            .unwrap(),
        RefreshRotation::ReuseDetected {
            grant_id: family.grant.grant_id.clone()
        }
    );
    let grant = store.get_grant(&family.grant.grant_id).await.unwrap();
    assert_eq!(grant.unwrap().revoked_at, Some(T0 + 30));
    assert_eq!(
        store
            .find_active_refresh_token(&current.token_hash, T0 + 31)
            .await
            .unwrap(),
        None
    );
}

pub async fn expired_revoked_and_unknown_refresh_tokens_do_not_rotate(db: &TestDb) {
    let store = db.open().await;
    let family = Family::stored(&store, "a").await;
    let token = fixtures::refresh("rt-a", &family.grant, T0);
    store.insert_refresh_token(&token).await.unwrap();
    let expiry = T0 + TOKEN_TTL;
    let next = fixtures::refresh("rt-a-next", &family.grant, expiry);

    assert_eq!(
        store
            .find_active_refresh_token(&token.token_hash, expiry - 1)
            .await
            .unwrap()
            .map(|active| active.token),
        Some(token.clone())
    );
    assert_eq!(
        store
            .find_active_refresh_token(&token.token_hash, expiry)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .rotate_refresh_token(
                &token.token_hash,
                &next,
                &fixtures::issued_with(&next),
                expiry
            )
            .await
            .unwrap(),
        RefreshRotation::Inactive
    );
    assert_eq!(
        store
            .find_active_access_token(&fixtures::issued_with(&next).jti, T0)
            .await
            .unwrap(),
        None,
        "a token that did not rotate records no access token"
    );
    assert_eq!(
        store
            .get_grant(&family.grant.grant_id)
            .await
            .unwrap()
            .and_then(|grant| grant.revoked_at),
        None,
        "an expired token is not a reuse"
    );
    assert_eq!(
        store
            .rotate_refresh_token(
                &hash("never issued"),
                &next,
                &fixtures::issued_with(&next),
                T0
            )
            .await
            .unwrap(),
        RefreshRotation::Unknown
    );

    let revoked = Family::stored(&store, "revoked").await;
    let revoked_token = fixtures::refresh("rt-revoked", &revoked.grant, T0);
    store.insert_refresh_token(&revoked_token).await.unwrap();
    store
        .revoke_grant(&revoked.grant.grant_id, T0 + 1)
        .await
        .unwrap();
    let next = fixtures::refresh("rt-revoked-next", &revoked.grant, T0 + 2);
    assert_eq!(
        store
            .rotate_refresh_token(
                &revoked_token.token_hash,
                &next,
                &fixtures::issued_with(&next),
                T0 + 2
            )
            .await
            .unwrap(),
        RefreshRotation::Inactive
    );
}

pub async fn rotating_into_another_grant_is_refused_and_changes_nothing(db: &TestDb) {
    let store = db.open().await;
    let mine = Family::stored(&store, "mine").await;
    let theirs = Family::stored(&store, "theirs").await;
    let token = fixtures::refresh("rt-mine", &mine.grant, T0);
    store.insert_refresh_token(&token).await.unwrap();
    let foreign_next = fixtures::refresh("rt-foreign", &theirs.grant, T0 + 5);

    let refused = store
        .rotate_refresh_token(
            &token.token_hash,
            &foreign_next,
            &fixtures::issued_with(&foreign_next),
            T0 + 5,
        )
        .await;

    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    assert_eq!(
        store
            .find_active_refresh_token(&token.token_hash, T0 + 6)
            .await
            .unwrap()
            .map(|active| active.token),
        Some(token)
    );
    assert_eq!(
        store
            .find_active_refresh_token(&foreign_next.token_hash, T0 + 6)
            .await
            .unwrap(),
        None
    );
}

pub async fn concurrent_rotations_of_one_refresh_token_rotate_once(db: &TestDb) {
    const ROUNDS: usize = 12;
    const RACERS: usize = 4;
    let store = db.open().await;
    let first = Family::stored(&store, "0").await;
    for round in 0..ROUNDS {
        let family = Family::stored_for(
            &store,
            &format!("r{round}"),
            first.client.clone(),
            first.user.clone(),
        )
        .await;
        let token = fixtures::refresh(&format!("rt-r{round}"), &family.grant, T0);
        store.insert_refresh_token(&token).await.unwrap();

        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let (store, barrier, presented) =
                    (store.clone(), barrier.clone(), token.token_hash.clone());
                let next =
                    fixtures::refresh(&format!("rt-r{round}-next{racer}"), &family.grant, T0 + 1);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .rotate_refresh_token(
                            &presented,
                            &next,
                            &fixtures::issued_with(&next),
                            T0 + 1,
                        )
                        .await
                })
            })
            .collect();
        let (mut rotated, mut reused) = (0, 0);
        for racer in racers {
            match racer
                .await
                .expect("the task ran")
                .expect("no database error")
            {
                RefreshRotation::Rotated { .. } => rotated += 1,
                RefreshRotation::ReuseDetected { .. } => reused += 1,
                // A racer that looks after another one revoked the family sees a revoked token.
                RefreshRotation::Inactive => {}
                RefreshRotation::Unknown => panic!("the token exists"),
            }
        }
        assert_eq!(
            rotated, 1,
            "exactly one of {RACERS} racing rotations succeeds"
        );
        assert!(reused >= 1, "the racing uses are seen as reuse");
        let grant = store
            .get_grant(&family.grant.grant_id)
            .await
            .unwrap()
            .expect("grant kept");
        assert!(
            grant.revoked_at.is_some(),
            "a raced token revokes its family"
        );
    }
}
