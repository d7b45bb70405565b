//! The HTTP endpoints, one module each, assembled into one router.

mod authorize;
mod introspect;
mod metadata;
mod register;
mod revoke;
mod token;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::cors::{Any, CorsLayer};

pub(crate) use authorize::error_redirect_url;
pub(crate) use register::policy as registration_policy;

use crate::form::MAX_FORM_BYTES;
use crate::server::AppState;

/// All routes.
pub(crate) fn router() -> Router<AppState> {
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
        .merge(crate::accounts::routes())
        .merge(crate::federation::routes())
        .merge(revoke::routes())
        .merge(introspect::routes())
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}
