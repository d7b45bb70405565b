//! The registry in a SQLite file, for local runs.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use mcp_oauth_core::{ClientStatus, EmbeddedMigrations, RegistrationPath};
use mcp_oauth_private_files::create_private_file;
use sqlx::Row;
use sqlx::migrate::MigrateError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};

use super::{BridgeEvent, BridgeEventKind, Registration, Registry, RegistryError, UnixTime};

/// The registry's schema (`migrations/`), embedded at build time. A new file there must be
/// added here too: a test compares this list with the directory.
static MIGRATIONS: EmbeddedMigrations = EmbeddedMigrations::new(&[
    (
        "0001_registrations.sql",
        include_str!("../../migrations/0001_registrations.sql"),
    ),
    (
        "0002_events.sql",
        include_str!("../../migrations/0002_events.sql"),
    ),
    (
        "0003_status.sql",
        include_str!("../../migrations/0003_status.sql"),
    ),
]);

/// The [`Registry`] in one SQLite file (WAL, durable writes), migrated when opened.
#[derive(Clone)]
pub struct SqliteRegistry {
    pool: SqlitePool,
}

impl SqliteRegistry {
    /// Opens (creating it if missing, readable by its owner only) the registry database at
    /// `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, RegistryError> {
        // SQLite would create it 0644, and gives the `-wal` and `-shm` files beside it the
        // database file's mode. The registry holds only hashes of registration tokens, but what
        // it knows of clients is nobody else's business. An existing file keeps its mode.
        create_private_file(path).map_err(unavailable)?;
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(unavailable)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePool::connect_with(options)
            .await
            .map_err(unavailable)?;
        let migration_failed =
            |error: MigrateError| RegistryError::Unavailable(format!("migration failed: {error}"));
        MIGRATIONS
            .migrator()
            .await
            .map_err(migration_failed)?
            .run(&pool)
            .await
            .map_err(migration_failed)?;
        Ok(Self { pool })
    }
}

fn unavailable(error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Unavailable(error.to_string())
}

fn to_i64(value: UnixTime) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_row(row: &SqliteRow) -> Result<Registration, RegistryError> {
    let client_id: String = row.try_get("client_id").map_err(unavailable)?;
    let corrupt = |reason: String| RegistryError::Corrupt {
        client_id: client_id.clone(),
        reason,
    };
    let metadata: String = row.try_get("metadata").map_err(unavailable)?;
    let metadata = serde_json::from_str(&metadata).map_err(|error| corrupt(error.to_string()))?;
    let time = |name: &str| -> Result<Option<UnixTime>, RegistryError> {
        let value: Option<i64> = row.try_get(name).map_err(unavailable)?;
        value
            .map(|value| u64::try_from(value).map_err(|_| corrupt(format!("negative {name}"))))
            .transpose()
    };
    let status: String = row.try_get("client_status").map_err(unavailable)?;
    let path: String = row.try_get("registration_path").map_err(unavailable)?;
    Ok(Registration {
        status: status
            .parse::<ClientStatus>()
            .map_err(|error| corrupt(error.to_string()))?,
        path: path
            .parse::<RegistrationPath>()
            .map_err(|error| corrupt(error.to_string()))?,
        approved_at: time("approved_at")?,
        registration_token_hash: row
            .try_get("registration_token_hash")
            .map_err(unavailable)?,
        created_at: time("created_at")?.unwrap_or_default(),
        last_used_at: time("last_used_at")?,
        expires_at: time("expires_at")?,
        metadata,
        client_id: client_id.clone(),
    })
}

/// An event row read back.
fn event_from_row(row: &SqliteRow) -> Result<BridgeEvent, RegistryError> {
    let corrupt = |reason: String| RegistryError::Corrupt {
        client_id: "(event)".to_owned(),
        reason,
    };
    let time = |name: &str| -> Result<UnixTime, RegistryError> {
        let value: i64 = row.try_get(name).map_err(unavailable)?;
        u64::try_from(value).map_err(|_| corrupt(format!("negative {name}")))
    };
    let event: String = row.try_get("event").map_err(unavailable)?;
    let outcome: String = row.try_get("outcome").map_err(unavailable)?;
    Ok(BridgeEvent {
        occurred_at: time("occurred_at")?,
        event: event.parse::<BridgeEventKind>().map_err(corrupt)?,
        outcome: outcome
            .parse()
            .map_err(|error| corrupt(format!("{error}")))?,
        reason: row.try_get("reason").map_err(unavailable)?,
        actor: row.try_get("actor").map_err(unavailable)?,
        client_id: row.try_get("client_id").map_err(unavailable)?,
        address: row.try_get("address").map_err(unavailable)?,
        expires_at: time("expires_at")?,
    })
}

#[async_trait]
impl Registry for SqliteRegistry {
    async fn insert(&self, registration: &Registration) -> Result<(), RegistryError> {
        let result = sqlx::query(
            "INSERT INTO registrations (client_id, metadata, registration_token_hash, created_at, \
             last_used_at, expires_at, client_status, registration_path, approved_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&registration.client_id)
        .bind(registration.metadata.to_string())
        .bind(&registration.registration_token_hash)
        .bind(to_i64(registration.created_at))
        .bind(registration.last_used_at.map(to_i64))
        .bind(registration.expires_at.map(to_i64))
        .bind(registration.status.as_str())
        .bind(registration.path.as_str())
        .bind(registration.approved_at.map(to_i64))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if result.rows_affected() == 0 {
            return Err(RegistryError::Duplicate(registration.client_id.clone()));
        }
        Ok(())
    }

    async fn get(&self, client_id: &str) -> Result<Option<Registration>, RegistryError> {
        sqlx::query("SELECT * FROM registrations WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    async fn delete(&self, client_id: &str) -> Result<bool, RegistryError> {
        let result = sqlx::query("DELETE FROM registrations WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(result.rows_affected() > 0)
    }

    async fn mark_used(&self, client_id: &str, now: UnixTime) -> Result<(), RegistryError> {
        sqlx::query(
            "UPDATE registrations SET last_used_at = COALESCE(last_used_at, $2), \
             expires_at = NULL WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(to_i64(now))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn set_status(
        &self,
        client_id: &str,
        status: ClientStatus,
        now: UnixTime,
        expires_at: Option<UnixTime>,
    ) -> Result<bool, RegistryError> {
        let result = sqlx::query(
            "UPDATE registrations SET client_status = $2, expires_at = $3, \
             approved_at = CASE WHEN $2 = 'active' THEN $4 ELSE approved_at END \
             WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(status.as_str())
        .bind(expires_at.map(to_i64))
        .bind(to_i64(now))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(&self, status: Option<ClientStatus>) -> Result<Vec<Registration>, RegistryError> {
        sqlx::query(
            "SELECT * FROM registrations WHERE $1 IS NULL OR client_status = $1 \
             ORDER BY created_at, client_id",
        )
        .bind(status.map(ClientStatus::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(from_row)
        .collect()
    }

    async fn expired(
        &self,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<Registration>, RegistryError> {
        sqlx::query(
            "SELECT * FROM registrations WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(to_i64(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(from_row)
        .collect()
    }

    async fn append_event(&self, event: &BridgeEvent) -> Result<(), RegistryError> {
        sqlx::query(
            "INSERT INTO events (occurred_at, event, outcome, reason, actor, client_id, address, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(to_i64(event.occurred_at))
        .bind(event.event.as_str())
        .bind(event.outcome.as_str())
        .bind(event.reason.as_deref())
        .bind(event.actor.as_deref())
        .bind(event.client_id.as_deref())
        .bind(event.address.as_deref())
        .bind(to_i64(event.expires_at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn events(
        &self,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<BridgeEvent>, RegistryError> {
        sqlx::query(
            "SELECT * FROM (SELECT * FROM events WHERE occurred_at >= $1 \
             ORDER BY id DESC LIMIT $2) ORDER BY id",
        )
        .bind(to_i64(since))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn purge_events(&self, now: UnixTime) -> Result<u64, RegistryError> {
        let result = sqlx::query("DELETE FROM events WHERE expires_at <= $1")
            .bind(to_i64(now))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = MIGRATIONS.file_names().collect();
        assert_eq!(embedded, on_disk);
    }
}
