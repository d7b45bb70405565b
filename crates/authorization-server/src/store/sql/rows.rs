//! From sqlx to the store's vocabulary: errors, and columns read back with their types checked,
//! so that a bad row becomes [`StoreError::Database`] instead of a panic.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;
use sqlx::{Any, Decode, Row, Type};

use crate::store::{ClientOrigin, KeyState, SecretHash, StoreError, StoreResult};

/// Any database failure, for logs.
pub(super) fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::Database(error.to_string())
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

/// A column read back as `T`.
pub(super) fn get<'r, T>(row: &'r AnyRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(column)
        .map_err(|error| StoreError::Database(format!("column {column}: {error}")))
}

/// A secret-hash column.
pub(super) fn hash(row: &AnyRow, column: &str) -> StoreResult<SecretHash> {
    get(row, column).map(SecretHash)
}

/// A nullable secret-hash column.
pub(super) fn optional_hash(row: &AnyRow, column: &str) -> StoreResult<Option<SecretHash>> {
    get::<Option<String>>(row, column).map(|value| value.map(SecretHash))
}

/// A JSON column (stored as text).
pub(super) fn json(row: &AnyRow, column: &str) -> StoreResult<Value> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::Database(format!("column {column} is not JSON: {error}")))
}

/// A JSON array of strings column (stored as text).
pub(super) fn strings(row: &AnyRow, column: &str) -> StoreResult<Vec<String>> {
    serde_json::from_value(json(row, column)?).map_err(|error| {
        StoreError::Database(format!("column {column} is not a list of strings: {error}"))
    })
}

/// A list of strings as stored: a JSON array.
pub(super) fn strings_text(values: &[String]) -> String {
    Value::from(values).to_string()
}

/// JSON as stored.
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

fn unexpected(column: &str, value: &str) -> StoreError {
    StoreError::Database(format!("column {column} holds the unknown value {value:?}"))
}

/// How a [`ClientOrigin`] is stored.
pub(super) fn origin_text(origin: ClientOrigin) -> &'static str {
    match origin {
        ClientOrigin::Static => "static",
        ClientOrigin::Dynamic => "dynamic",
    }
}

/// A client-origin column.
pub(super) fn origin(row: &AnyRow, column: &str) -> StoreResult<ClientOrigin> {
    let text: String = get(row, column)?;
    match text.as_str() {
        "static" => Ok(ClientOrigin::Static),
        "dynamic" => Ok(ClientOrigin::Dynamic),
        other => Err(unexpected(column, other)),
    }
}

/// A key-state column.
pub(super) fn key_state(row: &AnyRow, column: &str) -> StoreResult<KeyState> {
    let text: String = get(row, column)?;
    match text.as_str() {
        "current" => Ok(KeyState::Current),
        "previous" => Ok(KeyState::Previous),
        "retired" => Ok(KeyState::Retired),
        other => Err(unexpected(column, other)),
    }
}
