//! [`SqlStoreOptions`]: how a store opens its database, beyond where it is.

use std::sync::Arc;

use crate::store::KeyEncryptionKey;

/// How [`SqlStore`](super::SqlStore) opens a database. The default encrypts nothing and
/// refuses to make a new store of an existing file that holds no data.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SqlStoreOptions {
    pub(super) key_encryption_key: Option<Arc<KeyEncryptionKey>>,
    pub(super) init_empty_database: bool,
}

impl SqlStoreOptions {
    /// Stores the private signing keys encrypted under `key` (AES-256-GCM): new keys are
    /// encrypted when stored, keys stored in clear are encrypted when the store opens, and
    /// reading them back needs this key. Protects copies of the database (backups, dumps, a
    /// role that may read the table), not a machine where the key is readable too.
    pub fn with_key_encryption_key(mut self, key: KeyEncryptionKey) -> Self {
        self.key_encryption_key = Some(Arc::new(key));
        self
    }

    /// Whether an existing SQLite file with no data of the store (an empty file, or a SQLite
    /// database without the store's tables) may be made a new, empty store. Off by default:
    /// such a file is refused with [`StoreError::NotInitialised`](crate::store::StoreError),
    /// because it usually means the data was lost, and starting afresh would hide that.
    pub fn with_init_empty_database(mut self, allowed: bool) -> Self {
        self.init_empty_database = allowed;
        self
    }
}
