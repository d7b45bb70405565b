//! Connection pools, with the per-connection settings SQLite needs.

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::dialect::Dialect;
use super::rows::db_error;
use crate::store::{StoreError, StoreResult};

/// Connections of a PostgreSQL pool, and of a SQLite file's pool (SQLite writers queue anyway;
/// readers run in parallel under WAL).
const MAX_CONNECTIONS: u32 = 10;

/// What every SQLite connection runs first: WAL journaling (readers never block the writer),
/// `synchronous = FULL` (a commit is on disk before it returns: durable even on power loss),
/// foreign keys (the cascades of the schema), and a 10 s wait for the write lock instead of
/// "database is locked".
const SQLITE_SETTINGS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// A pool for `url`. The drivers are installed on first use.
pub(super) async fn pool(url: &str, dialect: Dialect) -> StoreResult<AnyPool> {
    sqlx::any::install_default_drivers();
    let options = AnyPoolOptions::new().max_connections(MAX_CONNECTIONS);
    let options = match dialect {
        Dialect::Postgres => options,
        Dialect::Sqlite => {
            let options = options.after_connect(|connection, _| {
                Box::pin(async move {
                    for setting in SQLITE_SETTINGS {
                        connection.execute(setting).await?;
                    }
                    Ok(())
                })
            });
            if is_sqlite_memory(url) {
                // Each connection to `:memory:` is a database of its own: keep exactly one,
                // forever.
                options
                    .min_connections(1)
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                options.acquire_timeout(Duration::from_secs(30))
            }
        }
    };
    options.connect(url).await.map_err(db_error)
}

/// Whether a `sqlite:` URL names an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The `sqlite://` URL (create if missing) of `file_name` in `data_dir`, creating the directory.
/// The absolute path is percent-encoded, so spaces, `?`, `#` and `%` in it are safe.
pub(super) fn sqlite_file_url(data_dir: &Path, file_name: &str) -> StoreResult<String> {
    let unusable = |problem: String| {
        StoreError::Database(format!("data directory {}: {problem}", data_dir.display()))
    };
    create_private_dir(data_dir).map_err(|error| unusable(error.to_string()))?;
    let path = std::path::absolute(data_dir.join(file_name))
        .map_err(|error| unusable(error.to_string()))?;
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

/// Creates the data directory readable by its owner only: the database holds the private
/// signing keys. An existing directory keeps its permissions.
fn create_private_dir(data_dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_directory_paths_are_percent_encoded() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let odd = dir.path().join("a b?c#d%e");
        let url = sqlite_file_url(&odd, "x.db").expect("url");
        assert!(url.starts_with("sqlite:///"), "{url}");
        assert!(url.ends_with("/a%20b%3Fc%23d%25e/x.db?mode=rwc"), "{url}");
        assert!(odd.is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        sqlite_file_url(&data, "x.db").expect("url");
        let mode = std::fs::metadata(&data)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(is_sqlite_memory("sqlite://?mode=memory"));
        assert!(!is_sqlite_memory("sqlite:///var/lib/x.db?mode=rwc"));
    }
}
