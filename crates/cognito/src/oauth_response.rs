//! OAuth error responses (RFC 6749 §5.2, RFC 7591 §3.2.2) as the gateway sends them.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mcp_oauth_core::{OAuthErrorCode, OAuthErrorResponse};

/// A JSON OAuth error with `status`, never cached.
pub(crate) fn oauth_error(
    status: StatusCode,
    code: OAuthErrorCode,
    description: impl AsRef<str>,
) -> Response {
    let body = OAuthErrorResponse::with_description(code, description);
    no_store((status, Json(body)).into_response())
}

/// A `400` refusal of a registration request, answered as an OAuth error.
pub(crate) struct BadRequest {
    pub(crate) status: StatusCode,
    pub(crate) code: OAuthErrorCode,
    pub(crate) description: String,
}

impl BadRequest {
    /// A `400` with `code` and `description`.
    pub(crate) fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        oauth_error(self.status, self.code, self.description)
    }
}

/// `response` with `Cache-Control: no-store` (RFC 7591 §3.2.1 responses carry credentials).
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `response` with `Retry-After: seconds`.
pub(crate) fn retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// 401 `invalid_token` with its `WWW-Authenticate` challenge (RFC 6750 §3.1), for a missing or
/// wrong initial or registration access token.
pub(crate) fn invalid_token(description: &str) -> Response {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        OAuthErrorCode::Extension("invalid_token".to_owned()),
        description,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}
