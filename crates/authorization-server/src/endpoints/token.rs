//! `POST /token` (RFC 6749 §3.2): the form and the client's credentials in, the
//! [`TokenEndpoint`]'s answer out, as JSON that is never cached (RFC 6749 §5.1).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};

use super::authorization;
use super::form::OAuthForm;
use crate::engine::{ClientCredentials, Fault, TokenEndpoint, TokenRequest, TokenResponse};

/// `POST /token`.
pub(super) async fn token(
    State(endpoint): State<TokenEndpoint>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    match exchange(&endpoint, &headers, &form).await {
        Ok(response) => {
            let mut response = Json(response).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(fault) => {
            tracing::info!(code = %fault.code(), "token request refused");
            fault.into_response()
        }
    }
}

/// The grant type, the client, then the grant.
async fn exchange(
    endpoint: &TokenEndpoint,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<TokenResponse, Fault> {
    let grant_type = form.require("grant_type")?;
    let credentials = ClientCredentials::read(
        authorization(headers),
        form.get("client_id"),
        form.get("client_secret"),
    )?;
    let client = endpoint.clients().authenticate(credentials).await?;
    let request = TokenRequest::read(&client, grant_type, form)?;
    endpoint.exchange(&client, request).await
}
