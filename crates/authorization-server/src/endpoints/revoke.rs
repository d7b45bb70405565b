//! `POST /revoke` (RFC 7009): the client, then the token. The answer is 200 whether or not
//! the token was known (§2.2).

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use super::authorization;
use super::form::OAuthForm;
use crate::engine::{ClientCredentials, Fault, Revoker};

/// The revocation route.
pub(super) fn routes<S>() -> Router<S>
where
    Revoker: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/revoke", post(revoke))
}

async fn revoke(State(revoker): State<Revoker>, headers: HeaderMap, form: OAuthForm) -> Response {
    let result: Result<(), Fault> = async {
        let credentials = ClientCredentials::read(
            authorization(&headers),
            form.get("client_id"),
            form.get("client_secret"),
        )?;
        let client = revoker.clients().authenticate(credentials).await?;
        revoker.revoke(&client, form.require("token")?).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(fault) => fault.into_response(),
    }
}
