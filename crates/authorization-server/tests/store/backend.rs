//! The databases the suite runs on: a SQLite file in a temporary directory, or (feature
//! `postgres`) a fresh schema of the PostgreSQL database named by `MCP_OAUTH_POSTGRES_URL`,
//! dropped afterwards.

use std::path::Path;
#[cfg(feature = "postgres")]
use std::sync::atomic::{AtomicU32, Ordering};
#[cfg(feature = "postgres")]
use std::time::{SystemTime, UNIX_EPOCH};

use mcp_oauth_authorization_server::store::{SqlStore, SqlStoreOptions, StoreResult};
use sqlx::AnyPool;
#[cfg(feature = "postgres")]
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

/// One empty database for one test.
pub struct TestDb {
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    #[cfg(feature = "postgres")]
    Postgres(Schema),
}

impl TestDb {
    /// A new SQLite database file, in a temporary directory of its own.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        TestDb {
            place: Place::Sqlite(dir),
        }
    }

    /// A new schema in the PostgreSQL database of `MCP_OAUTH_POSTGRES_URL`. `None` (after a
    /// notice) when that is unset, unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes it fail.
    #[cfg(feature = "postgres")]
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Some(base_url) = std::env::var("MCP_OAUTH_POSTGRES_URL")
            .ok()
            .filter(|value| !value.is_empty())
        else {
            if std::env::var("MCP_OAUTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!(
                    "MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_POSTGRES_URL is not set: start \
                     PostgreSQL with `source scripts/services/postgres.sh && postgres_install \
                     && postgres_start`"
                );
            }
            eprintln!(
                "skipping postgres::{test}: MCP_OAUTH_POSTGRES_URL is not set \
                 (see scripts/services/postgres.sh)"
            );
            return None;
        };
        Some(TestDb {
            place: Place::Postgres(Schema::create(base_url, test).await),
        })
    }

    /// The migration directory name of this database: `sqlite` or `postgres`.
    pub fn dialect(&self) -> &'static str {
        match self.place {
            Place::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Place::Postgres(_) => "postgres",
        }
    }

    /// The URL of the database, for [`SqlStore::connect`] or for raw access.
    pub fn url(&self) -> String {
        match &self.place {
            Place::Sqlite(dir) => {
                let file = dir.path().join(SqlStore::SQLITE_FILE_NAME);
                format!("sqlite://{}?mode=rwc", file.display())
            }
            #[cfg(feature = "postgres")]
            Place::Postgres(schema) => schema.url(),
        }
    }

    /// The SQLite data directory, if this is SQLite.
    pub fn sqlite_dir(&self) -> Option<&Path> {
        match &self.place {
            Place::Sqlite(dir) => Some(dir.path()),
            #[cfg(feature = "postgres")]
            Place::Postgres(_) => None,
        }
    }

    /// Opens the store as the server does (migrating the database): the data directory for
    /// SQLite, the URL for PostgreSQL. Call again to reopen.
    pub async fn open(&self) -> SqlStore {
        let opened = match &self.place {
            Place::Sqlite(dir) => SqlStore::open_sqlite_dir(dir.path()).await,
            #[cfg(feature = "postgres")]
            Place::Postgres(schema) => SqlStore::connect(&schema.url()).await,
        };
        opened.expect("open the store")
    }

    /// Opens the store as [`TestDb::open`] does, with `options`; the error when it refuses.
    pub async fn open_with(&self, options: &SqlStoreOptions) -> StoreResult<SqlStore> {
        match &self.place {
            Place::Sqlite(dir) => SqlStore::open_sqlite_dir_with(dir.path(), options).await,
            #[cfg(feature = "postgres")]
            Place::Postgres(schema) => SqlStore::connect_with(&schema.url(), options).await,
        }
    }

    /// A pool on the database that bypasses the store: no migrations, raw SQL.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url())
            .await
            .expect("connect to the test database")
    }
}

/// A schema made for one test, dropped (with everything in it) when the test ends, even by a
/// panic.
#[cfg(feature = "postgres")]
struct Schema {
    base_url: String,
    name: String,
}

#[cfg(feature = "postgres")]
impl Schema {
    async fn create(base_url: String, test: &str) -> Schema {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let label: String = test
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect();
        let name = format!(
            "t{}_{}_{nanos}_{label}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        )
        .to_ascii_lowercase();
        let mut admin = PgConnection::connect(&base_url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to MCP_OAUTH_POSTGRES_URL: {error}"));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.expect("close the admin connection");
        Schema { base_url, name }
    }

    /// The base URL with the schema first on the search path.
    fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base_url, self.name
        )
    }
}

#[cfg(feature = "postgres")]
impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        // Drop runs outside async code (and maybe in a panic): a thread of its own does the I/O.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}: {dropped:?}", self.name);
        }
    }
}
