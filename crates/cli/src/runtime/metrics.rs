//! The metrics listener: the process's Prometheus registry at `/metrics`, in the OpenMetrics
//! text format, on its own address (`--metrics-addr`), never on a server's public port.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

/// The OpenMetrics text format's content type (Prometheus asks for it and reads it).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Most connections the metrics listener keeps open at once (each closed after its response):
/// a flood of scrapers waits in the listen backlog instead of costing the servers memory or
/// CPU.
pub const MAX_SCRAPERS: usize = 8;

/// `GET /metrics`: every metric of `registry`.
pub fn router(registry: Registry) -> Router {
    let registry = Arc::new(registry);
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = Arc::clone(&registry);
            async move { exposition(&registry) }
        }),
    )
}

fn exposition(registry: &Registry) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
