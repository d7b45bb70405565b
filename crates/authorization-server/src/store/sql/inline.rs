//! Statements run on the calling thread, for a store on a SQLite file: the hot path of the token
//! endpoint (looking up a client, finding and rotating a refresh token, recording an access
//! token and an audit event).
//!
//! sqlx runs each SQLite statement on a worker thread of its connection: every statement is a
//! round trip between threads, and so is a pooled connection's return to the pool (a ping). A
//! refresh grant made about 13 of them, and on one core the thread switches were about half of
//! the server's CPU (BENCHMARKS.md). Here the same SQL runs through rusqlite on the thread that
//! asks: a read takes microseconds, and a commit appends to the write-ahead log without fsync
//! (`synchronous = NORMAL`, as on the pools: a commit survives a crash or `kill -9` of the
//! process once it returns).
//!
//! Nothing here waits for SQLite's lock, so a thread of the runtime never sleeps on it: the
//! connection has no busy timeout, and a statement that finds the database locked (the writer
//! pool or another process in a transaction) gives [`InlineError::Fallback`]; the caller then
//! runs the operation on the pools, which queue for the lock.
//!
//! Nor does anything here sync a file (a checkpoint syncs the log and the database file, and
//! the first write to a restarted log syncs its header). The inline connection never
//! checkpoints (`wal_autocheckpoint = 0`): every [`CHECKPOINT_EVERY`] inline commits, the writer
//! pool runs a passive checkpoint on its own thread, which copies the log into the database
//! file while writes go on; every [`RESTART_EVERY`]th time, a `RESTART` one instead, which holds
//! the write lock until the whole log is copied (little, after the passive ones), followed by a
//! write that starts the log again from its beginning, so that it stops growing. Inline writes
//! go to the pools until both are done. (A passive checkpoint alone, racing the writes, never
//! catches up with them, and the log grows as long as they go on.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, ErrorCode, OpenFlags, Row, ToSql};
use sqlx::AnyPool;

use super::connect::SQLITE_SETTINGS;
use crate::store::{StoreError, StoreResult};

/// Inline commits between two checkpoints of the writer pool: SQLite's own auto-checkpoint
/// threshold is 1,000 pages of log, and an inline commit writes a few pages.
const CHECKPOINT_EVERY: u32 = 500;

/// One checkpoint in this many is a `RESTART` one, which starts the log again (so the log holds
/// at most about 2,000 commits).
const RESTART_EVERY: u32 = 4;

/// A write that changes a page without changing anything the store keeps (SQLite's
/// `user_version` header field, which the store does not use, stays 0): after a checkpoint, it
/// starts the log again on the writer pool's thread.
const RESTART_LOG: &str = "PRAGMA user_version = 0";

/// Why an inline operation did not finish.
#[derive(Debug)]
pub(super) enum InlineError {
    /// Not done here: the database was locked, or the operation is one the pools do (a refresh
    /// token that did not rotate); nothing was changed. The caller runs it on the pools.
    Fallback,
    /// It failed, as it would have on the pools.
    Failed(StoreError),
}

/// The result of an inline operation.
pub(super) type InlineResult<T> = Result<T, InlineError>;

impl From<rusqlite::Error> for InlineError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => InlineError::Fallback,
            _ => InlineError::Failed(StoreError::database_cause("a statement failed", error)),
        }
    }
}

impl From<StoreError> for InlineError {
    fn from(error: StoreError) -> Self {
        InlineError::Failed(error)
    }
}

/// A unique-key violation as `Conflict(what)`; anything else as [`InlineError::from`].
pub(super) fn conflict(what: &'static str) -> impl FnOnce(rusqlite::Error) -> InlineError {
    move |error| match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) if is_unique_violation(&error) => {
            InlineError::Failed(StoreError::Conflict(what))
        }
        _ => InlineError::from(error),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
    matches!(
        error,
        rusqlite::Error::SqliteFailure(inner, _)
            if matches!(inner.extended_code, SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE)
    )
}

/// The values of a statement written with sqlx's `$1`, `$2`, … parameters, by name: SQLite
/// numbers `$n` parameters in the order they first appear, not by `n`. (At most 12.)
fn numbered<const N: usize>(values: [&dyn ToSql; N]) -> [(&'static str, &dyn ToSql); N] {
    const NAMES: [&str; 12] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12",
    ];
    std::array::from_fn(|index| (NAMES[index], values[index]))
}

/// The first row of `sql` with `values`, read by `read`, if there is one.
pub(super) fn query_optional<T, const N: usize>(
    connection: &Connection,
    sql: &str,
    values: [&dyn ToSql; N],
    read: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> InlineResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(numbered(values).as_slice())?;
    match rows.next()? {
        Some(row) => Ok(Some(read(row)?)),
        None => Ok(None),
    }
}

/// Runs `sql` with `values`; the number of rows it changed.
pub(super) fn execute<const N: usize>(
    connection: &Connection,
    sql: &str,
    values: [&dyn ToSql; N],
) -> Result<usize, rusqlite::Error> {
    connection
        .prepare_cached(sql)?
        .execute(numbered(values).as_slice())
}

/// The inline connection of a store on a SQLite file: one, for reads and writes, so that its
/// page cache stays valid (SQLite empties a connection's cache whenever another connection
/// wrote since its last transaction). The statements it runs take microseconds, so threads
/// take turns on it. `None` once closed.
pub(super) struct InlineSqlite {
    connection: Mutex<Option<Connection>>,
    /// Where checkpoints are asked for.
    writer_pool: AnyPool,
    commits: AtomicU32,
    /// Set while the writer pool checkpoints and starts the log again: writes go to the pools.
    checkpointing: Arc<AtomicBool>,
}

impl InlineSqlite {
    /// The inline connection to the SQLite file at `path`, whose pools' writer is
    /// `writer_pool`.
    pub(super) fn open(path: &Path, writer_pool: AnyPool) -> StoreResult<InlineSqlite> {
        let connection = connect(path).map_err(|error| {
            StoreError::database_cause("cannot open the database file inline", error)
        })?;
        Ok(InlineSqlite {
            connection: Mutex::new(Some(connection)),
            writer_pool,
            commits: AtomicU32::new(0),
            checkpointing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs `read` on the connection.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> InlineResult<T>,
    ) -> InlineResult<T> {
        let connection = lock(&self.connection);
        read(connection.as_ref().ok_or(InlineError::Fallback)?)
    }

    /// Runs `write` in a transaction that takes the write lock at once (`BEGIN IMMEDIATE`),
    /// and commits it if `write` succeeds; otherwise it is rolled back. Every
    /// [`CHECKPOINT_EVERY`] commits, asks the writer pool for a checkpoint.
    pub(super) fn write<T>(
        &self,
        write: impl FnOnce(&Connection) -> InlineResult<T>,
    ) -> InlineResult<T> {
        if self.checkpointing.load(Ordering::Acquire) {
            return Err(InlineError::Fallback);
        }
        let mut guard = lock(&self.connection);
        let connection = guard.as_ref().ok_or(InlineError::Fallback)?;
        connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let written = write(connection).and_then(|value| {
            connection.prepare_cached("COMMIT")?.execute([])?;
            Ok(value)
        });
        if written.is_err() && !connection.is_autocommit() {
            let rolled_back = connection
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
            if let Err(error) = rolled_back {
                tracing::error!(
                    %error,
                    "cannot roll back an inline transaction: the store goes on without inline \
                     statements"
                );
                guard.take();
            }
        }
        let value = written?;
        let commits = self.commits.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if commits.is_multiple_of(CHECKPOINT_EVERY) {
            let restart = (commits / CHECKPOINT_EVERY).is_multiple_of(RESTART_EVERY);
            self.ask_for_checkpoint(restart);
        }
        Ok(value)
    }

    /// A checkpoint on the writer pool's thread: a passive one (it copies the log into the
    /// database file while writes go on), or, with `restart`, one that then starts the log
    /// again from its beginning. That one holds the write lock, and is followed by a write on
    /// the same thread (the first write to a restarted log syncs its header, which must not
    /// happen on the calling thread); inline writes go to the pools until both are done.
    fn ask_for_checkpoint(&self, restart: bool) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.writer_pool.clone();
        let statements: &[&str] = if restart {
            if self.checkpointing.swap(true, Ordering::AcqRel) {
                return;
            }
            &["PRAGMA wal_checkpoint(RESTART)", RESTART_LOG]
        } else {
            &["PRAGMA wal_checkpoint(PASSIVE)"]
        };
        let checkpointing = restart.then(|| self.checkpointing.clone());
        runtime.spawn(async move {
            for &statement in statements {
                if let Err(error) = sqlx::query(statement).execute(&pool).await {
                    tracing::warn!(%error, "checkpoint of the write-ahead log failed");
                    break;
                }
            }
            if let Some(checkpointing) = checkpointing {
                checkpointing.store(false, Ordering::Release);
            }
        });
    }

    /// Closes the connection; later operations give [`InlineError::Fallback`].
    pub(super) fn close(&self) {
        lock(&self.connection).take();
    }
}

/// A connection to `path` with the pools' settings, no busy timeout and no checkpoints.
fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    for setting in SQLITE_SETTINGS {
        connection.execute_batch(setting)?;
    }
    connection.execute_batch("PRAGMA busy_timeout = 0; PRAGMA wal_autocheckpoint = 0")?;
    Ok(connection)
}

/// A lock that a panic while holding it does not poison: a transaction left open by a panic
/// was rolled back when it was dropped.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
