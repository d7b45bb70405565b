//! The SQLite data directory on disk: private to its owner (it holds the signing keys), and a
//! file that is not the store it should be refused with its cause, before anything is written.

use std::path::Path;

use mcp_oauth_authorization_server::store::{
    AccountStore, KeyStore, SqlStore, SqlStoreOptions, StoreError,
};
use sqlx::AnyPool;

use crate::fixtures::{self, T0};

const DB: &str = SqlStore::SQLITE_FILE_NAME;

/// The message of a refusal, or a panic naming what came instead.
fn refusal(opened: Result<SqlStore, StoreError>) -> StoreError {
    match opened {
        Ok(store) => panic!("the store opened: {store:?}"),
        Err(error) => error,
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A data directory with a store holding a user and a key, closed.
async fn stored(dir: &Path) {
    let store = SqlStore::open_sqlite_dir(dir).await.unwrap();
    store
        .insert_user(&fixtures::user("kept", T0))
        .await
        .unwrap();
    store
        .rotate_signing_key(&fixtures::key("k1", T0))
        .await
        .unwrap();
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn every_file_the_store_writes_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let store = SqlStore::open_sqlite_dir(&data_dir).await.unwrap();
    store
        .rotate_signing_key(&fixtures::key("k1", T0))
        .await
        .unwrap();
    store
        .insert_user(&fixtures::user("alice", T0))
        .await
        .unwrap();

    // While the store is open SQLite keeps its -wal and -shm files beside the database.
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(mode(&entry.path()), 0o600, "{name}");
        seen.push(name);
    }
    seen.sort();
    assert_eq!(seen, [DB, &format!("{DB}-shm"), &format!("{DB}-wal")]);
    assert_eq!(mode(&data_dir), 0o700);
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn files_of_this_user_that_others_may_read_are_tightened() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path()).await;
    set_mode(dir.path(), 0o755);
    set_mode(&dir.path().join(DB), 0o644);
    let stale_journal = dir.path().join(format!("{DB}-journal"));
    std::fs::write(&stale_journal, b"").unwrap();
    set_mode(&stale_journal, 0o664);

    let store = SqlStore::open_sqlite_dir(dir.path()).await.unwrap();

    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&dir.path().join(DB)), 0o600);
    assert_eq!(mode(&stale_journal), 0o600);
    assert_eq!(
        store.list_users().await.unwrap().len(),
        1,
        "the data is kept"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_data_directory_others_may_write_to_is_refused_with_the_fix() {
    for loose in [0o777, 0o770, 0o1777] {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("shared dir");
        std::fs::create_dir(&data_dir).unwrap();
        set_mode(&data_dir, loose);

        let refused = refusal(SqlStore::open_sqlite_dir(&data_dir).await);

        let StoreError::Exposed(message) = refused else {
            panic!("{loose:o}: {refused:?}");
        };
        assert!(message.contains("may be written to"), "{message}");
        assert!(
            message.contains(&format!("chmod 700 '{}'", data_dir.display())),
            "{message}"
        );
        assert_eq!(mode(&data_dir), loose, "left as it was");
        assert_eq!(
            std::fs::read_dir(&data_dir).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_directory_or_database_of_another_user_is_refused_with_the_fix() {
    let me = effective_uid();
    let dir = tempfile::tempdir().unwrap();
    if me != 0 {
        // Only root can give a directory away; any other user finds one of root's.
        let refused = refusal(SqlStore::open_sqlite_dir(Path::new("/")).await);
        assert!(
            matches!(refused, StoreError::Exposed(ref m) if m.contains("owned by another user"))
        );
        return;
    }
    stored(dir.path()).await;
    let file = dir.path().join(DB);
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();

    let StoreError::Exposed(message) = refusal(SqlStore::open_sqlite_dir(dir.path()).await) else {
        panic!("a database of another user must be refused");
    };
    assert!(
        message.contains("owned by another user (uid 65534)"),
        "{message}"
    );
    assert!(
        message.contains(&format!("chown 0 {}", file.display())),
        "{message}"
    );

    std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65534), None).unwrap();
    let StoreError::Exposed(message) = refusal(SqlStore::open_sqlite_dir(dir.path()).await) else {
        panic!("a directory of another user must be refused");
    };
    assert!(
        message.contains(&format!("chown 0 {} && chmod 700", dir.path().display())),
        "{message}"
    );
}

/// The effective user id, as the owner of a file this process creates.
#[cfg(unix)]
fn effective_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid()
}

#[tokio::test]
async fn files_that_are_not_sqlite_databases_are_refused_naming_the_cause() {
    let not_sqlite: &[u8] = b"user,password\nalice,hunter2\n";
    let header_then_garbage = [b"SQLite format 3\0".as_slice(), &[0xA5; 4080]].concat();
    for contents in [not_sqlite, &header_then_garbage] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DB);
        std::fs::write(&file, contents).unwrap();

        let refused = refusal(SqlStore::open_sqlite_dir(dir.path()).await);

        let StoreError::Damaged(message) = refused else {
            panic!("{refused:?}");
        };
        assert!(message.contains("is not a SQLite database"), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            contents,
            "nothing was changed"
        );

        // Also through a URL.
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let refused = refusal(SqlStore::connect(&url).await);
        assert!(
            matches!(refused, StoreError::Damaged(ref m) if m.contains("not a SQLite database")),
            "{refused:?}"
        );
    }
}

/// A store with enough rows to fill pages of every kind, closed; its file's bytes.
async fn database_with_data(dir: &Path) -> Vec<u8> {
    let store = SqlStore::open_sqlite_dir(dir).await.unwrap();
    for n in 0..200 {
        store
            .insert_user(&fixtures::user(&format!("user-{n}"), T0))
            .await
            .unwrap();
    }
    store.close().await;
    std::fs::read(dir.join(DB)).unwrap()
}

#[tokio::test]
async fn a_truncated_or_overwritten_database_is_refused_as_damaged() {
    let truncated = |bytes: &[u8]| bytes[..bytes.len() / 2].to_vec();
    let overwritten = |bytes: &[u8]| {
        let mut bytes = bytes.to_vec();
        let middle = bytes.len() / 2 / 4096 * 4096;
        bytes[middle..middle + 3 * 4096].fill(0x5A);
        bytes
    };
    for damage in [truncated as fn(&[u8]) -> Vec<u8>, overwritten] {
        let dir = tempfile::tempdir().unwrap();
        let damaged = damage(&database_with_data(dir.path()).await);
        std::fs::write(dir.path().join(DB), &damaged).unwrap();

        let refused = refusal(SqlStore::open_sqlite_dir(dir.path()).await);

        let StoreError::Damaged(message) = refused else {
            panic!("{refused:?}");
        };
        assert!(message.contains("damaged SQLite database"), "{message}");
        assert!(message.contains("restore it from a backup"), "{message}");
        assert_eq!(std::fs::read(dir.path().join(DB)).unwrap(), damaged);
    }
}

#[tokio::test]
async fn an_empty_database_file_is_initialised_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DB);
    std::fs::write(&file, b"").unwrap();

    let refused = refusal(SqlStore::open_sqlite_dir(dir.path()).await);

    let StoreError::NotInitialised(message) = refused else {
        panic!("{refused:?}");
    };
    assert!(message.contains("is empty (0 bytes)"), "{message}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        0,
        "nothing written"
    );

    let allowed = SqlStoreOptions::default().with_init_empty_database(true);
    let store = SqlStore::open_sqlite_dir_with(dir.path(), &allowed)
        .await
        .expect("initialising was allowed");
    store.insert_user(&fixtures::user("new", T0)).await.unwrap();
    store.close().await;
    let reopened = SqlStore::open_sqlite_dir(dir.path()).await.unwrap();
    assert_eq!(reopened.list_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_sqlite_database_without_the_stores_tables_is_initialised_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DB);
    sqlx::any::install_default_drivers();
    let other = AnyPool::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE notes (body TEXT)")
        .execute(&other)
        .await
        .unwrap();
    other.close().await;

    let refused = refusal(SqlStore::open_sqlite_dir(dir.path()).await);

    let StoreError::NotInitialised(message) = refused else {
        panic!("{refused:?}");
    };
    assert!(
        message.contains("without the authorization server's tables"),
        "{message}"
    );

    let allowed = SqlStoreOptions::default().with_init_empty_database(true);
    let store = SqlStore::open_sqlite_dir_with(dir.path(), &allowed)
        .await
        .expect("initialising was allowed");
    store.insert_user(&fixtures::user("new", T0)).await.unwrap();
}
