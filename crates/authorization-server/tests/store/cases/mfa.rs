//! Two-step verification ([`MfaStore`]): a pending TOTP credential is replaced until a code
//! confirms it, a confirmed one never is; time steps are accepted only forward, once, even by
//! racing instances; recovery codes and pending sign-ins are used once; `remove_mfa` removes it
//! all.

use std::sync::Arc;

use mcp_oauth_authorization_server::store::{
    AccountStore, MfaStore, PendingSignInRecord, Store, TotpSecret, UserId,
};
use tokio::sync::Barrier;

use crate::backend::TestDb;
use crate::fixtures::{self, hash};

const T0: i64 = 1_700_000_000;

fn secret(byte: u8) -> TotpSecret {
    TotpSecret::new(vec![byte; 20])
}

async fn user(store: &impl AccountStore, id: &str) -> UserId {
    let user = fixtures::user(id, T0);
    store.insert_user(&user).await.unwrap();
    user.user_id
}

pub async fn a_totp_credential_is_confirmed_once_with_the_secret_shown(db: &TestDb) {
    let store = db.open().await;
    let ann = user(&store, "ann").await;
    assert!(store.totp_credential(&ann).await.unwrap().is_none());
    assert!(
        store
            .begin_totp_enrolment(&ann, &secret(1), T0)
            .await
            .unwrap()
    );
    // A second set-up page replaces the pending secret; the first can no longer be confirmed.
    assert!(
        store
            .begin_totp_enrolment(&ann, &secret(2), T0 + 1)
            .await
            .unwrap()
    );
    let codes = [hash("r1"), hash("r2")];
    assert!(
        !store
            .confirm_totp_enrolment(&ann, &secret(1), 10, &codes, T0 + 2)
            .await
            .unwrap()
    );
    let pending = store.totp_credential(&ann).await.unwrap().unwrap();
    assert!(!pending.is_confirmed());
    assert_eq!(pending.secret, secret(2));

    assert!(
        store
            .confirm_totp_enrolment(&ann, &secret(2), 10, &codes, T0 + 2)
            .await
            .unwrap()
    );
    let confirmed = store.totp_credential(&ann).await.unwrap().unwrap();
    assert_eq!(
        (confirmed.confirmed_at, confirmed.last_step),
        (Some(T0 + 2), Some(10))
    );
    // Confirmed: neither replaced nor confirmed again.
    assert!(
        !store
            .begin_totp_enrolment(&ann, &secret(3), T0 + 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_totp_enrolment(&ann, &secret(2), 11, &codes, T0 + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store.totp_credential(&ann).await.unwrap().unwrap().secret,
        secret(2)
    );

    // Steps only forward.
    assert!(!store.accept_totp_step(&ann, 10).await.unwrap());
    assert!(!store.accept_totp_step(&ann, 9).await.unwrap());
    assert!(store.accept_totp_step(&ann, 12).await.unwrap());
    assert!(!store.accept_totp_step(&ann, 11).await.unwrap());
    // Nobody else's credential is touched.
    let bob = user(&store, "bob").await;
    assert!(!store.accept_totp_step(&bob, 99).await.unwrap());

    // Recovery codes work once each.
    assert_eq!(
        store.use_recovery_code(&bob, &hash("r1")).await.unwrap(),
        None
    );
    assert_eq!(
        store.use_recovery_code(&ann, &hash("r1")).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.use_recovery_code(&ann, &hash("r1")).await.unwrap(),
        None
    );

    assert!(store.remove_mfa(&ann).await.unwrap());
    assert!(store.totp_credential(&ann).await.unwrap().is_none());
    assert_eq!(
        store.use_recovery_code(&ann, &hash("r2")).await.unwrap(),
        None
    );
    assert!(!store.remove_mfa(&ann).await.unwrap());
    store.close().await;
}

pub async fn racing_instances_accept_a_time_step_once(db: &TestDb) {
    const RACERS: usize = 4;
    let first = db.open().await;
    let ann = user(&first, "ann").await;
    assert!(
        first
            .begin_totp_enrolment(&ann, &secret(1), T0)
            .await
            .unwrap()
    );
    assert!(
        first
            .confirm_totp_enrolment(&ann, &secret(1), 0, &[], T0)
            .await
            .unwrap()
    );
    let second = db.open().await;
    for step in 1..=8 {
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let store = if racer % 2 == 0 {
                    first.clone()
                } else {
                    second.clone()
                };
                let (barrier, ann) = (barrier.clone(), ann.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.accept_totp_step(&ann, step).await
                })
            })
            .collect();
        let mut accepted = 0;
        for racer in racers {
            if racer
                .await
                .expect("the task ran")
                .expect("no database error")
            {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1, "step {step}");
    }
    first.close().await;
    second.close().await;
}

pub async fn a_pending_sign_in_is_found_until_it_expires_or_is_finished(db: &TestDb) {
    let store = db.open().await;
    let ann = user(&store, "ann").await;
    let target = Some("/authorize?client_id=c".to_owned());
    let pending = PendingSignInRecord::new(hash("p1"), ann.clone(), target.clone(), T0 + 300);
    store.insert_pending_sign_in(&pending, T0).await.unwrap();
    let found = store
        .get_pending_sign_in(&hash("p1"), T0 + 299)
        .await
        .unwrap();
    assert_eq!(found.map(|found| found.return_to), Some(target));
    assert!(
        store
            .get_pending_sign_in(&hash("p1"), T0 + 300)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.delete_pending_sign_in(&hash("p1")).await.unwrap());
    assert!(
        !store.delete_pending_sign_in(&hash("p1")).await.unwrap(),
        "finished once"
    );

    // Storing one deletes the expired ones.
    let old = PendingSignInRecord::new(hash("p2"), ann.clone(), None, T0 + 10);
    store.insert_pending_sign_in(&old, T0).await.unwrap();
    let new = PendingSignInRecord::new(hash("p3"), ann.clone(), None, T0 + 400);
    store.insert_pending_sign_in(&new, T0 + 100).await.unwrap();
    assert!(!store.delete_pending_sign_in(&hash("p2")).await.unwrap());
    // So does the purge, without a new one.
    let left = PendingSignInRecord::new(hash("p4"), ann.clone(), None, T0 + 200);
    store.insert_pending_sign_in(&left, T0 + 100).await.unwrap();
    let purged = store.purge_expired(T0 + 200).await.unwrap();
    assert_eq!(purged.of("mfa_pending_sign_ins"), 1);
    assert!(!store.delete_pending_sign_in(&hash("p4")).await.unwrap());
    // And removing two-step verification ends them.
    store.remove_mfa(&ann).await.unwrap();
    assert!(
        store
            .get_pending_sign_in(&hash("p3"), T0 + 101)
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
}
