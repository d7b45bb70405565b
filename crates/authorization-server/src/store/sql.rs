//! [`SqlStore`]: the [`Store`] on SQLite (the default: one file in the data directory) or
//! PostgreSQL (for several authorization-server instances), over sqlx's `Any` driver.
//!
//! Both databases run the same statements (written in the SQL they share: `$n` parameters,
//! `RETURNING`, `ON CONFLICT`); what differs is in [`dialect`]: the migration directory
//! (`migrations/sqlite`, `migrations/postgres`, embedded in the binary), how a writing
//! transaction begins, and the locks PostgreSQL needs to serialise key rotations and the
//! rotations of one refresh-token family. The schema is described in `docs/storage-schema.md`.

mod access;
mod clients;
mod connect;
mod consents;
mod devices;
mod dialect;
mod grants;
mod housekeeping;
mod keys;
mod options;
mod refresh;
mod rows;
mod sessions;
mod sqlite_file;
mod upstream;
mod users;

pub use options::SqlStoreOptions;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Any, AnyPool, Transaction};

use self::dialect::Dialect;
use super::{
    AccessTokenRecord, AuthorizationCodeRecord, ClientId, ClientRecord, CodeRedemption,
    ConsentRecord, DeviceCookieRecord, GrantId, GrantRecord, KeyEncryptionKey, RefreshRotation,
    RefreshTokenRecord, SecretHash, SessionRecord, SigningKeyRecord, Store, StoreResult, UnixTime,
    UpstreamIdentityRecord, UpstreamLoginRecord, UserId, UserRecord,
};

/// The [`Store`] on SQLite or PostgreSQL, chosen by the URL's scheme.
///
/// Opening a store applies the migrations the database lacks (PostgreSQL instances starting
/// together take turns, under sqlx's advisory lock). Every multi-statement operation runs in one
/// transaction; on SQLite, writing transactions begin `IMMEDIATE` and connections wait up to
/// ten seconds for the write lock (`busy_timeout`), so concurrent writers queue instead of
/// failing with "database is locked".
///
/// Cloning is cheap: clones share one connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    key_encryption_key: Option<Arc<KeyEncryptionKey>>,
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
    /// `synchronous = FULL`, foreign keys and a busy timeout, and a file is checked first
    /// (SQLite's `quick_check`). `postgres:` and `postgresql:` URLs take the usual parameters
    /// (`options=-c search_path=…` selects a schema).
    ///
    /// With a key encryption key, private keys stored in clear are encrypted now; in every
    /// case the published keys are read once, so that keys that cannot be decrypted stop the
    /// start, not a later request.
    ///
    /// Errors: [`StoreError::Database`](super::StoreError::Database) for an unsupported scheme
    /// or a failed connection, [`StoreError::Damaged`](super::StoreError::Damaged) for a SQLite
    /// file that is not a database or is damaged,
    /// [`StoreError::Migration`](super::StoreError::Migration) when the schema cannot be
    /// brought up to date, [`StoreError::KeyEncryption`](super::StoreError::KeyEncryption) when
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
    /// [`private_files`](crate::private_files)): a new directory is made 0700 and a new file
    /// 0600; existing ones of this user's are tightened, those of another user or a directory
    /// others may write to are refused ([`StoreError::Exposed`](super::StoreError::Exposed)).
    /// An existing file is never silently made a new store: an empty one, or a SQLite database
    /// without the store's tables, is refused
    /// ([`StoreError::NotInitialised`](super::StoreError::NotInitialised)) unless
    /// [`SqlStoreOptions::with_init_empty_database`] allows it; one that is not a SQLite
    /// database or is damaged is refused ([`StoreError::Damaged`](super::StoreError::Damaged)).
    ///
    /// The file uses WAL journaling with `synchronous = FULL`, so every committed write is on
    /// disk when the call returns, and enforces foreign keys.
    pub async fn open_sqlite_dir_with(
        data_dir: &Path,
        options: &SqlStoreOptions,
    ) -> StoreResult<SqlStore> {
        let init_empty = options.init_empty_database;
        let file = sqlite_file::prepare(data_dir, Self::SQLITE_FILE_NAME, init_empty)?;
        let label = format!("the database file {}", file.path.display());
        let store = Self::pool(&file.url, Dialect::Sqlite, &label, options).await?;
        sqlite_file::require_store_data(&store.pool, &file, init_empty).await?;
        store.migrate_and_check_keys().await?;
        Ok(store)
    }

    async fn pool(
        url: &str,
        dialect: Dialect,
        label: &str,
        options: &SqlStoreOptions,
    ) -> StoreResult<SqlStore> {
        Ok(SqlStore {
            pool: connect::pool(url, dialect, label).await?,
            dialect,
            key_encryption_key: options.key_encryption_key.clone(),
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
        }
        self.published_keys().await?;
        tracing::debug!(database = self.dialect.name(), "store opened and migrated");
        Ok(())
    }

    /// Closes every connection, waiting for those in use to come back. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migration =
            |error: sqlx::migrate::MigrateError| super::StoreError::Migration(error.to_string());
        let migrator = self
            .dialect
            .migrations()
            .migrator()
            .await
            .map_err(migration)?;
        migrator.run(&self.pool).await.map_err(migration)
    }

    /// Begins a transaction that will write: on SQLite it takes the write lock at once, so it
    /// cannot fail later on a lock held by a concurrent writer.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        self.pool
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
    async fn insert_client(&self, client: &ClientRecord) -> StoreResult<()> {
        clients::insert(&self.pool, client).await
    }

    async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        clients::get(&self.pool, client_id).await
    }

    async fn update_client(&self, client: &ClientRecord) -> StoreResult<bool> {
        clients::update(&self.pool, client).await
    }

    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        clients::delete(&self.pool, client_id).await
    }

    async fn list_clients(&self) -> StoreResult<Vec<ClientRecord>> {
        clients::list(&self.pool).await
    }

    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        users::insert(&self.pool, user).await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        users::find_by_email(&self.pool, email).await
    }

    async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>> {
        users::get(&self.pool, user_id).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        users::list(&self.pool).await
    }

    async fn upsert_consent(&self, consent: &ConsentRecord) -> StoreResult<()> {
        consents::upsert(&self.pool, consent).await
    }

    async fn get_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        resource: &str,
    ) -> StoreResult<Option<ConsentRecord>> {
        consents::get(&self.pool, user_id, client_id, resource).await
    }

    async fn insert_grant_with_code(
        &self,
        grant: &GrantRecord,
        code: &AuthorizationCodeRecord,
    ) -> StoreResult<()> {
        grants::insert_with_code(self.begin_write().await?, grant, code).await
    }

    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<CodeRedemption> {
        grants::redeem_code(&self.pool, code_hash, now).await
    }

    async fn get_grant(&self, grant_id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        grants::get(&self.pool, grant_id).await
    }

    async fn revoke_grant(&self, grant_id: &GrantId, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let found = grants::revoke(&mut tx, grant_id, now).await?;
        tx.commit().await.map_err(rows::db_error)?;
        Ok(found)
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        refresh::insert(&self.pool, token).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &SecretHash,
        next: &RefreshTokenRecord,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation> {
        refresh::rotate(
            self.begin_write().await?,
            self.dialect,
            presented,
            next,
            now,
        )
        .await
    }

    async fn revoke_grant_if_reused(
        &self,
        presented: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<RefreshRotation> {
        refresh::revoke_grant_if_reused(self.begin_write().await?, self.dialect, presented, now)
            .await
    }

    async fn find_active_refresh_token(
        &self,
        token_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        refresh::find_active(&self.pool, token_hash, now).await
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()> {
        access::insert(&self.pool, token).await
    }

    async fn find_active_access_token(
        &self,
        jti: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        access::find_active(&self.pool, jti, now).await
    }

    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<bool> {
        access::revoke(&self.pool, jti, now).await
    }

    async fn published_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        keys::published(&self.pool, self.key_encryption_key.as_deref()).await
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        keys::rotate(
            self.begin_write().await?,
            self.dialect,
            key,
            self.key_encryption_key.as_deref(),
        )
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sessions::insert(&self.pool, session).await
    }

    async fn get_session(
        &self,
        session_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        sessions::get(&self.pool, session_hash, now).await
    }

    async fn delete_session(&self, session_hash: &SecretHash) -> StoreResult<()> {
        sessions::delete(&self.pool, session_hash).await
    }

    async fn insert_device_cookie(&self, cookie: &DeviceCookieRecord) -> StoreResult<()> {
        devices::insert(&self.pool, cookie).await
    }

    async fn get_device_cookie(
        &self,
        cookie_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceCookieRecord>> {
        devices::get(&self.pool, cookie_hash, now).await
    }

    async fn delete_device_cookie(&self, cookie_hash: &SecretHash) -> StoreResult<()> {
        devices::delete(&self.pool, cookie_hash).await
    }

    async fn find_upstream_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamIdentityRecord>> {
        upstream::find_identity(&self.pool, issuer, subject).await
    }

    async fn insert_user_with_upstream_identity(
        &self,
        user: &UserRecord,
        identity: &UpstreamIdentityRecord,
    ) -> StoreResult<()> {
        upstream::insert_user_with_identity(self.begin_write().await?, user, identity).await
    }

    async fn record_upstream_sign_in(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        upstream::record_sign_in(&self.pool, issuer, subject, email, now).await
    }

    async fn insert_upstream_login(&self, login: &UpstreamLoginRecord) -> StoreResult<()> {
        upstream::insert_login(&self.pool, login).await
    }

    async fn take_upstream_login(
        &self,
        state_hash: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLoginRecord>> {
        upstream::take_login(&self.pool, state_hash, now).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        housekeeping::purge_expired(self.begin_write().await?, now).await
    }
}
