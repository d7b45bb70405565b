//! The audit trail: records appended, read back under a filter (the newest first chosen, then
//! oldest first), kept when their user or client goes, purged by age, and refused when garbled.

use mcp_oauth_authorization_server::store::{
    AccountStore, AuditEventKind, AuditFilter, AuditOutcome, AuditRecord, AuditStore, ClientId,
    ClientStore, StoreError, UnixTime, UserId,
};
use serde_json::json;

use crate::backend::TestDb;
use crate::fixtures::{self, T0};

/// A record of `event` with `outcome` at `at`, by `actor`, for `client`.
fn record(
    at: UnixTime,
    event: AuditEventKind,
    outcome: AuditOutcome,
    actor: Option<&str>,
    client: Option<&str>,
) -> AuditRecord {
    let mut record = AuditRecord::new(at, event, outcome);
    record.actor = actor.map(str::to_owned);
    record.client_id = client.map(|id| ClientId(id.to_owned()));
    record
}

/// The events of `records`, in order.
fn events(records: &[AuditRecord]) -> Vec<(UnixTime, AuditEventKind)> {
    records
        .iter()
        .map(|record| (record.occurred_at, record.event))
        .collect()
}

pub async fn audit_records_are_read_back_as_appended_under_every_filter(db: &TestDb) {
    let store = db.open().await;
    let mut signed_in = record(
        T0,
        AuditEventKind::SignIn,
        AuditOutcome::Succeeded,
        Some("alice@example.com"),
        None,
    );
    signed_in.user_id = Some(UserId("user-alice".into()));
    signed_in.address = Some("192.0.2.7".into());
    signed_in.details.insert("method".into(), json!("password"));
    let mut refused = record(
        T0 + 10,
        AuditEventKind::ClientRegistered,
        AuditOutcome::Refused,
        None,
        None,
    );
    refused.reason = Some("invalid_redirect_uri".into());
    let issued = record(
        T0 + 20,
        AuditEventKind::TokensIssued,
        AuditOutcome::Succeeded,
        Some("client:app"),
        Some("app"),
    );
    let mut reused = record(
        T0 + 20,
        AuditEventKind::RefreshTokenReused,
        AuditOutcome::Refused,
        Some("client:app"),
        Some("app"),
    );
    reused.user_id = Some(UserId("user-alice".into()));
    for record in [&signed_in, &refused, &issued, &reused] {
        store.append_audit_record(record).await.unwrap();
    }

    let all = store.audit_records(&AuditFilter::new()).await.unwrap();
    assert_eq!(
        events(&all),
        [
            (T0, AuditEventKind::SignIn),
            (T0 + 10, AuditEventKind::ClientRegistered),
            (T0 + 20, AuditEventKind::TokensIssued),
            (T0 + 20, AuditEventKind::RefreshTokenReused),
        ]
    );
    assert!(
        all.windows(2).all(|pair| pair[0].id < pair[1].id),
        "numbered in order"
    );
    let mut read_back = signed_in.clone();
    read_back.id = all[0].id;
    assert_eq!(all[0], read_back, "every field comes back");
    assert_eq!(all[1].reason.as_deref(), Some("invalid_redirect_uri"));

    let newest_two = store
        .audit_records(&AuditFilter::new().with_limit(2))
        .await
        .unwrap();
    assert_eq!(
        events(&newest_two),
        [
            (T0 + 20, AuditEventKind::TokensIssued),
            (T0 + 20, AuditEventKind::RefreshTokenReused)
        ],
        "the newest, oldest first"
    );
    for (filter, expected) in [
        (
            AuditFilter::new().with_since(T0 + 10).with_until(T0 + 20),
            vec![(T0 + 10, AuditEventKind::ClientRegistered)],
        ),
        (
            AuditFilter::new().with_event(AuditEventKind::SignIn),
            vec![(T0, AuditEventKind::SignIn)],
        ),
        (
            AuditFilter::new().with_outcome(AuditOutcome::Refused),
            vec![
                (T0 + 10, AuditEventKind::ClientRegistered),
                (T0 + 20, AuditEventKind::RefreshTokenReused),
            ],
        ),
        (
            AuditFilter::new().with_client_id(ClientId("app".into())),
            vec![
                (T0 + 20, AuditEventKind::TokensIssued),
                (T0 + 20, AuditEventKind::RefreshTokenReused),
            ],
        ),
        (
            // The actor, or the user concerned.
            AuditFilter::new().with_actor("user-alice"),
            vec![
                (T0, AuditEventKind::SignIn),
                (T0 + 20, AuditEventKind::RefreshTokenReused),
            ],
        ),
        (
            AuditFilter::new()
                .with_actor("client:app")
                .with_event(AuditEventKind::TokensIssued),
            vec![(T0 + 20, AuditEventKind::TokensIssued)],
        ),
        (
            AuditFilter::new().with_actor("alice@example.com' OR '1'='1"),
            vec![],
        ),
        (AuditFilter::new().with_limit(0), vec![]),
    ] {
        let found = store.audit_records(&filter).await.unwrap();
        assert_eq!(events(&found), expected, "{filter:?}");
    }
}

pub async fn audit_records_outlive_their_user_and_client(db: &TestDb) {
    let store = db.open().await;
    let user = fixtures::user("alice", T0);
    let client = fixtures::client("app", T0);
    store.insert_user(&user).await.unwrap();
    store.insert_client(&client).await.unwrap();
    let mut consent = record(
        T0,
        AuditEventKind::Consent,
        AuditOutcome::Succeeded,
        Some(&user.email),
        Some("app"),
    );
    consent.user_id = Some(user.user_id.clone());
    store.append_audit_record(&consent).await.unwrap();

    assert!(store.delete_client(&client.client_id).await.unwrap());
    let kept = store.audit_records(&AuditFilter::new()).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].client_id, Some(client.client_id));
    assert_eq!(kept[0].user_id, Some(user.user_id));
}

pub async fn audit_records_older_than_the_retention_are_purged(db: &TestDb) {
    let store = db.open().await;
    for at in [T0 - 100, T0 - 1, T0, T0 + 1] {
        let event = record(at, AuditEventKind::SignIn, AuditOutcome::Failed, None, None);
        store.append_audit_record(&event).await.unwrap();
    }
    assert_eq!(store.purge_audit_records(T0).await.unwrap(), 2);
    assert_eq!(store.purge_audit_records(T0).await.unwrap(), 0);
    let kept = store.audit_records(&AuditFilter::new()).await.unwrap();
    assert_eq!(
        kept.iter()
            .map(|record| record.occurred_at)
            .collect::<Vec<_>>(),
        [T0, T0 + 1]
    );
}

pub async fn garbled_audit_records_are_errors_not_panics(db: &TestDb) {
    let store = db.open().await;
    let raw = db.raw().await;
    for (event, outcome, details) in [
        ("no_such_event", "succeeded", "{}"),
        ("sign_in", "maybe", "{}"),
        ("sign_in", "failed", "[1]"),
        ("sign_in", "failed", "not JSON"),
    ] {
        sqlx::query("DELETE FROM audit_events")
            .execute(&raw)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, event, outcome, details) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(T0)
        .bind(event)
        .bind(outcome)
        .bind(details)
        .execute(&raw)
        .await
        .expect("write a garbled record");
        let read = store.audit_records(&AuditFilter::new()).await;
        assert!(
            matches!(read, Err(StoreError::Database(_))),
            "{event} {outcome} {details}: {read:?}"
        );
    }
    raw.close().await;
}
