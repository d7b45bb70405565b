//! The SQLite file in the data directory, looked at before SQLite opens it: the directory and
//! the database's files private to this user (`mcp_oauth_private_files`), a missing file created 0600
//! (SQLite gives its `-wal`, `-shm` and `-journal` files the same mode), and an existing file
//! refused when it cannot be the store it should be: empty, or not a SQLite database. What
//! only SQLite can tell (a damaged database, one without our tables) is checked once it is open.

use std::io::Read;
use std::path::{Path, PathBuf};

use mcp_oauth_private_files::{self as private_files, PrivateFileError};
use sqlx::AnyPool;

use super::connect;
use super::rows::db_error;
use crate::store::{StoreError, StoreResult};

/// The first 16 bytes of every SQLite database file ("SQLite format 3" and a NUL).
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The files SQLite keeps beside a database, by suffix.
const COMPANION_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The database file, ready to be opened.
pub(super) struct DatabaseFile {
    /// Its absolute path, to name it in messages.
    pub(super) path: PathBuf,
    /// Its `sqlite://` URL.
    pub(super) url: String,
    /// Whether it was there before: then it must already hold the store's data, unless the
    /// caller allowed initialising it.
    pub(super) existed: bool,
}

/// Secures `data_dir` and the database `file_name` in it, creates the file if missing, and
/// refuses an existing file that is empty (unless `init_empty`) or not a SQLite database.
pub(super) fn prepare(
    data_dir: &Path,
    file_name: &str,
    init_empty: bool,
) -> StoreResult<DatabaseFile> {
    let companions = COMPANION_SUFFIXES.map(|suffix| format!("{file_name}{suffix}"));
    let names: Vec<&str> = std::iter::once(file_name)
        .chain(companions.iter().map(String::as_str))
        .collect();
    private_files::secure_dir(data_dir, &names).map_err(|error| match error {
        PrivateFileError::Exposed(problem) => StoreError::Exposed(problem),
        other => StoreError::database_cause("data directory", other),
    })?;
    let path = std::path::absolute(data_dir.join(file_name)).map_err(|error| {
        StoreError::database_cause(format!("data directory {}", data_dir.display()), error)
    })?;
    let url = connect::sqlite_file_url(&path)?;
    let created = private_files::create_private_file(&path)
        .map_err(|error| StoreError::database_cause("cannot create the database", error))?;
    if !created {
        inspect(&path, init_empty)?;
    }
    Ok(DatabaseFile {
        path,
        url,
        existed: !created,
    })
}

/// Refuses an existing file that is empty (unless `init_empty`) or does not begin with SQLite's
/// header.
fn inspect(path: &Path, init_empty: bool) -> StoreResult<()> {
    let unreadable = |error: std::io::Error| {
        StoreError::database_cause(format!("cannot read {}", path.display()), error)
    };
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(unreadable)?;
    if header.is_empty() {
        return if init_empty {
            Ok(())
        } else {
            Err(StoreError::NotInitialised(format!(
                "the database file {} is empty (0 bytes) although it existed: the data it held \
                 is gone (an interrupted copy or restore?). Nothing was changed: restore it from \
                 a backup, or allow initialising it to start a new, empty authorization server",
                path.display()
            )))
        };
    }
    if header != SQLITE_HEADER {
        return Err(StoreError::Damaged(format!(
            "the database file {} is not a SQLite database (it does not begin with SQLite's \
             header); nothing was changed: restore it from a backup, or move it away",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses a database that existed without the store's tables (no `_sqlx_migrations`), unless
/// `init_empty`: migrating it would make it a new, empty store.
pub(super) async fn require_store_data(
    pool: &AnyPool,
    file: &DatabaseFile,
    init_empty: bool,
) -> StoreResult<()> {
    if !file.existed || init_empty {
        return Ok(());
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    if tables == 0 {
        return Err(StoreError::NotInitialised(format!(
            "the database file {} is a SQLite database without the authorization server's \
             tables: it is not this store's (or its data is gone). Nothing was changed: restore \
             it from a backup, or allow initialising it to start a new, empty authorization \
             server in it",
            file.path.display()
        )));
    }
    Ok(())
}
