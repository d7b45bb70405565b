//! [`AuditStore`] on the `audit_events` table: appended one row per event, read back newest
//! first under a filter, purged by age.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::rows::{self, db_error};
use super::{SqlStore, inline};
use crate::store::{
    AuditEventKind, AuditFilter, AuditOutcome, AuditRecord, AuditStore, ClientId, StoreError,
    StoreResult, UnixTime, UserId,
};

/// The columns of a record, as read back.
const COLUMNS: &str =
    "id, occurred_at, event, outcome, reason, actor, user_id, client_id, address, details";

/// Appends an event.
const INSERT_AUDIT_RECORD: &str = "INSERT INTO audit_events (occurred_at, event, outcome, reason, \
     actor, user_id, client_id, address, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit_record(&self, record: &AuditRecord) -> StoreResult<()> {
        let details = Value::Object(record.details.clone()).to_string();
        let inline = |connection: &rusqlite::Connection| {
            let values: [&dyn rusqlite::ToSql; 9] = [
                &record.occurred_at,
                &record.event.as_str(),
                &record.outcome.as_str(),
                &record.reason.as_deref(),
                &record.actor.as_deref(),
                &record.user_id.as_ref().map(UserId::as_str),
                &record.client_id.as_ref().map(ClientId::as_str),
                &record.address.as_deref(),
                &details,
            ];
            inline::execute(connection, INSERT_AUDIT_RECORD, values)?;
            Ok(())
        };
        if let Some(done) = self.inline(|store| store.write(inline)) {
            return done;
        }
        sqlx::query(INSERT_AUDIT_RECORD)
            .bind(record.occurred_at)
            .bind(record.event.as_str())
            .bind(record.outcome.as_str())
            .bind(record.reason.as_deref())
            .bind(record.actor.as_deref())
            .bind(record.user_id.as_ref().map(UserId::as_str))
            .bind(record.client_id.as_ref().map(ClientId::as_str))
            .bind(record.address.as_deref())
            .bind(details)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let (conditions, values) = conditions(filter);
        let limit = values.len() + 1;
        // The newest that match, then put back in the order they were appended.
        let sql = format!(
            "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM audit_events{conditions} \
             ORDER BY id DESC LIMIT ${limit}) AS newest ORDER BY id"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in values {
            query = match value {
                Bound::Time(time) => query.bind(time),
                Bound::Text(text) => query.bind(text),
            };
        }
        query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(record)
            .collect()
    }

    async fn purge_audit_records(&self, before: UnixTime) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(deleted.rows_affected())
    }
}

/// A value a condition binds.
enum Bound {
    Time(UnixTime),
    Text(String),
}

/// A `WHERE` clause being written: conditions, and the values they bind in order.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    values: Vec<Bound>,
}

impl Conditions {
    /// Binds `value`: its parameter (`$n`).
    fn bind(&mut self, value: Bound) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

/// The `WHERE` clause of `filter` (empty when it filters nothing) and the values it binds, as
/// `$1`, `$2`… in order. Only fixed column names go into the text; every value is bound.
fn conditions(filter: &AuditFilter) -> (String, Vec<Bound>) {
    let mut sql = Conditions::default();
    if let Some(since) = filter.since {
        let since = sql.bind(Bound::Time(since));
        sql.clauses.push(format!("occurred_at >= {since}"));
    }
    if let Some(until) = filter.until {
        let until = sql.bind(Bound::Time(until));
        sql.clauses.push(format!("occurred_at < {until}"));
    }
    if let Some(event) = filter.event {
        let event = sql.bind(Bound::Text(event.as_str().to_owned()));
        sql.clauses.push(format!("event = {event}"));
    }
    if let Some(outcome) = filter.outcome {
        let outcome = sql.bind(Bound::Text(outcome.as_str().to_owned()));
        sql.clauses.push(format!("outcome = {outcome}"));
    }
    if let Some(client_id) = &filter.client_id {
        let client_id = sql.bind(Bound::Text(client_id.0.clone()));
        sql.clauses.push(format!("client_id = {client_id}"));
    }
    if let Some(actor) = &filter.actor {
        let as_actor = sql.bind(Bound::Text(actor.clone()));
        let as_user = sql.bind(Bound::Text(actor.clone()));
        sql.clauses
            .push(format!("(actor = {as_actor} OR user_id = {as_user})"));
    }
    let text = if sql.clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", sql.clauses.join(" AND "))
    };
    (text, sql.values)
}

/// A row read back, its names checked.
fn record(row: &AnyRow) -> StoreResult<AuditRecord> {
    let event: String = rows::get(row, "event")?;
    let outcome: String = rows::get(row, "outcome")?;
    let unknown = |column: &str, value: &str| {
        StoreError::database(format!("column {column} holds the unknown value {value:?}"))
    };
    let details = match rows::json(row, "details")? {
        Value::Object(details) => details,
        _ => return Err(StoreError::database("column details is not a JSON object")),
    };
    Ok(AuditRecord {
        id: rows::get(row, "id")?,
        occurred_at: rows::get(row, "occurred_at")?,
        event: event
            .parse::<AuditEventKind>()
            .map_err(|_| unknown("event", &event))?,
        outcome: outcome
            .parse::<AuditOutcome>()
            .map_err(|_| unknown("outcome", &outcome))?,
        reason: rows::get(row, "reason")?,
        actor: rows::get(row, "actor")?,
        user_id: rows::get::<Option<String>>(row, "user_id")?.map(UserId),
        client_id: rows::get::<Option<String>>(row, "client_id")?.map(ClientId),
        address: rows::get(row, "address")?,
        details,
    })
}
