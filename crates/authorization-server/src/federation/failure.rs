//! How a failed upstream sign-in ends: a page that says what happened (never a 500) and, once
//! the authorization request is known and its client and redirect URI verify, the client's
//! redirect with the OAuth error (RFC 6749 §4.1.2.1): offered as the page's way back, or taken
//! at once when the person refused at the provider (`access_denied`), like a refusal on the
//! consent page.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mcp_oauth_core::OAuthErrorCode;

use super::Federation;
use super::attempt::Unmatched;
use super::id_token::IdTokenError;
use super::pages;
use crate::web::return_to;

/// Why a callback ends without a session.
pub(super) enum Failure {
    /// No `state`, or a parameter given twice.
    Malformed,
    /// The state names no live sign-in, or another browser's.
    Unmatched(Unmatched),
    /// The answer names another issuer than the sign-in's provider (a mix-up).
    IssuerMismatch,
    /// The person refused at the provider.
    Denied,
    /// The provider answered with another error code.
    ProviderError(String),
    /// The provider (metadata, token endpoint or keys) did not answer.
    Unavailable(String),
    /// The answer has no code.
    NoCode,
    /// The token endpoint refused the code, or answered nonsense.
    TokenRefused(String),
    /// The ID token is invalid.
    IdToken(IdTokenError),
    /// The store failed.
    Internal(String),
}

impl Failure {
    /// What went wrong, for logs only.
    fn detail(&self) -> String {
        match self {
            Failure::Malformed => "no state, or a repeated parameter".to_owned(),
            Failure::Unmatched(Unmatched::UnknownState) => {
                "unknown, expired or used state".to_owned()
            }
            Failure::Unmatched(Unmatched::OtherBrowser) => {
                "the state of another browser".to_owned()
            }
            Failure::Unmatched(Unmatched::Store(error)) => error.to_string(),
            Failure::IssuerMismatch => "the answer's iss is not the provider's".to_owned(),
            Failure::Denied => "the person refused at the provider".to_owned(),
            Failure::ProviderError(code) => format!("the provider answered error={code}"),
            Failure::Unavailable(detail)
            | Failure::TokenRefused(detail)
            | Failure::Internal(detail) => detail.clone(),
            Failure::NoCode => "the answer has no code".to_owned(),
            Failure::IdToken(error) => error.to_string(),
        }
    }

    /// The code of the failure (`invalid_state`, `access_denied`, …), as the page shows it and
    /// the audit trail keeps it.
    pub(super) fn code(&self) -> &'static str {
        self.describe().3
    }

    /// The page's status, heading, message and code, and the OAuth error for the client.
    fn describe(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        &'static str,
        OAuthErrorCode,
    ) {
        const UNVERIFIED: &str = "The identity provider's answer could not be verified, so you \
            were not signed in. Nothing was changed. Try again; if it keeps happening, tell the \
            administrator of this server.";
        match self {
            Failure::Malformed | Failure::Unmatched(Unmatched::UnknownState) => (
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was already used",
                "The link back from the identity provider is no longer valid. Go back to the \
                 application and start again.",
                "invalid_state",
                OAuthErrorCode::InvalidRequest,
            ),
            Failure::Unmatched(Unmatched::OtherBrowser) => (
                StatusCode::BAD_REQUEST,
                "This sign-in was started in another browser",
                "Finish signing in in the browser where you started, or go back to the \
                 application and start again here.",
                "invalid_state",
                OAuthErrorCode::InvalidRequest,
            ),
            Failure::Denied => (
                StatusCode::FORBIDDEN,
                "Sign-in cancelled",
                "You did not sign in at the identity provider.",
                "access_denied",
                OAuthErrorCode::AccessDenied,
            ),
            Failure::Unavailable(_) | Failure::IdToken(IdTokenError::KeysUnavailable) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The identity provider is not answering",
                "Signing in is not possible right now. Nothing was changed; try again in a few \
                 minutes.",
                "temporarily_unavailable",
                OAuthErrorCode::TemporarilyUnavailable,
            ),
            Failure::ProviderError(_) => (
                StatusCode::BAD_GATEWAY,
                "The identity provider refused the sign-in",
                "The identity provider could not sign you in. Nothing was changed; go back to \
                 the application and try again.",
                "upstream_error",
                OAuthErrorCode::ServerError,
            ),
            Failure::IssuerMismatch
            | Failure::NoCode
            | Failure::TokenRefused(_)
            | Failure::IdToken(_) => (
                StatusCode::BAD_GATEWAY,
                "The sign-in could not be verified",
                UNVERIFIED,
                "upstream_invalid_response",
                OAuthErrorCode::ServerError,
            ),
            Failure::Internal(_) | Failure::Unmatched(Unmatched::Store(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete the sign-in. Nothing was changed; try again in a \
                 moment.",
                "server_error",
                OAuthErrorCode::ServerError,
            ),
        }
    }
}

/// The failure as the person sees it: a page (linking back to the client when `return_to`
/// names a verifiable authorization request), or for `Denied` the client's redirect itself.
pub(super) async fn fail(
    federation: &Federation,
    return_to: Option<&str>,
    failure: Failure,
) -> Response {
    let detail = failure.detail();
    match &failure {
        Failure::Internal(_) | Failure::Unmatched(Unmatched::Store(_)) => {
            tracing::error!(%detail, "upstream sign-in failed");
        }
        _ => tracing::warn!(%detail, "upstream sign-in failed"),
    }
    let (status, heading, message, code, oauth_error) = failure.describe();
    let back = match return_to.and_then(return_to::accept) {
        Some(target) => {
            federation
                .authorizer
                .error_redirect(target, &oauth_error, message)
                .await
        }
        None => None,
    };
    match (failure, back) {
        (Failure::Denied, Some(back)) => {
            let mut response =
                (StatusCode::SEE_OTHER, [(header::LOCATION, back.as_str())]).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        (_, back) => pages::failure(status, heading, message, code, back),
    }
}
