//! `GET /login/callback`: the provider's answer (OpenID Connect Core §3.1.2.5), as a sequence
//! of named checks: the state names a sign-in this browser started (taken once), the answer
//! comes from that provider (RFC 9207 `iss`), it carries a code and no error, the code redeems
//! for an ID token that validates, and the identity's local user gets a new session.
//!
//! Every failure ends on a page that says what happened; once the sign-in is known, the page
//! also links back to the client with the OAuth error (RFC 6749 §4.1.2.1). A refusal by the
//! person at the provider (`access_denied`) goes straight back to the client, like a refusal on
//! the consent page. Nothing is stored before the ID token is valid.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mcp_oauth_core::OAuthErrorCode;

use mcp_oauth_resource::KeyLookupError;

use super::attempt::{self, Derived, Unmatched};
use super::discovery::{FetchError, ProviderMetadata};
use super::id_token::{self, Expected, IdTokenError, UpstreamIdentity};
use super::{Federation, Upstream, exchange, link, pages};
use crate::accounts::{self, return_to};
use crate::server::{AppState, Inner};
use crate::store::UpstreamLoginRecord;

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
pub(super) async fn fail(state: &Inner, return_to: Option<&str>, failure: Failure) -> Response {
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
            crate::endpoints::error_redirect_url(state, target, &oauth_error, message).await
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

/// `GET /login/callback`.
pub(super) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(federation) = state.federation.as_ref() else {
        return super::not_federated();
    };
    let parameters = match parameters(query.as_deref().unwrap_or_default()) {
        Ok(parameters) => parameters,
        Err(failure) => return fail(&state, None, failure).await,
    };
    let Some(request_state) = parameters.get("state") else {
        return fail(&state, None, Failure::Malformed).await;
    };
    let (login, derived) = match attempt::take(&state, &headers, request_state).await {
        Ok(found) => found,
        Err(unmatched) => return fail(&state, None, Failure::Unmatched(unmatched)).await,
    };
    match finish(&state, federation, &headers, &parameters, &login, &derived).await {
        Ok(response) => response,
        Err(failure) => fail(&state, Some(&login.return_to), failure).await,
    }
}

/// The checks after the sign-in is known, in order; a session and the way back on success.
async fn finish(
    state: &Inner,
    federation: &Federation,
    headers: &HeaderMap,
    parameters: &HashMap<String, String>,
    login: &UpstreamLoginRecord,
    derived: &Derived,
) -> Result<Response, Failure> {
    let upstream = federation
        .find(&login.issuer)
        .ok_or(Failure::Unmatched(Unmatched::UnknownState))?;
    let metadata = upstream
        .metadata(&federation.http)
        .await
        .map_err(Failure::Unavailable)?;
    // RFC 9207 §2.4: the answer must come from the provider the person was sent to.
    match parameters.get("iss") {
        Some(iss) if *iss != upstream.config.issuer => return Err(Failure::IssuerMismatch),
        None if metadata.authorization_response_iss_parameter_supported => {
            return Err(Failure::IssuerMismatch);
        }
        _ => {}
    }
    if let Some(error) = parameters.get("error") {
        return Err(match error.as_str() {
            "access_denied" => Failure::Denied,
            "temporarily_unavailable" => {
                Failure::Unavailable("the provider answered temporarily_unavailable".to_owned())
            }
            other => Failure::ProviderError(other.chars().take(64).collect()),
        });
    }
    let code = parameters
        .get("code")
        .filter(|code| !code.is_empty())
        .ok_or(Failure::NoCode)?;
    let id_token = exchange::redeem_code(
        &federation.http,
        upstream,
        &metadata,
        code,
        &derived.verifier,
        &attempt::redirect_uri(state),
    )
    .await
    .map_err(|error| match error {
        FetchError::Unreachable(detail) => Failure::Unavailable(detail),
        other => Failure::TokenRefused(other.into()),
    })?;
    let identity = verify_id_token(
        state,
        federation,
        upstream,
        &metadata,
        &id_token,
        &derived.nonce,
    )
    .await
    .map_err(Failure::IdToken)?;
    let user_id = link::local_user(state, &upstream.config.issuer, &identity)
        .await
        .map_err(|error| Failure::Internal(error.to_string()))?;
    Ok(accounts::sign_in(
        state,
        headers,
        &user_id,
        return_to::accept(&login.return_to),
    )
    .await)
}

/// The ID token's signature (a key from the provider's JWKS) and claims.
async fn verify_id_token(
    state: &Inner,
    federation: &Federation,
    upstream: &Upstream,
    metadata: &ProviderMetadata,
    token: &str,
    nonce: &str,
) -> Result<UpstreamIdentity, IdTokenError> {
    let (algorithm, kid) = id_token::algorithm_and_key_id(token)?;
    let key = upstream
        .keys(&federation.http, metadata)
        .key_for(kid.as_deref())
        .await
        .map_err(|error| match error {
            KeyLookupError::UnknownKey => IdTokenError::UnknownKey,
            _ => IdTokenError::KeysUnavailable,
        })?;
    id_token::validate(
        token,
        algorithm,
        key.decoding_key(),
        key.algorithm(),
        &Expected {
            issuer: &upstream.config.issuer,
            client_id: &upstream.config.client_id,
            nonce,
            now: state.now(),
        },
    )
}

/// The query parameters, each at most once.
fn parameters(query: &str) -> Result<HashMap<String, String>, Failure> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if parameters
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(Failure::Malformed);
        }
    }
    Ok(parameters)
}
