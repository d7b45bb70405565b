//! `POST /introspect` (RFC 7662): the client, whether it may introspect, then the token;
//! the description as JSON that is never cached.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use super::authorization;
use super::form::OAuthForm;
use crate::engine::{ClientCredentials, Fault, Introspector};

/// The introspection route.
pub(super) fn routes<S>() -> Router<S>
where
    Introspector: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/introspect", post(introspect))
}

async fn introspect(
    State(introspector): State<Introspector>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let result: Result<Value, Fault> = async {
        let credentials = ClientCredentials::read(
            authorization(&headers),
            form.get("client_id"),
            form.get("client_secret"),
        )?;
        let client = introspector.clients().authenticate(credentials).await?;
        introspector.admit(&client)?;
        introspector.describe(&client, form.require("token")?).await
    }
    .await;
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(fault) => fault.into_response(),
    }
}
