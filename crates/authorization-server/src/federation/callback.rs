//! `GET /login/callback`: the provider's answer (OpenID Connect Core §3.1.2.5), as a sequence
//! of named checks: the state names a sign-in this browser started (taken once), the answer
//! comes from that provider (RFC 9207 `iss`), it carries a code and no error, the code redeems
//! for an ID token that validates, and the identity's local user gets a new session.
//!
//! Failures end as [`failure`](super::failure) says. No user, link or session is stored unless
//! the ID token is valid.

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{Extensions, HeaderMap};

use mcp_oauth_resource::KeyLookupError;

use super::attempt::{self, Derived, Unmatched};
use super::discovery::{FetchError, ProviderMetadata};
use super::failure::{Failure, fail};
use super::id_token::{self, Expected, IdTokenError, UpstreamIdentity};
use super::{Federation, Providers, Upstream, exchange, link};
use crate::audit::{SecurityEvent, SignInMethod};
use crate::params::Parameters;
use crate::store::{AuditOutcome, UpstreamLoginRecord};
use crate::web::{client_ip, return_to};

/// `GET /login/callback`.
pub(super) async fn callback(
    State(federation): State<Federation>,
    extensions: Extensions,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(providers) = federation.providers.as_deref() else {
        return super::not_federated();
    };
    let address = client_ip(&extensions);
    let query = query.unwrap_or_default();
    let Ok(parameters) = Parameters::parse(query.as_bytes()) else {
        return failed(&federation, None, Failure::Malformed, address).await;
    };
    let Some(request_state) = parameters.get("state") else {
        return failed(&federation, None, Failure::Malformed, address).await;
    };
    let (login, derived) = match attempt::take(&federation, &headers, request_state).await {
        Ok(found) => found,
        Err(unmatched) => {
            return failed(&federation, None, Failure::Unmatched(unmatched), address).await;
        }
    };
    let answer = Answer {
        parameters: &parameters,
        login: &login,
        derived: &derived,
        address,
    };
    match finish(&federation, providers, &headers, answer).await {
        Ok(response) => response,
        Err(failure) => failed(&federation, Some(&login), failure, address).await,
    }
}

/// Records a failed sign-in (at the provider of `login`, when the state named one), then ends
/// it as `failure` says.
async fn failed(
    federation: &Federation,
    login: Option<&UpstreamLoginRecord>,
    failure: Failure,
    address: Option<IpAddr>,
) -> Response {
    let issuer = login.map(|login| login.issuer.as_str());
    federation
        .record_sign_in(issuer, AuditOutcome::Failed, failure.code(), address)
        .await;
    fail(
        federation,
        login.map(|login| login.return_to.as_str()),
        failure,
    )
    .await
}

/// The provider's answer, the sign-in it answers, and where it came from.
struct Answer<'a> {
    parameters: &'a Parameters,
    login: &'a UpstreamLoginRecord,
    derived: &'a Derived,
    address: Option<IpAddr>,
}

/// The checks after the sign-in is known, in order; a session and the way back on success.
async fn finish(
    federation: &Federation,
    providers: &Providers,
    headers: &HeaderMap,
    answer: Answer<'_>,
) -> Result<Response, Failure> {
    let Answer {
        parameters,
        login,
        derived,
        address,
    } = answer;
    let upstream = providers
        .find(&login.issuer)
        .ok_or(Failure::Unmatched(Unmatched::UnknownState))?;
    let metadata = upstream
        .metadata(&providers.http)
        .await
        .map_err(Failure::Unavailable)?;
    // RFC 9207 §2.4: the answer must come from the provider the person was sent to.
    match parameters.get("iss") {
        Some(iss) if iss != upstream.config.issuer => return Err(Failure::IssuerMismatch),
        None if metadata.authorization_response_iss_parameter_supported => {
            return Err(Failure::IssuerMismatch);
        }
        _ => {}
    }
    if let Some(error) = parameters.get("error") {
        return Err(match error {
            "access_denied" => Failure::Denied,
            "temporarily_unavailable" => {
                Failure::Unavailable("the provider answered temporarily_unavailable".to_owned())
            }
            other => Failure::ProviderError(other.chars().take(64).collect()),
        });
    }
    let code = parameters.get("code").ok_or(Failure::NoCode)?;
    let id_token = exchange::redeem_code(
        &providers.http,
        upstream,
        &metadata,
        code,
        &derived.verifier,
        &federation.redirect_uri,
    )
    .await
    .map_err(|error| match error {
        FetchError::Unreachable(detail) => Failure::Unavailable(detail),
        other => Failure::TokenRefused(other.into()),
    })?;
    let identity = verify_id_token(
        federation,
        providers,
        upstream,
        &metadata,
        &id_token,
        &derived.nonce,
    )
    .await
    .map_err(Failure::IdToken)?;
    let issuer = upstream.config.issuer.as_str();
    let user_id = link::local_user(federation, issuer, &identity, address)
        .await
        .map_err(|error| Failure::Internal(error.to_string()))?;
    let email = link::asserted_email(&identity);
    let signed_in = SecurityEvent::SignIn {
        method: SignInMethod::Upstream(Some(issuer)),
        outcome: AuditOutcome::Succeeded,
        reason: None,
        person: email.as_deref(),
        user_id: Some(&user_id),
    };
    federation.audit.record(signed_in, address).await;
    Ok(federation
        .sessions
        .sign_in(headers, &user_id, return_to::accept(&login.return_to))
        .await)
}

/// The ID token's signature (a key from the provider's JWKS) and claims.
async fn verify_id_token(
    federation: &Federation,
    providers: &Providers,
    upstream: &Upstream,
    metadata: &ProviderMetadata,
    token: &str,
    nonce: &str,
) -> Result<UpstreamIdentity, IdTokenError> {
    let (algorithm, kid) = id_token::algorithm_and_key_id(token)?;
    let key = upstream
        .keys(&providers.http, metadata)
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
            now: federation.now(),
        },
    )
}
