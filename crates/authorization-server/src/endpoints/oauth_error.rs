//! The one place where engine [`Fault`]s become OAuth error responses (RFC 6749 §5.2): JSON
//! with the error code and the fixed description, the status and challenge each fault calls
//! for, never cached; a server fault's detail goes to the logs, never to the client.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mcp_oauth_core::OAuthErrorResponse;

use crate::engine::Fault;

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        respond(self, None)
    }
}

/// The response for `fault`, with `status` instead of the one it implies when given (e.g.
/// 413 for an oversized body).
pub(crate) fn respond(fault: Fault, status: Option<StatusCode>) -> Response {
    let code = fault.code();
    let (description, challenge, implied_status, retry_after) = match fault {
        Fault::Governed { inner, .. } => return respond(*inner, status),
        Fault::Refused { description, .. } => (description, None, None, false),
        Fault::Unauthenticated { description, basic } => (
            description,
            basic.then_some("Basic realm=\"mcp-oauth\""),
            None,
            false,
        ),
        Fault::InvalidToken(description) => (
            description,
            Some("Bearer error=\"invalid_token\""),
            Some(StatusCode::UNAUTHORIZED),
            false,
        ),
        Fault::SlowDown(description) => {
            (description, None, Some(StatusCode::TOO_MANY_REQUESTS), true)
        }
        Fault::Internal(detail) => {
            tracing::error!(%detail, "request failed");
            (
                "the server could not complete the request".to_owned(),
                None,
                None,
                false,
            )
        }
    };
    let body = OAuthErrorResponse::with_description(code, description);
    let status = status.or(implied_status).unwrap_or_else(|| {
        StatusCode::from_u16(body.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = challenge {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    if retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}
