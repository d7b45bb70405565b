//! `GET /login/callback`: the provider's answer (OpenID Connect Core §3.1.2.5), as a sequence
//! of named checks: the state names a sign-in this browser started (taken once), the answer
//! comes from that provider (RFC 9207 `iss`), it carries a code and no error, the code redeems
//! for an ID token that validates, and the identity's local user gets a new session.
//!
//! Failures end as [`failure`](super::failure) says. No user, link or session is stored unless
//! the ID token is valid.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::HeaderMap;

use mcp_oauth_resource::KeyLookupError;

use super::attempt::{self, Derived, Unmatched};
use super::discovery::{FetchError, ProviderMetadata};
use super::failure::{Failure, fail};
use super::id_token::{self, Expected, IdTokenError, UpstreamIdentity};
use super::{Federation, Upstream, exchange, link};
use crate::accounts::{self, return_to};
use crate::server::{AppState, Inner};
use crate::store::UpstreamLoginRecord;

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
