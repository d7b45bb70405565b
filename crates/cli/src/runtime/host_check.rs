//! The `Host` check every server runs before its routes, on a listener and in AWS Lambda
//! alike: a request with several or malformed `Host` headers (RFC 9112 §3.2) gets a 400.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::{OAuthErrorCode, OAuthErrorResponse};

/// The 400 `invalid_request` for a request whose `headers` hold several or malformed `Host`
/// headers, or `None` when its `Host` is acceptable.
pub fn refusal(headers: &HeaderMap) -> Option<Response> {
    let error = mcp_oauth_resource::request_host(headers).err()?;
    tracing::warn!(%error, "refused a request");
    let body = OAuthErrorResponse::new(OAuthErrorCode::InvalidRequest).description(format!(
        "{error} (RFC 9112 §3.2: one Host header, host[:port])"
    ));
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}
