//! The HTTP responses of the stdio upstream: JSON answers, SSE streams, and its own errors
//! with a JSON-RPC body (JSON-RPC 2.0 §5.1), since MCP clients expect JSON-RPC from the
//! endpoint whatever went wrong.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::message::{SESSION_NOT_FOUND, UPSTREAM_ERROR, error_response};
use super::sse::SseBody;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON-RPC message as the whole answer (`Content-Type: application/json`).
pub(crate) fn json(status: StatusCode, message: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

/// `status` with a JSON-RPC error answering `id` (JSON text; `null` when the message had
/// none or could not be read).
pub(crate) fn error(
    status: StatusCode,
    id: Option<&str>,
    code: i64,
    message: &str,
) -> Response<Body> {
    json(status, error_response(id, code, message))
}

/// `503 Service Unavailable` with `Retry-After` (RFC 9110 §15.6.4, §10.2.3): every child
/// slot is taken.
pub(crate) fn busy(id: Option<&str>, retry_after_secs: u64) -> Response<Body> {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        UPSTREAM_ERROR,
        "every MCP server process is in use; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// An SSE stream (`Content-Type: text/event-stream`), unbuffered by intermediaries.
pub(crate) fn sse(body: SseBody) -> Response<Body> {
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // MCP 2026-07-28 "Streamable HTTP" §Receiving Messages: SHOULD, for nginx and the like.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `202 Accepted` without a body: a notification or response was taken (MCP 2025-11-25
/// "Transports" §Sending Messages to the Server, item 4).
pub(crate) fn accepted() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// 404 for an unknown or ended session: the client starts a new one (MCP 2025-11-25
/// "Transports" §Session Management, items 3 and 4).
pub(crate) fn session_not_found(id: Option<&str>) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        id,
        SESSION_NOT_FOUND,
        "Session not found",
    )
}

/// 502: the child could not be started (the log says why).
pub(crate) fn not_started(id: Option<&str>) -> Response<Body> {
    error(
        StatusCode::BAD_GATEWAY,
        id,
        UPSTREAM_ERROR,
        "the MCP server process could not be started",
    )
}
