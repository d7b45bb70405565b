//! What went wrong in a call to Cognito, and the OAuth error each fault becomes.

use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use axum::response::Response;
use http::StatusCode;
use mcp_oauth_core::OAuthErrorCode;
use thiserror::Error;

use crate::oauth_response::{oauth_error, retry_after};

/// The longest part of a Cognito message echoed to a client.
const MAX_ECHOED_MESSAGE: usize = 300;

/// A Cognito API call that failed, classified by who can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CognitoFault {
    /// The user pool reached a quota, such as its number of app clients (`LimitExceededException`).
    #[error("Cognito quota reached: {0}")]
    QuotaExceeded(String),
    /// Cognito throttled the gateway (`TooManyRequestsException`).
    #[error("Cognito throttled the request: {0}")]
    Throttled(String),
    /// Cognito refused a value of the request (`InvalidParameterException`,
    /// `InvalidOAuthFlowException`): the client's metadata, as far as Cognito is concerned.
    #[error("Cognito refused the client metadata: {0}")]
    InvalidParameter(String),
    /// The app client does not exist (`ResourceNotFoundException` on a client operation).
    #[error("no such app client")]
    ClientNotFound,
    /// The gateway's configuration or permissions are wrong: the pool or a scope does not
    /// exist, or the credentials may not call the API.
    #[error("the gateway is misconfigured for Cognito ({code}): {message}")]
    Misconfigured {
        /// Cognito's error code.
        code: String,
        /// Cognito's message.
        message: String,
    },
    /// Cognito could not be reached or failed (network, timeout, `InternalErrorException`).
    #[error("Cognito is unavailable: {0}")]
    Unavailable(String),
}

impl CognitoFault {
    /// Classifies an SDK error of any Cognito operation. `client_operation` says whether a
    /// `ResourceNotFoundException` names the app client (read, delete) rather than the pool.
    pub(crate) fn from_sdk<E>(error: E, client_operation: bool) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        let message = error.message().unwrap_or_default().to_owned();
        match error.code() {
            Some("LimitExceededException") => Self::QuotaExceeded(message),
            Some("TooManyRequestsException") => Self::Throttled(message),
            Some("InvalidParameterException" | "InvalidOAuthFlowException") => {
                Self::InvalidParameter(message)
            }
            Some("ResourceNotFoundException") if client_operation => Self::ClientNotFound,
            Some(
                code @ ("ResourceNotFoundException"
                | "ScopeDoesNotExistException"
                | "NotAuthorizedException"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "ExpiredTokenException"
                | "InvalidSignatureException"),
            ) => Self::Misconfigured {
                code: code.to_owned(),
                message,
            },
            _ => Self::Unavailable(DisplayErrorContext(&error).to_string()),
        }
    }

    /// A short name of the fault, as the bridge's events keep it.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::QuotaExceeded(_) => "cognito_quota_exceeded",
            Self::Throttled(_) => "cognito_throttled",
            Self::InvalidParameter(_) => "cognito_invalid_parameter",
            Self::ClientNotFound => "cognito_client_not_found",
            Self::Misconfigured { .. } => "cognito_misconfigured",
            Self::Unavailable(_) => "cognito_unavailable",
        }
    }

    /// The OAuth error a client gets: a 4xx for what the client or time can fix, a 5xx only
    /// for the gateway's own faults. Details of those go to the log, not to the client.
    pub(crate) fn into_response(self) -> Response {
        match self {
            Self::QuotaExceeded(_) => oauth_error(
                StatusCode::FORBIDDEN,
                OAuthErrorCode::AccessDenied,
                "the user pool has reached its quota of app clients; no client can be \
                 registered until others are deleted or expire",
            ),
            Self::Throttled(_) => retry_after(
                oauth_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    OAuthErrorCode::Extension("slow_down".to_owned()),
                    "Cognito is throttling registrations; try again in a few seconds",
                ),
                5,
            ),
            Self::InvalidParameter(message) => oauth_error(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidClientMetadata,
                format!(
                    "Cognito refused the client metadata: {}",
                    truncate(&message, MAX_ECHOED_MESSAGE)
                ),
            ),
            Self::ClientNotFound => oauth_error(
                StatusCode::NOT_FOUND,
                OAuthErrorCode::InvalidClient,
                "the app client no longer exists",
            ),
            fault @ Self::Misconfigured { .. } => {
                tracing::error!(%fault, "Cognito refused the gateway");
                oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    OAuthErrorCode::ServerError,
                    "the gateway cannot manage app clients in its user pool; its operator \
                     must check its configuration",
                )
            }
            fault @ Self::Unavailable(_) => {
                tracing::warn!(%fault, "Cognito call failed");
                retry_after(
                    oauth_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        OAuthErrorCode::TemporarilyUnavailable,
                        "Cognito cannot be reached; try again later",
                    ),
                    30,
                )
            }
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_cognitoidentityprovider::error::ErrorMetadata;
    use aws_sdk_cognitoidentityprovider::operation::create_user_pool_client::CreateUserPoolClientError;
    use aws_sdk_cognitoidentityprovider::types::error::{
        InvalidParameterException, LimitExceededException, TooManyRequestsException,
    };

    use super::*;

    /// The error the SDK yields for a Cognito error response with `code` and `message`
    /// (errors moto cannot produce).
    fn sdk_error(code: &str, message: &str) -> CreateUserPoolClientError {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        match code {
            "LimitExceededException" => CreateUserPoolClientError::LimitExceededException(
                LimitExceededException::builder()
                    .message(message)
                    .meta(meta)
                    .build(),
            ),
            "TooManyRequestsException" => CreateUserPoolClientError::TooManyRequestsException(
                TooManyRequestsException::builder()
                    .message(message)
                    .meta(meta)
                    .build(),
            ),
            "InvalidParameterException" => CreateUserPoolClientError::InvalidParameterException(
                InvalidParameterException::builder()
                    .message(message)
                    .meta(meta)
                    .build(),
            ),
            _ => CreateUserPoolClientError::generic(meta),
        }
    }

    async fn answer(fault: CognitoFault) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = fault.into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn maps_cognito_errors_to_oauth_errors_that_say_who_can_fix_them() {
        let cases = [
            (
                "LimitExceededException",
                StatusCode::FORBIDDEN,
                "access_denied",
                None,
            ),
            (
                "TooManyRequestsException",
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                Some("5"),
            ),
            (
                "InvalidParameterException",
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                None,
            ),
            (
                "InvalidOAuthFlowException",
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                None,
            ),
            (
                "ScopeDoesNotExistException",
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
            ),
            (
                "NotAuthorizedException",
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
            ),
            (
                "InternalErrorException",
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                Some("30"),
            ),
        ];
        for (code, status, error, retry) in cases {
            let fault =
                CognitoFault::from_sdk(sdk_error(code, "callback URL secret-ish detail"), false);
            let (got_status, got_retry, body) = answer(fault).await;
            assert_eq!(got_status, status, "{code}");
            assert_eq!(body["error"], error, "{code}");
            assert_eq!(got_retry.as_deref(), retry, "{code}");
            let description = body["error_description"].as_str().unwrap();
            // Only Cognito's verdict on the client's own metadata is echoed.
            assert_eq!(
                description.contains("detail"),
                error == "invalid_client_metadata",
                "{code}: {description}"
            );
        }
        assert!(
            answer(CognitoFault::from_sdk(
                sdk_error("LimitExceededException", "x"),
                false
            ))
            .await
            .2["error_description"]
                .as_str()
                .unwrap()
                .contains("quota")
        );
    }

    #[test]
    fn a_missing_app_client_is_its_own_fault_only_for_client_operations() {
        let missing = || sdk_error("ResourceNotFoundException", "not found");
        assert_eq!(
            CognitoFault::from_sdk(missing(), true),
            CognitoFault::ClientNotFound
        );
        assert!(matches!(
            CognitoFault::from_sdk(missing(), false),
            CognitoFault::Misconfigured { .. }
        ));
    }
}
