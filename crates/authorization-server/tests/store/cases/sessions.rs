//! Browser sessions, device cookies, and purging what expired.

use mcp_oauth_authorization_server::store::{
    AccountStore, CodeRedemption, GrantStore, SessionStore, Store, StoreError,
};

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0, TOKEN_TTL, hash};

pub async fn sessions_end_at_expiry_or_sign_out(db: &TestDb) {
    let store = db.open().await;
    let user = fixtures::user("alice", T0);
    store.insert_user(&user).await.unwrap();
    let expiring = fixtures::session("s-expiring", &user, T0);
    let signed_out = fixtures::session("s-signed-out", &user, T0);
    store.insert_session(&expiring).await.unwrap();
    store.insert_session(&signed_out).await.unwrap();

    let end = T0 + TOKEN_TTL;
    assert_eq!(
        store
            .get_session(&expiring.session_hash, end - 1)
            .await
            .unwrap(),
        Some(expiring.clone())
    );
    assert_eq!(
        store
            .get_session(&expiring.session_hash, end)
            .await
            .unwrap(),
        None
    );

    store
        .delete_session(&signed_out.session_hash)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_session(&signed_out.session_hash, T0)
            .await
            .unwrap(),
        None
    );
    store
        .delete_session(&hash("never issued"))
        .await
        .expect("deleting nothing is fine");

    let duplicate = store.insert_session(&expiring).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("session"))),
        "{duplicate:?}"
    );
}

pub async fn device_cookies_are_found_until_they_expire_or_are_deleted(db: &TestDb) {
    let store = db.open().await;
    let user = fixtures::user("alice", T0);
    store.insert_user(&user).await.unwrap();
    let expiring = fixtures::device_cookie("d-expiring", &user, T0);
    let replaced = fixtures::device_cookie("d-replaced", &user, T0);
    store.insert_device_cookie(&expiring).await.unwrap();
    store.insert_device_cookie(&replaced).await.unwrap();

    let end = T0 + TOKEN_TTL;
    assert_eq!(
        store
            .get_device_cookie(&expiring.cookie_hash, end - 1)
            .await
            .unwrap(),
        Some(expiring.clone())
    );
    assert_eq!(
        store
            .get_device_cookie(&expiring.cookie_hash, end)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_device_cookie(&hash("never issued"), T0)
            .await
            .unwrap(),
        None
    );

    store
        .delete_device_cookie(&replaced.cookie_hash)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_device_cookie(&replaced.cookie_hash, T0)
            .await
            .unwrap(),
        None
    );
    store
        .delete_device_cookie(&hash("never issued"))
        .await
        .expect("deleting nothing is fine");

    let duplicate = store.insert_device_cookie(&expiring).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("device cookie"))),
        "{duplicate:?}"
    );
    let orphan = fixtures::device_cookie("d-orphan", &fixtures::user("nobody", T0), T0);
    assert!(
        store.insert_device_cookie(&orphan).await.is_err(),
        "a device cookie needs its user"
    );
}

pub async fn purging_deletes_only_what_expired(db: &TestDb) {
    let store = db.open().await;
    let old = Family::stored(&store, "old").await; // code expires at T0 + 60
    let young_grant = fixtures::grant("grant-young", &old.client, &old.user, T0 + 90);
    let young_code = fixtures::code("code-young", &young_grant); // expires at T0 + 150
    store
        .insert_grant_with_code(&young_grant, &young_code)
        .await
        .unwrap();
    let stale_refresh = fixtures::refresh("rt-stale", &old.grant, T0 - TOKEN_TTL); // expires at T0
    let fresh_refresh = fixtures::refresh("rt-fresh", &old.grant, T0);
    let stale_access = fixtures::access("at-stale", &old.grant, T0 + 100);
    let fresh_access = fixtures::access("at-fresh", &old.grant, T0 + 101);
    let stale_session = fixtures::session("s-stale", &old.user, T0 - TOKEN_TTL);
    let fresh_session = fixtures::session("s-fresh", &old.user, T0);
    let stale_device = fixtures::device_cookie("d-stale", &old.user, T0 - TOKEN_TTL);
    let fresh_device = fixtures::device_cookie("d-fresh", &old.user, T0);
    for token in [&stale_refresh, &fresh_refresh] {
        store.insert_refresh_token(token).await.unwrap();
    }
    for token in [&stale_access, &fresh_access] {
        store.insert_access_token(token).await.unwrap();
    }
    for session in [&stale_session, &fresh_session] {
        store.insert_session(session).await.unwrap();
    }
    for device in [&stale_device, &fresh_device] {
        store.insert_device_cookie(device).await.unwrap();
    }
    let now = T0 + 100;

    let purged = store.purge_expired(now).await.unwrap();
    assert_eq!(
        purged.by_kind(),
        [
            ("authorization_codes", 1),
            ("refresh_tokens", 1),
            ("access_tokens", 1),
            ("sessions", 1),
            ("device_cookies", 1),
            ("upstream_logins", 0),
            ("mfa_pending_sign_ins", 0),
            ("limit_counters", 0)
        ],
        "one code, one of each token, one session, one device cookie"
    );
    assert_eq!(store.purge_expired(now).await.unwrap().total(), 0);

    assert_eq!(
        store.redeem_code(&old.code.code_hash, now).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        store.redeem_code(&young_code.code_hash, now).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    assert!(
        store
            .find_active_refresh_token(&fresh_refresh.token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_active_access_token("at-fresh", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_session(&fresh_session.session_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_device_cookie(&fresh_device.cookie_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_grant(&old.grant.grant_id)
            .await
            .unwrap()
            .is_some(),
        "grants are not purged"
    );
}
