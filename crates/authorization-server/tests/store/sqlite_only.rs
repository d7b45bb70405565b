//! What only SQLite has: a data directory, in-memory databases; and URLs no backend takes.

use mcp_oauth_authorization_server::store::{AccountStore, SqlStore, StoreError};
use sqlx::{AnyPool, Executor};

use crate::fixtures::{self, T0};

#[tokio::test]
async fn opening_a_data_directory_creates_a_wal_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("not yet/there");

    let store = SqlStore::open_sqlite_dir(&data_dir)
        .await
        .expect("open a new data directory");
    store
        .insert_user(&fixtures::user("alice", T0))
        .await
        .unwrap();

    let file = data_dir.join(SqlStore::SQLITE_FILE_NAME);
    assert!(file.is_file(), "{} was created", file.display());
    sqlx::any::install_default_drivers();
    let raw = AnyPool::connect(&format!(
        "sqlite://{}",
        file.display().to_string().replace(' ', "%20")
    ))
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await;
}

#[tokio::test]
async fn an_in_memory_database_keeps_its_data() {
    let store = SqlStore::connect("sqlite::memory:")
        .await
        .expect("open an in-memory store");
    let alice = fixtures::user("alice", T0);
    store.insert_user(&alice).await.unwrap();

    let clone = store.clone();
    assert_eq!(clone.get_user(&alice.user_id).await.unwrap(), Some(alice));
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_them() {
    let refused = SqlStore::connect("mysql://admin:hunter2@db.example/oauth").await;

    let Err(StoreError::Database(error)) = refused else {
        panic!("a MySQL URL must be refused: {refused:?}");
    };
    let message = error.to_string();
    assert!(message.contains("mysql"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_made_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a file");
    std::fs::write(&file, b"not a directory").unwrap();

    let opened = SqlStore::open_sqlite_dir(&file.join("data")).await;

    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
}

#[tokio::test]
async fn a_store_refuses_a_database_from_the_future() {
    let dir = tempfile::tempdir().unwrap();
    SqlStore::open_sqlite_dir(dir.path())
        .await
        .unwrap()
        .close()
        .await;
    let url = format!(
        "sqlite://{}",
        dir.path().join(SqlStore::SQLITE_FILE_NAME).display()
    );
    let raw = AnyPool::connect(&url).await.unwrap();
    raw.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer release', TRUE, X'00', 0)",
    )
    .await
    .unwrap();
    raw.close().await;

    let opened = SqlStore::open_sqlite_dir(dir.path()).await;

    assert!(
        matches!(opened, Err(StoreError::Migration(_))),
        "{opened:?}"
    );
}
