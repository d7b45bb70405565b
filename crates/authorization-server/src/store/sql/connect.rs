//! Connection pools, with the per-connection settings SQLite needs.

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use super::dialect::Dialect;
use super::rows::db_error;
use crate::store::{StoreError, StoreResult};

/// Connections of a PostgreSQL pool, and of a SQLite file's pool of readers (readers run in
/// parallel under WAL).
const MAX_CONNECTIONS: u32 = 10;

/// What every SQLite connection runs first: WAL journaling (readers never block the writer),
/// `synchronous = NORMAL` (see [`SqlStore`](super::SqlStore): under WAL a commit is in the log,
/// in the operating system's hands, when it returns: safe from a crash or `kill -9` of the
/// process, and flushed to disk at each checkpoint), foreign keys (the cascades of the schema),
/// and a 10 s wait for the write lock instead of "database is locked" (it only matters when
/// another process, such as `mcp-oauth admin`, writes at the same time: in the server, writes
/// queue for the one writer connection, or run inline when the lock is free, see
/// [`inline`](super::inline)).
pub(super) const SQLITE_SETTINGS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// What a connection of a SQLite file's pool of readers runs after [`SQLITE_SETTINGS`]: a
/// write sent to a reader by mistake fails instead of contending for the write lock.
const SQLITE_READER_SETTING: &str = "PRAGMA query_only = ON";

async fn apply_sqlite_settings(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for setting in SQLITE_SETTINGS {
        connection.execute(setting).await?;
    }
    Ok(())
}

async fn apply_sqlite_reader_settings(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    apply_sqlite_settings(connection).await?;
    connection.execute(SQLITE_READER_SETTING).await?;
    Ok(())
}

/// The connections of a store: `read` for statements that only read, `write` for every
/// statement and transaction that writes. On PostgreSQL and an in-memory SQLite database they
/// are one pool. On a SQLite file, `write` is one connection: SQLite lets one connection write
/// at a time, and connections that wait for its lock poll it with growing sleeps (up to 100 ms
/// each), so several writing connections make requests wait for sleeps rather than for work
/// (seconds under load, and unfairly); with one writer, writes queue in the process, in order.
pub(super) struct Pools {
    pub(super) read: AnyPool,
    pub(super) write: AnyPool,
}

/// The options of a SQLite file's pools: no test of a connection before each use. A SQLite
/// connection is a file handle of this process with a thread of its own (sqlx's worker), so the
/// test, a round trip to that thread, learns nothing the statement would not, and costs two
/// thread switches per use (sqlx still tests a connection when it goes back to the pool).
fn sqlite_file_pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
}

/// The pools for `url`. The drivers are installed on first use. A SQLite file is checked first
/// on one connection of its own (see [`check_sqlite_file`]), so that a file that is not a
/// database is refused at once, named by `label`, instead of every connection of the pool
/// failing until it gives up.
pub(super) async fn pools(url: &str, dialect: Dialect, label: &str) -> StoreResult<Pools> {
    sqlx::any::install_default_drivers();
    let options = AnyPoolOptions::new().max_connections(MAX_CONNECTIONS);
    match dialect {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => shared(options.connect(url).await.map_err(db_error)?),
        Dialect::Sqlite if is_sqlite_memory(url) => {
            // Each connection to `:memory:` is a database of its own: keep exactly one,
            // forever.
            let options = options
                .after_connect(|connection, _| Box::pin(apply_sqlite_settings(connection)))
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            shared(options.connect(url).await.map_err(db_error)?)
        }
        Dialect::Sqlite => {
            check_sqlite_file(url, label).await?;
            let write = sqlite_file_pool_options(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(|connection, _| Box::pin(apply_sqlite_settings(connection)))
                .connect(url)
                .await
                .map_err(db_error)?;
            let read = sqlite_file_pool_options(MAX_CONNECTIONS)
                .after_connect(|connection, _| Box::pin(apply_sqlite_reader_settings(connection)))
                .connect(url)
                .await
                .map_err(db_error)?;
            Ok(Pools { read, write })
        }
    }
}

/// One pool that both reads and writes.
fn shared(pool: AnyPool) -> StoreResult<Pools> {
    Ok(Pools {
        read: pool.clone(),
        write: pool,
    })
}

/// Opens the SQLite file of `url` once, applies the connection settings and runs SQLite's
/// `quick_check` (every page and b-tree read, O(size of the file)), so that a file that is not
/// a SQLite database, or a damaged one, is reported as [`StoreError::Damaged`] with its cause
/// before anything is written to it.
async fn check_sqlite_file(url: &str, label: &str) -> StoreResult<()> {
    let damaged = |error: sqlx::Error| damage(error, label);
    let mut connection = AnyConnection::connect(url).await.map_err(damaged)?;
    apply_sqlite_settings(&mut connection)
        .await
        .map_err(damaged)?;
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
        .fetch_all(&mut connection)
        .await
        .map_err(damaged)?;
    connection.close().await.map_err(db_error)?;
    if problems != ["ok"] {
        return Err(StoreError::Damaged(format!(
            "{label} is a damaged SQLite database (its quick_check found: {}); nothing was \
             changed: restore it from a backup",
            problems.join("; ")
        )));
    }
    Ok(())
}

/// A SQLite error as what it says of the file: not a database (`SQLITE_NOTADB`), damaged
/// (`SQLITE_CORRUPT` and its extended codes); anything else as [`db_error`].
fn damage(error: sqlx::Error, label: &str) -> StoreError {
    const SQLITE_CORRUPT: i32 = 11;
    const SQLITE_NOTADB: i32 = 26;
    let cause = match &error {
        sqlx::Error::Database(inner) => inner
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| (code & 0xff, inner.message().to_owned())),
        _ => None,
    };
    match cause {
        Some((SQLITE_NOTADB, message)) => StoreError::Damaged(format!(
            "{label} is not a SQLite database ({message}); nothing was changed"
        )),
        Some((SQLITE_CORRUPT, message)) => StoreError::Damaged(format!(
            "{label} is a damaged SQLite database ({message}); nothing was changed: restore \
             it from a backup"
        )),
        _ => db_error(error),
    }
}

/// Whether a `sqlite:` URL names an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The `sqlite://` URL (create if missing) of the file at `path`, made absolute. The path is
/// percent-encoded, so spaces, `?`, `#` and `%` in it are safe.
pub(super) fn sqlite_file_url(path: &Path) -> StoreResult<String> {
    let unusable = |problem: String| {
        StoreError::database(format!("database file {}: {problem}", path.display()))
    };
    let path = std::path::absolute(path).map_err(|error| unusable(error.to_string()))?;
    let path = path
        .to_str()
        .ok_or_else(|| unusable("the path is not valid UTF-8".to_owned()))?;
    let mut url = String::from("sqlite://");
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_directory_paths_are_percent_encoded() {
        let url = sqlite_file_url(Path::new("/srv/a b?c#d%e/x.db")).expect("url");
        assert_eq!(url, "sqlite:///srv/a%20b%3Fc%23d%25e/x.db?mode=rwc");
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(is_sqlite_memory("sqlite://?mode=memory"));
        assert!(!is_sqlite_memory("sqlite:///var/lib/x.db?mode=rwc"));
    }
}
