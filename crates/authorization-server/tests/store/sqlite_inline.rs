//! A store on a SQLite file runs the token endpoint's hot statements on the calling thread
//! (`store/sql/inline.rs`). What that must not change: a write lock held by another connection
//! is waited for, never failed or skipped, and nothing written inline stays out of the database
//! file (its commits reach the file through checkpoints the writer pool runs).

use std::time::Duration;

use mcp_oauth_authorization_server::store::{
    AuditEventKind, AuditOutcome, AuditRecord, AuditStore, ClientStore, GrantStore,
    RefreshRotation, SqlStore,
};
use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};

use crate::backend::TestDb;
use crate::fixtures::{self, Family, T0};

/// A connection of its own to the test's database file, outside the store.
async fn outsider(db: &TestDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_by_another_connection_is_waited_for_and_nothing_is_lost() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let family = Family::stored(&store, "locked").await;
    let presented = fixtures::refresh("rt-locked", &family.grant, T0);
    store.insert_refresh_token(&presented).await.unwrap();

    let mut other = outsider(&db).await;
    other.execute("BEGIN IMMEDIATE").await.unwrap();

    // Reads go on while another connection writes (write-ahead log).
    let client = store.get_client(&family.client.client_id).await.unwrap();
    assert_eq!(
        client.map(|found| found.client_id),
        Some(family.client.client_id.clone())
    );
    let active = store
        .find_active_refresh_token(&presented.token_hash, T0 + 1)
        .await
        .unwrap()
        .expect("the token is active");
    assert_eq!(active.grant.grant_id, family.grant.grant_id);

    // Writes wait for the lock.
    let next = fixtures::refresh("rt-locked-next", &family.grant, T0 + 1);
    let access = fixtures::access("jti-locked", &family.grant, T0 + 600);
    let writes = {
        let (store, presented, next, access) = (
            store.clone(),
            presented.token_hash.clone(),
            next.clone(),
            access.clone(),
        );
        tokio::spawn(async move {
            let rotation = store
                .rotate_refresh_token(&presented, &next, &fixtures::issued_with(&next), T0 + 1)
                .await;
            store.insert_access_token(&access).await.unwrap();
            let event = AuditRecord::new(
                T0 + 1,
                AuditEventKind::TokensIssued,
                AuditOutcome::Succeeded,
            );
            store.append_audit_record(&event).await.unwrap();
            rotation
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writes.is_finished(),
        "the writes cannot finish while another connection holds the write lock"
    );
    other.execute("COMMIT").await.unwrap();

    let rotation = writes
        .await
        .unwrap()
        .expect("the rotation waited, then ran");
    assert!(matches!(rotation, RefreshRotation::Rotated { .. }));
    assert!(
        store
            .find_active_refresh_token(&next.token_hash, T0 + 2)
            .await
            .unwrap()
            .is_some(),
        "the next token is stored"
    );
    assert!(
        store
            .find_active_access_token("jti-locked", T0 + 2)
            .await
            .unwrap()
            .is_some(),
        "the access token is recorded"
    );
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn commits_on_the_calling_thread_reach_the_database_file() {
    // The inline writer never checkpoints; the writer pool does, every 500 inline commits.
    const APPENDS: usize = 1_200;
    let db = TestDb::sqlite();
    let store = db.open().await;
    let file = db.sqlite_dir().unwrap().join(SqlStore::SQLITE_FILE_NAME);
    let size = || std::fs::metadata(&file).unwrap().len();
    let before = size();

    let padding = "x".repeat(2_000);
    for at in 0..APPENDS {
        let mut event = AuditRecord::new(
            T0 + at as i64,
            AuditEventKind::TokensIssued,
            AuditOutcome::Succeeded,
        );
        event.details.insert("padding".to_owned(), json!(padding));
        store.append_audit_record(&event).await.unwrap();
    }

    // About 2.4 MB was appended; only a checkpoint writes it into the database file.
    let mut waited = Duration::ZERO;
    while size() < before + 1_000_000 {
        assert!(
            waited < Duration::from_secs(60),
            "the database file stayed at {} bytes (it was {before}): the inline commits were \
             never checkpointed",
            size()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    store.close().await;
}
