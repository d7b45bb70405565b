//! [`SqlStore`]: the [`Store`] on SQLite (the default: one file in the data directory) or
//! PostgreSQL (for several authorization-server instances; feature `postgres`), over sqlx's
//! `Any` driver. Each domain's trait is implemented in the module of its tables, as Ory Hydra's
//! `persister_<domain>.go`: [`clients`], [`accounts`], [`consents`], [`grants`] (with
//! [`refresh`] and [`access`]), [`keys`], [`sessions`] (with [`devices`]), [`audit`],
//! [`limits`] (the counters of the sign-in throttle and rate limits), [`mfa`] (two-step
//! verification) and `upstream` (feature
//! `federation`; its tables exist in every build).
//!
//! On a SQLite file, the token endpoint's hot statements also run on the calling thread
//! ([`inline`]), falling back to the pools when the database is locked.
//!
//! Both databases run the same statements (written in the SQL they share: `$n` parameters,
//! `RETURNING`, `ON CONFLICT`); what differs is in [`dialect`]: the migration directory
//! (`migrations/sqlite`, `migrations/postgres`, embedded in the binary), how a writing
//! transaction begins, and the locks PostgreSQL needs to serialise key rotations and the
//! rotations of one refresh-token family. The schema is described in `docs/storage-schema.md`.

mod access;
mod accounts;
mod audit;
mod clients;
mod connect;
mod consents;
mod devices;
mod dialect;
mod grants;
mod housekeeping;
mod inline;
mod keys;
mod limits;
mod mfa;
mod options;
mod refresh;
mod rows;
mod sessions;
mod sqlite_file;
#[cfg(feature = "federation")]
mod upstream;

pub use options::SqlStoreOptions;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Any, AnyPool, Transaction};

use self::dialect::Dialect;
use self::inline::{InlineError, InlineResult, InlineSqlite};
use super::{
    ConnectionUse, DatabaseError, KeyEncryptionKey, KeyStore, Purged, Store, StoreError,
    StoreResult, UnixTime,
};

/// The [`Store`] on SQLite or PostgreSQL (feature `postgres`), chosen by the URL's scheme.
///
/// Opening a store applies the migrations the database lacks (PostgreSQL instances starting
/// together take turns, under sqlx's advisory lock). Every multi-statement operation runs in one
/// transaction; on SQLite, writing transactions begin `IMMEDIATE`. A store on a file writes
/// through its one writer connection, so concurrent writers queue in the process (in order)
/// instead of polling SQLite's lock, or, for the token endpoint's hot statements, on the
/// calling thread ([`inline`]) when the lock is free at once; another process writing to the
/// same file is waited for up to ten seconds (`busy_timeout`) instead of failing with "database
/// is locked".
///
/// SQLite files use WAL journaling with `synchronous = NORMAL`: a commit is in the write-ahead
/// log, written to the operating system, before the call returns, so a crash or `kill -9` of
/// the process loses nothing acknowledged; the log is flushed to disk (fsync) at each
/// checkpoint rather than at each commit, so a power loss or kernel crash may roll back the
/// last commits before the latest checkpoint (the database stays consistent).
///
/// Cloning is cheap: clones share the connection pools.
#[derive(Clone)]
pub struct SqlStore {
    /// For statements that only read.
    pool: AnyPool,
    /// For statements and transactions that write.
    writer: AnyPool,
    dialect: Dialect,
    key_encryption_key: Option<Arc<KeyEncryptionKey>>,
    /// On a SQLite file opened with [`SqlStore::open_sqlite_dir_with`], the connections that run
    /// the hot statements on the calling thread.
    inline: Option<Arc<InlineSqlite>>,
}

impl SqlStore {
    /// The name of the database file [`SqlStore::open_sqlite_dir`] keeps in the data directory.
    pub const SQLITE_FILE_NAME: &'static str = "mcp-oauth.db";

    /// Connects to the database at `url` and migrates it, with the default
    /// [`SqlStoreOptions`] (see [`SqlStore::connect_with`]).
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        Self::connect_with(url, &SqlStoreOptions::default()).await
    }

    /// Connects to the database at `url` and migrates it.
    ///
    /// `sqlite:` URLs open a file (add `?mode=rwc` to create it; prefer
    /// [`SqlStore::open_sqlite_dir_with`]) or `sqlite::memory:` (a private in-memory database
    /// held by a single connection, for tests); every SQLite connection gets WAL journaling,
    /// `synchronous = NORMAL`, foreign keys and a busy timeout, and a file is checked first
    /// (SQLite's `quick_check`). `postgres:` and `postgresql:` URLs take the usual parameters
    /// (`options=-c search_path=…` selects a schema) in a build with the `postgres` feature.
    ///
    /// With a key encryption key, private keys stored in clear are encrypted now; in every
    /// case the published keys are read once, so that keys that cannot be decrypted stop the
    /// start, not a later request.
    ///
    /// Errors: [`StoreError::Database`] for an unsupported scheme
    /// or a failed connection, [`StoreError::Damaged`] for a SQLite
    /// file that is not a database or is damaged,
    /// [`StoreError::Migration`] when the schema cannot be
    /// brought up to date, [`StoreError::KeyEncryption`] when
    /// stored keys are encrypted and no key, or another key, was given.
    pub async fn connect_with(url: &str, options: &SqlStoreOptions) -> StoreResult<SqlStore> {
        let dialect = Dialect::from_url(url)?;
        let label = format!(
            "the SQLite database {}",
            url.split_once('?').map_or(url, |(file, _)| file)
        );
        let store = Self::pool(url, dialect, &label, options).await?;
        store.migrate_and_check_keys().await?;
        Ok(store)
    }

    /// Opens `<data_dir>/mcp-oauth.db` with the default [`SqlStoreOptions`] (see
    /// [`SqlStore::open_sqlite_dir_with`]).
    pub async fn open_sqlite_dir(data_dir: &Path) -> StoreResult<SqlStore> {
        Self::open_sqlite_dir_with(data_dir, &SqlStoreOptions::default()).await
    }

    /// Opens (creating it and the directory if missing) the SQLite database
    /// `<data_dir>/mcp-oauth.db` and migrates it: the embedded default.
    ///
    /// The directory and the database's files are this user's alone (see
    /// `mcp_oauth_private_files::secure_dir`): a new directory is made 0700 and a new file
    /// 0600; existing ones of this user's are tightened, those of another user or a directory
    /// others may write to are refused ([`StoreError::Exposed`]).
    /// An existing file is never silently made a new store: an empty one, or a SQLite database
    /// without the store's tables, is refused
    /// ([`StoreError::NotInitialised`]) unless
    /// [`SqlStoreOptions::with_init_empty_database`] allows it; one that is not a SQLite
    /// database or is damaged is refused ([`StoreError::Damaged`]).
    ///
    /// The file uses WAL journaling with `synchronous = NORMAL` (a committed write survives a
    /// crash of the process; see [`SqlStore`] for power loss), and enforces foreign keys.
    pub async fn open_sqlite_dir_with(
        data_dir: &Path,
        options: &SqlStoreOptions,
    ) -> StoreResult<SqlStore> {
        let init_empty = options.init_empty_database;
        let file = sqlite_file::prepare(data_dir, Self::SQLITE_FILE_NAME, init_empty)?;
        let label = format!("the database file {}", file.path.display());
        let mut store = Self::pool(&file.url, Dialect::Sqlite, &label, options).await?;
        sqlite_file::require_store_data(&store.pool, &file, init_empty).await?;
        store.migrate_and_check_keys().await?;
        store.inline = Some(Arc::new(InlineSqlite::open(
            &file.path,
            store.writer.clone(),
        )?));
        Ok(store)
    }

    async fn pool(
        url: &str,
        dialect: Dialect,
        label: &str,
        options: &SqlStoreOptions,
    ) -> StoreResult<SqlStore> {
        let pools = connect::pools(url, dialect, label).await?;
        Ok(SqlStore {
            pool: pools.read,
            writer: pools.write,
            dialect,
            key_encryption_key: options.key_encryption_key.clone(),
            inline: None,
        })
    }

    async fn migrate_and_check_keys(&self) -> StoreResult<()> {
        self.migrate().await?;
        if let Some(key) = &self.key_encryption_key {
            let encrypted =
                keys::encrypt_keys_in_clear(self.begin_write().await?, self.dialect, key).await?;
            if encrypted > 0 {
                tracing::info!(encrypted, "encrypted the signing keys stored in clear");
            }
            let sealed = mfa::seal_secrets_in_clear(self.begin_write().await?, key).await?;
            if sealed > 0 {
                tracing::info!(sealed, "encrypted the TOTP secrets stored in clear");
            }
        }
        self.published_keys().await?;
        tracing::debug!(database = self.dialect.name(), "store opened and migrated");
        Ok(())
    }

    /// Closes every connection, waiting for those in use to come back. Later calls fail.
    pub async fn close(&self) {
        if let Some(inline) = &self.inline {
            inline.close();
        }
        self.pool.close().await;
        self.writer.close().await;
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migration = |error: sqlx::migrate::MigrateError| {
            StoreError::Migration(DatabaseError::new("migration failed").with_source(error))
        };
        let migrator = self
            .dialect
            .migrations()
            .migrator()
            .await
            .map_err(migration)?;
        migrator.run(&self.writer).await.map_err(migration)
    }

    /// `run` on the inline connections, if the store has them ([`inline`]): `None` when it has
    /// none or they could not do it now (the database was locked), for the caller to use the
    /// pools.
    fn inline<T>(
        &self,
        run: impl FnOnce(&InlineSqlite) -> InlineResult<T>,
    ) -> Option<StoreResult<T>> {
        match run(self.inline.as_deref()?) {
            Ok(value) => Some(Ok(value)),
            Err(InlineError::Failed(error)) => Some(Err(error)),
            Err(InlineError::Fallback) => None,
        }
    }

    /// Begins a transaction that will write: on SQLite it takes the write lock at once, so it
    /// cannot fail later on a lock held by a concurrent writer.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        self.writer
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(rows::db_error)
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("database", &self.dialect.name())
            .field("connections", &self.pool.size())
            .field("keys_encrypted", &self.key_encryption_key.is_some())
            .finish()
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<Purged> {
        housekeeping::purge_expired(self.begin_write().await?, now).await
    }

    fn connection_use(&self) -> ConnectionUse {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        ConnectionUse::new(
            self.pool.size(),
            idle,
            self.pool.options().get_max_connections(),
        )
    }
}
