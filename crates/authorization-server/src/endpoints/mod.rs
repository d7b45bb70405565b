//! The HTTP endpoints, one module each, assembled into one router.

mod metadata;

use axum::Router;

use crate::server::AppState;

/// All routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(metadata::routes())
        .merge(crate::accounts::routes())
}
