//! [`StoreError`]: the faults of a store, each keeping its cause.

use std::error::Error as StdError;
use std::fmt;

use thiserror::Error;

/// Faults of the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same unique key exists (client id, user e-mail, key id, …).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database failed, or holds a row the store cannot read; the detail is for logs.
    #[error(transparent)]
    Database(DatabaseError),
    /// The schema could not be migrated.
    #[error(transparent)]
    Migration(DatabaseError),
    /// The data directory or a file in it could be read or replaced by others, and it is not
    /// ours to fix; the message names the command that does. Nothing was opened.
    #[error("{0}")]
    Exposed(String),
    /// The database file is not a usable database: not SQLite, or damaged. Nothing was changed.
    #[error("{0}")]
    Damaged(String),
    /// An existing database file holds no data of this store (an empty file, or a SQLite
    /// database without its tables): it is not made a new store unless the caller allows it
    /// ([`SqlStoreOptions::with_init_empty_database`](super::SqlStoreOptions::with_init_empty_database)).
    /// Nothing was changed.
    #[error("{0}")]
    NotInitialised(String),
    /// The private signing keys cannot be encrypted or decrypted: encrypted but no key given,
    /// another key given, a damaged value, or a key encryption key that is not 32 bytes.
    #[error("{0}")]
    KeyEncryption(String),
}

impl StoreError {
    /// A database fault described by `message` alone (a row the store cannot read, a record
    /// that contradicts another).
    pub fn database(message: impl Into<String>) -> Self {
        Self::Database(DatabaseError::new(message))
    }

    /// A database fault with the driver's (or another) error as its cause.
    pub fn database_cause(
        message: impl Into<String>,
        cause: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Database(DatabaseError::new(message).with_source(cause))
    }
}

/// A failure of the database or of its contents: what was being done, and the cause
/// ([`std::error::Error::source`]) when there is one. Never carries a secret or a connection URL.
#[derive(Debug)]
pub struct DatabaseError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl DatabaseError {
    /// A fault described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// The same fault, caused by `source`.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "database error: {}: {source}", self.message),
            None => write!(f, "database error: {}", self.message),
        }
    }
}

impl StdError for DatabaseError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_keeps_its_cause() {
        let cause = std::io::Error::other("disk on fire");
        let error = StoreError::database_cause("cannot insert a client", cause);
        assert_eq!(
            error.to_string(),
            "database error: cannot insert a client: disk on fire"
        );
        let source = error.source().expect("the cause is kept");
        assert_eq!(source.to_string(), "disk on fire");
    }
}
