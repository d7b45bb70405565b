//! Signing keys: current, previous, retired.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{
    KeyState, KeyStore, SigningKeyRecord, Store, StoreError,
};
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::{self, T0};

/// `(kid, state)` of the published keys, in order.
async fn published(store: &impl Store) -> Vec<(String, KeyState)> {
    let keys = store.published_keys().await.expect("published keys");
    keys.iter()
        .map(|key| (key.kid.clone(), key.state))
        .collect()
}

fn as_published(key: &SigningKeyRecord, state: KeyState) -> SigningKeyRecord {
    let mut published = key.clone();
    published.state = state;
    published
}

pub async fn rotating_keys_keeps_the_previous_one_published(db: &TestDb) {
    let store = db.open().await;
    assert!(store.published_keys().await.unwrap().is_empty());
    let (k1, k2, k3) = (
        fixtures::key("k1", T0),
        fixtures::key("k2", T0 + 10),
        fixtures::key("k3", T0 + 20),
    );

    store.rotate_signing_key(&k1).await.unwrap();
    assert_eq!(
        store.published_keys().await.unwrap(),
        [as_published(&k1, KeyState::Current)]
    );

    store.rotate_signing_key(&k2).await.unwrap();
    assert_eq!(
        store.published_keys().await.unwrap(),
        [
            as_published(&k2, KeyState::Current),
            as_published(&k1, KeyState::Previous)
        ],
        "the key that signed earlier tokens stays in the JWKS, private key and JWK intact"
    );

    store.rotate_signing_key(&k3).await.unwrap();
    assert_eq!(
        published(&store).await,
        [
            ("k3".to_owned(), KeyState::Current),
            ("k2".to_owned(), KeyState::Previous)
        ]
    );
}

pub async fn a_key_rotation_with_a_taken_kid_changes_nothing(db: &TestDb) {
    let store = db.open().await;
    for (n, kid) in ["k1", "k2", "k3"].into_iter().enumerate() {
        store
            .rotate_signing_key(&fixtures::key(kid, T0 + n as i64))
            .await
            .unwrap();
    }
    let before = published(&store).await;

    for taken in ["k1", "k2", "k3"] {
        let again = store
            .rotate_signing_key(&fixtures::key(taken, T0 + 100))
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict("signing key"))),
            "{taken}: {again:?}"
        );
    }

    assert_eq!(published(&store).await, before);
}

pub async fn concurrent_key_rotations_leave_one_current_and_one_previous(db: &TestDb) {
    const RACERS: usize = 4;
    let store = db.open().await;
    store
        .rotate_signing_key(&fixtures::key("k0", T0))
        .await
        .unwrap();
    store
        .rotate_signing_key(&fixtures::key("k1", T0 + 1))
        .await
        .unwrap();

    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|racer| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let key = fixtures::key(&format!("racer{racer}"), T0 + 10);
            tokio::spawn(async move {
                barrier.wait().await;
                store.rotate_signing_key(&key).await
            })
        })
        .collect();
    for racer in racers {
        racer
            .await
            .expect("the task ran")
            .expect("every rotation succeeds");
    }

    let states: Vec<KeyState> = published(&store)
        .await
        .into_iter()
        .map(|(_, state)| state)
        .collect();
    assert_eq!(states, [KeyState::Current, KeyState::Previous]);
}
