//! The answers the proxy gives itself: an HTTP status with a JSON-RPC error body (JSON-RPC 2.0
//! §5.1), since MCP clients expect JSON-RPC from the endpoint whatever went wrong.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

/// JSON-RPC "Server error" (JSON-RPC 2.0 §5.1, implementation-defined range): the upstream
/// could not answer.
pub(crate) const UPSTREAM_ERROR: i64 = -32000;

/// The code the MCP SDKs answer an unknown `Mcp-Session-Id` with (alongside HTTP 404, MCP
/// 2025-11-25 "Transports" §Session Management).
pub(crate) const SESSION_NOT_FOUND: i64 = -32001;

/// A response with `status` and a JSON-RPC error body without an id (the request was not
/// answered as a message).
pub(crate) fn json_rpc_error(status: StatusCode, code: i64, message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
