//! `POST /token` (RFC 6749 §3.2): the form and the client's credentials in, the
//! [`TokenEndpoint`]'s answer out, as JSON that is never cached (RFC 6749 §5.1); the client
//! certificate of the connection, if any, for certificate-bound tokens (RFC 8705 §3). A refused
//! request is recorded in the audit trail.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue, header};
use mcp_oauth_core::ClientCertificate;

use super::client_credentials;
use super::form::OAuthForm;
use crate::engine::{ClientCredentials, Fault, TokenEndpoint, TokenRequest, TokenResponse};
use crate::web::client_ip;

/// `POST /token`.
pub(super) async fn token(
    State(endpoint): State<TokenEndpoint>,
    extensions: Extensions,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let address = client_ip(&extensions);
    let (credentials, named) = client_credentials(&extensions, &headers, &form);
    let certificate = extensions.get::<ClientCertificate>();
    match exchange(&endpoint, credentials, &form, certificate, address).await {
        Ok(response) => {
            let mut response = Json(response).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(fault) => {
            let grant_type = form.get("grant_type");
            endpoint
                .refused(grant_type, named.as_deref(), &fault, address)
                .await;
            fault.into_response()
        }
    }
}

/// The grant type, the client, then the grant.
async fn exchange(
    endpoint: &TokenEndpoint,
    credentials: Result<ClientCredentials, Fault>,
    form: &OAuthForm,
    certificate: Option<&ClientCertificate>,
    address: Option<IpAddr>,
) -> Result<TokenResponse, Fault> {
    let grant_type = form.require("grant_type")?;
    let client = endpoint.clients().authenticate(credentials?).await?;
    let request = TokenRequest::read(&client, grant_type, form)?;
    endpoint
        .exchange(&client, request, certificate, address)
        .await
}
