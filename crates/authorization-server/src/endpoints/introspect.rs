//! `POST /introspect` (RFC 7662): the client, whether it may introspect, then the token;
//! the description as JSON that is never cached. A refused request is recorded in the audit
//! trail.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{Extensions, HeaderMap, HeaderValue, header};
use serde_json::Value;

use super::client_credentials;
use super::form::OAuthForm;
use crate::engine::{Fault, Introspector};
use crate::web::client_ip;

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
    extensions: Extensions,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let (credentials, named) = client_credentials(&extensions, &headers, &form);
    let result: Result<Value, Fault> = async {
        let client = introspector.clients().authenticate(credentials?).await?;
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
        Err(fault) => {
            let address = client_ip(&extensions);
            introspector
                .refused(named.as_deref(), &fault, address)
                .await;
            fault.into_response()
        }
    }
}
