//! Federated sign-in: upstream identities linked to users, and upstream sign-ins in progress.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{
    AccountStore, FederationStore, Store, StoreError, UpstreamIdentityRecord, UpstreamLoginRecord,
    UserRecord,
};
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::{self, T0, hash};

const ISSUER: &str = "https://idp.example";

fn upstream_user(id: &str) -> UserRecord {
    let mut user = fixtures::user(id, T0);
    user.password_hash = None;
    user
}

fn identity(subject: &str, user: &UserRecord) -> UpstreamIdentityRecord {
    UpstreamIdentityRecord::new(
        ISSUER,
        subject,
        user.user_id.clone(),
        Some(user.email.clone()),
        T0,
    )
}

fn login(state: &str, expires_at: i64) -> UpstreamLoginRecord {
    UpstreamLoginRecord::new(
        hash(state),
        hash(&format!("browser of {state}")),
        ISSUER,
        format!("/authorize?state={state}"),
        expires_at,
    )
}

pub async fn an_upstream_identity_is_linked_to_a_new_user(db: &TestDb) {
    let store = db.open().await;
    let alice = upstream_user("alice");
    let link = identity("sub-alice", &alice);
    store
        .insert_user_with_upstream_identity(&alice, &link)
        .await
        .unwrap();

    assert_eq!(
        store
            .find_upstream_identity(ISSUER, "sub-alice")
            .await
            .unwrap(),
        Some(link.clone())
    );
    assert_eq!(store.get_user(&alice.user_id).await.unwrap(), Some(alice));
    // The same subject at another issuer is another identity.
    assert_eq!(
        store
            .find_upstream_identity("https://other.example", "sub-alice")
            .await
            .unwrap(),
        None
    );

    assert!(
        store
            .record_upstream_sign_in(ISSUER, "sub-alice", Some("new@example.com"), T0 + 60)
            .await
            .unwrap()
    );
    let updated = store
        .find_upstream_identity(ISSUER, "sub-alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("new@example.com"));
    assert_eq!((updated.created_at, updated.last_login_at), (T0, T0 + 60));
    assert!(
        !store
            .record_upstream_sign_in(ISSUER, "nobody", None, T0 + 60)
            .await
            .unwrap()
    );
}

pub async fn linking_fails_whole_on_a_taken_identity_or_email(db: &TestDb) {
    let store = db.open().await;
    let alice = upstream_user("alice");
    store
        .insert_user_with_upstream_identity(&alice, &identity("sub-alice", &alice))
        .await
        .unwrap();

    // A concurrent first sign-in of the same person: the identity is taken, no user is left.
    let twin = upstream_user("twin");
    let taken_identity = store
        .insert_user_with_upstream_identity(&twin, &identity("sub-alice", &twin))
        .await;
    assert!(
        matches!(
            taken_identity,
            Err(StoreError::Conflict("upstream identity"))
        ),
        "{taken_identity:?}"
    );
    // Another person asserting a taken e-mail: the user conflicts, no identity is left.
    let mut impostor = upstream_user("impostor");
    impostor.email = alice.email.clone();
    let taken_email = store
        .insert_user_with_upstream_identity(&impostor, &identity("sub-impostor", &impostor))
        .await;
    assert!(
        matches!(taken_email, Err(StoreError::Conflict("user"))),
        "{taken_email:?}"
    );

    assert_eq!(store.list_users().await.unwrap(), [alice]);
    assert_eq!(
        store
            .find_upstream_identity(ISSUER, "sub-impostor")
            .await
            .unwrap(),
        None
    );
}

pub async fn an_upstream_login_is_taken_once_before_it_expires(db: &TestDb) {
    let store = db.open().await;
    let current = login("current", T0 + 600);
    let stale = login("stale", T0 + 600);
    let purged = login("purged", T0 + 10);
    for record in [&current, &stale, &purged] {
        store.insert_upstream_login(record).await.unwrap();
    }
    let again = store.insert_upstream_login(&current).await;
    assert!(
        matches!(again, Err(StoreError::Conflict("upstream login"))),
        "{again:?}"
    );

    assert_eq!(
        store
            .take_upstream_login(&current.state_hash, T0 + 1)
            .await
            .unwrap(),
        Some(current.clone())
    );
    assert_eq!(
        store
            .take_upstream_login(&current.state_hash, T0 + 2)
            .await
            .unwrap(),
        None,
        "a state is taken once"
    );
    // At its expiry it is gone, and taking it removes it.
    assert_eq!(
        store
            .take_upstream_login(&stale.state_hash, T0 + 600)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .purge_expired(T0 + 10)
            .await
            .unwrap()
            .of("upstream_logins"),
        1
    );
    assert_eq!(
        store
            .take_upstream_login(&purged.state_hash, T0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_upstream_login(&hash("unknown"), T0)
            .await
            .unwrap(),
        None
    );
}

pub async fn concurrent_takes_of_an_upstream_login_take_it_once(db: &TestDb) {
    const RACERS: usize = 4;
    let store = db.open().await;
    for round in 0..8 {
        let record = login(&format!("race-{round}"), T0 + 600);
        store.insert_upstream_login(&record).await.unwrap();
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (store, barrier, state_hash) =
                    (store.clone(), barrier.clone(), record.state_hash.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.take_upstream_login(&state_hash, T0 + 1).await
                })
            })
            .collect();
        let mut taken = 0;
        for racer in racers {
            if racer
                .await
                .expect("the task ran")
                .expect("no database error")
                .is_some()
            {
                taken += 1;
            }
        }
        assert_eq!(taken, 1, "round {round}");
    }
}
