//! Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592): register,
//! read, update and delete a client with its registration access token.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use mcp_oauth_core::{
    ClientMetadata, OAuthErrorCode, RegistrationPolicy, ScopeSet, ValidatedClientMetadata,
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::config::AuthorizationServerConfig;
use crate::oauth_error::OAuthError;
use crate::rate_limit::{client_ip, limiter_time};
use crate::secrets::{ClientSecret, RegistrationAccessToken, random_id};
use crate::server::{AppState, Inner};
use crate::store::{ClientId, ClientOrigin, ClientRecord, RegisteredMetadata};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/register", post(register)).route(
        "/register/{client_id}",
        axum::routing::get(read).put(update).delete(delete),
    )
}

/// The registration policy of this server: the scopes it supports.
pub(crate) fn policy(config: &AuthorizationServerConfig) -> RegistrationPolicy {
    RegistrationPolicy::default().with_allowed_scopes(
        config
            .scopes_supported
            .iter()
            .map(String::as_str)
            .collect::<ScopeSet>(),
    )
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn invalid_token(description: &str) -> Response {
    let mut response = OAuthError::new(
        OAuthErrorCode::Extension("invalid_token".into()),
        description,
    )
    .into_response();
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// The registration request's metadata: a JSON object within the body limit. Unreadable
/// bodies get an OAuth error too, not the framework's plain-text rejection.
fn json_body(
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<ClientMetadata, OAuthError> {
    let body = body.as_ref().map_err(|rejection| {
        let mut error = OAuthError::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request body is too large or unreadable",
        );
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error = error.with_status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        error
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request must be application/json",
        ));
    }
    ClientMetadata::from_json(body)
        .map_err(|error| OAuthError::new(error.error_code(), &error.to_string()))
}

fn validate(
    state: &Inner,
    metadata: ClientMetadata,
) -> Result<ValidatedClientMetadata, OAuthError> {
    metadata
        .validate(&policy(&state.config))
        .map_err(|error| OAuthError::new(error.error_code(), &error.to_string()))
}

/// The registered metadata plus the server-assigned members (RFC 7591 §3.2.1).
fn client_information(
    state: &Inner,
    record: &ClientRecord,
    secret: Option<&ClientSecret>,
    registration_token: Option<&RegistrationAccessToken>,
) -> Value {
    let mut body = record.metadata.to_json();
    body["client_id"] = json!(record.client_id.as_str());
    body["client_id_issued_at"] = json!(record.created_at);
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret.expose());
        body["client_secret_expires_at"] = json!(0);
    }
    if let Some(token) = registration_token {
        body["registration_access_token"] = json!(token.expose());
    }
    body["registration_client_uri"] = json!(
        state
            .config
            .endpoint(&format!("/register/{}", record.client_id))
    );
    body
}

fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /register` (RFC 7591 §3.1).
async fn register(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = state.now();
    if !state
        .registrations
        .try_acquire(client_ip(&extensions), limiter_time(now))
    {
        let mut response = OAuthError::new(
            OAuthErrorCode::Extension("slow_down".into()),
            "too many registrations from this address; try again in a minute",
        )
        .into_response();
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    if let Some(expected) = &state.config.initial_access_token {
        let presented = bearer(&headers).unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return invalid_token("a valid initial access token is required to register");
        }
    }
    let validated = match json_body(&headers, &body).and_then(|metadata| validate(&state, metadata))
    {
        Ok(validated) => validated,
        Err(error) => return error.into_response(),
    };
    let secret = (!validated.is_public()).then(ClientSecret::generate);
    let registration_token = RegistrationAccessToken::generate();
    let record = ClientRecord {
        client_id: ClientId(random_id()),
        secret_hash: secret.as_ref().map(ClientSecret::hash),
        metadata: RegisteredMetadata::Application(validated.clone()),
        registration_token_hash: Some(registration_token.hash()),
        origin: ClientOrigin::Dynamic,
        introspection_resources: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    if let Err(error) = state.store.insert_client(&record).await {
        return OAuthError::from(error).into_response();
    }
    tracing::info!(client_id = %record.client_id, name = ?validated.client_name(), "registered a client");
    no_store(
        StatusCode::CREATED,
        client_information(&state, &record, secret.as_ref(), Some(&registration_token)),
    )
}

/// The client a registration access token manages (RFC 7592 §3), or the 401 answer.
async fn managed_client(
    state: &Inner,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<ClientRecord, Response> {
    let token =
        bearer(headers).ok_or_else(|| invalid_token("the registration access token is missing"))?;
    let record = state
        .store
        .get_client(&ClientId(client_id.to_owned()))
        .await
        .map_err(|error| OAuthError::from(error).into_response())?;
    match record {
        Some(record)
            if record
                .registration_token_hash
                .as_ref()
                .is_some_and(|stored| {
                    RegistrationAccessToken::from_presented(token).matches(stored)
                }) =>
        {
            Ok(record)
        }
        // Unknown client and wrong token look the same (RFC 7592 §2.1).
        _ => Err(invalid_token("the registration access token is invalid")),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match managed_client(&state, &client_id, &headers).await {
        Ok(record) => no_store(
            StatusCode::OK,
            client_information(&state, &record, None, None),
        ),
        Err(response) => response,
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the metadata.
async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut record = match managed_client(&state, &client_id, &headers).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let metadata = match json_body(&headers, &body) {
        Ok(metadata) => metadata,
        Err(error) => return error.into_response(),
    };
    if metadata.other.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
        return OAuthError::invalid_request("the body's client_id must be the client's")
            .into_response();
    }
    for forbidden in [
        "registration_access_token",
        "registration_client_uri",
        "client_id_issued_at",
        "client_secret_expires_at",
    ] {
        if metadata.other.contains_key(forbidden) {
            return OAuthError::invalid_request(&format!("`{forbidden}` must not be sent"))
                .into_response();
        }
    }
    let validated = match validate(&state, metadata) {
        Ok(validated) => validated,
        Err(error) => return error.into_response(),
    };
    // A client that starts using a secret gets one; a public client keeps none.
    let new_secret =
        (!validated.is_public() && record.secret_hash.is_none()).then(ClientSecret::generate);
    if validated.is_public() {
        record.secret_hash = None;
    } else if let Some(secret) = &new_secret {
        record.secret_hash = Some(secret.hash());
    }
    record.metadata = RegisteredMetadata::Application(validated);
    record.updated_at = state.now();
    match state.store.update_client(&record).await {
        Ok(true) => no_store(
            StatusCode::OK,
            client_information(&state, &record, new_secret.as_ref(), None),
        ),
        Ok(false) => invalid_token("the registration access token is invalid"),
        Err(error) => OAuthError::from(error).into_response(),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client and all it was granted.
async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let record = match managed_client(&state, &client_id, &headers).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    match state.store.delete_client(&record.client_id).await {
        Ok(_) => {
            tracing::info!(client_id = %record.client_id, "deleted a client");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => OAuthError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }
}
