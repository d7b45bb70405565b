//! `POST /revoke` (RFC 7009): the client, then the token. The answer is 200 whether or not
//! the token was known (§2.2).

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{Extensions, HeaderMap, StatusCode};

use super::client_credentials;
use super::form::OAuthForm;
use crate::engine::{Fault, Revoker};
use crate::web::client_ip;

/// The revocation route.
pub(super) fn routes<S>() -> Router<S>
where
    Revoker: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/revoke", post(revoke))
}

async fn revoke(
    State(revoker): State<Revoker>,
    extensions: Extensions,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let result: Result<(), Fault> = async {
        let (credentials, _) = client_credentials(&extensions, &headers, &form);
        let client = revoker.clients().authenticate(credentials?).await?;
        let address = client_ip(&extensions);
        revoker
            .revoke(&client, form.require("token")?, address)
            .await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(fault) => fault.into_response(),
    }
}
