//! The one place where faults become OAuth error responses (RFC 6749 §5.2): a fixed
//! description for the client, the detail for the logs.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mcp_oauth_core::{OAuthErrorCode, OAuthErrorResponse};

use crate::store::StoreError;

/// An error answered as JSON by the token, registration, revocation and introspection endpoints.
#[derive(Debug)]
pub(crate) struct OAuthError {
    body: OAuthErrorResponse,
    /// Overrides the status the error code implies (e.g. 413 for an oversized body).
    status: Option<StatusCode>,
    /// Answer `WWW-Authenticate: Basic` (the client tried HTTP Basic authentication).
    basic_challenge: bool,
}

impl OAuthError {
    /// An error with `code` and a description safe to show the client.
    pub(crate) fn new(code: OAuthErrorCode, description: &str) -> Self {
        Self {
            body: OAuthErrorResponse::with_description(code, description),
            status: None,
            basic_challenge: false,
        }
    }

    /// `invalid_request`.
    pub(crate) fn invalid_request(description: &str) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub(crate) fn invalid_grant(description: &str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_client` (401), with a Basic challenge when the client used HTTP Basic.
    pub(crate) fn invalid_client(description: &str, basic_challenge: bool) -> Self {
        Self {
            basic_challenge,
            ..Self::new(OAuthErrorCode::InvalidClient, description)
        }
    }

    /// `server_error`: the detail goes to the logs only.
    pub(crate) fn server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "request failed");
        Self::new(
            OAuthErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    /// Answers with `status` instead of the one the code implies.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The error code.
    pub(crate) fn code(&self) -> &OAuthErrorCode {
        &self.body.error
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        Self::server_error(&error)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.body.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        });
        let mut response = (status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mcp-oauth\""),
            );
        }
        response
    }
}
