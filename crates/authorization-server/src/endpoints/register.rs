//! `/register` (RFC 7591) and `/register/{client_id}` (RFC 7592): the address, the bearer
//! token and the JSON body in, the [`Registrar`]'s answer out as JSON that is never cached.
//! Unreadable bodies get an OAuth error too, not the framework's plain-text rejection.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use mcp_oauth_core::{ClientCertificate, ClientMetadata, OAuthErrorCode};
use serde_json::Value;

use super::oauth_error::respond;
use crate::engine::{Fault, Operation, Registrar};
use crate::web::client_ip;

/// The registration routes.
pub(super) fn routes<S>() -> Router<S>
where
    Registrar: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/register", post(register)).route(
        "/register/{client_id}",
        axum::routing::get(read).put(update).delete(delete),
    )
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Why a registration request is refused (a body that cannot be read as client metadata, or
/// the engine's fault); 413 for an oversized body.
struct Unreadable(Fault, Option<StatusCode>);

impl Unreadable {
    /// Records the refusal of `operation` on `client_id` from `address` in the audit trail.
    async fn recorded(
        self,
        registrar: &Registrar,
        operation: Operation,
        client_id: Option<&str>,
        address: Option<std::net::IpAddr>,
    ) -> Self {
        registrar
            .refused(operation, client_id, &self.0, address)
            .await;
        self
    }
}

impl IntoResponse for Unreadable {
    fn into_response(self) -> Response {
        respond(self.0, self.1)
    }
}

impl From<Fault> for Unreadable {
    fn from(fault: Fault) -> Self {
        Self(fault, None)
    }
}

/// The request's client metadata: a JSON object within the body limit.
fn json_body(
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<ClientMetadata, Unreadable> {
    let body = body.as_ref().map_err(|rejection| {
        let fault = Fault::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request body is too large or unreadable",
        );
        let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
        Unreadable(fault, too_large.then_some(StatusCode::PAYLOAD_TOO_LARGE))
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(Fault::new(
            OAuthErrorCode::InvalidClientMetadata,
            "the registration request must be application/json",
        )
        .into());
    }
    ClientMetadata::from_json(body)
        .map_err(|error| Fault::new(error.error_code(), error.to_string()).into())
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
    State(registrar): State<Registrar>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let address = client_ip(&extensions);
    let result: Result<Value, Unreadable> = async {
        let path = registrar.admit(address, bearer(&headers)).await?;
        let metadata = json_body(&headers, &body)?;
        let certificate = extensions.get::<ClientCertificate>();
        Ok(registrar
            .register(metadata, path, address, certificate)
            .await?)
    }
    .await;
    match result {
        Ok(information) => no_store(StatusCode::CREATED, information),
        Err(refused) => refused
            .recorded(&registrar, Operation::Register, None, address)
            .await
            .into_response(),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
async fn read(
    State(registrar): State<Registrar>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match registrar.managed(&client_id, bearer(&headers)).await {
        Ok(client) => no_store(StatusCode::OK, registrar.read(&client)),
        Err(fault) => fault.into_response(),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the metadata.
async fn update(
    State(registrar): State<Registrar>,
    Path(client_id): Path<String>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let address = client_ip(&extensions);
    let result: Result<Value, Unreadable> = async {
        let client = registrar.managed(&client_id, bearer(&headers)).await?;
        let metadata = json_body(&headers, &body)?;
        let certificate = extensions.get::<ClientCertificate>();
        Ok(registrar
            .update(client, metadata, address, certificate)
            .await?)
    }
    .await;
    match result {
        Ok(information) => no_store(StatusCode::OK, information),
        Err(refused) => refused
            .recorded(&registrar, Operation::Update, Some(&client_id), address)
            .await
            .into_response(),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client and all it was granted.
async fn delete(
    State(registrar): State<Registrar>,
    Path(client_id): Path<String>,
    extensions: Extensions,
    headers: HeaderMap,
) -> Response {
    let address = client_ip(&extensions);
    let result = async {
        let client = registrar.managed(&client_id, bearer(&headers)).await?;
        registrar.delete(client, address).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(fault) => {
            registrar
                .refused(Operation::Delete, Some(&client_id), &fault, address)
                .await;
            fault.into_response()
        }
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
