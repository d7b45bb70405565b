//! The HTTP edge of the OAuth endpoints: each module extracts what its endpoint needs (the
//! form, the client's credentials, the session), calls the engine, and maps its answer;
//! [`oauth_error`] turns every engine fault into an OAuth error response. The routes are
//! generic over the application state, each handler taking its sub-state through `FromRef`
//! (axum's "For library authors").

mod authorize;
mod consent;
mod form;
mod introspect;
mod metadata;
mod oauth_error;
mod register;
mod revoke;
mod token;

use axum::Router;
use axum::extract::FromRef;
use http::header::AUTHORIZATION;
use http::{Extensions, HeaderMap};
use mcp_oauth_core::ClientCertificate;
use tower_http::cors::{Any, CorsLayer};

pub(crate) use form::MAX_FORM_BYTES;
pub(crate) use metadata::Discovery;

use self::form::OAuthForm;
use crate::engine::{
    Authorizer, ClientCredentials, Fault, Introspector, Registrar, Revoker, TokenEndpoint,
};
use crate::web::session::Sessions;

/// The OAuth endpoints: discovery, authorization, token, registration, revocation and
/// introspection.
pub(crate) fn routes<S>() -> Router<S>
where
    Discovery: FromRef<S>,
    Authorizer: FromRef<S>,
    Sessions: FromRef<S>,
    TokenEndpoint: FromRef<S>,
    Registrar: FromRef<S>,
    Revoker: FromRef<S>,
    Introspector: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    // Endpoints that browser-based clients call directly.
    let public = Router::new()
        .merge(metadata::routes())
        .route("/token", axum::routing::post(token::token))
        .merge(register::routes())
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any),
        );
    Router::new()
        .merge(public)
        .merge(authorize::routes())
        .merge(revoke::routes())
        .merge(introspect::routes())
}

/// The raw `Authorization` header of a request, if it has one.
fn authorization(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(AUTHORIZATION).map(|value| value.as_bytes())
}

/// The client credentials of a request with `extensions` (its TLS client certificate),
/// `headers` and `form`, and the client id it names: the credentials', or the form's when they
/// cannot be read (for the audit trail).
fn client_credentials(
    extensions: &Extensions,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> (Result<ClientCredentials, Fault>, Option<String>) {
    let credentials = ClientCredentials::read(
        authorization(headers),
        form.get("client_id"),
        form.get("client_secret"),
        extensions.get::<ClientCertificate>(),
    );
    let named = match &credentials {
        Ok(credentials) => Some(credentials.client_id()),
        Err(_) => form.get("client_id"),
    };
    let named = named.map(str::to_owned);
    (credentials, named)
}
