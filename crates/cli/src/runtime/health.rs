//! `/healthz` and `/readyz` on every server, for load balancers and orchestrators: the first
//! answers 200 while the process serves; the second 200 only while every readiness check of
//! the server passes (503 otherwise, naming what it waits for). Neither needs a token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;
use serde_json::json;
use tokio::sync::Mutex;

/// The paths the health routes take on every server (no MCP endpoint may use them).
pub const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// One readiness check: `Ok` when ready, otherwise what the server waits for (shown to the
/// prober, so nothing secret and no internal detail: log those instead).
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long a verdict is reused: probes in a flood cost the checks (e.g. a store query)
/// at most once per this interval.
const VERDICT_TTL: Duration = Duration::from_secs(1);

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The checks of one server and its latest verdict.
struct Readiness {
    checks: Vec<ReadinessCheck>,
    latest: Mutex<Option<(Instant, Vec<String>)>>,
}

impl Readiness {
    /// What the server waits for (empty when ready): the latest verdict if recent, else the
    /// checks run again (one prober at a time; the others get its verdict).
    async fn waiting_for(&self) -> Vec<String> {
        let mut latest = self.latest.lock().await;
        if let Some((at, waiting)) = latest.as_ref()
            && at.elapsed() < VERDICT_TTL
        {
            return waiting.clone();
        }
        let mut waiting = Vec::new();
        for check in &self.checks {
            match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => {}
                Ok(Err(what)) => waiting.push(what),
                Err(_) => waiting.push("a readiness check timed out".to_owned()),
            }
        }
        *latest = Some((Instant::now(), waiting.clone()));
        waiting
    }
}

/// The health routes of a server with these readiness `checks`.
pub fn routes(checks: Vec<ReadinessCheck>) -> Router {
    let readiness = Arc::new(Readiness {
        checks,
        latest: Mutex::new(None),
    });
    Router::new()
        .route(
            HEALTH_PATHS[0],
            get(|| async { answer(StatusCode::OK, json!({"status": "ok"})) }),
        )
        .route(
            HEALTH_PATHS[1],
            get(move || async move {
                let waiting = readiness.waiting_for().await;
                if waiting.is_empty() {
                    answer(StatusCode::OK, json!({"status": "ready"}))
                } else {
                    answer(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"status": "not ready", "waiting_for": waiting}),
                    )
                }
            }),
        )
}

/// A JSON answer that no cache keeps.
fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
