//! From sqlx (and rusqlite, for the [`inline`](super::inline) statements) to the store's
//! vocabulary: errors, and columns read back with their types checked, so that a bad row becomes
//! [`StoreError::Database`] instead of a panic.

use mcp_oauth_core::{CanonicalResource, ScopeSet};
use rusqlite::types::FromSql;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;
use sqlx::{Any, Decode, Row, Type};

use crate::store::{
    ClientOrigin, KeyState, RegisteredMetadata, SecretHash, StoreError, StoreResult,
};

/// Any database failure, with the driver's error as its cause.
pub(super) fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::database_cause("a statement failed", error)
}

/// A unique-key violation as `Conflict(what)`; anything else as [`db_error`].
pub(super) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(inner) if inner.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict(what)
        }
        _ => db_error(error),
    }
}

/// What a column is read back as: a type both drivers decode (text, integers, bytes, and
/// their `Option`s for nullable columns).
pub(super) trait ColumnValue: for<'r> Decode<'r, Any> + Type<Any> + FromSql {}

impl<T> ColumnValue for T where T: for<'r> Decode<'r, Any> + Type<Any> + FromSql {}

/// A row of a result, read by column name: sqlx's, or rusqlite's on the inline connections.
pub(super) trait StoredRow {
    /// The column named `column`, as `T`.
    fn value<T: ColumnValue>(&self, column: &str) -> StoreResult<T>;
}

impl StoredRow for AnyRow {
    fn value<T: ColumnValue>(&self, column: &str) -> StoreResult<T> {
        self.try_get(column)
            .map_err(|error| StoreError::database_cause(format!("column {column}"), error))
    }
}

impl StoredRow for rusqlite::Row<'_> {
    fn value<T: ColumnValue>(&self, column: &str) -> StoreResult<T> {
        self.get(column)
            .map_err(|error| StoreError::database_cause(format!("column {column}"), error))
    }
}

/// A column read back as `T`.
pub(super) fn get<T: ColumnValue>(row: &impl StoredRow, column: &str) -> StoreResult<T> {
    row.value(column)
}

/// A secret-hash column.
pub(super) fn hash(row: &impl StoredRow, column: &str) -> StoreResult<SecretHash> {
    get(row, column).map(SecretHash::from_stored)
}

/// A nullable secret-hash column.
pub(super) fn optional_hash(row: &impl StoredRow, column: &str) -> StoreResult<Option<SecretHash>> {
    get::<Option<String>>(row, column).map(|value| value.map(SecretHash::from_stored))
}

/// A secret hash as stored.
pub(super) fn hash_text(hash: Option<&SecretHash>) -> Option<&str> {
    hash.map(SecretHash::as_str)
}

/// A JSON column (stored as text).
pub(super) fn json(row: &impl StoredRow, column: &str) -> StoreResult<Value> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::database_cause(format!("column {column} is not JSON"), error))
}

/// JSON as stored.
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A scope column: space-delimited scopes.
pub(super) fn scope(row: &impl StoredRow, column: &str) -> StoreResult<ScopeSet> {
    get::<String>(row, column).map(|text| ScopeSet::parse(&text))
}

/// A nullable resource column, in canonical form.
pub(super) fn optional_resource(
    row: &impl StoredRow,
    column: &str,
) -> StoreResult<Option<CanonicalResource>> {
    get::<Option<String>>(row, column)?
        .map(|text| parse_resource(column, &text))
        .transpose()
}

fn parse_resource(column: &str, text: &str) -> StoreResult<CanonicalResource> {
    CanonicalResource::parse(text).map_err(|error| {
        StoreError::database_cause(format!("column {column} is not a resource"), error)
    })
}

/// A JSON array of resources (stored as text).
pub(super) fn resources(row: &impl StoredRow, column: &str) -> StoreResult<Vec<CanonicalResource>> {
    let texts: Vec<String> = serde_json::from_value(json(row, column)?).map_err(|error| {
        StoreError::database_cause(format!("column {column} is not a list of strings"), error)
    })?;
    texts
        .iter()
        .map(|text| parse_resource(column, text))
        .collect()
}

/// Resources as stored: a JSON array of their canonical text.
pub(super) fn resources_text(resources: &[CanonicalResource]) -> String {
    Value::from_iter(resources.iter().map(CanonicalResource::as_str)).to_string()
}

/// A client-metadata column (JSON), validated again as it is read.
pub(super) fn metadata(row: &impl StoredRow, column: &str) -> StoreResult<RegisteredMetadata> {
    RegisteredMetadata::from_json(json(row, column)?).map_err(|problem| {
        StoreError::database(format!(
            "column {column} is not valid client metadata: {problem}"
        ))
    })
}

fn unexpected(column: &str, value: &str) -> StoreError {
    StoreError::database(format!("column {column} holds the unknown value {value:?}"))
}

/// How a [`ClientOrigin`] is stored.
pub(super) fn origin_text(origin: ClientOrigin) -> &'static str {
    match origin {
        ClientOrigin::Static => "static",
        ClientOrigin::Dynamic => "dynamic",
    }
}

/// A client-origin column.
pub(super) fn origin(row: &impl StoredRow, column: &str) -> StoreResult<ClientOrigin> {
    let text: String = get(row, column)?;
    match text.as_str() {
        "static" => Ok(ClientOrigin::Static),
        "dynamic" => Ok(ClientOrigin::Dynamic),
        other => Err(unexpected(column, other)),
    }
}

/// A column holding a name that parses as `T` (a client status, a registration path).
pub(super) fn named<T: std::str::FromStr>(row: &impl StoredRow, column: &str) -> StoreResult<T> {
    let text: String = get(row, column)?;
    text.parse().map_err(|_| unexpected(column, &text))
}

/// A key-state column.
pub(super) fn key_state(row: &impl StoredRow, column: &str) -> StoreResult<KeyState> {
    let text: String = get(row, column)?;
    match text.as_str() {
        "current" => Ok(KeyState::Current),
        "previous" => Ok(KeyState::Previous),
        "retired" => Ok(KeyState::Retired),
        other => Err(unexpected(column, other)),
    }
}
